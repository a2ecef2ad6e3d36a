"""Sources and the attribution claims that cite them.

Sources disagree (on causes, on the AI's role, even on timestamps), so every
claim is stored with its source and the disagreement is kept, not resolved by
overwriting.
"""

from __future__ import annotations

from django.db import models

from .bounds import in_near_future, stored_range, validate_web_url
from .vocab import ClaimedAIRole, PrimaryCause, SourceKind, Stance


def _citations() -> list[tuple[models.QuerySet, str, str]]:
    """Every record that cites a source: (its rows, unordered so they can be UNIONed, the source
    column, the incident column)."""
    from .actions import ActionItem
    from .ai import AIFieldCitation, AIInvolvement
    from .incident import ImpactFigure, Incident, TimelineEvent

    return [
        (Incident.sources.through.objects.order_by(), "source", "incident"),
        (Claim.objects.order_by(), "source", "incident"),
        (AIInvolvement.evidence.through.objects.order_by(), "source", "aiinvolvement__incident"),
        (AIFieldCitation.objects.order_by(), "source", "involvement__incident"),
        (ActionItem.objects.order_by(), "source", "incident"),
        (TimelineEvent.objects.order_by(), "source", "incident"),
        (ImpactFigure.objects.order_by(), "source", "incident"),
        (Incident.objects.order_by(), "reported_duration_source", "pk"),
    ]


class SourceQuerySet(models.QuerySet):
    def visible_to(self, user) -> SourceQuerySet:
        """Sources this user may see: all but those cited only by incidents hidden from the user.

        A source's title and address can tell of a restricted incident ("Payments ledger wiped by
        an agent"), so one that only restricted incidents cite stays with them. One cited by a
        visible incident or a control (controls are everyone's), or by nothing, is listed.
        """
        from .incident import signed_in

        if not signed_in(user):
            return self.none()
        if user.is_superuser:
            return self.all()
        return self.exclude(pk__any_of=_cited_only_by_hidden(user))

    def cited_by(self, incident) -> SourceQuerySet:
        """The sources the incident lists or any of its records cites: one query (a UNION of the citations)."""
        cited = [rows.filter(**{owner: incident.pk}).values(column) for rows, column, owner in _citations()]
        return self.filter(pk__in=cited[0].union(*cited[1:]))


def _cited_only_by_hidden(user) -> list[int]:
    """The ids of sources that incidents hidden from `user` cite and nothing else does.

    Worked out in two small queries (each a UNION over the kinds of citing record) from the few
    hidden incidents, so the list's own query is a plain NOT IN of a handful of ids; a per-source
    check in the list query would make PostgreSQL hash every citation of every visible incident.
    """
    from .actions import Control
    from .incident import Incident

    hidden = Incident.objects.hidden_from(user)
    citations = _citations()
    cited = [
        rows.filter(**{f"{incident}__in": hidden, f"{source}__isnull": False}).values_list(source)
        for rows, source, incident in citations
    ]
    candidates = {pk for (pk,) in cited[0].union(*cited[1:])}
    if not candidates:
        return []
    elsewhere = [Control.sources.through.objects.order_by().filter(source__any_of=candidates).values_list("source")] + [
        rows.filter(**{f"{source}__any_of": candidates}).exclude(**{f"{incident}__in": hidden}).values_list(source)
        for rows, source, incident in citations
    ]
    seen = {pk for (pk,) in elsewhere[0].union(*elsewhere[1:])}
    return sorted(candidates - seen)


class Source(models.Model):
    url = models.URLField(max_length=500, unique=True, validators=[validate_web_url])
    title = models.CharField(max_length=300)
    publisher = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=SourceKind.choices)
    published_on = models.DateField(null=True, blank=True, validators=[in_near_future])
    published_approx = models.BooleanField(
        default=False, help_text="The publication date is approximate (e.g. 'about 2026-02-20')."
    )
    retrieved_on = models.DateField(null=True, blank=True, validators=[in_near_future])
    note = models.TextField(
        blank=True, help_text="How it was read, e.g. 'via The Register' or 'read through secondaries'."
    )

    objects = SourceQuerySet.as_manager()

    class Meta:
        ordering = ["published_on", "publisher"]
        constraints = [stored_range("source", column, date_only=True) for column in ("published_on", "retrieved_on")]

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
