"""Create an API token for a user and print it once."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from incidents import services
from incidents.models import TokenScope
from incidents.views.tokens import TokenForm


class Command(BaseCommand):
    help = "Create an API token. The token is printed once and stored only as a hash."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="Username the token acts as.")
        parser.add_argument("--scope", choices=TokenScope.values, default=TokenScope.READ)
        parser.add_argument("--name", default="command line", help="What the token is for.")
        parser.add_argument("--expires-in-days", type=int, default=None, help="Expire after this many days.")

    def handle(self, *args, user, scope, name, expires_in_days, **options):
        try:
            owner = get_user_model().objects.get(username=user)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user named {user!r}.") from None
        if expires_in_days is not None and expires_in_days < 1:
            raise CommandError("--expires-in-days must be at least 1.")
        # The page's form checks what the page takes (the name's length, the days' range): the same here.
        form = TokenForm({"name": name, "scope": scope, "expires_in_days": expires_in_days})
        if not form.is_valid():
            problems = " ".join(
                f"--{field.replace('_', '-')}: {' '.join(errors)}" for field, errors in form.errors.items()
            )
            raise CommandError(problems)
        token, plain = services.api_token_create(user=owner, **form.cleaned_data)
        self.stderr.write(f"Token {token.key_id} for {owner.username} ({scope}); it is shown only this once:")
        self.stdout.write(plain)
