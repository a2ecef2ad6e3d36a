"""One factory per model; tests say only what matters to them."""

from datetime import UTC, datetime, timedelta

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from incidents import models
from incidents.models import vocab


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("pw")


class GroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Group
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"group{n}")


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Source

    url = factory.Sequence(lambda n: f"https://news.example.com/story-{n}")
    title = factory.Sequence(lambda n: f"Story {n}")
    publisher = "Example News"
    kind = vocab.SourceKind.PRESS


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Service
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"service-{n}")


class IncidentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Incident

    title = factory.Sequence(lambda n: f"Incident {n}")
    summary = "Requests failed."
    severity = vocab.Severity.SEV2
    status = vocab.IncidentStatus.RESOLVED
    started_at = datetime(2025, 10, 20, 6, 48, tzinfo=UTC)
    detected_at = factory.LazyAttribute(lambda i: i.started_at + timedelta(minutes=20))
    mitigated_at = factory.LazyAttribute(lambda i: i.started_at + timedelta(hours=2))
    resolved_at = factory.LazyAttribute(lambda i: i.started_at + timedelta(hours=5))
    primary_cause = vocab.PrimaryCause.CHANGE_CONFIG


class TimelineEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.TimelineEvent

    incident = factory.SubFactory(IncidentFactory)
    occurred_at = factory.LazyAttribute(lambda e: e.incident.started_at)
    kind = vocab.TimelineKind.START
    description = "Errors begin."


class AIInvolvementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.AIInvolvement

    incident = factory.SubFactory(IncidentFactory)
    agent_name = "Agent"
    vendor = "Vendor"
    role = vocab.AIRole.EXECUTOR
    autonomy_level = vocab.AutonomyLevel.L4


class ClaimFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Claim

    incident = factory.SubFactory(IncidentFactory)
    source = factory.SubFactory(SourceFactory)
    claimant = "Example News"
    stance = vocab.Stance.ASSERTS
    statement = "An agent caused it."


class CoeDocumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.CoeDocument

    incident = factory.SubFactory(IncidentFactory)
    summary = "What happened."


class ActionItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ActionItem

    incident = factory.SubFactory(IncidentFactory)
    title = factory.Sequence(lambda n: f"Add a guard {n}")
    action_type = vocab.ActionType.PREVENT
    priority = vocab.Priority.P1
    owner = factory.SubFactory(UserFactory)
    due_date = factory.LazyFunction(lambda: datetime(2026, 1, 31, tzinfo=UTC).date())


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Team

    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")


class ControlFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Control

    name = factory.Sequence(lambda n: f"Control {n}")
    scope = "Production access"
