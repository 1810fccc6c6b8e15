"""Under an outage the log is rate-limited: the first failure in full, its repeats counted."""

from __future__ import annotations

import logging
import sys

from rapport.lib.logs import CollapseRepeats


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _record(
    message: str, *args: object, level: int = logging.ERROR, error: bool = True
) -> logging.LogRecord:
    exc_info = None
    if error:
        try:
            raise ConnectionError("refused")
        except ConnectionError:
            exc_info = sys.exc_info()
    return logging.LogRecord("django.request", level, __file__, 1, message, args, exc_info)


def _filter(seconds: float = 60) -> tuple[CollapseRepeats, Clock]:
    collapse = CollapseRepeats(seconds=seconds)
    clock = Clock()
    collapse.clock = clock
    return collapse, clock


def test_repeats_within_the_window_are_counted_and_reported_on_the_next_record() -> None:
    collapse, clock = _filter()
    assert collapse.filter(_record("Service Unavailable: %s", "/"))
    for n in range(500):
        clock.now += 0.05
        assert not collapse.filter(_record("Service Unavailable: %s", f"/page/{n}"))
    clock.now += 60
    later = _record("Service Unavailable: %s", "/later/")
    counted = collapse.filter(later)
    assert isinstance(counted, logging.LogRecord)
    assert later.getMessage() == "Service Unavailable: /later/"  # other handlers see it as is
    assert counted.getMessage() == (
        "Service Unavailable: /later/ [repeated 500 more times in the 85 s before; "
        "those were not logged]"
    )
    # The count starts again.
    clock.now += 1
    assert not collapse.filter(_record("Service Unavailable: %s", "/"))


def test_other_kinds_and_informational_records_pass() -> None:
    collapse, clock = _filter()
    assert collapse.filter(_record("Service Unavailable: %s", "/"))
    assert collapse.filter(_record("could not publish %s to %s", "message", "user-1"))
    assert collapse.filter(_record("Service Unavailable: %s", "/", error=False))  # no exception
    assert collapse.filter(_record("Service Unavailable: %s", "/", level=logging.WARNING))
    for _ in range(5):
        assert collapse.filter(_record("sent %s", "an email", level=logging.INFO))
    # A single repeat reads well too.
    assert not collapse.filter(_record("could not publish %s to %s", "message", "user-2"))
    clock.now += 61
    counted = collapse.filter(_record("could not publish %s to %s", "read", "user-3"))
    assert isinstance(counted, logging.LogRecord)
    assert counted.getMessage().endswith(
        "[repeated 1 more time in the 61 s before; those were not logged]"
    )


def test_the_console_handler_of_every_process_carries_the_filter() -> None:
    # Django configured logging from rapport.settings.LOGGING when this process started.
    filters = [f for handler in logging.getLogger().handlers for f in handler.filters]
    [collapse] = [f for f in filters if isinstance(f, CollapseRepeats)]
    assert collapse.seconds == 60


def test_uvicorn_errors_are_collapsed_too() -> None:
    # ``rapport serve`` gives uvicorn this configuration; a socket that cannot open during a
    # Redis outage fails in uvicorn's hands, and its log would repeat for every retry.
    from django.utils.module_loading import import_string

    from rapport.cli import _uvicorn_log_config

    config = _uvicorn_log_config()
    assert import_string(config["filters"]["repeats"]["()"]) is CollapseRepeats
    for name, handler in config["handlers"].items():
        assert "repeats" in handler["filters"], name
