"""The benchmark's background writes: steady, through incidents.services, of every kind the dashboard reads.

    python -m bench.writer LOG [--rate 1] [--user bench] [--seed 1]

In turn, `rate` times a second: an action item closed (its status set to done, so it gets a
completed_at), an incident's severity raised from SEV4 to SEV3, and a source found to be the
vendor's own (its kind set to vendor_primary). Each goes through the service a page or the API
would call, so the dashboard's generation moves on at commit (incidents/figures.py); a write that
bypassed the services would only show after DASHBOARD_MAX_AGE_SECONDS.

Each write is picked so that one all-time figure of the bench user's dashboard moves by exactly
one, always the same way (see WATCHED): the item's incident is visible and the item open; the
incident visible and SEV4; the source's one claim names a cause other than its incident's adopted
cause, on an incident with no vendor disagreement yet. So the bench can tell, from the figures the
dashboard serves, which writes they show (run.py's visibility case).

LOG gets one JSON line first, the watched figures computed before any write ({"baseline": ...}),
then a line a write: {"t": unix time after the commit, "kind", "figure", "value": the figure's
value from that commit on}. On SIGTERM or SIGINT the writer stops, puts every row it changed
back as it was (through the services too), writes {"restored": n} and exits: the benchmark's
data stays as generated.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import threading
import time

KINDS = ("item", "incident", "source")


def item_open(m: dict) -> int:
    return m["action_items"]["open"]  # overdue items are open items too


def sev3_total(m: dict) -> int:
    return sum(month["SEV3"] for month in m["incidents_by_month"])


def vendor_differs(m: dict) -> int:
    return m["attribution"]["adopted_differs_from_vendor"]


# kind: (figure, how it reads from the dashboard's figures (the metrics API's JSON), direction)
WATCHED = {
    "item": ("action_items_open", item_open, -1),
    "incident": ("incidents_sev3", sev3_total, +1),
    "source": ("adopted_differs_from_vendor", vendor_differs, +1),
}


def shows(m: dict, kind: str, value: int) -> bool:
    """Whether figures `m` show the write of `kind` that took its figure to `value`."""
    _, read, direction = WATCHED[kind]
    return read(m) * direction >= value * direction


def _candidates(user, seed: int, wanted: int) -> dict[str, list[int]]:
    from django.db.models import Count, F, Q

    from incidents.metrics import vendor_differs_incidents
    from incidents.models import ActionItem, Incident, Source
    from incidents.models.vocab import ACTION_STATUSES_OPEN, Severity, SourceKind

    visible = Incident.objects.visible_to(user)
    differing = vendor_differs_incidents(Incident.objects.all()).values("pk")
    sources = (
        Source.objects.exclude(kind=SourceKind.VENDOR_PRIMARY)
        .annotate(n=Count("claims"))
        .filter(n=1)
        .filter(claims__incident__in=visible.values("pk"))
        .exclude(claims__incident__in=differing)
        .exclude(claims__claimed_cause="")
        .exclude(claims__incident__adopted_cause="")
        .exclude(claims__claimed_cause=F("claims__incident__adopted_cause"))
        .values_list("pk", "claims__incident")
    )
    one_per_incident: dict[int, int] = {}
    for source, incident in sources.order_by("pk"):
        one_per_incident.setdefault(incident, source)
    found = {
        "item": list(
            ActionItem.objects.filter(Q(status__in=ACTION_STATUSES_OPEN), incident__in=visible.values("pk"))
            .order_by("pk")
            .values_list("pk", flat=True)
        ),
        "incident": list(visible.filter(severity=Severity.SEV4).order_by("pk").values_list("pk", flat=True)),
        "source": sorted(one_per_incident.values()),
    }
    rng = random.Random(seed)
    return {kind: rng.sample(ids, min(wanted, len(ids))) for kind, ids in found.items()}


class Writer:
    def __init__(self, user, seed: int, wanted: int):
        self.user = user
        self.pool = _candidates(user, seed, wanted)
        self.changed: list[tuple[str, int, str]] = []  # (kind, pk, the value it had)

    def write(self, kind: str) -> bool:
        """One write of this kind through the services; False when no candidate is left."""
        from django.core.exceptions import ValidationError

        from incidents import services
        from incidents.models import ActionItem, Incident, Source
        from incidents.models.vocab import ActionStatus, Severity, SourceKind

        while self.pool[kind]:
            pk = self.pool[kind].pop()
            try:
                if kind == "item":
                    item = ActionItem.objects.get(pk=pk)
                    was = item.status
                    services.action_item_update(item=item, data={"status": ActionStatus.DONE}, user=self.user)
                elif kind == "incident":
                    incident = Incident.objects.get(pk=pk)
                    was = incident.severity
                    services.incident_update(user=self.user, incident=incident, data={"severity": Severity.SEV3})
                else:
                    source = Source.objects.get(pk=pk)
                    was = source.kind
                    services.source_update(source=source, data={"kind": SourceKind.VENDOR_PRIMARY})
            except ValidationError as error:  # a generated row the form would refuse: the next one
                print(f"skipped {kind} {pk}: {error}", file=sys.stderr, flush=True)
                continue
            self.changed.append((kind, pk, was))
            return True
        return False

    def restore(self) -> int:
        from incidents import services
        from incidents.models import ActionItem, Incident, Source

        for kind, pk, was in reversed(self.changed):
            if kind == "item":
                services.action_item_update(item=ActionItem.objects.get(pk=pk), data={"status": was}, user=self.user)
            elif kind == "incident":
                services.incident_update(user=self.user, incident=Incident.objects.get(pk=pk), data={"severity": was})
            else:
                services.source_update(source=Source.objects.get(pk=pk), data={"kind": was})
        return len(self.changed)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("log")
    parser.add_argument("--rate", type=float, default=1.0, help="writes a second, all kinds together")
    parser.add_argument("--user", default="bench")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hours", type=float, default=1.0, help="candidates for this long a run")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from incidents import metrics

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    user = get_user_model().objects.get(username=args.user)
    writer = Writer(user, args.seed, wanted=int(args.rate * args.hours * 3600 / len(KINDS)) + 1)
    truth = metrics.compute_dashboard_metrics(user, metrics.Scope())
    value = {kind: read(truth) for kind, (_, read, _) in WATCHED.items()}
    with open(args.log, "w") as log:

        def line(record: dict) -> None:
            log.write(json.dumps(record) + "\n")
            log.flush()

        line(
            {
                "baseline": {WATCHED[k][0]: v for k, v in value.items()},
                "candidates": {k: len(v) for k, v in writer.pool.items()},
            }
        )
        began, n = time.monotonic(), 0
        while not stop.is_set():
            kind = KINDS[n % len(KINDS)]
            if writer.write(kind):
                value[kind] += WATCHED[kind][2]
                line({"t": time.time(), "n": n, "kind": kind, "figure": WATCHED[kind][0], "value": value[kind]})
            else:
                line({"t": time.time(), "n": n, "kind": kind, "exhausted": True})
            n += 1
            stop.wait(max(0.0, began + n / args.rate - time.monotonic()))
        line({"restored": writer.restore()})


if __name__ == "__main__":
    main(sys.argv[1:])
