"""Sources and the attribution claims that cite them.

Sources disagree (on causes, on the AI's role, even on timestamps), so every
claim is stored with its source and the disagreement is kept, not resolved by
overwriting.
"""

from django.db import models

from .vocab import ClaimedAIRole, PrimaryCause, SourceKind, Stance


class Source(models.Model):
    url = models.URLField(max_length=500, unique=True)
    title = models.CharField(max_length=300)
    publisher = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=SourceKind.choices)
    published_on = models.DateField(null=True, blank=True)
    published_approx = models.BooleanField(
        default=False, help_text="The publication date is approximate (e.g. 'about 2026-02-20')."
    )
    retrieved_on = models.DateField(null=True, blank=True)
    note = models.TextField(
        blank=True, help_text="How it was read, e.g. 'via The Register' or 'read through secondaries'."
    )

    class Meta:
        ordering = ["published_on", "publisher"]

    def __str__(self) -> str:
        return f"{self.publisher}: {self.title}"


class Claim(models.Model):
    """What one source says about an incident's cause or the AI's part in it."""

    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="claims")
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="claims")
    claimant = models.CharField(max_length=200, help_text="Who makes the claim, e.g. 'Amazon' or 'FT'.")
    stance = models.CharField(max_length=10, choices=Stance.choices)
    claimed_cause = models.CharField(max_length=30, choices=PrimaryCause.choices, blank=True)
    claimed_ai_role = models.CharField(max_length=20, choices=ClaimedAIRole.choices, blank=True)
    statement = models.TextField(help_text="The claim in a sentence.")
    quote = models.TextField(blank=True, help_text="The source's own words, verbatim.")

    class Meta:
        ordering = ["incident", "source__published_on", "id"]

    def __str__(self) -> str:
        return f"{self.claimant} {self.stance}: {self.statement[:60]}"
