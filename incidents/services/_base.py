"""What every service shares: one transaction, and the dashboard told when its data changed."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import transaction

from incidents import figures

P = ParamSpec("P")
R = TypeVar("R")


def service(*, dashboard: bool) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Run a service in one transaction.

    dashboard=True: the service writes something the dashboard's figures read (incidents and
    their services, regions and access groups; action items; COE approvals), so once per call
    the cached figures are marked stale, effective when the outermost transaction commits.
    """

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            with transaction.atomic():
                result = function(*args, **kwargs)
                if dashboard:
                    figures.data_changed()
            return result

        return run

    return decorate
