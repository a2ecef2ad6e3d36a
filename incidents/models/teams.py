"""Who owns what: teams, the services they run, and the small lookup tables."""

from django.conf import settings
from django.db import models

from .bounds import validate_web_url


class _NamedByIncidentsQuerySet(models.QuerySet):
    """A vocabulary people type in on an incident (its services, its regions)."""

    incident_field: str  # the Incident many-to-many that uses these names

    def visible_to(self, user):
        """The names used by an incident this user may see, as visible as those incidents.

        A name typed in for a restricted incident ("payments-ledger-v2") tells of it, so it is listed
        only for people who may see an incident that uses it. A name no incident uses is listed for
        nobody, superusers included: filtering by it finds nothing, and it may be left over from a
        restricted incident that no longer names it. Uses are checked against the few incidents hidden
        from the user (hidden_from) rather than by joining every visible one.
        """
        from .incident import Incident, signed_in

        if not signed_in(user):
            return self.none()
        through = getattr(Incident, self.incident_field).through
        uses = through.objects.filter(**{self.model._meta.model_name: models.OuterRef("pk")}).order_by()
        if not user.is_superuser:
            uses = uses.exclude(incident__in=Incident.objects.hidden_from(user))
        # The first use, as a scalar subquery with LIMIT 1: each name's uses are read until one counts
        # (about 1.5 ms for 60 names at 100,000 incidents; a name only hidden incidents use is read to
        # the end). An EXISTS is planned as a join hashing every use of every name (45 ms).
        return self.alias(first_use=models.Subquery(uses.values("pk")[:1])).filter(first_use__isnull=False)


class ServiceQuerySet(_NamedByIncidentsQuerySet):
    incident_field = "services"


class RegionQuerySet(_NamedByIncidentsQuerySet):
    incident_field = "regions"


class Team(models.Model):
    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=120, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="teams", blank=True)
    webhook_url = models.URLField(
        blank=True,
        validators=[validate_web_url],
        help_text="Optional chat webhook; reminders post a chat-style JSON message to it.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Service(models.Model):
    name = models.CharField(max_length=120, unique=True)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="services")

    objects = ServiceQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Region(models.Model):
    code = models.CharField(max_length=40, unique=True, help_text="e.g. us-east-1, or a plain name")
    name = models.CharField(max_length=120, blank=True)

    objects = RegionQuerySet.as_manager()

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class Tag(models.Model):
    name = models.SlugField(max_length=60, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
