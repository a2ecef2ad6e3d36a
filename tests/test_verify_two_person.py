""" "Verified effective" follows the two-person rule (issue 16): the person who closed an action item, or
its owner, cannot also say it worked. Checked in the service (services.action_item_update), so the item's
page, the COE editor and the API all refuse it: a form error on the pages, a 400 in the API."""

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.test import Client

from incidents import services
from incidents.models import ActionItem, ApiToken
from incidents.models.vocab import ActionStatus
from incidents.roles import REVIEWERS

from .factories import ActionItemFactory, IncidentFactory, UserFactory
from .test_coe_pages import coe_url, editor_form
from .test_incident_forms import field_block

pytestmark = pytest.mark.django_db


@pytest.fixture
def item(reviewer):
    """An item owned by a third person (otto), closed by rita (the reviewer)."""
    item = ActionItemFactory(incident=IncidentFactory(), owner=UserFactory(username="otto"))
    return services.action_item_update(item=item, data={"status": ActionStatus.DONE}, user=reviewer)


class TestService:
    def test_closing_records_who_closed_it(self, item, reviewer):
        assert (item.status, item.completed_by, item.verified_by) == (ActionStatus.DONE, reviewer, None)
        assert item.completed_at is not None

    def test_the_person_who_closed_it_cannot_verify_it(self, item, reviewer):
        with pytest.raises(ValidationError) as refused:
            services.action_item_update(item=item, data={"status": ActionStatus.VERIFIED}, user=reviewer)
        assert "Someone other than the person who closed this item" in str(refused.value)
        item.refresh_from_db()
        assert item.status == ActionStatus.DONE

    def test_its_owner_cannot_verify_it(self, item):
        with pytest.raises(ValidationError, match="owner cannot verify"):
            services.action_item_update(item=item, data={"status": ActionStatus.VERIFIED}, user=item.owner)

    def test_nobody_named_cannot_verify_it(self, item):
        with pytest.raises(ValidationError):
            services.action_item_update(item=item, data={"status": ActionStatus.VERIFIED})

    def test_closing_and_verifying_in_one_step_is_one_person(self, approver):
        item = ActionItemFactory()
        with pytest.raises(ValidationError):
            services.action_item_update(item=item, data={"status": ActionStatus.VERIFIED}, user=approver)
        with pytest.raises(ValidationError):
            services.action_item_create(
                incident=IncidentFactory(),
                data={"title": "Guard", "action_type": "prevent", "status": ActionStatus.VERIFIED},
                user=approver,
            )

    def test_a_second_person_verifies_and_is_recorded(self, item, reviewer, approver):
        verified = services.action_item_update(item=item, data={"status": ActionStatus.VERIFIED}, user=approver)
        assert (verified.completed_by, verified.verified_by) == (reviewer, approver)
        # Editing a verified item later is not verifying it again.
        services.action_item_update(item=verified, data={"title": "Renamed"}, user=reviewer)

    def test_reopening_forgets_who_closed_it(self, item, approver):
        reopened = services.action_item_update(item=item, data={"status": ActionStatus.OPEN}, user=approver)
        assert (reopened.completed_at, reopened.completed_by, reopened.verified_by) == (None, None, None)


def item_url(item: ActionItem) -> str:
    return f"/incidents/{item.incident.key}/actions/{item.pk}/"


class TestPages:
    def test_the_item_page_shows_the_refusal_beside_the_status(self, client_for, item, reviewer, approver):
        response = client_for(reviewer).post(item_url(item), {"status": ActionStatus.VERIFIED})
        assert response.status_code == 200
        assert "Someone other than the person who closed this item" in field_block(response.content, "status")
        item.refresh_from_db()
        assert item.status == ActionStatus.DONE
        assert client_for(approver).post(item_url(item), {"status": ActionStatus.VERIFIED}).status_code == 302
        item.refresh_from_db()
        assert (item.status, item.verified_by) == (ActionStatus.VERIFIED, approver)

    def test_the_coe_editor_shows_the_refusal_beside_the_row(self, client_for, reviewer, approver):
        incident = IncidentFactory()
        services.coe_start(incident=incident, user=reviewer)
        item = ActionItemFactory(incident=incident, owner=UserFactory(username="otto"), title="Add a guard")
        client = client_for(reviewer)
        form = editor_form(client, incident)
        form["items-0-status"] = ActionStatus.DONE
        assert client.post(coe_url(incident), form).status_code == 302
        item.refresh_from_db()
        assert (item.status, item.completed_by) == (ActionStatus.DONE, reviewer)

        form = editor_form(client, incident)
        form["items-0-status"] = ActionStatus.VERIFIED
        form["items-0-title"] = "Add a guard to every pipeline"
        response = client.post(coe_url(incident), form)
        assert response.status_code == 200
        assert "Someone other than the person who closed this item" in field_block(response.content, "items-0-status")
        item.refresh_from_db()
        assert (item.status, item.title) == (ActionStatus.DONE, "Add a guard")  # no change of the table kept

        client = client_for(approver)
        form = editor_form(client, incident)
        form["items-0-status"] = ActionStatus.VERIFIED
        assert client.post(coe_url(incident), form).status_code == 302
        item.refresh_from_db()
        assert (item.status, item.verified_by) == (ActionStatus.VERIFIED, approver)


def api(user) -> Client:
    _, plain = ApiToken.issue(user=user, name="tests", scope="write")
    return Client(headers={"Authorization": f"Bearer {plain}"})


class TestApi:
    def test_patch_by_the_closer_is_a_400(self, item, reviewer, approver):
        url = f"/api/v1/action-items/{item.pk}/"
        client = api(reviewer)
        etag = client.get(url)["ETag"]
        response = client.patch(
            url, {"status": "verified"}, content_type="application/json", headers={"If-Match": etag}
        )
        assert response.status_code == 400, response.content
        assert "Someone other than the person who closed this item" in response.content.decode()
        item.refresh_from_db()
        assert item.status == ActionStatus.DONE
        response = api(approver).patch(
            url, {"status": "verified"}, content_type="application/json", headers={"If-Match": etag}
        )
        assert response.status_code == 200, response.content
        assert response.json()["status"] == "verified"

    def test_close_with_verified_by_the_owner_is_a_400(self, item):
        item.owner.groups.add(Group.objects.get(name=REVIEWERS))  # may change items
        response = api(item.owner).post(f"/api/v1/action-items/{item.pk}/close/?status=verified")
        assert response.status_code == 400, response.content
        assert "owner cannot verify" in response.content.decode()
        item.refresh_from_db()
        assert item.status == ActionStatus.DONE

    def test_closing_through_the_api_records_who_closed_it(self, approver):
        item = ActionItemFactory()
        response = api(approver).post(f"/api/v1/action-items/{item.pk}/close/")
        assert response.status_code == 200, response.content
        item.refresh_from_db()
        assert item.completed_by == approver
