"""Evidence: sources, the claims that cite them, the adopted cause, AI involvement, impact figures,
the controls an incident led to and the COE's operational review.

The dashboard reads a source's kind (an incident's adopted cause differing from what its vendor
itself claimed counts only claims from vendor sources), claims, AI involvement and control links,
so those writes tell it on commit; impact figures and the operational review it does not read.

An incident's sources are those its records cite: a claim, an AI field citation, AI evidence or an
impact figure citing a source links it to the incident, and a source stays linked while anything of
the incident still cites it. A cited source must be one the writer may see (Source.objects.visible_to):
one that only restricted incidents cite would otherwise be shown to everyone once a public incident
cites it. Who may write at all is the caller's check (the views and the API), as for incidents.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db.models import BooleanField

from incidents import history
from incidents.models import (
    ActionItem,
    AIFieldCitation,
    AIInvolvement,
    Claim,
    CoeDocument,
    Control,
    ImpactFigure,
    Incident,
    Source,
    TimelineEvent,
)
from incidents.models.ai import CITABLE_AI_FIELDS

from ._base import service, set_fields

# What a caller may set; keys of `data` outside these are ignored.
FIELDS = ("url", "title", "publisher", "kind", "published_on", "published_approx", "retrieved_on", "note")
# Empty text is "", never NULL.
_TEXT = {"title", "publisher", "note"}


def _apply(source: Source, data: dict) -> Source:
    set_fields(source, data, FIELDS, text=_TEXT)
    source.full_clean()
    source.save()
    return source


@service(dashboard=True)
def source_create(*, data: dict) -> Source:
    return _apply(Source(), data)


@service(dashboard=True)
def source_update(*, source: Source, data: dict) -> Source:
    """Change what `data` holds (its kind, say: press found to be the vendor's own statement)."""
    return _apply(source, data)


def _check_visible(user, sources: Iterable[Source | None], *, field: str) -> None:
    """Refuse a source the writer may not see, as if it did not exist (it must not be confirmed)."""
    wanted = {source.pk for source in sources if source is not None}
    if not wanted or user is None or user.is_superuser:
        return
    seen = set(Source.objects.visible_to(user).filter(pk__in=wanted).values_list("pk", flat=True))
    if wanted - seen:
        raise ValidationError({field: "Select a valid source: that one is not available."})


def _link(incident: Incident, sources: Iterable[Source | None]) -> None:
    """Add cited sources to the incident's list (an add of a linked one changes nothing)."""
    sources = [source for source in sources if source is not None]
    if sources:
        incident.sources.add(*sources)


# The incident's source list.


@service(dashboard=True)
def incident_source_add(*, user, incident: Incident, data: dict) -> Source:
    """Link the source at data["url"] to the incident, recording it first if it is new.

    A source already recorded at that address is reused (sources are shared between incidents) and
    updated only with the other fields `data` holds; one the user may not see is refused, since
    linking it to this incident would show its title to this incident's readers.
    """
    url = (data.get("url") or "").strip()
    if not url:
        raise ValidationError({"url": "Give the source's web address."})
    existing = Source.objects.filter(url=url).first()
    if existing is None:
        source = _apply(_linking(Source(), incident), {**data, "url": url})
    else:
        if not user.is_superuser and not Source.objects.visible_to(user).filter(pk=existing.pk).exists():
            raise ValidationError({"url": "A source at this address is recorded already and cannot be linked here."})
        given = {name: value for name, value in data.items() if name != "url"}
        source = _apply(_linking(existing, incident), given) if given else existing
    incident.sources.add(source)
    return source


def _linking(source: Source, incident: Incident) -> Source:
    """The source, saved next for this incident: its change belongs to the incident's history
    although the link is added only after the save."""
    setattr(source, history.LINKING_TO, incident.pk)
    return source


def _citing(incident: Incident, source: Source) -> list[str]:
    """What of this incident still cites `source`, counted and named for an error message."""
    counts = [
        ("claim", Claim.objects.filter(incident=incident, source=source).count()),
        ("timeline event", TimelineEvent.objects.filter(incident=incident, source=source).count()),
        ("impact figure", ImpactFigure.objects.filter(incident=incident, source=source).count()),
        ("action item", ActionItem.objects.filter(incident=incident, source=source).count()),
        ("AI field citation", AIFieldCitation.objects.filter(involvement__incident=incident, source=source).count()),
        (
            "AI evidence list",
            AIInvolvement.evidence.through.objects.filter(aiinvolvement__incident=incident, source=source).count(),
        ),
        ("reported duration", int(incident.reported_duration_source_id == source.pk)),
    ]
    return [f"{count} {name}{'s' if count > 1 else ''}" for name, count in counts if count]


@service(dashboard=True)
def incident_source_remove(*, user, incident: Incident, source: Source) -> None:
    """Unlink a source from the incident (the source itself stays: other incidents may cite it).

    Refused while anything of this incident still cites it, so the list never drops a source the
    incident's own records rely on.
    """
    citing = _citing(incident, source)
    if citing:
        raise ValidationError(
            {"source": f"{source.publisher or source.url} is still cited by {', '.join(citing)}; remove those first."}
        )
    incident.sources.remove(source)


# Claims: what each source says about the cause and the AI's part.

CLAIM_FIELDS = ("source", "claimant", "stance", "claimed_cause", "claimed_ai_role", "statement", "quote")
_CLAIM_TEXT = {"claimant", "stance", "claimed_cause", "claimed_ai_role", "statement", "quote"}


def _save_cited(user, record, data: dict, fields: tuple[str, ...], text: set[str]):
    """Save a record of the incident that cites one source (a claim, an impact figure): the source
    must be one the writer may see, and it joins the incident's list."""
    if "source" in data:
        _check_visible(user, [data["source"]], field="source")
    set_fields(record, data, fields, text=text)
    record.full_clean()
    record.save()
    _link(record.incident, [record.source])
    return record


def _save_claim(user, claim: Claim, data: dict) -> Claim:
    return _save_cited(user, claim, data, CLAIM_FIELDS, _CLAIM_TEXT)


@service(dashboard=True)
def claim_create(*, user, incident: Incident, data: dict) -> Claim:
    return _save_claim(user, Claim(incident=incident), data)


@service(dashboard=True)
def claim_update(*, user, claim: Claim, data: dict) -> Claim:
    return _save_claim(user, claim, data)


@service(dashboard=True)
def claim_delete(*, user, claim: Claim) -> None:
    claim.delete()


# The adopted cause: the reviewers' reading of the claims, with why.

ATTRIBUTION_FIELDS = ("attribution_status", "adopted_cause", "adopted_cause_rationale")


@service(dashboard=True)
def attribution_set(*, user, incident: Incident, data: dict) -> Incident:
    """Set the attribution status and the adopted cause with its rationale (required with a cause:
    Incident.clean), through incident_update so the incident's every rule applies."""
    from .incidents import incident_update

    return incident_update(
        user=user, incident=incident, data={name: data[name] for name in ATTRIBUTION_FIELDS if name in data}
    )


# AI involvement, each field with the source that states it.

# The model's own fields (its incident aside): the flags are booleans, the rest text.
AI_FIELDS = tuple(
    f.name for f in AIInvolvement._meta.concrete_fields if f.editable and f.name not in ("id", "incident")
)
_AI_FLAGS = {f.name for f in AIInvolvement._meta.concrete_fields if isinstance(f, BooleanField)}


def _save_involvement(user, involvement: AIInvolvement, data: dict) -> AIInvolvement:
    citations = data.get("citations") or {}
    unknown = sorted(set(citations) - set(CITABLE_AI_FIELDS))
    if unknown:
        raise ValidationError({"citations": f"No source can be cited for {', '.join(unknown)}."})
    evidence = data.get("evidence")
    _check_visible(user, citations.values(), field="citations")
    _check_visible(user, evidence or (), field="evidence")
    set_fields(involvement, data, AI_FIELDS, text=set(AI_FIELDS) - _AI_FLAGS)
    involvement.full_clean()
    involvement.save()
    for field, source in citations.items():
        if source is None:
            AIFieldCitation.objects.filter(involvement=involvement, field=field).delete()
        else:
            AIFieldCitation.objects.update_or_create(involvement=involvement, field=field, defaults={"source": source})
    if evidence is not None:
        involvement.evidence.set(evidence)
    _link(involvement.incident, [*citations.values(), *(evidence or ())])
    return involvement


@service(dashboard=True)
def ai_involvement_create(*, user, incident: Incident, data: dict) -> AIInvolvement:
    """Record an agent's part: the model's fields, "citations" ({field: Source or None} for
    CITABLE_AI_FIELDS) and optionally "evidence" (a list of sources)."""
    return _save_involvement(user, AIInvolvement(incident=incident), data)


@service(dashboard=True)
def ai_involvement_update(*, user, involvement: AIInvolvement, data: dict) -> AIInvolvement:
    """Change what `data` holds; a citation given replaces that field's (None removes it), the others stay."""
    return _save_involvement(user, involvement, data)


@service(dashboard=True)
def ai_involvement_delete(*, user, involvement: AIInvolvement) -> None:
    involvement.delete()


# Impact figures. The dashboard does not read them.

IMPACT_FIELDS = ("name", "value", "unit", "is_estimate", "as_of", "note", "source", "basis")
_IMPACT_TEXT = {"name", "unit", "note"}


def _save_figure(user, figure: ImpactFigure, data: dict) -> ImpactFigure:
    return _save_cited(user, figure, data, IMPACT_FIELDS, _IMPACT_TEXT)


@service(dashboard=False)
def impact_figure_create(*, user, incident: Incident, data: dict) -> ImpactFigure:
    return _save_figure(user, ImpactFigure(incident=incident), data)


@service(dashboard=False)
def impact_figure_update(*, user, figure: ImpactFigure, data: dict) -> ImpactFigure:
    return _save_figure(user, figure, data)


@service(dashboard=False)
def impact_figure_delete(*, user, figure: ImpactFigure) -> None:
    figure.delete()


# Controls: standing rules everyone may see; the dashboard counts the incidents behind each.


@service(dashboard=True)
def incident_controls_set(*, user, incident: Incident, controls: Iterable[Control]) -> None:
    """The controls this incident led to, replacing the list."""
    incident.controls.set(list(controls))


# The operational review of a COE (quality rule L15 asks it of a SEV1).

OPS_REVIEW_FIELDS = ("reviewed_in_ops_meeting", "ops_review_on", "ops_review_meeting")


@service(dashboard=False)
def ops_review_set(*, user, coe: CoeDocument, data: dict) -> CoeDocument:
    """Record whether, when and in which meeting the COE was reviewed; not reviewed clears the when
    and where. Saves these fields alone, so a draft being edited at the same time loses nothing."""
    set_fields(coe, data, OPS_REVIEW_FIELDS, text={"ops_review_meeting"})
    if coe.reviewed_in_ops_meeting:
        errors = {}
        if coe.ops_review_on is None:
            errors["ops_review_on"] = "Give the date of the meeting that reviewed the COE."
        if not coe.ops_review_meeting.strip():
            errors["ops_review_meeting"] = "Name the meeting that reviewed the COE."
        if errors:
            raise ValidationError(errors)
    else:
        coe.ops_review_on, coe.ops_review_meeting = None, ""
    others = [field.name for field in CoeDocument._meta.get_fields() if field.name not in OPS_REVIEW_FIELDS]
    coe.full_clean(exclude=others, validate_unique=False)
    coe.save(update_fields=[*OPS_REVIEW_FIELDS, "updated_at"])
    return coe
