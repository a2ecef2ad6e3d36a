"""CSV files and spreadsheets of incidents: reading them, the column mapping, and the mapping step's page."""

import io
from datetime import UTC, date, datetime

import openpyxl
import pytest

from incidents.imports import csv_format, values
from incidents.imports.records import ImportedIncident, ReadFailure
from incidents.imports.sources import SourceFile
from incidents.models.vocab import TimePrecision

HEADINGS = "Id,Title,Sev,Started,Services,Root cause,Owner notes"


def read(data: bytes | str, name: str = "incidents.csv", **options) -> list[ImportedIncident | ReadFailure]:
    if isinstance(data, str):
        data = data.encode()
    return list(csv_format.read(SourceFile(name=name, data=data), options=options))


def workbook(*rows, extra_sheet: str = "") -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    if extra_sheet:
        book.create_sheet(extra_sheet)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# Reading the file


def test_utf8_with_a_byte_order_mark_semicolons_and_excel_quoting():
    # Excel's "CSV UTF-8" in a semicolon locale: a BOM, and quoted cells holding the delimiter,
    # a line break and a doubled quote.
    data = '\ufeffTitle;Summary;Sev\n"Orders lost; some";"First line\nsecond ""quoted"" line";P1\n'.encode()
    [item] = read(data)
    assert item.title == "Orders lost; some"
    assert item.summary == 'First line\nsecond "quoted" line'
    assert item.severity == "SEV1"
    assert item.origin == "incidents.csv row 2"


def test_tab_separated_utf16_as_excel_saves_unicode_text():
    data = "Title\tStatus\nCafé outage\tMonitoring\n".encode("utf-16")
    [item] = read(data, name="export.tsv")
    assert (item.title, item.status) == ("Café outage", "mitigated")


def test_windows_1252_is_read_and_said_once_for_the_file():
    data = "Title,Impact\nCaf\xe9 down,Orders € lost\nSecond,\n".encode("cp1252")
    first, second = read(data)
    assert first.title == "Café down"
    assert first.customer_impact == "Orders € lost"
    assert first.warnings == ["The file is not UTF-8; it was read as Windows-1252."]
    assert second.warnings == []


def test_rows_are_numbered_as_the_spreadsheet_shows_them_and_blank_rows_skipped():
    data = 'Title,Summary\nFirst,"two\nlines"\n,\nThird,\n'
    items = read(data)
    assert [(i.origin, i.title) for i in items] == [("incidents.csv row 2", "First"), ("incidents.csv row 4", "Third")]


def test_a_workbook_reads_its_first_sheet_with_its_own_dates_and_numbers():
    data = workbook(
        ["Title", "Started", "Severity", "Resolved"],
        ["Queue backlog", datetime(2024, 3, 5, 14, 5), 2, date(2024, 3, 6)],
        extra_sheet="Notes",
    )
    [item] = read(data, name="incidents.xlsx")
    assert item.title == "Queue backlog"
    assert item.started_at == datetime(2024, 3, 5, 14, 5, tzinfo=UTC)
    assert item.time_precision == TimePrecision.MINUTE
    assert item.resolved_at == datetime(2024, 3, 6, tzinfo=UTC)
    assert item.severity == "SEV2"  # the number 2, not "2.0"
    assert item.warnings == ["The first sheet, 'Sheet', was read; the others ('Notes') were not."]


def test_headings_empty_or_repeated_get_names_of_their_own():
    table = csv_format.read_table("x.csv", b"Title,,Notes,Notes\nA,b,c,d\n")
    assert table.headings == ["Title", "Column 2", "Notes", "Notes (2)"]
    [item] = read(b"Title,,Notes,Notes\nA,b,c,d\n")
    assert item.notes == [("Column 2", "b"), ("Notes", "c"), ("Notes (2)", "d")]


@pytest.mark.parametrize(
    ("data", "name", "reason"),
    [
        (b"", "a.csv", "a.csv is empty"),
        (b"\n\n", "a.csv", "a.csv is empty"),
        (b"Title,Severity\n", "a.csv", "has headings but no rows"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "picture.csv", "not a CSV file or spreadsheet"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64), "old.xls", "old Excel workbook (.xls)"),
        (b"PK\x03\x04 not really a workbook", "broken.xlsx", "not a spreadsheet we can read"),
        (b"Name of the thing,Sev\nX,1\n", "a.csv", "No column is mapped to the title"),
    ],
)
def test_a_bad_file_fails_alone_with_its_reason(data, name, reason):
    [failure] = read(data, name=name)
    assert isinstance(failure, ReadFailure)
    assert failure.origin == name
    assert reason in failure.reason


# The column mapping


def test_guesses_from_the_headings():
    mapping = csv_format.guess_mapping(["ID", "Title", "Sev", "Date", "Start time", "Impact", "Root cause", "Misc"])
    assert mapping == {
        "ID": "external_id",
        "Title": "title",
        "Sev": "severity",
        "Date": "started_at",
        "Start time": "note",  # a second start would fight the first: kept as a note
        "Impact": "customer_impact",
        "Root cause": "section:root_cause",
        "Misc": "note",
    }


def test_an_issue_trackers_summary_is_the_title_when_no_column_is():
    assert csv_format.guess_mapping(["Issue key", "Summary", "Priority"]) == {
        "Issue key": "external_id",
        "Summary": "title",
        "Priority": "severity",
    }
    assert csv_format.guess_mapping(["Title", "Summary"])["Summary"] == "summary"


def test_mapping_problems_name_what_is_wrong():
    headings = ["A", "B", "C"]
    assert csv_format.mapping_problems({"A": "title", "B": "tags", "C": "tags"}, headings) == []
    problems = csv_format.mapping_problems({"A": "title", "B": "severity", "C": "severity"}, headings)
    assert problems == ["Severity is mapped from more than one column (B, C)."]
    assert csv_format.mapping_problems({"A": "summary", "B": "bogus"}, headings) == [
        "Unknown field bogus.",
        "No column is mapped to the title: every incident needs one.",
    ]
    # A saved mapping names columns this file lacks: only the file's own headings count.
    assert csv_format.mapping_problems({"Gone": "title", "A": "summary"}, headings) == [
        "No column is mapped to the title: every incident needs one."
    ]


def test_each_column_goes_where_the_mapping_says_and_the_rest_is_kept_as_notes():
    data = (
        "Ref,Name,Sev,When,Systems,Why,Follow ups,Row,Remarks\n"
        'OPS-7,Checkout down,critical,2024-03-05 14:05,"api; web, api",'
        'The cache expired,"Add alarm; Fix TTL",7,call Bob\n'
    )
    columns = {
        "Ref": "external_id",
        "Name": "title",
        "Sev": "severity",
        "When": "started_at",
        "Systems": "services",
        "Why": "section:root_cause",
        "Follow ups": "action_items",
        "Row": "skip",
    }  # "Remarks" is not in the mapping: an unknown column, kept as a note
    [item] = read(data, columns=columns)
    assert item.external_id == "OPS-7"
    assert item.title == "Checkout down"
    assert item.severity == "SEV1"
    assert item.started_at == datetime(2024, 3, 5, 14, 5, tzinfo=UTC)
    assert item.services == ["api", "web"]
    assert item.sections == {"root_cause": "The cache expired"}
    assert [a.title for a in item.action_items] == ["Add alarm", "Fix TTL"]
    assert item.notes == [("Remarks", "call Bob")]
    assert ("Why", "COE: Root cause") in item.mapped
    assert item.warnings == []


@pytest.mark.parametrize(
    ("written", "severity"),
    [
        ("Sev 1", "SEV1"),
        ("P1", "SEV1"),
        ("critical", "SEV1"),
        ("S2", "SEV2"),
        ("high", "SEV2"),
        ("SEV3 (minor)", "SEV3"),
        ("4", "SEV4"),
        ("low", "SEV4"),
    ],
)
def test_severity_as_people_write_it(written, severity):
    assert values.severity_of(written) == (severity, None)


def test_severity_off_our_scale_is_clamped_with_a_warning_and_unknown_is_kept_as_a_note():
    assert values.severity_of("P0") == ("SEV1", "Severity 'P0' is above our highest; read as SEV1.")
    assert values.severity_of("Sev 5")[0] == "SEV4"
    [item] = read("Title,Severity\nA,whenever\n")
    assert item.severity == ""  # the runner picks its default and says so
    assert item.warnings == ["Unknown severity 'whenever'."]
    assert item.notes == [("Severity", "whenever")]


def test_an_unparsed_date_is_a_warning_an_empty_field_and_a_note():
    [item] = read("Title,Started,Resolved\nA,sometime last spring,2024-03-06\n")
    assert item.started_at is None
    assert item.warnings == ["Started at: Unparsed date 'sometime last spring'."]
    assert item.notes == [("Started", "sometime last spring")]
    assert item.resolved_at == datetime(2024, 3, 6, tzinfo=UTC)


def test_human_error_is_refused_as_a_cause():
    [item] = read("Title,Cause\nA,Human error\n")
    assert item.primary_cause == ""
    assert "a person's action is a trigger" in item.warnings[0]
    assert item.notes == [("Cause", "Human error")]


@pytest.mark.parametrize(
    ("written", "when", "precision"),
    [
        ("2024-03-05 14:05", datetime(2024, 3, 5, 14, 5, tzinfo=UTC), TimePrecision.MINUTE),
        ("2024-03-05T16:05+02:00", datetime(2024, 3, 5, 14, 5, tzinfo=UTC), TimePrecision.MINUTE),
        ("5 Mar 2024 14h", datetime(2024, 3, 5, 14, tzinfo=UTC), TimePrecision.HOUR),
        ("2024-03-05", datetime(2024, 3, 5, tzinfo=UTC), TimePrecision.DAY),
        ("March 2024", datetime(2024, 3, 1, tzinfo=UTC), TimePrecision.MONTH),
    ],
)
def test_a_time_keeps_the_precision_it_states(written, when, precision):
    assert values.when_of(written) == (when, precision, None)


def test_times_that_are_not_read_rather_than_guessed():
    assert values.when_of("5 March")[0] is None  # no year
    when, _, warning = values.when_of("2024-03-05 14:05 PST")
    assert when is None
    assert "time zone we cannot place" in warning


def test_an_ambiguous_numeric_date_is_read_month_first_unless_told_and_warned_either_way():
    when, _, warning = values.when_of("03/04/2024")
    assert when.date() == date(2024, 3, 4)
    assert "read as month/day" in warning
    when, _, warning = values.when_of("03/04/2024", dayfirst=True)
    assert when.date() == date(2024, 4, 3)
    assert values.when_of("31/12/2024", dayfirst=True)[2] is None
    [item] = read("Title,Started\nA,03/04/2024\n", dayfirst=True)
    assert item.started_at.date() == date(2024, 4, 3)


# A row's stable id


def test_a_rows_id_without_an_id_column_is_its_content_hash_whatever_the_order_or_mapping():
    [first] = read("Title,Sev\nA,1\n")
    [reordered] = read("Sev,Title\n1,A\n")
    [remapped] = read("Title,Sev\nA,1\n", columns={"Title": "title", "Sev": "note"})
    [edited] = read("Title,Sev\nA,2\n")
    assert first.external_id.startswith("import:sha256:")
    assert first.external_id == reordered.external_id == remapped.external_id
    assert edited.external_id != first.external_id


def test_an_id_too_long_for_the_column_falls_back_to_the_hash_with_a_warning():
    [item] = read(f"Id,Title\n{'x' * 101},A\n")
    assert item.external_id.startswith("import:sha256:")
    assert "longer than 100 characters" in item.warnings[0]
