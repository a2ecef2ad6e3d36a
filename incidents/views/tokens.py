"""API tokens in the browser: create one (shown once), see when each was last used, revoke."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_http_methods, require_POST

from incidents import services
from incidents.models import ApiToken, TokenScope


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What will use it, e.g. “BI dashboard”.")
    scope = forms.ChoiceField(choices=TokenScope.choices, initial=TokenScope.READ)
    expires_in_days = forms.IntegerField(
        required=False, min_value=1, max_value=3650, label="Expires after (days)", help_text="Empty: never."
    )


@login_required
@require_http_methods(["GET", "POST"])
def token_list(request):
    form = TokenForm(request.POST or None)
    plain = None
    if request.method == "POST" and form.is_valid():
        _, plain = services.api_token_create(user=request.user, **form.cleaned_data)
        form = TokenForm()
    tokens = ApiToken.objects.filter(user=request.user)
    return TemplateResponse(request, "incidents/tokens.html", {"form": form, "tokens": tokens, "plain": plain})


@login_required
@require_POST
def token_revoke(request, token_id: int):
    token = services.api_token_revoke(token=get_object_or_404(ApiToken, pk=token_id, user=request.user))
    messages.success(request, f"Token “{token.name}” revoked; tools using it now get 401.")
    return redirect("incidents:tokens")
