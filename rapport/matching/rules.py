"""Matching itself, pure: who fits a client's request and why, in words.

No database here: ``rank`` takes what the client asked for (``Wish``) and what each therapist
offers (``Candidate``, with their real open times already read from the schedule by
``rapport.matching.services``), and answers deterministically, so every rule is tested from a
table (tests/test_matching_rules.py).

Hard constraints, in this order: licensed in the client's region, speaks the client's language,
offers one of the ways the client wants to meet, accepts new clients, and has open times in the
next two weeks inside the client's availability windows (read in the client's time zone). A
therapist who meets them all is suggested; the soft fit (specialties against concerns, approaches
against preferences, populations) orders the suggestions. The fit score is never shown: each
suggestion is explained by the facts behind it (``explain``).
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from django.utils.translation import get_language, get_language_info, ngettext
from django.utils.translation import gettext as _

from rapport.matching.vocab import APPROACHES, CONCERNS, POPULATIONS, label, region_name

HORIZON = timedelta(days=14)
MAX_SUGGESTIONS = 3
# Hard constraints, in the order they are checked and listed.
REGION, LANGUAGE, MODALITY, ACCEPTING, AVAILABILITY = (
    "region",
    "language",
    "modality",
    "accepting",
    "availability",
)
CONSTRAINTS = (REGION, LANGUAGE, MODALITY, ACCEPTING, AVAILABILITY)
# Nobody has a profile at all: nothing to compare with.
NO_THERAPIST = "no_therapist"
EVENING_FROM = time(17)
AFTERNOON_FROM = time(12)


@dataclass(frozen=True)
class Window:
    """When the client is free: every ``weekday`` (Monday 0), ``start`` to ``end``, their time."""

    weekday: int
    start: time
    end: time  # time(0) or "24:00" read as the end of the day

    def holds(self, local_start: datetime, local_end: datetime) -> bool:
        if local_start.weekday() != self.weekday:
            return False
        ends_at_midnight = self.end == time(0)
        if local_end.date() != local_start.date():
            # Only a session ending exactly at midnight may leave the day, in a window to 24:00.
            if not (ends_at_midnight and local_end.time() == time(0)):
                return False
            return self.start <= local_start.time()
        return self.start <= local_start.time() and (
            ends_at_midnight or local_end.time() <= self.end
        )


def read_windows(rows: Iterable[dict[str, Any]]) -> list[Window]:
    """``CareRequest.availability`` rows as windows; a row that cannot be read is left out."""
    windows = []
    for row in rows:
        try:
            weekday = int(row["weekday"])
            start = _clock(str(row["start"]))
            end = _clock(str(row["end"]))
        except (KeyError, TypeError, ValueError):
            continue
        if 0 <= weekday <= 6 and (end > start or end == time(0)):
            windows.append(Window(weekday, start, end))
    return windows


def _clock(text: str) -> time:
    if text in {"24:00", "24:00:00"}:
        return time(0)
    return time.fromisoformat(text)


@dataclass(frozen=True)
class Wish:
    """What the client asked for (``CareRequest``), as matching reads it."""

    region: str
    language: str
    modalities: Sequence[str]
    time_zone: str
    availability: Sequence[Window] = ()
    concerns: Sequence[str] = ()
    approaches: Sequence[str] = ()
    populations: Sequence[str] = ()


@dataclass(frozen=True)
class Candidate:
    """A therapist as matching sees them: their profile and their open times (UTC)."""

    therapist_id: int
    name: str
    regions: Sequence[str]
    languages: Sequence[str]
    # The profile's modalities that an active session type also allows.
    modalities: Sequence[str]
    accepting: bool
    # Open (start, end) of the session types allowing one of the client's modalities.
    open_times: Sequence[tuple[datetime, datetime]] = ()
    specialties: Sequence[str] = ()
    approaches: Sequence[str] = ()
    populations: Sequence[str] = ()


@dataclass(frozen=True)
class Verdict:
    candidate: Candidate
    unmet: tuple[str, ...]
    facts: dict[str, Any] = field(default_factory=dict)
    fit: int = 0


def fitting_times(
    wish: Wish, open_times: Sequence[tuple[datetime, datetime]], now: datetime
) -> list[datetime]:
    """Starts of open times within the horizon that the client can make, in their zone, none
    overlapping the one before (15-minute steps of one free hour count once)."""
    zone = _zone(wish.time_zone)
    chosen: list[datetime] = []
    busy_until: datetime | None = None
    for start, end in sorted(open_times):
        if start < now or start >= now + HORIZON:
            continue
        if busy_until is not None and start < busy_until:
            continue
        local_start, local_end = start.astimezone(zone), end.astimezone(zone)
        if wish.availability and not any(
            w.holds(local_start, local_end) for w in wish.availability
        ):
            continue
        chosen.append(local_start)
        busy_until = end
    return chosen


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def part_of_day(starts: Sequence[datetime]) -> str:
    """ "evening", "afternoon" or "morning" when every start is in it; "" when they differ."""
    parts = {
        "evening"
        if s.time() >= EVENING_FROM
        else "afternoon"
        if s.time() >= AFTERNOON_FROM
        else "morning"
        for s in starts
    }
    return parts.pop() if len(parts) == 1 else ""


def evaluate(wish: Wish, candidate: Candidate, now: datetime) -> Verdict:
    """Which hard constraints ``candidate`` leaves unmet, and the facts that explain a fit."""
    unmet = []
    if wish.region not in candidate.regions:
        unmet.append(REGION)
    if wish.language not in candidate.languages:
        unmet.append(LANGUAGE)
    shared_modalities = [m for m in wish.modalities if m in candidate.modalities]
    if not shared_modalities:
        unmet.append(MODALITY)
    if not candidate.accepting:
        unmet.append(ACCEPTING)
    times = fitting_times(wish, candidate.open_times, now)
    # Times are those of a shared way to meet: without one, only the way is missing.
    if shared_modalities and not times:
        unmet.append(AVAILABILITY)
    concerns = [c for c in wish.concerns if c in candidate.specialties]
    approaches = [a for a in wish.approaches if a in candidate.approaches]
    populations = [p for p in wish.populations if p in candidate.populations]
    facts = {
        "language": wish.language,
        "region": wish.region,
        "modalities": shared_modalities,
        "times": len(times),
        "part_of_day": part_of_day(times),
        "first_time": times[0].isoformat() if times else None,
        "concerns": concerns,
        "approaches": approaches,
        "populations": populations,
    }
    fit = 2 * len(concerns) + len(approaches) + len(populations)
    return Verdict(candidate, tuple(unmet), facts, fit)


@dataclass(frozen=True)
class Ranking:
    """The suggestions (best first) or, when nobody fits, the constraints nobody met."""

    suggestions: list[Verdict]
    unmet: list[str]


def rank(
    wish: Wish, candidates: Sequence[Candidate], now: datetime, limit: int = MAX_SUGGESTIONS
) -> Ranking:
    verdicts = [evaluate(wish, c, now) for c in candidates]
    fitting = [v for v in verdicts if not v.unmet]
    fitting.sort(
        key=lambda v: (-v.fit, -v.facts["times"], v.candidate.name, v.candidate.therapist_id)
    )
    if fitting:
        return Ranking(fitting[:limit], [])
    if not verdicts:
        return Ranking([], [NO_THERAPIST])
    # The closest therapists each miss something; together, what they miss is what nobody
    # offers at once (one speaks Spanish, another is licensed in Texas: neither does both).
    fewest = min(len(v.unmet) for v in verdicts)
    missed = {c for v in verdicts if len(v.unmet) == fewest for c in v.unmet}
    return Ranking([], [c for c in CONSTRAINTS if c in missed])


# --- Words --------------------------------------------------------------------------------------


def language_name(code: str) -> str:
    """ "es" → "Spanish" (in Spanish "español": its language names are not capitalised)."""
    try:
        name = str(get_language_info(code)["name_translated"])
    except KeyError:
        return code
    return name.lower() if (get_language() or "").startswith("es") else name


def _listed(words: Sequence[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return _("%(first)s and %(last)s") % {"first": ", ".join(words[:-1]), "last": words[-1]}


def _modality(key: str) -> str:
    if key == "video":
        return _("by video")
    if key == "audio":
        return _("by phone (audio only)")
    if key == "text":
        return _("by live text")
    return key


def _times(count: int, part: str) -> str:
    if part == "evening":
        text = ngettext(
            "has %(count)d evening time in the next two weeks when you are free",
            "has %(count)d evening times in the next two weeks when you are free",
            count,
        )
    elif part == "afternoon":
        text = ngettext(
            "has %(count)d afternoon time in the next two weeks when you are free",
            "has %(count)d afternoon times in the next two weeks when you are free",
            count,
        )
    elif part == "morning":
        text = ngettext(
            "has %(count)d morning time in the next two weeks when you are free",
            "has %(count)d morning times in the next two weeks when you are free",
            count,
        )
    else:
        text = ngettext(
            "has %(count)d time in the next two weeks when you are free",
            "has %(count)d times in the next two weeks when you are free",
            count,
        )
    return text % {"count": count}


def explain(facts: dict[str, Any]) -> list[str]:
    """Why a therapist was suggested, one plain phrase per rule, in the reader's language:
    "speaks Spanish", "licensed in California", "has 6 evening times …", "works with anxiety"."""
    words = [
        _("speaks %(language)s") % {"language": language_name(facts["language"])},
        _("licensed in %(region)s") % {"region": region_name(facts["region"])},
        _("meets %(ways)s") % {"ways": _listed([_modality(m) for m in facts["modalities"]])},
        _("accepting new clients"),
        _times(int(facts["times"]), facts.get("part_of_day", "")),
    ]
    if facts.get("concerns"):
        concerns = [label(CONCERNS, c).lower() for c in facts["concerns"]]
        words.append(_("works with %(concerns)s") % {"concerns": _listed(concerns)})
    if facts.get("approaches"):
        approaches = [label(APPROACHES, a) for a in facts["approaches"]]
        words.append(_("uses %(approaches)s") % {"approaches": _listed(approaches)})
    if facts.get("populations"):
        populations = [label(POPULATIONS, p).lower() for p in facts["populations"]]
        words.append(_("sees %(populations)s") % {"populations": _listed(populations)})
    return words


def unmet_words(unmet: Sequence[str], wish: Wish) -> list[str]:
    """What nobody offered, in words for the client and the waitlist ("speaks Spanish")."""
    words = []
    for constraint in unmet:
        if constraint == REGION:
            words.append(_("is licensed in %(region)s") % {"region": region_name(wish.region)})
        elif constraint == LANGUAGE:
            words.append(_("speaks %(language)s") % {"language": language_name(wish.language)})
        elif constraint == MODALITY:
            ways = _listed([_modality(m) for m in wish.modalities])
            words.append(_("meets %(ways)s") % {"ways": ways})
        elif constraint == ACCEPTING:
            words.append(_("is accepting new clients"))
        elif constraint == AVAILABILITY:
            words.append(_("has open times in the next two weeks when you are free"))
        elif constraint == NO_THERAPIST:
            words.append(_("has a profile at this practice yet"))
    return words


def widening_hints(unmet: Sequence[str]) -> list[str]:
    """What the client could change to widen the search, for each unmet constraint."""
    hints = {
        LANGUAGE: _("Therapy in another language you speak would widen the search."),
        MODALITY: _("Another way of meeting (video, phone or live text) would widen the search."),
        AVAILABILITY: _("More times when you are free, such as mornings or weekends, would help."),
    }
    return [str(hints[c]) for c in unmet if c in hints]
