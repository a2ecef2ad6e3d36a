"""`make bench`: generate the data once, serve the app with gunicorn, load it, print the table.

Every figure is measured beside a floor in the same run, and printed as a ratio,
because a shared two-core machine is noisy: the absolute numbers move from run
to run, the ratios much less. Settings, all optional:

    BENCH_DATABASE_URL   PostgreSQL for the benchmark (default: DATABASE_URL's server with
                         database BENCH_DB_NAME, else postgres://postgres@127.0.0.1:5432/coe_bench)
    BENCH_DB_NAME        coe_bench
    BENCH_INCIDENTS      100000       BENCH_SEED 1
    BENCH_DURATION       10 seconds of load per run (plus BENCH_WARMUP 2)
    BENCH_WORKERS        gunicorn workers (default: the number of CPUs)
    BENCH_CONNECTIONS    concurrent connections for the API cases (default: 2 per worker)
    BENCH_SEARCH         the search term (default: checkout)
    BENCH_SEARCH_BROAD   a term most COEs contain, reported without a target (default: agent deleted)
    BENCH_CASES          comma-separated subset of the case names (and `sweep` for the reminder sweep)
    BENCH_REGENERATE     true: drop the benchmark database and generate again

The data is generated once per (seed, size) and reused; a table bench_dataset in the
benchmark database records what is there and how fast it was generated.
Results: bench-results/latest.json and latest.md (git-ignored).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import random
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote_plus, urlsplit, urlunsplit

import psycopg

from . import load

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench-results"
PYTHON = sys.executable

# Targets (the issue's; not to be lowered).
RATIO_TARGET = 0.5  # API list and detail: at least half the floor's throughput
SERVER_MS_TARGET = 250.0  # dashboard and search: median server time under a quarter of a second
SWEEP_SECONDS_TARGET = 60.0  # reminder sweep over all open items
SWEEP_GROWTH_MB_TARGET = 100.0  # "flat memory": 300,000 items as model instances would take about a gigabyte
GENERATE_SECONDS_PER_100K = 300.0  # "a few minutes", not hours
SLOW_SECONDS = 0.5  # a case whose first request takes longer is measured one request at a time
MIN_REQUESTS = 20  # ... and so is one that answered fewer requests than this under concurrent load


class _Skipped(Exception):
    """A part of the run BENCH_CASES leaves out."""


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def _say(message: str = "") -> None:
    print(message, flush=True)


@dataclass
class Config:
    database_url: str
    db_name: str
    incidents: int
    seed: int
    duration: float
    warmup: float
    workers: int
    connections: int
    search: str
    search_broad: str
    cases: set[str] | None
    regenerate: bool

    @classmethod
    def from_env(cls) -> Config:
        name = os.environ.get("BENCH_DB_NAME") or "coe_bench"
        url = os.environ.get("BENCH_DATABASE_URL")
        if not url:
            base = os.environ.get("DATABASE_URL", "")
            if base.startswith(("postgres://", "postgresql://")):
                # Same server and credentials, our own database: never fill (or drop) the one you work in.
                parts = urlsplit(base)
                url = urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))
            else:
                url = f"postgres://postgres@127.0.0.1:5432/{name}"
        workers = _env_int("BENCH_WORKERS", os.cpu_count() or 2)
        wanted = os.environ.get("BENCH_CASES")
        return cls(
            database_url=url,
            db_name=urlsplit(url).path.lstrip("/"),
            incidents=_env_int("BENCH_INCIDENTS", 100_000),
            seed=_env_int("BENCH_SEED", 1),
            duration=float(os.environ.get("BENCH_DURATION") or 10),
            warmup=float(os.environ.get("BENCH_WARMUP") or 2),
            workers=workers,
            connections=_env_int("BENCH_CONNECTIONS", 2 * workers),
            search=os.environ.get("BENCH_SEARCH") or "checkout",
            search_broad=os.environ.get("BENCH_SEARCH_BROAD") or "agent deleted",
            cases={c.strip() for c in wanted.split(",") if c.strip()} if wanted else None,
            regenerate=(os.environ.get("BENCH_REGENERATE") or "").lower() in {"1", "true", "yes"},
        )

    def env(self) -> dict[str, str]:
        """The app's environment: production settings (DEBUG off), the floor views on, no .env file."""
        env = dict(os.environ)
        env.pop("REDIS_URL", None)
        if os.environ.get("BENCH_REDIS_URL"):
            env["REDIS_URL"] = os.environ["BENCH_REDIS_URL"]
        env.update(
            ENV_FILE="",
            DATABASE_URL=self.database_url,
            DEBUG="false",
            SECRET_KEY="bench-only-not-a-secret-" + "x" * 40,
            SECURE_SSL_REDIRECT="false",
            ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
            STATIC_MANIFEST="false",
            WHITENOISE_USE_FINDERS="true",
            BENCH_FLOOR_VIEWS="true",
            BENCH_REPLAY_DIR=str(RESULTS / "replay"),
            # Persistent connections, as production should run; the floor uses the same ones.
            DB_CONN_MAX_AGE=os.environ.get("BENCH_CONN_MAX_AGE") or "60",
            # One token drives thousands of requests a second; the throttle would answer 429.
            API_THROTTLE_USER="100000000/minute",
            API_THROTTLE_ANON="100000000/minute",
            EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
            LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
            PYTHONWARNINGS="ignore:No directory at",
        )
        return env


# Database and data ---------------------------------------------------------------


def _admin_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, ""))


def _libpq(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


def ensure_database(cfg: Config, *, drop: bool = False) -> None:
    with psycopg.connect(_libpq(_admin_url(cfg.database_url)), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [cfg.db_name]).fetchone()
        if exists and drop:
            _say(f"Dropping database {cfg.db_name}")
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [cfg.db_name],
            )
            conn.execute(f'DROP DATABASE "{cfg.db_name}"')
            exists = None
        if not exists:
            _say(f"Creating database {cfg.db_name}")
            conn.execute(f'CREATE DATABASE "{cfg.db_name}"')


def manage(cfg: Config, *args: str, capture: bool = False) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=cfg.env(),
        check=True,
        text=True,
        stdout=subprocess.PIPE if capture else None,
    )
    return result.stdout or ""


def _dataset(cfg: Config) -> dict | None:
    with psycopg.connect(_libpq(cfg.database_url)) as conn:
        if not conn.execute("SELECT to_regclass('bench_dataset')").fetchone()[0]:
            return None
        row = conn.execute(
            "SELECT seed, incidents, seconds, rows, generated_at, vacuum_seconds FROM bench_dataset "
            "ORDER BY generated_at DESC LIMIT 1"
        ).fetchone()
        count = conn.execute("SELECT count(*) FROM incidents_incident").fetchone()[0]
    if row is None or row[0] != cfg.seed or row[1] != cfg.incidents or count != cfg.incidents:
        return None
    seed, incidents, seconds, rows, generated_at, vacuum = row
    return {
        "seed": seed,
        "incidents": incidents,
        "seconds": seconds,
        "rows": rows,
        "rows_per_second": rows / seconds if seconds else None,
        "vacuum_seconds": vacuum,
        "generated_at": generated_at.isoformat(),
        "reused": True,
    }


def _has_incidents(cfg: Config) -> bool:
    with psycopg.connect(_libpq(cfg.database_url)) as conn:
        if not conn.execute("SELECT to_regclass('incidents_incident')").fetchone()[0]:
            return False
        return conn.execute("SELECT EXISTS(SELECT 1 FROM incidents_incident)").fetchone()[0]


def ensure_data(cfg: Config) -> dict:
    ensure_database(cfg, drop=cfg.regenerate)
    _say("Migrating")
    manage(cfg, "migrate", "--noinput", "-v0")
    found = _dataset(cfg)
    if found:
        _say(f"Reusing {found['incidents']} incidents (seed {found['seed']}) generated {found['generated_at']}")
        return found
    if _has_incidents(cfg):
        # Some other size or seed, or a run that stopped half way: start again from empty.
        ensure_database(cfg, drop=True)
        manage(cfg, "migrate", "--noinput", "-v0")
    _say(f"Generating {cfg.incidents} incidents (seed {cfg.seed}); this happens once per size and seed")
    began = time.monotonic()
    command = [PYTHON, "manage.py", "generate_data", "--incidents", str(cfg.incidents), "--seed", str(cfg.seed)]
    process = subprocess.Popen(command, cwd=ROOT, env=cfg.env(), stdout=subprocess.PIPE, text=True)
    rows = 0
    for line in process.stdout:
        _say("  " + line.rstrip())
        if match := re.search(r"Generated (\d+) rows", line):
            rows = int(match[1])
    if process.wait() != 0:
        raise SystemExit("generate_data failed")
    seconds = time.monotonic() - began
    _say("VACUUM ANALYZE (visibility map for index-only scans, fresh statistics)")
    began = time.monotonic()
    with psycopg.connect(_libpq(cfg.database_url), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
        vacuum = time.monotonic() - began
        conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_dataset (seed int, incidents int, seconds float8, rows bigint, "
            "vacuum_seconds float8, generated_at timestamptz)"
        )
        conn.execute(
            "INSERT INTO bench_dataset VALUES (%s, %s, %s, %s, %s, now())",
            [cfg.seed, cfg.incidents, seconds, rows, vacuum],
        )
    return {
        "seed": cfg.seed,
        "incidents": cfg.incidents,
        "seconds": seconds,
        "rows": rows,
        "rows_per_second": rows / seconds if seconds else None,
        "vacuum_seconds": vacuum,
        "generated_at": datetime.now(UTC).isoformat(),
        "reused": False,
    }


def probe(cfg: Config, *args: str, timeout: float | None = None) -> dict:
    out = subprocess.run(
        [PYTHON, "-m", "bench.probe", *args],
        cwd=ROOT,
        env=cfg.env(),
        check=True,
        text=True,
        stdout=subprocess.PIPE,
        timeout=timeout,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


# Cases ---------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    title: str
    app: list[str]
    floor: list[str]
    auth: str  # "token" or "session"
    target: str  # "ratio", "server_ms" or "" (reported, no target)
    check_url: str
    variant: str | None = None  # the same request at another size, for "constant queries"
    replay: bool = False
    connections: int | None = None
    floor_check: str | None = None  # a floor URL whose rows must equal the check URL's
    # The dashboard keeps its figures until their data changes (incidents/dashboard_cache.py):
    # "changing" commits a write before every request, so each is computed; "unchanged" serves
    # them from the cache after the first.
    data: str | None = None
    result: dict = field(default_factory=dict)


def build_cases(cfg: Config, setup: dict) -> list[Case]:
    uid, keys, term, broad = setup["user_id"], setup["keys"], setup["search_term"], cfg.search_broad
    year, end = setup["year_start"], setup["end"]
    period = f"primary_cause=change_config&started_after={year}T00:00:00Z&started_before={end}T00:00:00Z"
    api = "/api/v1/incidents/"
    cases = [
        Case(
            "api_list",
            "API list, 100 per page",
            [f"{api}?page_size=100"],
            [f"/bench/incidents/?uid={uid}&limit=100"],
            "token",
            "ratio",
            f"{api}?page_size=100",
            variant=f"{api}?page_size=10",
            floor_check=f"/bench/incidents/?uid={uid}&limit=100",
        ),
        Case(
            "api_list_filtered",
            "API list, cause + one year",
            [f"{api}?page_size=100&{period}"],
            [f"/bench/incidents/?uid={uid}&limit=100&cause=change_config&start={year}&end={end}"],
            "token",
            "ratio",
            f"{api}?page_size=100&{period}",
            variant=f"{api}?page_size=10&{period}",
            floor_check=f"/bench/incidents/?uid={uid}&limit=100&cause=change_config&start={year}&end={end}",
        ),
        Case(
            "api_list_search",
            f"API list, ?search={term}",
            [f"{api}?page_size=100&search={term}"],
            [f"/bench/incidents/?uid={uid}&limit=100&search={term}"],
            "token",
            "ratio",
            f"{api}?page_size=100&search={term}",
            variant=f"{api}?page_size=10&search={term}",
            floor_check=f"/bench/incidents/?uid={uid}&limit=100&search={term}",
        ),
        Case(
            "api_detail",
            "API incident detail",
            [f"{api}{key}/" for key in keys],
            [f"/bench/incidents/{key}/?uid={uid}" for key in keys],
            "token",
            "ratio",
            f"{api}{setup['richest_key']}/",
            variant=f"{api}{setup['poorest_key']}/",
            floor_check=f"/bench/incidents/{setup['richest_key']}/?uid={uid}",
        ),
        Case(
            "html_detail",
            "Incident page (HTML)",
            [f"/incidents/{key}/" for key in keys],
            [f"/bench/incidents/{key}/?uid={uid}&page=1" for key in keys],
            "session",
            "",
            f"/incidents/{setup['richest_key']}/",
            variant=f"/incidents/{setup['poorest_key']}/",
        ),
        Case(
            "dashboard_year",
            "Dashboard, one year, data changed before each request",
            [f"/dashboard/?start={year}&end={end}"],
            ["/bench/replay/dashboard_year/"],
            "session",
            "server_ms",
            f"/dashboard/?start={year}&end={end}",
            variant="/dashboard/",
            replay=True,
            connections=1,
            data="changing",
        ),
        Case(
            "dashboard_all",
            "Dashboard, all time, data changed before each request",
            ["/dashboard/"],
            ["/bench/replay/dashboard_all/"],
            "session",
            "server_ms",
            "/dashboard/",
            replay=True,
            connections=1,
            data="changing",
        ),
        Case(
            "dashboard_all_unchanged",
            "Dashboard, all time, data unchanged (cached figures)",
            ["/dashboard/"],
            [],
            "session",
            "",
            "/dashboard/",
            data="unchanged",
        ),
        Case(
            "search_page",
            f"Search page, q={term}",
            [f"/search/?q={term}"],
            ["/bench/replay/search_page/"],
            "session",
            "server_ms",
            f"/search/?q={term}",
            variant="/search/?q=ledger",
            replay=True,
            connections=1,
        ),
        Case(
            "search_page_broad",
            f"Search page, q={broad} (matches nearly everything)",
            [f"/search/?q={quote_plus(broad)}"],
            ["/bench/replay/search_page_broad/"],
            "session",
            "",
            f"/search/?q={quote_plus(broad)}",
            replay=True,
            connections=1,
        ),
    ]
    return [c for c in cases if cfg.cases is None or c.name in cfg.cases]


# Serving and loading -------------------------------------------------------------


class Server:
    """gunicorn with sync workers on a free loopback port; an access log of path, status and microseconds."""

    def __init__(self, cfg: Config):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        RESULTS.mkdir(exist_ok=True)
        self.log = RESULTS / "access.log"
        self.log.write_text("")
        self.process = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "gunicorn",
                "coe.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(cfg.workers),
                "--backlog",
                "2048",
                "--timeout",
                "120",
                "--access-logfile",
                str(self.log),
                "--access-logformat",
                "%(U)s %(s)s %(D)s",
                "--error-logfile",
                str(RESULTS / "gunicorn.log"),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=cfg.env(),
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=5):
                    return
            except OSError:
                if self.process.poll() is not None:
                    raise SystemExit(f"gunicorn exited; see {RESULTS / 'gunicorn.log'}") from None
                time.sleep(0.3)
        raise SystemExit("gunicorn did not answer /healthz within a minute")

    def log_offset(self) -> int:
        return self.log.stat().st_size

    def server_ms(self, since: int) -> list[float]:
        with self.log.open() as handle:
            handle.seek(since)
            lines = handle.read().splitlines()
        return sorted(int(parts[2]) / 1000 for line in lines if len(parts := line.split()) == 3)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _status(base: str, path: str, headers: dict[str, str]) -> tuple[int, float]:
    """One request's status and seconds (a redirect, to the login page say, is not a 200)."""
    request = urllib.request.Request(base + path, headers=headers)
    began = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except OSError:
        status = 0
    return status, time.monotonic() - began


def _pct(values: list[float], p: float) -> float | None:
    return values[min(len(values) - 1, int(p / 100 * len(values)))] if values else None


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


urllib.request.install_opener(urllib.request.build_opener(NoRedirect))


class ChangeWriter:
    """Before each request, commits an edit to one action item picked at random among all of them
    (the product's everyday write: a follow-up updated), through the app's triggers: every
    dashboard request finds the data changed, in the month its incident started in."""

    def __init__(self, database_url: str, seed: int = 1):
        self.conn = psycopg.connect(database_url, autocommit=True)
        self.low, self.high = self.conn.execute("SELECT min(id), max(id) FROM incidents_actionitem").fetchone()
        self.random = random.Random(seed)

    def __call__(self) -> None:
        item = self.random.randint(self.low, self.high)
        self.conn.execute("UPDATE incidents_actionitem SET updated_at = now() WHERE id = %s", [item])

    def __enter__(self) -> ChangeWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.conn.close()


def measure(
    cfg: Config,
    server: Server,
    paths: list[str],
    headers: dict[str, str],
    connections: int,
    before: Callable[[], None] | None = None,
) -> dict:
    """Load for the configured time after a warm-up; one connection means one request after
    another (each after `before`, if given)."""
    if connections == 1:
        # Pages measured for their server time: sequentially, so requests never queue or share
        # the CPUs, and at least a few of them however slow each one is.
        load.sequential(server.base, paths, headers, seconds=0, at_least=1, before=before)
        offset = server.log_offset()
        result = load.sequential(server.base, paths, headers, seconds=cfg.duration, at_least=3, before=before)
    else:
        assert before is None, "a write before each request needs one request at a time"
        if cfg.warmup:
            load.run(server.base, paths, headers, seconds=cfg.warmup, connections=connections)
        offset = server.log_offset()
        result = load.run(server.base, paths, headers, seconds=cfg.duration, connections=connections)
    times = server.server_ms(offset)
    result["server_p50_ms"] = _pct(times, 50)
    result["server_p99_ms"] = _pct(times, 99)
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()}


# Report --------------------------------------------------------------------------


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = None
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = round(kb / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    except OSError:
        rev = ""
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": memory,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_client": load.client_name(),
        "git": rev.strip(),
    }


def _fmt(value, digits: int = 0, suffix: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}{suffix}"


def _rate(value) -> str:
    """Requests a second: whole numbers, with a decimal below ten (slow pages)."""
    return _fmt(value, 1 if value is not None and value < 10 else 0)


def judge(case: Case) -> None:
    r = case.result
    app, floor = r.get("app"), r.get("floor")
    if not app:
        r["verdict"] = "n/a"
        return
    if floor and floor.get("rps"):
        r["ratio"] = round(app["rps"] / floor["rps"], 3)
    constant = r.get("constant_rps")
    if constant:
        r["vs_constant"] = round(app["rps"] / constant, 4)
    if app.get("non_2xx") or app.get("errors"):
        r["verdict"] = "FAIL (errors)"
        return
    if case.target == "ratio":
        reasons = []
        if r.get("ratio") is None or r["ratio"] < RATIO_TARGET:
            reasons.append(f"ratio {_fmt(r.get('ratio'), 2)} < {RATIO_TARGET}")
        if r.get("constant_queries") is False:
            reasons.append("queries grow with the page")
        r["target"] = f">= {RATIO_TARGET} x floor, constant queries"
        r["verdict"] = "pass" if not reasons else "MISS: " + "; ".join(reasons)
    elif case.target == "server_ms":
        p50 = app.get("server_p50_ms")
        r["target"] = f"server p50 < {SERVER_MS_TARGET:.0f} ms"
        r["verdict"] = "pass" if p50 is not None and p50 < SERVER_MS_TARGET else f"MISS: p50 {_fmt(p50)} ms"
    else:
        r["target"] = "reported"
        r["verdict"] = "-"


def table(report: dict) -> str:
    header = (
        "| Case | App req/s | p50 ms | p99 ms | Server p50 ms | Floor req/s | App/floor | App/constant "
        "| Queries | Target | Result |"
    )
    lines = [header, "|" + "---|" * 11]
    constant = report["constant"]
    lines.append(
        f"| Constant view (floor) | {_fmt(constant.get('rps'))} | {_fmt(constant.get('p50_ms'), 1)} "
        f"| {_fmt(constant.get('p99_ms'), 1)} | {_fmt(constant.get('server_p50_ms'), 2)} | - | - | 1 | 0 | - | - |"
    )
    for case in report["cases"]:
        r = case["result"]
        app, floor = r.get("app") or {}, r.get("floor") or {}
        queries = r.get("queries")
        if queries is not None and r.get("variant_queries") is not None and r["variant_queries"] != queries:
            queries = f"{queries} / {r['variant_queries']}"
        if not app:
            lines.append(f"| {case['title']} | not available ({r.get('reason', '?')}) |" + " |" * 9)
            continue
        title = case["title"] + (" (one at a time)" if r.get("connections") == 1 else "")
        lines.append(
            f"| {title} | {_rate(app.get('rps'))} | {_fmt(app.get('p50_ms'), 1)} | {_fmt(app.get('p99_ms'), 1)} "
            f"| {_fmt(app.get('server_p50_ms'), 1)} | {_rate(floor.get('rps'))} | {_fmt(r.get('ratio'), 2)} "
            f"| {_fmt(r.get('vs_constant'), 3)} | {queries if queries is not None else '-'} "
            f"| {r.get('target', '')} | {r.get('verdict', '')} |"
        )
    sweep = report.get("sweep") or {}
    if sweep.get("seconds") is not None:
        lines.append(
            f"| Reminder sweep, {sweep['open_items']:,} open items ({sweep['overdue_items']:,} overdue) "
            f"| {_fmt(sweep['seconds'], 1)} s | peak RSS {_fmt(sweep['peak_rss_mb'])} MB "
            f"| growth {_fmt(sweep['growth_mb'])} MB | - | - | - | - | - "
            f"| < {SWEEP_SECONDS_TARGET:.0f} s, growth < {SWEEP_GROWTH_MB_TARGET:.0f} MB | {sweep['verdict']} |"
        )
    elif sweep.get("verdict") != "not run":
        lines.append(f"| Reminder sweep | {sweep.get('error', 'failed')} |" + " |" * 9 + " MISS |")
    gen = report["dataset"]
    lines.append(
        f"| generate_data, {gen['incidents']:,} incidents | {_fmt(gen.get('rows_per_second'))} rows/s "
        f"| {_fmt(gen.get('rows'))} rows | {_fmt(gen.get('seconds'), 0)} s | - | - | - | - | - "
        f"| < {GENERATE_SECONDS_PER_100K / 60:.0f} min per 100k | {gen['verdict']} |"
    )
    return "\n".join(lines)


def findings(report: dict) -> str:
    """Sequential scans of big tables, one line per case and table."""
    lines = []
    for case in report["cases"]:
        r = case["result"]
        if r.get("floor_same_rows") is False:
            lines.append(f"- {case['name']}: THE FLOOR DOES NOT RETURN THE APP'S ROWS: its ratio means nothing")
        grouped: dict[str, list[dict]] = {}
        for scan in r.get("seq_scans") or []:
            grouped.setdefault(scan["relation"], []).append(scan)
        for relation, scans in grouped.items():
            queries = ", ".join(str(q) for q in sorted({scan["query"] for scan in scans}))
            rows = max(scan["rows_read"] for scan in scans)
            ms = sum(scan["ms"] for scan in scans)
            where = f"x{len(scans)} in queries {queries}"
            lines.append(f"- {case['name']}: Seq Scan on {relation} {where} ({rows:,} rows, {ms:.0f} ms)")
    return "\n".join(lines) if lines else "- none"


def main() -> None:
    cfg = Config.from_env()
    began = time.monotonic()
    RESULTS.mkdir(exist_ok=True)
    _say(f"Benchmark database: {cfg.db_name}; {cfg.incidents} incidents, seed {cfg.seed}")
    dataset = ensure_data(cfg)
    setup = probe(cfg, "setup", cfg.search)
    token = manage(cfg, "create_api_token", "--user", setup["username"], "--name", "bench", capture=True).strip()
    cases = build_cases(cfg, setup)

    _say("Counting queries and explaining them (EXPLAIN ANALYZE)")
    spec = {
        "username": setup["username"],
        "token": token,
        "replay_dir": str(RESULTS / "replay"),
        "cases": [
            {
                "name": c.name,
                "url": c.check_url,
                "variant": c.variant,
                "auth": c.auth,
                "replay": c.replay,
                # Queries of the figures computed, or of cached figures served.
                "cached": c.data == "unchanged",
                # The JSON floors answer for the same rows as the API: check that they do.
                "compare": c.floor_check is not None,
                "floor_url": c.floor_check,
            }
            for c in cases
        ],
    }
    spec_path = RESULTS / "check-spec.json"
    spec_path.write_text(json.dumps(spec))
    checked = probe(cfg, "check", str(spec_path))
    spec_path.unlink()

    headers = {
        "token": {"Authorization": f"Bearer {token}"},
        "session": {"Cookie": f"sessionid={setup['session_key']}"},
    }
    _say(f"Serving with gunicorn ({cfg.workers} sync workers); load client: {load.client_name()}")
    server = Server(cfg)
    try:
        _say("  constant floor")
        constant = measure(cfg, server, ["/bench/constant/"], {}, cfg.connections)
        for case in cases:
            info = checked.get(case.name, {})
            case.result.update(
                {k: info.get(k) for k in ("queries", "variant_queries", "constant_queries", "sql_ms", "seq_scans")}
            )
            case.result["slowest_sql"] = info.get("slowest", [])
            case.result["floor_same_rows"] = info.get("floor_same_rows")
            status, seconds = _status(server.base, case.app[0], headers[case.auth])
            if status != 200:
                case.result["reason"] = f"HTTP {status}"
                _say(f"  {case.name}: not available (HTTP {status} for {case.app[0]})")
                continue
            connections = case.connections or cfg.connections
            if seconds > SLOW_SECONDS:
                # Seconds per request: concurrent load would finish too few of them to count.
                connections = 1
            floor_ok = bool(case.floor) and _status(server.base, case.floor[0], {})[0] == 200
            for attempt in range(2):
                if floor_ok:
                    _say(f"  {case.name}: floor")
                    case.result["floor"] = measure(cfg, server, case.floor, {}, connections)
                _say(f"  {case.name}: app" + (f" (data {case.data})" if case.data else ""))
                with ChangeWriter(cfg.database_url) if case.data == "changing" else contextlib.nullcontext() as w:
                    case.result["app"] = measure(cfg, server, case.app, headers[case.auth], connections, w)
                if connections == 1 or case.result["app"]["requests"] >= MIN_REQUESTS or attempt:
                    break
                # Too few answers to say anything (some paths are slow): again, one request at a time.
                connections = 1
            case.result["constant_rps"] = constant["rps"]
            case.result["connections"] = connections
            judge(case)
    finally:
        server.stop()
    # What beat does hourly in production: the change log the "data changing" cases filled, emptied.
    manage(cfg, "shell", "-c", "from incidents import data_version; data_version.compact()")

    sweep: dict = {"verdict": "not run"}
    try:
        if cfg.cases is not None and "sweep" not in cfg.cases:
            raise _Skipped
        _say("Reminder sweep (its claims are removed afterwards)")
        sweep = probe(cfg, "sweep", setup["end"], timeout=float(os.environ.get("BENCH_SWEEP_TIMEOUT") or 600))
        fast = sweep["seconds"] < SWEEP_SECONDS_TARGET
        flat = sweep["growth_mb"] < SWEEP_GROWTH_MB_TARGET
        sweep["verdict"] = (
            "pass"
            if fast and flat
            else "MISS: " + "; ".join(([] if fast else ["too slow"]) + ([] if flat else ["memory grows"]))
        )
    except _Skipped:
        pass
    except subprocess.TimeoutExpired:
        sweep = {"error": "timed out", "verdict": "MISS"}
    except subprocess.CalledProcessError as error:
        sweep = {"error": f"failed ({error.returncode})", "verdict": "MISS"}

    per_100k = dataset["seconds"] * 100_000 / dataset["incidents"] if dataset.get("seconds") else None
    dataset["verdict"] = "pass" if per_100k is not None and per_100k < GENERATE_SECONDS_PER_100K else "MISS"
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "config": {
            "database": cfg.db_name,
            "incidents": cfg.incidents,
            "seed": cfg.seed,
            "duration_s": cfg.duration,
            "warmup_s": cfg.warmup,
            "workers": cfg.workers,
            "connections": cfg.connections,
            "search": cfg.search,
        },
        "dataset": dataset,
        "constant": constant,
        "cases": [{"name": c.name, "title": c.title, "target": c.target, "result": c.result} for c in cases],
        "sweep": sweep,
        "seconds": round(time.monotonic() - began, 1),
    }
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2, default=str))
    m = report["machine"]
    text = (
        f"{m['nproc']} CPUs ({m['cpu']}), {m['memory_gb']} GB, Python {m['python']}, load client {m['load_client']}, "
        f"{cfg.workers} gunicorn sync workers, {cfg.connections} connections (pages and cases slower than "
        f"{SLOW_SECONDS} s a request: 1), {cfg.duration:g} s per run; "
        f"{cfg.incidents:,} incidents\n\n{table(report)}\n\nSequential scans on big tables (EXPLAIN ANALYZE):\n"
        f"{findings(report)}\n"
    )
    (RESULTS / "latest.md").write_text(text)
    _say()
    _say(text)
    _say(f"Written {RESULTS / 'latest.json'} and latest.md in {report['seconds']:.0f} s")


if __name__ == "__main__":
    main()
