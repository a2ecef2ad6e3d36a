"""Named people with different rights, as every test file uses them.

- reviewer: writes incidents and COEs (group "reviewers")
- approver: reviews and approves COEs (group "approvers")
- leader: reads everything they may see (group "leadership")
- outsider: a reviewer who is not in any restricted incident's group
"""

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache

from incidents.roles import APPROVERS, LEADERSHIP, REVIEWERS

from .factories import GroupFactory, IncidentFactory, UserFactory


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Hash test passwords with MD5: the real hasher is slow on purpose, and
    factories create hundreds of users across the suite."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts with an empty cache: the dashboard keeps figures there, keyed on the day and
    audience, which the next test's data would otherwise be served."""
    cache.clear()


@pytest.fixture
def roles(db):
    """The role groups, which a data migration creates. Browser tests override this:
    their live server's database is flushed after each test, groups and all."""


def _member_of(role: str, username: str):
    user = UserFactory(username=username)  # password "pw"
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def reviewer(roles):
    return _member_of(REVIEWERS, "rita")


@pytest.fixture
def approver(roles):
    return _member_of(APPROVERS, "arun")


@pytest.fixture
def leader(roles):
    return _member_of(LEADERSHIP, "lee")


@pytest.fixture
def outsider(roles):
    return _member_of(REVIEWERS, "olga")


@pytest.fixture
def restricted_group(db, reviewer, approver, leader):
    """The security group: everyone named above except the outsider."""
    group = GroupFactory(name="security-incident-team")
    for user in (reviewer, approver, leader):
        user.groups.add(group)
    return group


@pytest.fixture
def restricted_incident(restricted_group):
    return IncidentFactory(title="Credential leak in build system", restricted=True, access_group=restricted_group)


@pytest.fixture
def client_for(client):
    """Log a client in as the given user: `client_for(reviewer).get(...)`."""

    def login(user):
        client.force_login(user)
        return client

    return login
