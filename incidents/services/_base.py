"""What every service shares: one transaction, and the dashboard told when its data changed."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import ParamSpec, TypeVar

from django.db import transaction

from incidents import figures
from incidents.history import acting_as

P = ParamSpec("P")
R = TypeVar("R")


def service(*, dashboard: bool) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Run a service in one transaction.

    dashboard=True: the service writes something the dashboard's figures read (incidents and
    their services, regions and access groups; action items; COE approvals), so once per call
    the cached figures are marked stale, effective when the outermost transaction commits.

    The caller a service names (user=, or by=) is the actor of every change it records in the
    history, wherever it is called from: a page, the API, a command or a task.
    """

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            with acting_as(kwargs.get("user") or kwargs.get("by")), transaction.atomic():
                result = function(*args, **kwargs)
                if dashboard:
                    figures.data_changed()
            return result

        return run

    return decorate


def set_fields(obj, data: dict, fields: Iterable[str], *, text: Iterable[str] = ()) -> None:
    """Copy onto `obj` the `fields` that `data` holds (the others stay); None in a `text` field is ""."""
    text = set(text)
    for name in fields:
        if name in data:
            value = data[name]
            setattr(obj, name, "" if value is None and name in text else value)
