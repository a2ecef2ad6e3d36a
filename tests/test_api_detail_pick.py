"""The API detail's two ways of picking its incident agree.

With no query parameters the detail runs visible_to()'s SQL compiled once with placeholders
for the caller and the key (api/detail.py fetch_visible); with parameters it filters an ORM
queryset. Both must pick the same incident for every kind of caller, and filters still apply.
"""

import pytest
from django.test import Client

from incidents.api import detail
from incidents.models import ApiToken, Incident, TokenScope
from incidents.models.vocab import Severity

from .factories import GroupFactory, IncidentFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def incidents(restricted_group, outsider):
    other_group = GroupFactory(name="other-team")
    return {
        "public": IncidentFactory(),
        "restricted": IncidentFactory(restricted=True, access_group=restricted_group),
        "owned": IncidentFactory(restricted=True, access_group=other_group, owner=outsider),
        "elsewhere": IncidentFactory(restricted=True, access_group=other_group),
    }


@pytest.fixture
def people(reviewer, outsider, leader, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    return {"reviewer": reviewer, "outsider": outsider, "leader": leader, "admin": admin, "nobody": UserFactory()}


def test_compiled_pick_matches_the_queryset_for_every_caller(incidents, people):
    seen = set()
    for person, user in people.items():
        for name, incident in incidents.items():
            expected = detail.fetch(Incident.objects.visible_to(user).filter(key=incident.key))
            found = detail.fetch_visible(user, incident.key)
            assert (found is None) == (expected is None), (person, name)
            if found is not None:
                assert found == expected
                seen.add((person, name))
        assert detail.fetch_visible(user, "INC-1999-0001") is None
    # The cases differ: the owner sees their own, group members theirs, the superuser all.
    assert ("outsider", "owned") in seen
    assert ("outsider", "restricted") not in seen
    assert ("reviewer", "restricted") in seen
    assert ("reviewer", "elsewhere") not in seen
    assert ("admin", "elsewhere") in seen
    assert ("nobody", "public") in seen
    assert ("nobody", "owned") not in seen


def test_a_key_is_a_parameter_not_sql(incidents, people):
    assert detail.fetch_visible(people["admin"], "x' OR '1'='1") is None


def test_filters_on_the_detail_still_apply(incidents, reviewer):
    _, plain = ApiToken.issue(user=reviewer, name="tests", scope=TokenScope.READ)
    client = Client(headers={"Authorization": f"Bearer {plain}"})
    key = incidents["public"].key
    assert client.get(f"/api/v1/incidents/{key}/").status_code == 200
    assert client.get(f"/api/v1/incidents/{key}/", {"severity": Severity.SEV2}).status_code == 200
    assert client.get(f"/api/v1/incidents/{key}/", {"severity": Severity.SEV4}).status_code == 404
    assert client.get(f"/api/v1/incidents/{incidents['elsewhere'].key}/").status_code == 404
