"""The knowledge base's export: what the reader may see and nothing else, filtered like the list,
in JSON and as Markdown files that parse, from the command, the list page and the API alike."""

import io
import json
import zipfile

import pytest
import yaml
from django.core.management import CommandError, call_command
from django.test import Client

from incidents import services
from incidents.exports.export import export_knowledge_base
from incidents.exports.selection import ExportError
from incidents.models import (
    AIFieldCitation,
    Claim,
    CoeRevision,
    ImpactFigure,
    IncidentFactor,
    Region,
    ReviewComment,
    Tag,
)

from .factories import (
    ActionItemFactory,
    AIInvolvementFactory,
    CoeDocumentFactory,
    ControlFactory,
    IncidentFactory,
    ServiceFactory,
    SourceFactory,
    TeamFactory,
    TimelineEventFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

MARKER = "zq7marker"  # in every part of the restricted incident, so any leak of it shows


@pytest.fixture
def public_incident(reviewer):
    source = SourceFactory(url="https://status.example.com/public-outage", title="Public outage")
    incident = IncidentFactory(title="Public checkout outage", severity="SEV1", owner=reviewer)
    incident.sources.add(source)
    incident.services.add(ServiceFactory(name="checkout"))
    TimelineEventFactory(incident=incident, description="Errors began", source=source)
    coe = CoeDocumentFactory(incident=incident, root_cause="An empty DNS plan was applied.", owner=reviewer)
    coe.authors.add(reviewer)
    ActionItemFactory(incident=incident, title="Reject empty plans", owner=reviewer, source=source)
    return incident


@pytest.fixture
def secret_incident(restricted_group):
    """A restricted incident whose every part carries MARKER: its title, owner, service, source,
    timeline, claim, AI record, COE, review comment, action item and access group's members."""
    owner = UserFactory(username=f"{MARKER}-owner")
    source = SourceFactory(url=f"https://internal.example.com/{MARKER}", title=f"{MARKER} report")
    incident = IncidentFactory(
        title=f"Ledger wiped {MARKER}",
        severity="SEV2",
        restricted=True,
        access_group=restricted_group,
        owner=owner,
    )
    incident.sources.add(source)
    incident.services.add(ServiceFactory(name=f"ledger-{MARKER}"))
    TimelineEventFactory(incident=incident, description=f"Agent ran {MARKER}", source=source)
    Claim.objects.create(incident=incident, source=source, claimant="Vendor", stance="asserts", statement=MARKER)
    ai = AIInvolvementFactory(incident=incident, agent_name=f"agent-{MARKER}")
    AIFieldCitation.objects.create(involvement=ai, field="role", source=source)
    coe = CoeDocumentFactory(incident=incident, summary=f"{MARKER} summary", owner=owner)
    ReviewComment.objects.create(coe=coe, section="summary", author=owner, body=f"{MARKER} comment")
    ActionItemFactory(incident=incident, title=f"Guard {MARKER}", owner=owner, source=source)
    return incident


def _json(user, query: str = "") -> bytes:
    return b"".join(export_knowledge_base(user=user, format="json", query=query).chunks)


def _zip_files(user, query: str = "") -> dict[str, str]:
    data = b"".join(export_knowledge_base(user=user, format="markdown", query=query).chunks)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name).decode() for name in archive.namelist()}


def _front_matter(text: str) -> tuple[dict, str]:
    assert text.startswith("---\n")
    head, body = text[4:].split("\n---\n", 1)
    return yaml.safe_load(head), body.lstrip("\n")


class TestWhatTheReaderMaySee:
    def test_an_outsider_exports_no_trace_of_a_restricted_incident(self, outsider, public_incident, secret_incident):
        document = _json(outsider)
        assert MARKER.encode() not in document
        assert [i["key"] for i in json.loads(document)["incidents"]] == [public_incident.key]
        files = _zip_files(outsider)
        assert not any(MARKER in name or MARKER in text for name, text in files.items())
        assert f"incidents/{public_incident.key}.md" in files

    def test_a_member_of_its_group_exports_all_of_it(self, reviewer, public_incident, secret_incident):
        document = json.loads(_json(reviewer))
        assert {i["key"] for i in document["incidents"]} == {public_incident.key, secret_incident.key}
        [secret] = [i for i in document["incidents"] if i["key"] == secret_incident.key]
        assert secret["restricted"] is True
        assert secret["access_group"] == "security-incident-team"
        assert secret["coe"]["review_comments"][0]["body"] == f"{MARKER} comment"
        assert secret["ai_involvements"][0]["field_citations"] == {"role": f"https://internal.example.com/{MARKER}"}
        assert f"https://internal.example.com/{MARKER}" in [s["url"] for s in document["sources"]]
        assert f"{MARKER}-owner" in [u["username"] for u in document["users"]]
        assert "security-incident-team" in [g["name"] for g in document["groups"]]
        assert f"incidents/{secret_incident.key}.md" in _zip_files(reviewer)

    def test_people_are_named_not_exported(self, reviewer, public_incident):
        [user] = [u for u in json.loads(_json(reviewer))["users"] if u["username"] == reviewer.username]
        assert set(user) == {"username", "first_name", "last_name", "groups"}
        assert user["groups"] == ["reviewers"]


class TestFilters:
    def test_the_list_filters_select(self, leader, public_incident):
        blip = IncidentFactory(title="A minor blip", severity="SEV4")
        keys = [i["key"] for i in json.loads(_json(leader, "severity=SEV1"))["incidents"]]
        assert keys == [public_incident.key]
        assert json.loads(_json(leader, "severity=SEV1"))["filter"] == "severity=SEV1"
        assert list(_zip_files(leader, "severity=SEV4&q=blip")) == [f"incidents/{blip.key}.md", "index.md"]

    def test_an_unknown_filter_is_refused_not_ignored(self, leader):
        with pytest.raises(ExportError, match="Unknown filter: severty"):
            export_knowledge_base(user=leader, format="json", query="severty=SEV1")
        with pytest.raises(ExportError, match="severity"):
            export_knowledge_base(user=leader, format="json", query="severity=SEV9")


class TestMarkdownFiles:
    def test_each_file_has_front_matter_and_the_coe(self, leader, public_incident):
        files = _zip_files(leader)
        meta, body = _front_matter(files[f"incidents/{public_incident.key}.md"])
        assert meta["key"] == public_incident.key
        assert meta["title"] == "Public checkout outage"
        assert meta["severity"] == "SEV1"
        assert meta["started"] == {"at": "2025-10-20T06:48:00+00:00", "precision": "minute", "estimated": False}
        assert meta["services"] == ["checkout"]
        assert meta["coe"]["status"] == "draft"
        assert meta["sources"] == ["https://status.example.com/public-outage"]
        # The COE page's own Markdown: its sections, whys, timeline and action items, and the sources' addresses.
        assert body.startswith("# COE: Public checkout outage\n")
        assert "## Root cause\n\nAn empty DNS plan was applied." in body
        assert "| Errors began |" in body
        assert "| Reject empty plans |" in body
        assert "| Prevent | P1 | rita | 2026-01-31 | Open |" in body
        assert "[Public outage](https://status.example.com/public-outage)" in body
        assert f"[{public_incident.key}](incidents/{public_incident.key}.md)" in files["index.md"]

    def test_an_incident_without_a_coe_still_reads(self, leader):
        incident = IncidentFactory(title="Queue backlog", summary="Jobs waited an hour.", detected_at=None)
        meta, body = _front_matter(_zip_files(leader)[f"incidents/{incident.key}.md"])
        assert meta["coe"] is None
        assert meta["detected"] is None
        assert body.startswith("# Queue backlog\n")
        assert "- COE: none written yet" in body
        assert "## Summary\n\nJobs waited an hour." in body


def _incident_with_every_part(number: int, reviewer) -> None:
    team = TeamFactory(name=f"Payments {number}", slug=f"payments-{number}")
    team.members.add(reviewer)
    source = SourceFactory()
    incident = IncidentFactory(team=team, owner=reviewer)
    incident.services.add(ServiceFactory(name=f"ledger-{number}", team=team))
    incident.regions.add(Region.objects.create(code=f"eu-west-{number}"))
    incident.tags.add(Tag.objects.create(name=f"tag-{number}"))
    incident.sources.add(source)
    IncidentFactor.objects.create(incident=incident, factor="retry_storm")
    TimelineEventFactory(incident=incident, source=source)
    ImpactFigure.objects.create(incident=incident, name="Lost orders", value=10, source=source)
    Claim.objects.create(incident=incident, source=source, claimant="Vendor", stance="asserts", statement="It was DNS.")
    ai = AIInvolvementFactory(incident=incident)
    ai.evidence.add(source)
    AIFieldCitation.objects.create(involvement=ai, field="role", source=source)
    ActionItemFactory(incident=incident, owner=reviewer)
    coe = CoeDocumentFactory(incident=incident, owner=reviewer)
    coe.authors.add(reviewer)
    CoeRevision.objects.create(coe=coe, number=1, status="draft", saved_by=reviewer, data={})
    ReviewComment.objects.create(coe=coe, section="summary", author=reviewer, body="Which plan?")
    ControlFactory(owner=reviewer).incidents.add(incident)


def test_the_export_reads_a_fixed_number_of_queries(leader, reviewer, django_assert_num_queries):
    for number in range(3):
        _incident_with_every_part(number, reviewer)
    # The incidents' ids; then, for each chunk of 200 incidents, the incidents with their owner, team,
    # access group, duration source and COE (one join), and their services, regions, tags, factors,
    # sources, timeline, impact figures, claims, AI involvements, their evidence, their field citations,
    # action items, the COEs' authors, revisions and comments, and the controls (16 prefetches); then the
    # controls with their incidents and sources (3), services, teams with their members (2), regions, tags,
    # sources, and the users with their groups (2).
    with django_assert_num_queries(1 + 17 + 3 + 1 + 2 + 1 + 1 + 1 + 2):
        _json(leader)
    _incident_with_every_part(3, reviewer)
    with django_assert_num_queries(1 + 17 + 3 + 1 + 2 + 1 + 1 + 1 + 2):
        assert len(json.loads(_json(leader))["incidents"]) == 4


class TestEntryPoints:
    def test_the_command_exports_as_a_user_or_everything(self, tmp_path, outsider, public_incident, secret_incident):
        path = tmp_path / "kb.json"
        call_command("export_kb", "--as-user", outsider.username, "-o", str(path))
        assert MARKER.encode() not in path.read_bytes()
        call_command("export_kb", "--format", "json", "--filter", "severity=SEV2", "-o", str(path))
        assert [i["key"] for i in json.loads(path.read_bytes())["incidents"]] == [secret_incident.key]
        call_command("export_kb", "--format", "markdown", "-o", str(tmp_path / "kb.zip"))
        assert len(zipfile.ZipFile(tmp_path / "kb.zip").namelist()) == 3

    @pytest.mark.parametrize(
        ("arguments", "error"),
        [
            (["--as-user", "nobody"], "No user named 'nobody'"),
            (["--format", "markdown"], "A zip needs a file"),
            (["--filter", "colour=red"], "Unknown filter: colour"),
        ],
    )
    def test_the_command_says_what_is_wrong(self, db, arguments, error):
        with pytest.raises(CommandError, match=error):
            call_command("export_kb", *arguments)

    def test_the_list_links_to_an_export_with_its_filters(self, client_for, outsider, public_incident, secret_incident):
        client = client_for(outsider)
        page = client.get("/incidents/", {"severity": "SEV1"}).content.decode()
        assert 'href="/incidents/export/?format=json&amp;severity=SEV1"' in page
        assert 'href="/incidents/export/?format=markdown&amp;severity=SEV1"' in page
        response = client.get("/incidents/export/", {"format": "json", "severity": ["SEV1", "SEV2"]})
        assert response["Content-Disposition"].startswith('attachment; filename="coe-tracker-')
        document = b"".join(response.streaming_content)
        assert MARKER.encode() not in document
        assert [i["key"] for i in json.loads(document)["incidents"]] == [public_incident.key]

    def test_the_page_export_needs_a_sign_in_and_a_known_filter(self, client, client_for, leader):
        assert client.get("/incidents/export/").status_code == 302
        response = client_for(leader).get("/incidents/export/", {"severty": "SEV1"}, follow=True)
        assert "Nothing exported: Unknown filter: severty" in response.content.decode()

    def test_the_api_with_a_read_token(self, outsider, public_incident, secret_incident):
        _token, plain = services.api_token_create(user=outsider, name="backup")
        api = Client(headers={"Authorization": f"Bearer {plain}"})
        response = api.get("/api/v1/export.json", {"severity": "SEV1"})
        assert response.status_code == 200
        assert response["Content-Type"] == "application/json; charset=utf-8"
        assert [i["key"] for i in json.loads(b"".join(response.streaming_content))["incidents"]] == [
            public_incident.key
        ]
        response = api.get("/api/v1/export.zip")
        assert response["Content-Type"] == "application/zip"
        names = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))).namelist()
        assert names == [f"incidents/{public_incident.key}.md", "index.md"]

    def test_the_api_refuses_strangers_and_unknown_filters(self, outsider):
        assert Client().get("/api/v1/export.json").status_code == 401
        _token, plain = services.api_token_create(user=outsider, name="backup")
        response = Client(headers={"Authorization": f"Bearer {plain}"}).get("/api/v1/export.zip", {"colour": "red"})
        assert response.status_code == 400
        assert "Unknown filter: colour" in response.json()["error"]["fields"]["filter"][0]
