"""Browser forms. Field validation only; writes happen in services (incidents.services)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, available_timezones

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import MaxLengthValidator, validate_slug
from django.utils.functional import cached_property

from . import services
from .list_fields import NameListField
from .models import ActionItem, Incident, Region, Service, Source, Tag, TimelineEvent
from .models.bounds import validate_web_url
from .models.coe import SECTION_MAX_LENGTH, SECTIONS, section_too_long_message
from .models.vocab import ContributingFactor, TimePrecision
from .provenance import harm_level_choices
from .services.incidents import FIELDS as INCIDENT_FIELDS
from .text_limits import limit_prose_fields
from .time_inputs import PreciseTimeField, TypedTime, estimated_field, precision_field, shown
from .times import MILESTONES

# Zones people actually report incidents in come first; every IANA zone is accepted.
COMMON_ZONES = [
    "UTC",
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
]
ZONE_CHOICES = [(z, z) for z in COMMON_ZONES] + [
    (z, z) for z in sorted(available_timezones()) if z not in COMMON_ZONES and "/" in z
]

LOCAL_INPUT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]


class LocalDateTimeField(forms.DateTimeField):
    """A wall-clock time from <input type=datetime-local>; the form attaches the zone."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")

    def __init__(self, **kwargs):
        super().__init__(input_formats=LOCAL_INPUT_FORMATS, **kwargs)

    def to_python(self, value):
        # Parse naively; Django would otherwise apply the server's zone.
        if value in self.empty_values:
            return None
        for fmt in LOCAL_INPUT_FORMATS:
            try:
                return datetime.strptime(str(value).strip(), fmt)
            except ValueError:
                continue
        raise ValidationError("Enter a date and time like 2025-10-20 06:48.", code="invalid")


def _aware(value: datetime | None, zone: str) -> datetime | None:
    return value.replace(tzinfo=ZoneInfo(zone)) if value else None


def _check_bounds(form, model, field: str, local: str, value: datetime | None) -> None:
    """The model field's validators (its bounds, incidents/models/bounds.py) on a time typed in a zone:
    run here, beside the input, before the model's other rules (times in order) compare it."""
    try:
        model._meta.get_field(field).run_validators(value)
    except ValidationError as error:
        form.add_error(local, error)


def _local(value: datetime | None, zone: str) -> str:
    return value.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M") if value else ""


class ServiceForm(forms.ModelForm):
    """A model form that validates and hands its input to a service, which saves.

    service_data() is the input named as the service takes it; save_with(service, **kwargs)
    calls service(data=service_data(), **kwargs) and shows a ValidationError the service raises
    beside the field typed in (input_for maps a model field to that field), returning None then.
    """

    input_for: dict[str, str] = {}
    # Choices with a model default that a post may leave out (one made before the field existed):
    # the record keeps its value, a new one gets the default, as over the API.
    optional: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Prose over unbounded text columns: the limit the API's serializers apply too.
        limit_prose_fields(self)
        for name in self.optional:
            self.fields[name].required = False

    def service_data(self) -> dict:
        data = {name: self.cleaned_data[name] for name in self._meta.fields}
        for name in self.optional:
            if data.get(name) == "":
                del data[name]
        return data

    def save_with(self, service, **kwargs):
        try:
            return service(data=self.service_data(), **kwargs)
        except ValidationError as error:
            self._update_errors(error)
            return None

    # Model validation names the model field, which may not be on the form (Django would
    # raise ValueError for it); show the error beside the input typed in, or above the form.
    def _update_errors(self, errors):
        if hasattr(errors, "error_dict"):
            shown: dict[str, list] = {}
            for field, messages in errors.error_dict.items():
                name = self.input_for.get(field, field)
                shown.setdefault(name if name in self.fields else NON_FIELD_ERRORS, []).extend(messages)
            errors = ValidationError(shown)
        super()._update_errors(errors)


TIME_INPUTS = {
    "started_at": "started_local",
    "detected_at": "detected_local",
    "mitigated_at": "mitigated_local",
    "resolved_at": "resolved_local",
}
# Every field of the incident's four times: each time, its precision and its estimate mark.
TIME_FIELDS = {name for m in MILESTONES for name in (m.at, m.precision, m.estimated)}


class IncidentForm(ServiceForm):
    times_zone = forms.ChoiceField(
        choices=ZONE_CHOICES, initial="UTC", label="Time zone of the times below", required=True
    )
    started_local = PreciseTimeField(label="Impact started")
    time_precision = precision_field("Start known")
    started_estimated = estimated_field("The start is an estimate")
    detected_local = PreciseTimeField(label="Detected", required=False)
    detected_precision = precision_field("Detection known")
    detected_estimated = estimated_field("The detection is an estimate")
    mitigated_local = PreciseTimeField(label="Mitigated", required=False)
    mitigated_precision = precision_field("Mitigation known")
    mitigated_estimated = estimated_field("The mitigation is an estimate")
    resolved_local = PreciseTimeField(label="Resolved", required=False)
    resolved_precision = precision_field("Resolution known")
    resolved_estimated = estimated_field("The resolution is an estimate")
    factors = forms.MultipleChoiceField(
        choices=ContributingFactor.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Contributing factors",
    )
    service_names = NameListField(
        item_max_length=Service._meta.get_field("name").max_length,
        items_label="Service names",
        required=False,
        label="Services",
        help_text="Comma-separated.",
    )
    region_codes = NameListField(
        item_max_length=Region._meta.get_field("code").max_length,
        items_label="Region codes",
        required=False,
        label="Regions",
        help_text="Comma-separated, e.g. us-east-1.",
    )
    tag_names = NameListField(
        item_max_length=Tag._meta.get_field("name").max_length,
        items_label="Tags",
        required=False,
        label="Tags",
        help_text="Comma-separated.",
    )

    class Meta:
        model = Incident
        # What the service takes, the times (typed in local fields, input_for, with their precision and
        # estimate marks) aside.
        fields = [*(name for name in INCIDENT_FIELDS if name not in TIME_FIELDS), "access_group"]
        widgets = {
            "summary": forms.Textarea(attrs={"rows": 4}),
            "customer_impact": forms.Textarea(attrs={"rows": 3}),
            "trigger_text": forms.Textarea(attrs={"rows": 2}),
            "adopted_cause_rationale": forms.Textarea(attrs={"rows": 3}),
        }

    input_for = TIME_INPUTS

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = get_user_model().objects.filter(is_active=True).order_by("username")
        # The groups the service accepts (services.access_groups_for): the one rule.
        if user is None:
            groups = Group.objects.all()
        else:
            groups = services.access_groups_for(user, current_group_id=self.instance.access_group_id)
        self.fields["access_group"].queryset = groups.order_by("name")
        self.fields["harm_level"].choices = harm_level_choices()
        incident = self.instance
        if incident.pk:
            # The times in the zone the incident's start event is told in, as they were typed.
            start = incident.timeline.filter(kind="start", occurred_at=incident.started_at).order_by("id").first()
            zone = self.initial.setdefault("times_zone", start.display_tz if start else "UTC")
            for m in MILESTONES:
                precision = getattr(incident, m.precision)
                self.initial[TIME_INPUTS[m.at]] = shown(getattr(incident, m.at), precision, zone)
                self.initial[m.precision] = precision
                self.initial[m.estimated] = getattr(incident, m.estimated)
            self.initial.update(
                factors=[f.factor for f in incident.factors.all()],
                service_names=", ".join(s.name for s in incident.services.all()),
                region_codes=", ".join(r.code for r in incident.regions.all()),
                tag_names=", ".join(t.name for t in incident.tags.all()),
            )

    def clean(self):
        data = super().clean()
        zone = data.get("times_zone") or "UTC"
        for m in MILESTONES:
            local = TIME_INPUTS[m.at]
            data[m.precision] = data.get(m.precision) or TimePrecision.MINUTE
            data[m.at] = self._typed_time(local, data.get(local), data[m.precision], zone)
            # On the instance too, so the model's validation (times in order) sees them.
            for name in (m.at, m.precision, m.estimated):
                setattr(self.instance, name, data.get(name))
            _check_bounds(self, Incident, m.at, local, data[m.at])
        # A tag is stored as a slug (Tag.name): ASCII letters and digits, as the API's tags are.
        bad_tags = [t for t in data.get("tag_names", []) if not validate_slug.regex.match(t)]
        if bad_tags:
            listed = ", ".join(bad_tags)
            self.add_error("tag_names", f"Tags are single words (unaccented letters, digits, - or _): {listed}")
        return data

    def _typed_time(self, local: str, typed: TypedTime | None, precision: str, zone: str) -> datetime | None:
        """The time typed in `local`, at its precision; None (and an error beside it) if it is too coarse."""
        if typed is None:
            return None
        missing = typed.missing_for(precision)
        if missing:
            self.add_error(local, missing)
            return None
        return typed.at(precision, zone)

    def service_data(self) -> dict:
        """What services.incident_create / incident_update take: every field, times and lists."""
        data = self.cleaned_data
        return {
            **super().service_data(),
            **{name: data[name] for name in TIME_FIELDS},
            "times_zone": data["times_zone"],
            "services": data["service_names"],
            "regions": data["region_codes"],
            "tags": data["tag_names"],
            "contributing_factors": data["factors"],
        }


class TimelineEventForm(ServiceForm):
    occurred_local = PreciseTimeField(label="When")
    input_for = {"occurred_at": "occurred_local"}
    optional = ("basis",)

    class Meta:
        model = TimelineEvent
        fields = [
            "display_tz",
            "precision",
            "estimated",
            "kind",
            "actor_kind",
            "description",
            "source",
            "basis",
            "moment",
        ]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "display_tz": forms.Select(choices=ZONE_CHOICES),
        }
        labels = {
            "display_tz": "Time zone",
            "precision": "Known",
            "estimated": "The time is an estimate",
            "moment": "Same moment as (key)",
            "basis": "Whose statement",
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        # Only sources the editor may see (Source.objects.visible_to), offered and accepted: one that
        # only restricted incidents cite would otherwise be listed, and once cited here, shown to all.
        self.fields["source"].queryset = Source.objects.visible_to(user)
        if self.instance.pk:
            event = self.instance
            self.initial["occurred_local"] = shown(event.occurred_at, event.precision, event.display_tz)

    def clean(self):
        data = super().clean()
        zone = data.get("display_tz")
        typed = data.get("occurred_local")
        missing = typed.missing_for(data.get("precision") or TimePrecision.MINUTE) if typed else None
        if zone and zone not in available_timezones():
            self.add_error("display_tz", f"Unknown time zone {zone!r}.")
        elif missing:
            self.add_error("occurred_local", missing)
        elif typed:
            self.instance.occurred_at = typed.at(data.get("precision") or TimePrecision.MINUTE, zone or "UTC")
            _check_bounds(self, TimelineEvent, "occurred_at", "occurred_local", self.instance.occurred_at)
        return data

    def service_data(self) -> dict:
        return {**super().service_data(), "occurred_at": self.instance.occurred_at}


class CoeSectionsForm(forms.Form):
    """Every prose section of the COE; the whys come in as their own fields."""

    base_version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for section in SECTIONS:
            self.fields[section.key] = forms.CharField(
                label=section.title,
                help_text=section.guidance,
                required=False,
                strip=False,
                max_length=SECTION_MAX_LENGTH,
                widget=forms.Textarea(attrs={"rows": 4, "data-section": section.key}),
            )
            for validator in self.fields[section.key].validators:
                if isinstance(validator, MaxLengthValidator):
                    validator.message = section_too_long_message(section)


def whys_from_post(post) -> list[dict]:
    """Rebuild whys chains from fields named whys-<chain>-cause and whys-<chain>-link-<n>.

    Order follows the numbers in the names; blank trailing links are kept
    while editing so an empty row the user added does not vanish.
    """
    chains: dict[int, dict] = {}
    for name, value in post.items():
        parts = name.split("-")
        if parts[0] != "whys" or len(parts) < 3 or not parts[1].isdigit():
            continue
        chain = chains.setdefault(int(parts[1]), {"cause": "", "links": {}})
        if parts[2] == "cause":
            chain["cause"] = value
        elif parts[2] == "link" and len(parts) == 4 and parts[3].isdigit():
            chain["links"][int(parts[3])] = value
    return [
        {"cause": chain["cause"], "links": [chain["links"][n] for n in sorted(chain["links"])]}
        for _, chain in sorted(chains.items())
    ]


def apply_whys_action(whys: list[dict], action: str) -> list[dict]:
    """Structural edits from the editor's buttons: add or remove a chain or a link."""
    whys = [{"cause": c["cause"], "links": list(c["links"])} for c in whys]
    verb, _, where = action.partition(":")
    numbers = [int(n) for n in where.split(":") if n.isdigit()]
    if verb == "add_chain":
        whys.append({"cause": "", "links": ["", "", ""]})
    elif verb == "add_link" and numbers and numbers[0] < len(whys):
        whys[numbers[0]]["links"].append("")
    elif verb == "remove_chain" and numbers and numbers[0] < len(whys):
        whys.pop(numbers[0])
    elif verb == "remove_link" and len(numbers) == 2 and numbers[0] < len(whys):
        links = whys[numbers[0]]["links"]
        if numbers[1] < len(links):
            links.pop(numbers[1])
    return whys


def whys_for_saving(whys: list[dict]) -> list[dict]:
    """Drop blank links and chains that are entirely blank."""
    cleaned = []
    for chain in whys:
        links = [link.strip() for link in chain["links"] if link.strip()]
        if chain["cause"].strip() or links:
            cleaned.append({"cause": chain["cause"].strip(), "links": links})
    return cleaned


class ActionItemForm(ServiceForm):
    ticket_url = forms.URLField(
        required=False, max_length=500, assume_scheme="https", label="Ticket", validators=[validate_web_url]
    )
    optional = ("basis",)

    class Meta:
        model = ActionItem
        fields = [
            "title",
            "action_type",
            "priority",
            "owner",
            "due_date",
            "status",
            "ticket_url",
            "answers_why",
            "basis",
        ]
        widgets = {
            "due_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "answers_why": forms.TextInput(),
        }
        labels = {"ticket_url": "Ticket", "answers_why": "Answers which why", "basis": "Whose action"}

    def __init__(self, *args, owner_choices=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = _active_users()
        if owner_choices is not None:
            # Rendering only; a submitted owner is still checked against the queryset.
            self.fields["owner"].choices = owner_choices


class ActionItemStatusForm(ServiceForm):
    """The item's page: close it (done, won't do, verified) or reopen it."""

    class Meta:
        model = ActionItem
        fields = ["status"]


def _active_users():
    return get_user_model().objects.filter(is_active=True).order_by("username")


class BaseActionItemFormSet(forms.BaseModelFormSet):
    """Every row offers the same owners: load them once, not once per row."""

    @cached_property
    def owner_choices(self) -> list:
        # iter(): list() on the iterator itself would first run a COUNT for its length.
        return list(iter(forms.ModelChoiceField(queryset=_active_users()).choices))

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "owner_choices": self.owner_choices}


ActionItemFormSet = forms.modelformset_factory(
    ActionItem, form=ActionItemForm, formset=BaseActionItemFormSet, extra=1, can_delete=True
)


class CommentForm(forms.Form):
    section = forms.ChoiceField(choices=[(s.key, s.title) for s in SECTIONS] + [("whys", "Whys")])
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="Comment", max_length=5000)
    reply_to = forms.IntegerField(required=False, widget=forms.HiddenInput)


class ReopenForm(forms.Form):
    reason = forms.CharField(max_length=180, label="Why reopen / send back?")
