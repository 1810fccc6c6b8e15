"""Matching's rules, from tables: each hard constraint (licence region, language, modality,
accepting, availability in the client's own time zone), the soft-fit order, what is reported
when nobody fits, and the words that explain a suggestion at every rule. No database."""

from __future__ import annotations

import dataclasses
import zoneinfo
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from django.utils import translation

from rapport.matching import rules
from rapport.matching.rules import Candidate, Window, Wish

LA = zoneinfo.ZoneInfo("America/Los_Angeles")
NY = zoneinfo.ZoneInfo("America/New_York")
# Sunday 3 January 2027, noon UTC: the next two weeks hold Mondays 4 and 11 January.
NOW = datetime(2027, 1, 3, 12, tzinfo=UTC)
MONDAYS = [date(2027, 1, 4), date(2027, 1, 11)]


def sessions(day: date, start: time, until: time, zone: zoneinfo.ZoneInfo) -> list[Any]:
    """Open 50-minute times every 15 minutes from ``start`` while they end by ``until``, as
    the schedule's ``open_slots`` lists them (UTC)."""
    times = []
    moment = datetime.combine(day, start, tzinfo=zone)
    last = datetime.combine(day, until, tzinfo=zone)
    while moment + timedelta(minutes=50) <= last:
        times.append((moment.astimezone(UTC), (moment + timedelta(minutes=50)).astimezone(UTC)))
        moment += timedelta(minutes=15)
    return times


EVENINGS_LA = [t for d in MONDAYS for t in sessions(d, time(18), time(20), LA)]

WISH = Wish(
    region="US-CA",
    language="es",
    modalities=["video"],
    time_zone="America/Los_Angeles",
    availability=[Window(0, time(17), time(21))],
    concerns=["anxiety"],
)
THERAPIST = Candidate(
    therapist_id=1,
    name="Ana Ruiz",
    regions=["US-CA", "US-NV"],
    languages=["en", "es"],
    modalities=["video", "audio"],
    accepting=True,
    open_times=EVENINGS_LA,
    specialties=["anxiety", "sleep"],
)


def wish(**changes: Any) -> Wish:
    return dataclasses.replace(WISH, **changes)


def therapist(**changes: Any) -> Candidate:
    return dataclasses.replace(THERAPIST, **changes)


@pytest.mark.parametrize(
    ("case", "asked", "offered", "unmet"),
    [
        ("fits", WISH, THERAPIST, ()),
        ("licensed elsewhere", WISH, therapist(regions=["US-TX"]), ("region",)),
        (
            "licensed in the country only",
            wish(region="US-CA"),
            therapist(regions=["US"]),
            ("region",),
        ),
        ("national licence", wish(region="GB"), therapist(regions=["GB"]), ()),
        ("no Spanish", WISH, therapist(languages=["en"]), ("language",)),
        ("live text only", WISH, therapist(modalities=["text"]), ("modality",)),
        ("one of several ways", wish(modalities=["text", "video"]), therapist(), ()),
        ("not accepting", WISH, therapist(accepting=False), ("accepting",)),
        ("no open times", WISH, therapist(open_times=[]), ("availability",)),
        (
            "mornings only",
            WISH,
            therapist(open_times=[t for d in MONDAYS for t in sessions(d, time(9), time(11), LA)]),
            ("availability",),
        ),
        (
            "beyond two weeks",
            WISH,
            therapist(open_times=sessions(date(2027, 1, 18), time(18), time(20), LA)),
            ("availability",),
        ),
        (
            "already past",
            WISH,
            therapist(open_times=sessions(date(2027, 1, 3), time(1), time(3), LA)),
            ("availability",),
        ),
        # 18:00 in New York is 15:00 in Los Angeles: before the client's 17:00.
        (
            "therapist's evening, client's afternoon",
            WISH,
            therapist(open_times=[t for d in MONDAYS for t in sessions(d, time(18), time(20), NY)]),
            ("availability",),
        ),
        # The same times suit a client in New York free 17:00 to 21:00 there.
        (
            "same evening, same zone",
            wish(time_zone="America/New_York"),
            therapist(open_times=[t for d in MONDAYS for t in sessions(d, time(18), time(20), NY)]),
            (),
        ),
        # 20:30 to 21:20 in Los Angeles runs past the client's 21:00.
        (
            "runs past the window",
            WISH,
            therapist(
                open_times=[t for d in MONDAYS for t in sessions(d, time(20, 30), time(21, 20), LA)]
            ),
            ("availability",),
        ),
        (
            "window to midnight",
            wish(availability=[Window(0, time(23), time(0))]),
            therapist(
                open_times=[t for d in MONDAYS for t in sessions(d, time(23), time(23, 59), LA)]
            ),
            (),
        ),
        ("no windows: any time", wish(availability=[]), therapist(), ()),
        (
            "wrong weekday",
            wish(availability=[Window(1, time(17), time(21))]),
            therapist(),
            ("availability",),
        ),
        (
            "everything missing",
            WISH,
            therapist(regions=[], languages=[], modalities=[], accepting=False, open_times=[]),
            ("region", "language", "modality", "accepting"),
        ),
        (
            "everything but the way to meet",
            WISH,
            therapist(regions=[], languages=[], accepting=False, open_times=[]),
            ("region", "language", "accepting", "availability"),
        ),
    ],
)
def test_hard_constraints(
    case: str, asked: Wish, offered: Candidate, unmet: tuple[str, ...]
) -> None:
    assert rules.evaluate(asked, offered, NOW).unmet == unmet, case


def test_overlapping_starts_count_once_and_are_read_in_the_clients_zone() -> None:
    times = rules.fitting_times(WISH, EVENINGS_LA, NOW)
    # Each Monday 18:00-20:00 holds 18:00 and 19:00 (18:15 overlaps the 18:00 session).
    assert [t.strftime("%a %d %H:%M %Z") for t in times] == [
        "Mon 04 18:00 PST",
        "Mon 04 19:00 PST",
        "Mon 11 18:00 PST",
        "Mon 11 19:00 PST",
    ]
    assert rules.part_of_day(times) == "evening"


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (
            {},
            [
                "speaks Spanish",
                "licensed in California",
                "meets by video",
                "accepting new clients",
                "has 4 evening times in the next two weeks when you are free",
                "works with anxiety or worry",
            ],
        ),
        (
            {"times": 1, "part_of_day": "morning"},
            ["has 1 morning time in the next two weeks when you are free"],
        ),
        (
            {"times": 3, "part_of_day": "afternoon"},
            ["has 3 afternoon times in the next two weeks when you are free"],
        ),
        ({"times": 5, "part_of_day": ""}, ["has 5 times in the next two weeks when you are free"]),
        ({"language": "en"}, ["speaks English"]),
        ({"region": "GB"}, ["licensed in United Kingdom"]),
        ({"modalities": ["audio", "text"]}, ["meets by phone (audio only) and by live text"]),
        ({"concerns": ["anxiety", "sleep"]}, ["works with anxiety or worry and sleep"]),
        ({"approaches": ["cbt"]}, ["uses Cognitive behavioural therapy (CBT)"]),
        ({"populations": ["students"]}, ["sees students"]),
    ],
)
def test_every_rule_explains_itself(facts: dict[str, Any], expected: list[str]) -> None:
    base = rules.evaluate(WISH, THERAPIST, NOW).facts
    with translation.override("en"):
        words = rules.explain({**base, **facts})
    for phrase in expected:
        assert phrase in words, f"{phrase!r} not in {words}"


def test_explanations_in_spanish() -> None:
    with translation.override("es"):
        words = rules.explain(rules.evaluate(WISH, THERAPIST, NOW).facts)
    assert words[0] == "habla español"
    assert "California" in words[1]


def test_no_score_in_the_words() -> None:
    verdict = rules.evaluate(WISH, THERAPIST, NOW)
    assert verdict.fit == 2
    assert not any(str(verdict.fit) == w for w in rules.explain(verdict.facts))


def test_soft_fit_orders_then_times_then_name() -> None:
    few = sessions(MONDAYS[0], time(18), time(19), LA)
    candidates = [
        therapist(therapist_id=1, name="Zoe", specialties=[]),
        therapist(therapist_id=2, name="Yan", specialties=["anxiety"], open_times=few),
        therapist(therapist_id=3, name="Xia", specialties=["anxiety"]),
        therapist(therapist_id=4, name="Abe", specialties=["anxiety"]),
        therapist(therapist_id=5, name="Bo", languages=["en"]),
    ]
    ranking = rules.rank(WISH, candidates, NOW)
    assert [v.candidate.name for v in ranking.suggestions] == ["Abe", "Xia", "Yan"]
    assert ranking.unmet == []
    assert rules.rank(WISH, candidates, NOW, limit=10).suggestions[-1].candidate.name == "Zoe"


@pytest.mark.parametrize(
    ("offered", "unmet"),
    [
        # One speaks Spanish in California, another English in Texas: nobody does both.
        (
            [
                therapist(therapist_id=1),
                therapist(therapist_id=2, regions=["US-TX"], languages=["en"]),
            ],
            ["region", "language"],
        ),
        ([therapist(therapist_id=1, regions=["US-TX"], accepting=False)], ["accepting"]),
        # The closest therapist sets what is missing: one lacks only the language.
        (
            [
                therapist(therapist_id=1, languages=["en"], regions=["US-TX"]),
                therapist(therapist_id=2, languages=["en"], open_times=[]),
            ],
            ["language"],
        ),
        ([], ["no_therapist"]),
    ],
)
def test_unmet_when_nobody_fits(offered: list[Candidate], unmet: list[str]) -> None:
    asked = wish(region="US-TX")
    ranking = rules.rank(asked, offered, NOW)
    assert ranking.suggestions == []
    assert ranking.unmet == unmet


def test_unmet_words_and_hints() -> None:
    asked = wish(region="US-TX")
    with translation.override("en"):
        assert rules.unmet_words(["region", "language"], asked) == [
            "is licensed in Texas",
            "speaks Spanish",
        ]
        assert rules.widening_hints(["region", "availability"]) == [
            "More times when you are free, such as mornings or weekends, would help."
        ]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([{"weekday": 0, "start": "17:00", "end": "21:00"}], [Window(0, time(17), time(21))]),
        ([{"weekday": 6, "start": "22:00", "end": "24:00"}], [Window(6, time(22), time(0))]),
        ([{"weekday": 7, "start": "17:00", "end": "21:00"}], []),
        ([{"weekday": 1, "start": "21:00", "end": "17:00"}], []),
        ([{"weekday": 1, "start": "nine"}], []),
        ([{"day": 1}], []),
    ],
)
def test_availability_rows_are_read_or_left_out(
    rows: list[dict[str, Any]], expected: list[Window]
) -> None:
    assert rules.read_windows(rows) == expected
