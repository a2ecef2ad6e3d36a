"""Reading postmortems: Markdown with and without front matter, and HTML exports (no database needed)."""

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from incidents.imports import headings, readers
from incidents.imports.records import ReadFailure
from incidents.imports.sources import SourceFile

FIXTURES = Path(__file__).parent / "fixtures" / "postmortems"


def read(name: str, text: str | None = None):
    data = text.encode() if text is not None else (FIXTURES / name).read_bytes()
    (item,) = readers.read(SourceFile(name, data), fmt=None, options={})
    return item


def at(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_front_matter_gives_the_incident_and_keeps_unlisted_keys_as_a_note():
    item = read("sre-style.md")
    assert (item.external_id, item.title, item.severity, item.team) == (
        "PM-2024-017",
        "Shakespeare search outage",
        "SEV2",
        "search-infra",
    )
    assert (item.started_at, item.time_precision) == (at(2024, 3, 1), "day")
    assert item.services == ["shakespeare-search"]
    # "reviewers" is no field of ours: kept verbatim, and nothing mapped is repeated there.
    front_matter = dict(item.notes)["Front matter"]
    assert "reviewers:\n- jennifer\n- martym" in front_matter
    assert "PM-2024-017" not in front_matter
    assert "severity" not in front_matter


def test_headings_go_to_sections_by_the_mapping_and_the_rest_is_kept_as_notes():
    item = read("sre-style.md")
    assert item.sections["impact"] == "An estimated 1.21B queries were lost; no revenue impact."
    assert item.sections["trigger"] == "A sudden increase in traffic."
    assert item.sections["lessons_went_well"] == "Monitoring quickly alerted us."
    assert item.sections["lessons_lucky"] == "Mary read the Wall Street Journal."
    assert dict(item.notes)["Glossary of terms we use"] == "Sonnet: a poem."
    assert ("## Root Causes", "root_cause") in item.mapped
    # The timeline's text is kept whole, its sub-headings included.
    assert "### 2024-03-01" in item.sections["timeline_narrative"]


def test_a_sub_heading_the_mapping_does_not_know_stays_with_its_parent():
    item = read("x.md", "# T\n\n## Lessons learned\n\n### With the vendor\n\nSlow answers.\n\n## Odd\n\nkept\n")
    assert item.sections["lessons_went_wrong"] == "### With the vendor\n\nSlow answers."
    assert item.notes == [("Odd", "kept")]


def test_an_extra_headings_file_extends_the_mapping(settings, tmp_path):
    extra = tmp_path / "headings.toml"
    extra.write_text('[headings]\n"what we saw" = "detection"\n"odd" = "related_items"\n')
    settings.IMPORT_HEADINGS_FILE = str(extra)
    headings.mapping.cache_clear()
    try:
        item = read("x.md", "# T\n\n## What we saw\n\nA spike.\n\n## Odd\n\nkept\n\n## Summary\n\nS.\n")
    finally:
        headings.mapping.cache_clear()
    assert item.sections["detection"] == "A spike."
    assert item.sections["related_items"] == "kept"
    assert item.sections["summary"] == "S."
    assert item.notes == []


def test_timeline_lines_become_events_with_the_precision_and_zone_they_state():
    events = [(e.occurred_at, e.precision, e.kind, e.description[:55]) for e in read("sre-style.md").timeline]
    assert events == [
        # Stated in UTC on a line of a section whose times are PDT.
        (at(2024, 3, 1, 14, 53), "minute", "context", "Traffic to search increases 88x (a time stated in UTC)"),
        # "14:51" under "### 2024-03-01", in PDT (UTC-7).
        (at(2024, 3, 1, 21, 51), "minute", "context", "News reports that a new sonnet has been discovered"),
        (at(2024, 3, 1, 22, 5), "minute", "start", "OUTAGE BEGINS: search backends start melting down"),
        (at(2024, 3, 1, 22, 12), "minute", "detection", "Alert fired: pager goes off for the on-call"),
        (at(2024, 3, 1, 22, 30), "minute", "mitigation", "(About this time) Rolled back the index to the previous"),
        # "Day 2, 09:00" is the day after the start.
        (at(2024, 3, 2, 16, 0), "minute", "context", "Postmortem meeting held"),
        (at(2024, 3, 2, 16, 15), "minute", "context", "Follow-ups agreed"),
        # A date alone: to the day, at 00:00 UTC; and it is the date in force for the next line.
        (at(2024, 3, 3), "day", "context", "Vendor notified of the bug"),
        (at(2024, 3, 3, 23, 30), "minute", "context", "this line has a time but the date in force is 2024-03-03"[:55]),
    ]


def test_a_time_without_any_date_to_place_it_stays_in_the_text_with_a_warning():
    item = read("x.md", "# T\n\n## Timeline\n\n- 14:05 UTC \u2013 Deploy\n")
    assert item.timeline == []
    assert item.sections["timeline_narrative"] == "- 14:05 UTC \u2013 Deploy"
    assert any("no date" in warning for warning in item.warnings)


def test_table_rows_of_a_plain_markdown_postmortem_become_events():
    item = read("plain/PM2025-001 - Node system resource starvation and scheduling capacity.md")
    assert len(item.timeline) == 19
    first, approximate = item.timeline[0], item.timeline[14]
    assert (first.occurred_at, first.precision) == (at(2025, 2, 27, 19, 32), "minute")
    assert approximate.description.startswith("(About this time) Investigated")
    # No front matter: the start is the first line's, the id the content's hash.
    assert item.started_at == at(2025, 2, 27, 19, 32)
    assert item.external_id.startswith("import:sha256:")
    assert len(item.external_id) == len("import:sha256:") + 64
    assert [heading for heading, _ in item.notes] == ["Attendees", "Stats"]
    assert len(item.action_items) == 6


def test_action_items_from_a_table_checkboxes_and_bullets_with_their_own_dates():
    items = {i.title: i for i in read("sre-style.md").action_items}
    playbook = items["Update playbook with instructions for responding to cascading failure"]
    assert (playbook.action_type, playbook.owner_name, playbook.ticket_url) == (
        "mitigate",
        "jennifer",
        "https://bugs.example.com/n38",
    )
    # A "Bug" cell that is no address is kept in the description, not dropped.
    assert items["Use flux capacitor to balance load between clusters"].description == "Ticket: Bug 5554823"
    fixed = items["Fix the file descriptor exhaustion bug (owner: agoogler, opened 2024-03-02, done 2024-03-05)"]
    assert (fixed.status, fixed.owner_name, fixed.created_at, fixed.completed_at) == (
        "done",
        "agoogler",
        at(2024, 3, 2),
        at(2024, 3, 5),
    )
    alert = items["Add an alert on descriptor use, due 2024-04-01"]
    assert (alert.status, alert.due_date, alert.description) == (
        "open",
        date(2024, 4, 1),
        "Page the search on-call, not the storage one.",
    )
    assert items["Rewrite the corpus update as a pipeline (won't do)"].status == "wont_do"


def test_the_whys_become_a_chain():
    assert read("sre-style.md").whys == [
        {
            "cause": "Why did search fail?",
            "links": [
                "Why were the servers crashing? Because the file descriptors ran out.",
                "Why did they run out? Because a new term was missing from the corpus.",
                "Why was it missing? Because the corpus update was not automated.",
            ],
        }
    ]


def test_front_matter_of_a_public_collection_maps_times_categories_and_the_source():
    item = read("front-matter/9d41e2b7-1c3a-4e8e-b7f2-6a5c0d2e4f11.md")
    assert item.external_id == "9d41e2b7-1c3a-4e8e-b7f2-6a5c0d2e4f11"
    assert (item.started_at, item.resolved_at, item.created_at) == (
        at(2014, 11, 18, 0, 50),
        at(2014, 11, 18, 11, 0),
        at(2014, 12, 17),
    )
    assert item.primary_cause == "change_config"  # the first category naming a cause
    assert item.tags == ["config-change", "cascading-failure", "blob storage", "performance update", "Example Cloud"]
    assert item.services == ["Blob Storage"]
    assert item.sections["related_items"] == "Original postmortem: <https://blog.example.net/2014/11/storage-outage>"
    # The summary is the front matter's, then the body's text.
    assert item.sections["summary"].startswith("A performance change deployed")
    assert item.sections["summary"].endswith("instead of in the usual stages.")


def test_without_a_title_or_a_start_the_text_gives_them_with_warnings():
    item = read("front-matter/c3f9a8d2-55b1-4f0c-8e2a-7b1d6e9f0a22.md")
    assert item.title.startswith("On 2023-07-20 between 12:17 and 12:30 UTC all package downloads")
    assert (item.started_at, item.time_precision) == (at(2023, 7, 20), "day")
    assert any(w.startswith("Missing title") for w in item.warnings)
    assert any(w.startswith("No start time given: the first date in the text, 2023-07-20") for w in item.warnings)


def test_unknown_severity_and_unparsed_date_are_warnings_and_the_value_is_kept():
    item = read("x.md", "---\ntitle: T\nseverity: purple\nstart_time: the day the music died\n---\nbody\n")
    assert item.severity == ""
    assert "Unknown severity 'purple'." in item.warnings
    assert any("Unparsed date 'the day the music died'" in w for w in item.warnings)
    assert "start_time: the day the music died" in dict(item.notes)["Front matter"]


def test_the_same_content_has_the_same_id_and_other_content_another():
    first = read("a.md", "# T\n\nOn 2024-01-02 it broke.\n")
    again = read("elsewhere/b.md", "# T\n\nOn 2024-01-02 it broke.\n")
    other = read("a.md", "# T\n\nOn 2024-01-03 it broke.\n")
    assert first.external_id == again.external_id != other.external_id


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("bad-front-matter.md", None, "The front matter is not valid YAML"),
        ("latin.md", "caf\xe9", "Not UTF-8 text."),
    ],
)
def test_a_file_that_cannot_be_read_is_a_failure_with_its_reason(name, text, reason):
    data = (FIXTURES / name).read_bytes() if text is None else text.encode("latin-1")
    (failure,) = readers.read(SourceFile(name, data), fmt=None, options={})
    assert isinstance(failure, ReadFailure)
    assert failure.reason.startswith(reason)


def test_an_html_export_is_converted_then_read_as_markdown():
    item = read("confluence-export.html")
    # The page title without the space's name; the wiki's chrome and scripts are gone.
    assert item.title == "Payment API latency 2023-05-09"
    assert item.sections["summary"] == "Payment API latency rose **tenfold** for 40 minutes after a database failover."
    assert [(e.occurred_at, e.kind) for e in item.timeline] == [
        (at(2023, 5, 9, 10, 2), "context"),
        (at(2023, 5, 9, 10, 42), "resolution"),
    ]
    assert [a.title for a in item.action_items] == [
        "Recycle pooled connections on failover (owner: pat)",
        "Alert on p99 latency",
    ]
    assert item.notes == [("Reviewers' remarks", "Discussed at the weekly review.")]
    everything = repr(item)
    assert "window.alert" not in everything
    assert "Powered by a wiki" not in everything


def test_our_own_markdown_export_reads_back_into_its_sections():
    text = (
        "---\nkey: INC-2026-0001\nexternal_id: 4027-abc\ntitle: Actions outage\n"
        "started:\n  at: '2026-02-02T18:35:00+00:00'\n  precision: hour\n  estimated: true\n---\n"
        "## Question: detection\n\nAn alarm on queue age.\n\n"
        "## Recorded timeline\n\n| When | Event | What happened | Basis |\n|---|---|---|---|\n"
        "| 2026-02-02 18:35 UTC | Impact starts | Impact began. | Reported |\n"
        "| 2026-02-03 00:30 UTC | Resolution | Back to normal. | Reported |\n\n"
        "## Action items\n\n| Action | Type | Priority | Owner | Due | Status |\n|---|---|---|---|---|---|\n"
        "| Add the alarm | Detect | P1 | dana | \u2014 | Done (Demo workflow) |\n"
    )
    item = read("INC-2026-0001.md", text)
    assert item.external_id == "4027-abc"
    assert (item.started_at, item.time_precision, item.started_estimated) == (at(2026, 2, 2, 18, 35), "hour", True)
    assert item.sections["q_detection"] == "An alarm on queue age."
    assert [(e.occurred_at, e.kind, e.description) for e in item.timeline] == [
        (at(2026, 2, 2, 18, 35), "start", "Impact began. \u2014 Reported"),
        (at(2026, 2, 3, 0, 30), "resolution", "Back to normal. \u2014 Reported"),
    ]
    (action,) = item.action_items
    assert (action.action_type, action.priority, action.status, action.due_date) == ("detect", "P1", "done", None)
    assert item.warnings == []


def test_a_folders_readme_or_index_is_left_out_by_name():
    (failure,) = readers.read(SourceFile("kb/index.md", b"# Index\n\n- INC-1\n"), fmt=None, options={})
    assert failure.reason == "A folder's README or index, not a postmortem: left out."
