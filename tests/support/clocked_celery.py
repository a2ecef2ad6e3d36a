"""`celery` with a clock the test moves: `python -m tests.support.clocked_celery -A coe worker ...`.

The worker's wall clock (time.time, datetime.now: what timezone.now() reads) is time-machine's,
set from the file CLOCK_FILE names (seconds since the epoch) and moved, ticking, whenever the
test writes a new time there; monotonic clocks (timeouts, the broker's polling) are left alone.
Each move is acknowledged in CLOCK_FILE.<pid>, so the test knows the worker has followed.
"""

import os
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import time_machine

CLOCK = Path(os.environ["CLOCK_FILE"])


def _read() -> float:
    return float(CLOCK.read_text())


def _follow(traveller, current: float) -> None:
    ack = Path(f"{CLOCK}.{os.getpid()}")
    ack.write_text(str(current))
    while True:
        time.sleep(0.05)
        try:
            wanted = _read()
        except (OSError, ValueError):
            continue  # being written
        if wanted != current:
            traveller.move_to(datetime.fromtimestamp(wanted, UTC))
            current = wanted
            ack.write_text(str(current))


def main() -> None:
    start = _read()
    traveller = time_machine.travel(datetime.fromtimestamp(start, UTC), tick=True).start()
    threading.Thread(target=_follow, args=(traveller, start), daemon=True).start()
    from celery.__main__ import main as celery

    sys.argv = ["celery", *sys.argv[1:]]
    celery()


if __name__ == "__main__":
    main()
