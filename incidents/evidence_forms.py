"""The incident page's evidence forms. Field validation only; the writes are the evidence services'.

Sources cited by a claim, an AI field or an impact figure are chosen from the incident's own source
list (visible to whoever may see the incident), so a long knowledge base never fills the menus and a
source hidden from the writer is never offered.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from .forms import LocalDateTimeField, ServiceForm, _aware, _check_bounds, _local
from .models import AIInvolvement, Claim, CoeDocument, Control, ImpactFigure, Incident, Source
from .models.ai import CITABLE_AI_FIELDS
from .models.bounds import validate_web_url
from .services.evidence import AI_FIELDS, ATTRIBUTION_FIELDS, CLAIM_FIELDS, OPS_REVIEW_FIELDS
from .services.evidence import FIELDS as SOURCE_FIELDS

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
SOURCE_HELP = "Cite one of this incident's sources; add a new one under Sources first."


def _incident_sources(incident: Incident):
    return incident.sources.order_by("publisher", "title")


class SourceForm(ServiceForm):
    """A source of the incident: a new address records it, a known one links the recorded source."""

    url = forms.URLField(max_length=500, assume_scheme="https", label="Web address", validators=[validate_web_url])

    class Meta:
        model = Source
        fields = list(SOURCE_FIELDS)
        widgets = {
            "published_on": DATE_INPUT,
            "retrieved_on": DATE_INPUT,
            "note": forms.Textarea(attrs={"rows": 2}),
        }
        labels = {"published_approx": "The publication date is approximate"}

    def __init__(self, *args, adding: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.adding = adding
        if adding:
            # A known address only needs the address; the service names what a new one lacks.
            for name in ("title", "publisher", "kind"):
                self.fields[name].required = False
            self.fields["url"].help_text = "A source already recorded at this address is linked, not copied."

    def validate_unique(self):
        # Adding a known address links that source (services.incident_source_add).
        if not self.adding:
            super().validate_unique()

    def service_data(self) -> dict:
        data = super().service_data()
        if self.adding:
            # Only what was typed: a linked source keeps what it records where the form was left empty.
            data = {name: value for name, value in data.items() if value not in (None, "", False)}
        return data


class ClaimForm(ServiceForm):
    class Meta:
        model = Claim
        fields = list(CLAIM_FIELDS)
        widgets = {"statement": forms.Textarea(attrs={"rows": 2}), "quote": forms.Textarea(attrs={"rows": 2})}
        labels = {"claimed_ai_role": "Claimed AI role"}

    def __init__(self, *args, incident: Incident, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source"].queryset = _incident_sources(incident)
        self.fields["source"].help_text = SOURCE_HELP


class AttributionForm(ServiceForm):
    class Meta:
        model = Incident
        fields = list(ATTRIBUTION_FIELDS)
        widgets = {"adopted_cause_rationale": forms.Textarea(attrs={"rows": 3})}
        labels = {"adopted_cause_rationale": "Why this cause was adopted"}


def _cite_name(field: str) -> str:
    return f"cite_{field}"


class AIInvolvementForm(ServiceForm):
    """The involvement's fields, each citable one followed by the source that states it."""

    evidence = forms.ModelMultipleChoiceField(
        queryset=Source.objects.none(), required=False, widget=forms.CheckboxSelectMultiple, label="Other evidence"
    )

    class Meta:
        model = AIInvolvement
        fields = list(AI_FIELDS)
        widgets = {"action_taken": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, incident: Incident, **kwargs):
        super().__init__(*args, **kwargs)
        sources = _incident_sources(incident)
        self.fields["evidence"].queryset = sources
        for field in CITABLE_AI_FIELDS:
            label = self.fields[field].label
            self.fields[_cite_name(field)] = forms.ModelChoiceField(
                queryset=sources, required=False, label=f"Source for {label[0].lower()}{label[1:]}"
            )
        if self.instance.pk:
            self.initial["evidence"] = list(self.instance.evidence.all())
            for citation in self.instance.citations.all():
                self.initial[_cite_name(citation.field)] = citation.source_id

    @property
    def layout(self) -> list[str]:
        """Field names in the order shown: each citable field, then its source."""
        names = []
        for field in AI_FIELDS:
            names.append(field)
            if field in CITABLE_AI_FIELDS:
                names.append(_cite_name(field))
        return names

    def service_data(self) -> dict:
        data = self.cleaned_data
        return {
            **super().service_data(),
            "citations": {field: data.get(_cite_name(field)) for field in CITABLE_AI_FIELDS},
            "evidence": list(data["evidence"]),
        }


class ImpactFigureForm(ServiceForm):
    as_of_local = LocalDateTimeField(label="Reported at (UTC)", required=False)
    input_for = {"as_of": "as_of_local"}
    optional = ("basis",)

    class Meta:
        model = ImpactFigure
        fields = ["name", "value", "unit", "is_estimate", "note", "source", "basis"]
        labels = {"is_estimate": "This figure is an estimate", "basis": "Whose figure"}

    def __init__(self, *args, incident: Incident, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source"].queryset = _incident_sources(incident)
        self.fields["source"].help_text = SOURCE_HELP
        if self.instance.pk:
            self.initial["as_of_local"] = _local(self.instance.as_of, "UTC")

    def clean(self):
        data = super().clean()
        # On the instance too, so the model's validation sees it.
        self.instance.as_of = _aware(data.get("as_of_local"), "UTC")
        _check_bounds(self, ImpactFigure, "as_of", "as_of_local", self.instance.as_of)
        return data

    def service_data(self) -> dict:
        return {**super().service_data(), "as_of": self.instance.as_of}


class ControlsForm(forms.Form):
    """The standing controls this incident led to (controls themselves are managed elsewhere)."""

    controls = forms.ModelMultipleChoiceField(
        queryset=Control.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Controls this incident led to",
    )

    def __init__(self, *args, incident: Incident, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial["controls"] = list(incident.controls.all())

    def save_with(self, service, **kwargs):
        try:
            service(controls=self.cleaned_data["controls"], **kwargs)
        except ValidationError as error:
            self.add_error(None, error)
            return None
        return True


class OpsReviewForm(ServiceForm):
    class Meta:
        model = CoeDocument
        fields = list(OPS_REVIEW_FIELDS)
        widgets = {"ops_review_on": DATE_INPUT}
        labels = {
            "reviewed_in_ops_meeting": "Reviewed in an operational meeting",
            "ops_review_on": "Meeting date",
            "ops_review_meeting": "Meeting",
        }
