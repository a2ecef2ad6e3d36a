"""Creating and revoking API tokens in the browser."""

import pytest

from incidents.models import ApiToken

pytestmark = pytest.mark.django_db


def test_token_is_shown_once_and_stored_hashed(client_for, reviewer):
    client = client_for(reviewer)
    page = client.post("/incidents/settings/tokens/", {"name": "BI", "scope": "read", "expires_in_days": "30"})
    plain = page.context["plain"]
    assert plain.startswith("coe_")
    assert plain.encode() in page.content
    token = ApiToken.objects.get(user=reviewer)
    assert plain not in (token.key_hash, token.key_id)
    assert token.expires_at is not None
    # The next visit lists it without the secret.
    assert plain.encode() not in client.get("/incidents/settings/tokens/").content
    api = client.get("/api/v1/incidents/", HTTP_AUTHORIZATION=f"Bearer {plain}")
    assert api.status_code == 200


def test_bad_input_is_explained_and_nothing_created(client_for, reviewer):
    page = client_for(reviewer).post(
        "/incidents/settings/tokens/", {"name": "", "scope": "root", "expires_in_days": "0"}
    )
    assert page.status_code == 200
    assert b"This field is required" in page.content
    assert b"Select a valid choice" in page.content
    assert b"greater than or equal to 1" in page.content
    assert not ApiToken.objects.exists()


def test_revoke_only_your_own(client_for, reviewer, approver):
    token, plain = ApiToken.issue(user=reviewer, name="cli")
    assert client_for(approver).post(f"/incidents/settings/tokens/{token.pk}/revoke/").status_code == 404
    client_for(reviewer).post(f"/incidents/settings/tokens/{token.pk}/revoke/")
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert client_for(reviewer).get("/api/v1/incidents/", HTTP_AUTHORIZATION=f"Bearer {plain}").status_code == 401


def test_anonymous_is_sent_to_login(client):
    assert client.get("/incidents/settings/tokens/").status_code == 302
