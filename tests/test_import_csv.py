"""CSV files and spreadsheets of incidents: reading them, the column mapping, and the mapping step's page."""

import io
from datetime import UTC, date, datetime

import openpyxl
import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from incidents.imports import csv_format, values
from incidents.imports.records import ImportedIncident, ReadFailure
from incidents.imports.sources import SourceFile
from incidents.models import ImportFormat, ImportJob, ImportMapping, ImportState, Incident
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


def test_an_issue_trackers_export_has_its_summary_as_the_title_and_its_creation_as_the_start():
    headings = ["Issue key", "Description", "Summary", "Priority", "Created", "Resolved", "Component/s", "Labels"]
    assert csv_format.guess_mapping(headings) == {
        "Issue key": "external_id",
        "Description": "summary",
        "Summary": "title",
        "Priority": "severity",
        "Created": "started_at",
        "Resolved": "resolved_at",
        "Component/s": "services",
        "Labels": "tags",
    }
    # With a title and a start of their own, "Summary" is the summary and "Created" only a note.
    assert csv_format.guess_mapping(["Title", "Summary", "Started", "Created"]) == {
        "Title": "title",
        "Summary": "summary",
        "Started": "started_at",
        "Created": "note",
    }


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


# The mapping step's page

SPREADSHEET = (
    "Incident name,Opened,Sev,Systems,Why,Owner notes\n"
    "Checkout errors,2024-03-05 14:05,P1,checkout; payments,A config push removed the pool,call back\n"
    "Search slow,2024-04-02,Sev 3,search,The index was rebuilt at noon,\n"
    "Login loop,May 2024,critical,auth,,\n"
)
# What a person chooses for it: the first two and "Why" are not guessed from their names.
CHOICES = {
    "Incident name": "title",
    "Opened": "started_at",
    "Sev": "severity",
    "Systems": "services",
    "Why": "section:root_cause",
    "Owner notes": "note",
}


@pytest.fixture
def uploads(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def upload(user, data: bytes | str = SPREADSHEET, name: str = "incidents.csv") -> ImportJob:
    """What the upload page saves for a CSV file before sending its uploader to the mapping step."""
    if isinstance(data, str):
        data = data.encode()
    return ImportJob.objects.create(
        created_by=user, format=ImportFormat.CSV, dry_run=True, upload=ContentFile(data, name=name), original_name=name
    )


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """`run(client.post, url, data)`: the request, then the import task it queued on commit (inline in tests)."""

    def request(method, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return method(*args, **kwargs)

    return request


def mapping_url(job: ImportJob) -> str:
    return reverse("incidents:import-csv-mapping", args=[job.pk])


def posted(choices: dict[str, str], headings: list[str], **extra) -> dict[str, str]:
    return {f"column-{i}": choices[heading] for i, heading in enumerate(headings)} | extra


def shown_choices(response) -> dict[str, str]:
    form = response.context["form"]
    return {heading: form[f"column-{i}"].value() for i, heading in enumerate(form.headings)}


def test_the_page_shows_the_first_rows_with_a_field_guessed_for_each_column(
    uploads, reviewer, client_for, django_assert_num_queries
):
    rows = "".join(f"Row {n},2024-01-0{n}\n" for n in range(1, 8))
    job = upload(reviewer, "Title,Date\n" + rows)
    client = client_for(reviewer)
    # The session, its user, the user's role (may import), the job, the saved mappings, and the
    # navigation's question whether the user approves (its review queue).
    with django_assert_num_queries(6):
        response = client.get(mapping_url(job))
    assert response.status_code == 200
    assert shown_choices(response) == {"Title": "title", "Date": "started_at"}
    page = response.content.decode()
    assert "Row 5" in page  # the first five rows only
    assert "Row 6" not in page
    assert "Filled in from the headings" in page


def test_continuing_saves_the_mapping_by_name_and_starts_the_dry_run_which_writes_nothing(
    uploads, reviewer, client_for, run
):
    job = upload(reviewer)
    client = client_for(reviewer)
    headings = list(CHOICES)
    response = run(client.post, mapping_url(job), posted(CHOICES, headings, save_as="Ops spreadsheet"))
    assert response.status_code == 302
    assert response.url == reverse("incidents:import-job", args=[job.pk])

    saved = ImportMapping.objects.get(name="Ops spreadsheet")
    assert saved.columns == CHOICES
    assert saved.created_by == reviewer
    job.refresh_from_db()
    assert job.mapping == saved
    assert job.options["columns"] == CHOICES
    assert job.state == ImportState.DONE  # the dry run ran (tasks run inline in tests)
    assert [entry["action"] for entry in job.report] == ["create", "create", "create"]
    assert job.created_count == 3
    assert not Incident.objects.exists()


def test_saving_under_a_name_already_taken_updates_that_mapping(uploads, reviewer, approver, client_for):
    saved = ImportMapping.objects.create(name="Ops spreadsheet", columns={"Title": "title"}, created_by=approver)
    job = upload(reviewer)
    client_for(reviewer).post(mapping_url(job), posted(CHOICES, list(CHOICES), save_as="Ops spreadsheet"))
    saved.refresh_from_db()
    assert saved.columns == CHOICES
    assert saved.created_by == approver
    assert ImportMapping.objects.count() == 1


def test_a_file_with_the_same_headings_is_filled_in_from_the_saved_mapping(uploads, reviewer, client_for):
    ImportMapping.objects.create(name="Ops spreadsheet", columns=CHOICES)
    ImportMapping.objects.create(name="Other", columns={"Title": "title"})
    response = client_for(reviewer).get(mapping_url(upload(reviewer)))
    assert shown_choices(response) == CHOICES
    assert response.context["form"]["save_as"].value() == "Ops spreadsheet"
    assert "Filled in from the saved mapping <strong>Ops spreadsheet</strong>" in response.content.decode()


def test_a_saved_mapping_can_be_picked_for_a_file_with_other_headings(uploads, reviewer, client_for):
    picked = ImportMapping.objects.create(name="Ops spreadsheet", columns=CHOICES)
    job = upload(reviewer, SPREADSHEET.replace("Owner notes", "Comments"))
    client = client_for(reviewer)
    guessed = shown_choices(client.get(mapping_url(job)))
    assert guessed["Incident name"] == "note"
    response = client.get(mapping_url(job), {"mapping": picked.pk})
    chosen = shown_choices(response)
    assert chosen["Incident name"] == "title"
    assert chosen["Why"] == "section:root_cause"
    assert chosen["Comments"] == "note"  # not in the saved mapping: its guess
    assert response.context["form"]["save_as"].value() == "Ops spreadsheet"
    assert shown_choices(client.get(mapping_url(job), {"mapping": "guess"})) == guessed


def test_no_title_column_is_an_error_that_keeps_the_choices_made(uploads, reviewer, client_for):
    job = upload(reviewer)
    choices = {**CHOICES, "Incident name": "summary"}
    response = client_for(reviewer).post(mapping_url(job), posted(choices, list(CHOICES), save_as="Half done"))
    assert response.status_code == 422
    assert "No column is mapped to the title" in response.content.decode()
    assert shown_choices(response) == choices
    assert response.context["form"]["save_as"].value() == "Half done"
    assert not ImportMapping.objects.exists()
    job.refresh_from_db()
    assert (job.state, job.options, job.report) == (ImportState.PENDING, {}, [])


@pytest.mark.parametrize(
    ("data", "name", "reason"),
    [
        (b"", "empty.csv", "empty.csv is empty"),
        (b"Title\n", "headings.csv", "has headings but no rows"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "photo.csv", "not a CSV file or spreadsheet"),
    ],
)
def test_a_bad_file_is_named_on_the_page_and_nothing_starts(uploads, reviewer, client_for, data, name, reason):
    job = upload(reviewer, data, name=name)
    response = client_for(reviewer).get(mapping_url(job))
    assert response.status_code == 422
    assert reason in response.content.decode()
    assert client_for(reviewer).post(mapping_url(job), {}).status_code == 422
    job.refresh_from_db()
    assert job.state == ImportState.PENDING


def test_only_the_uploader_among_reviewers_and_admins(
    uploads, reviewer, outsider, leader, client_for, django_user_model
):
    job = upload(reviewer)
    assert client_for(leader).get(mapping_url(job)).status_code == 403
    assert client_for(outsider).get(mapping_url(job)).status_code == 404  # another reviewer's upload
    admin = django_user_model.objects.create_superuser("root", password="pw")
    assert client_for(admin).get(mapping_url(job)).status_code == 200
    markdown = ImportJob.objects.create(created_by=reviewer, format=ImportFormat.MARKDOWN, original_name="a.md")
    assert client_for(reviewer).get(mapping_url(markdown)).status_code == 404  # no columns to map


def test_changing_the_columns_after_the_preview_starts_a_new_dry_run_and_keeps_the_first(
    uploads, reviewer, client_for, run
):
    job = upload(reviewer)
    client = client_for(reviewer)
    run(client.post, mapping_url(job), posted(CHOICES, list(CHOICES)))
    job.refresh_from_db()
    first_report = job.report
    response = client.post(mapping_url(job), posted({**CHOICES, "Why": "note"}, list(CHOICES)))
    again = ImportJob.objects.exclude(pk=job.pk).get()
    assert response.url == reverse("incidents:import-job", args=[again.pk])
    assert again.upload.name == job.upload.name
    assert again.options["columns"]["Why"] == "note"
    job.refresh_from_db()
    assert job.report == first_report


def confirm(run, client, job: ImportJob) -> ImportJob:
    run(client.post, reverse("incidents:import-confirm", args=[job.pk]))
    return ImportJob.objects.get(options__confirms=job.pk)


def test_a_second_import_of_the_same_file_creates_nothing(uploads, reviewer, client_for, run):
    client = client_for(reviewer)
    first = upload(reviewer)
    run(client.post, mapping_url(first), posted(CHOICES, list(CHOICES), save_as="Ops spreadsheet"))
    real = confirm(run, client, first)
    assert real.created_count == 3
    checkout = Incident.objects.get(title="Checkout errors")
    assert checkout.severity == "SEV1"
    assert checkout.imported_at is not None
    assert sorted(checkout.services.values_list("name", flat=True)) == ["checkout", "payments"]
    assert "A config push removed the pool" in checkout.coe.root_cause
    before = set(Incident.objects.values_list("pk", "updated_at"))

    second = upload(reviewer)  # the same file again, mapped by the saved mapping as the page fills it in
    filled = shown_choices(client.get(mapping_url(second)))
    run(client.post, mapping_url(second), posted(filled, list(CHOICES)))
    second.refresh_from_db()
    assert [entry["action"] for entry in second.report] == ["unchanged"] * 3
    assert (second.created_count, second.updated_count) == (0, 0)
    assert set(Incident.objects.values_list("pk", "updated_at")) == before


def test_a_workbook_goes_through_the_same_step(uploads, reviewer, client_for, run):
    data = workbook(["Title", "Started"], ["Disk full", datetime(2024, 3, 5, 14, 5)])
    job = upload(reviewer, data, name="incidents.xlsx")
    client = client_for(reviewer)
    response = client.get(mapping_url(job))
    assert shown_choices(response) == {"Title": "title", "Started": "started_at"}
    run(client.post, mapping_url(job), posted({"Title": "title", "Started": "started_at"}, ["Title", "Started"]))
    real = confirm(run, client, job)
    assert real.created_count == 1
    assert Incident.objects.get().started_at == datetime(2024, 3, 5, 14, 5, tzinfo=UTC)


def test_saved_mappings_are_listed_in_the_admin(client_for, django_user_model):
    ImportMapping.objects.create(name="Ops spreadsheet", columns=CHOICES)
    admin = django_user_model.objects.create_superuser("root", password="pw")
    response = client_for(admin).get(reverse("admin:incidents_importmapping_changelist"))
    assert response.status_code == 200
    assert "Ops spreadsheet" in response.content.decode()
