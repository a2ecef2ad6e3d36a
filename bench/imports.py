"""The import benchmark: 10,000 Markdown postmortems imported by `manage.py import_postmortems`.

`python -m bench.imports` (also a case of `make bench`, named `imports`) writes the files, imports them
into a fresh database of its own, with the command's progress on the terminal, and reports the time
against the target (under 5 minutes) and how many incidents, events and action items were created.

The files are generated deterministically from their number, like a team's archive: YAML front matter
(id, title, severity, start and end, services, tags) on about two in three, the rest plain Markdown; a
summary, an impact, a timeline of four to eight lines (times of day under the start's date, "Day 2"
lines, an approximate one), a root cause, three to five action items (checkboxes with their own dates,
bullets), lessons, and a heading no mapping knows (kept as a note). Settings, all optional:

    BENCH_IMPORT_FILES     10000
    BENCH_IMPORT_DB_NAME   coe_bench_imports, on DATABASE_URL's server (dropped and created each run)
    BENCH_IMPORT_DIR       where the files go (default: bench-results/import-files, rewritten each run)
    BENCH_IMPORT_WORKERS   the command's --workers (default: the number of CPUs)
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench-results"
TARGET_SECONDS = 300.0

SERVICES = ["checkout", "payments", "search", "identity", "storage", "queue", "edge", "billing", "maps", "mail"]
CAUSES = ["config push", "deploy", "certificate expiry", "disk full", "dependency outage", "retry storm"]
SEVERITIES = ["SEV1", "SEV2", "SEV3", "SEV4", "P2", "critical", "minor"]


def postmortem(number: int) -> str:
    """The postmortem numbered `number`, the same text on every run."""
    rng = random.Random(number)
    start = datetime(2016, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(0, 9 * 365 * 24 * 60))
    start = start.replace(second=0, microsecond=0)
    minutes = [0, *sorted(rng.sample(range(3, 600), rng.randrange(3, 7)))]
    service = rng.choice(SERVICES)
    cause = rng.choice(CAUSES)
    title = f"{service.title()} degraded after a {cause} (#{number})"
    lines = []
    if rng.random() < 0.66:
        lines += [
            "---",
            f"id: PM-{number:05d}",
            f"title: {title}",
            f"severity: {rng.choice(SEVERITIES)}",
            f"start_time: {start.isoformat().replace('+00:00', 'Z')}",
            f"end_time: {(start + timedelta(minutes=minutes[-1])).isoformat().replace('+00:00', 'Z')}",
            f"services: [{service}]",
            f"tags: [{cause.replace(' ', '-')}]",
            f"author: engineer{rng.randrange(40)}",
            "---",
        ]
    lines += [f"# {title}", "", "## Summary", "", f"{service} returned errors after a {cause}.", ""]
    lines += ["## Impact", "", f"About {rng.randrange(1, 40)}% of requests failed for {minutes[-1]} minutes.", ""]
    lines += ["## Timeline", "", "All times in UTC.", "", f"### {start:%Y-%m-%d}", ""]
    kinds = ["OUTAGE BEGINS", "Alert fired", "Engineers investigating", "Rolled back the change", "Fully resolved"]
    for index, offset in enumerate(minutes):
        when = start + timedelta(minutes=offset)
        what = kinds[index] if index < len(kinds) else f"Update {index}"
        stamp = f"Day {(when.date() - start.date()).days + 1}, {when:%H:%M}" if when.date() != start.date() else ""
        stamp = stamp or f"{'~' if index == 2 else ''}{when:%H:%M}"
        lines.append(f"- {stamp} \u2013 {what} on {service}")
    lines += ["", "## Root cause", "", f"A {cause} reached every host at once.", ""]
    lines += ["## Action items", ""]
    for item in range(rng.randrange(3, 6)):
        opened = (start + timedelta(days=1)).date()
        if rng.random() < 0.5:
            done = (start + timedelta(days=rng.randrange(2, 60))).date()
            lines.append(f"- [x] Guard {service} against {cause} step {item} (opened {opened}, done {done})")
        elif rng.random() < 0.5:
            lines.append(f"- [ ] Alert on {service} errors step {item}, due {opened + timedelta(days=30)}")
        else:
            lines.append(f"- Document the {cause} runbook step {item}")
    lines += ["", "## Lessons learned", "", "Stage every change.", "", "## Attendees", "", "The on-call."]
    return "\n".join(lines) + "\n"


def write_files(folder: Path, count: int) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    for number in range(1, count + 1):
        # A team's archive: a folder per year.
        path = folder / f"{2016 + number % 9}" / f"pm-{number:05d}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(postmortem(number))


def database_url() -> str:
    name = os.environ.get("BENCH_IMPORT_DB_NAME") or "coe_bench_imports"
    base = os.environ.get("DATABASE_URL", "")
    if base.startswith(("postgres://", "postgresql://")):
        parts = urlsplit(base)
        return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))
    return f"postgres://postgres@127.0.0.1:5432/{name}"


def fresh_database(url: str) -> None:
    parts = urlsplit(url)
    admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, ""))
    name = parts.path.lstrip("/")
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def environment(url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    env.update(
        ENV_FILE="",
        DATABASE_URL=url,
        DEBUG="false",
        SECRET_KEY="bench-only-not-a-secret-" + "x" * 40,
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


def counts(url: str) -> dict[str, int]:
    tables = {
        "incidents": "incidents_incident",
        "timeline_events": "incidents_timelineevent",
        "action_items": "incidents_actionitem",
        "coes": "incidents_coedocument",
    }
    with psycopg.connect(url) as connection:
        return {
            name: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for name, table in tables.items()
        }


def run() -> dict:
    files = int(os.environ.get("BENCH_IMPORT_FILES") or 10_000)
    folder = Path(os.environ.get("BENCH_IMPORT_DIR") or RESULTS / "import-files")
    url = database_url()
    print(f"Import benchmark: {files:,} Markdown files into {urlsplit(url).path.lstrip('/')}", flush=True)
    began = time.monotonic()
    write_files(folder, files)
    print(f"  files written in {time.monotonic() - began:.1f} s; migrating a fresh database", flush=True)
    fresh_database(url)
    env = environment(url)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    report = RESULTS / "import-report.json"
    workers = str(int(os.environ.get("BENCH_IMPORT_WORKERS") or os.cpu_count() or 2))
    command = [sys.executable, "manage.py", "import_postmortems", str(folder), "--workers", workers]
    command += ["--quiet-files", "--report", str(report)]
    began = time.monotonic()
    # The command's progress goes to the terminal as it runs.
    finished = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, check=False)
    seconds = time.monotonic() - began
    print(finished.stdout.strip(), flush=True)
    created = counts(url)
    entries = json.loads(report.read_text()) if report.exists() else []
    result = {
        "files": files,
        "seconds": round(seconds, 1),
        "files_per_second": round(files / seconds, 1) if seconds else None,
        "created": created,
        "failed": sum(1 for entry in entries if entry["action"] == "failed"),
        "warnings": sum(len(entry["warnings"]) for entry in entries),
        "target_seconds": TARGET_SECONDS,
        "verdict": "pass"
        if finished.returncode == 0 and seconds < TARGET_SECONDS and created["incidents"] == files
        else "MISS",
    }
    print(
        f"Imported {created['incidents']:,} of {files:,} postmortems in {seconds:.1f} s "
        f"({result['files_per_second']} files/s; target under {TARGET_SECONDS:.0f} s): {result['verdict']}",
        flush=True,
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "imports.json").write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    outcome = run()
    sys.exit(0 if outcome["verdict"] == "pass" else 1)
