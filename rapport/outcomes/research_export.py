"""The de-identified research export: one CSV for practices that take part in outcome research,
and its data dictionary (docs/security.md, "The research export").

What leaves is chosen column by column, never filtered out of something fuller: codes, counts,
scores and shifted dates. No name, email, phone, address or free text is ever read here. Each
export draws new pseudonyms and new date shifts, so two exports cannot be joined on them.

- A client is a random pseudonym (``C`` and eight hex digits), new in every export.
- Every date of a client moves by the same random whole number of weeks back (53 to 104): the
  intervals within a client and the day of the week stay, the calendar dates do not.
- Age is a band at the client's first contact; diagnoses are ICD-10 categories ("F41").
"""

from __future__ import annotations

import csv
import io
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from random import Random

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from rapport.accounts.models import User
from rapport.audit.services import Action, record
from rapport.care.models import ClientProfile
from rapport.diagnoses.models import Diagnosis, Status
from rapport.measures.instruments import definition_of, is_feedback
from rapport.measures.models import Instrument, Response
from rapport.outcomes.service_quality import (
    attendance_class,
    normalised_feedback,
    session_facts,
    stored_total,
)
from rapport.scheduling.models import Appointment

SHIFT_WEEKS = (53, 104)
AGE_BANDS = [
    (18, "18-24"),
    (25, "25-34"),
    (35, "35-44"),
    (45, "45-54"),
    (55, "55-64"),
    (65, "65+"),
]
UNDER_18, AGE_UNKNOWN = "under 18", "unknown"

# The data dictionary: every column, what it holds, its values. The export writes exactly these.
DICTIONARY = [
    ("client", _("A pseudonym drawn at random for this export (C and 8 hex digits).")),
    ("record", _("client (one per client), booking, session or score.")),
    (
        "date",
        _(
            "The day (YYYY-MM-DD), shifted back by this client's random whole number of weeks "
            "(53 to 104): intervals and weekdays within a client are true, calendar dates are not."
        ),
    ),
    ("day", _("Days since this client's first record in the export (0 on the client row).")),
    (
        "age_band",
        _("Client row: age at the first record, in bands (under 18, 18-24 … 65+, unknown)."),
    ),
    (
        "diagnosis_categories",
        _("Client row: ICD-10 categories of the client's diagnoses (F41), separated by ;."),
    ),
    ("modality", _("Booking and session rows: video, audio or text, as booked.")),
    (
        "attendance",
        _("Booking row: completed, late_cancelled, no_show or not_recorded (past bookings only)."),
    ),
    ("step_down", _("Session row: 1 if the call stepped down because of the connection, else 0.")),
    ("reconnects", _("Session row: times the call reconnected.")),
    ("minutes_lost", _("Session row: minutes without sound or picture.")),
    ("feedback", _("Session row: the client's after-session feedback, 0 to 100, higher better.")),
    ("instrument", _("Score row: the measure's key (phq9, gad7 …).")),
    ("score", _("Score row: the measure's total.")),
    ("sessions", _("Client row: sessions held.")),
    ("video_sessions", _("Client row: sessions booked as video.")),
    ("audio_sessions", _("Client row: sessions booked as audio only.")),
    ("text_sessions", _("Client row: sessions booked as live text.")),
    ("late_cancellations", _("Client row: bookings cancelled late.")),
    ("no_shows", _("Client row: bookings missed.")),
    ("mean_feedback", _("Client row: mean of the session feedback, 0 to 100.")),
]
COLUMNS = [name for name, _meaning in DICTIONARY]


def age_band(born: date | None, on: date) -> str:
    """The band of the age on ``on`` of someone born on ``born``."""
    if born is None:
        return AGE_UNKNOWN
    age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    band = UNDER_18
    for start, label in AGE_BANDS:
        if age >= start:
            band = label
    return band


def diagnosis_category(code: str) -> str:
    """The ICD-10 category of a code: "F41.1" → "F41"."""
    return code.split(".", 1)[0].strip().upper()


@dataclass
class _Client:
    rows: list[dict[str, object]] = field(default_factory=list)
    days: list[date] = field(default_factory=list)
    sessions: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    late: int = 0
    no_shows: int = 0
    feedback: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class ResearchFile:
    content: bytes
    filename: str
    content_type: str
    clients: int
    rows: int


def build_rows(rng: Random) -> tuple[list[dict[str, object]], int]:
    """Every row of the export, pseudonymised and shifted with ``rng``; and the client count."""
    now = timezone.now()
    clients: dict[int, _Client] = defaultdict(_Client)

    for client_id, modality, status, late, starts in Appointment.objects.filter(
        ends_at__lte=now
    ).values_list("client_id", "modality", "status", "late_cancellation", "starts_at"):
        kind = attendance_class(status, late)
        if kind is None:
            continue
        entry = clients[client_id]
        entry.late += kind == "late_cancelled"
        entry.no_shows += kind == "no_show"
        entry.days.append(starts.date())
        entry.rows.append(
            {"record": "booking", "date": starts.date(), "modality": modality, "attendance": kind}
        )

    feedback = _feedback_by_visit()
    for session, tech in session_facts(None):
        entry = clients[session.client_id]
        entry.sessions[session.modality] += 1
        score = feedback.get(session.visit_id)
        if score is not None:
            entry.feedback.append(score)
        day = session.started_at.date()
        entry.days.append(day)
        entry.rows.append(
            {
                "record": "session",
                "date": day,
                "modality": session.modality,
                "step_down": int(tech.step_down),
                "reconnects": tech.reconnects,
                "minutes_lost": tech.minutes_lost,
                "feedback": "" if score is None else score,
            }
        )

    for client_id, key, result, submitted in _scores():
        total = stored_total(result)
        if total is None:
            continue
        entry = clients[client_id]
        entry.days.append(submitted.date())
        entry.rows.append(
            {"record": "score", "date": submitted.date(), "instrument": key, "score": total}
        )

    people = {
        c.pk: c for c in User.objects.filter(pk__in=list(clients), role="client").only("pk", "role")
    }
    births = dict(
        (p.client_id, p.date_of_birth)
        for p in ClientProfile.objects.filter(client_id__in=list(people)).only(
            "client_id", "date_of_birth"
        )
    )
    categories: dict[int, set[str]] = defaultdict(set)
    for client_id, code in (
        Diagnosis.objects.filter(client_id__in=list(people))
        .exclude(status=Status.ENTERED_IN_ERROR)
        .values_list("client_id", "code")
    ):
        categories[client_id].add(diagnosis_category(code))

    rows: list[dict[str, object]] = []
    used: set[str] = set()
    for client_id in people:
        entry = clients[client_id]
        pseudonym = _pseudonym(rng, used)
        shift = timedelta(weeks=rng.randint(*SHIFT_WEEKS))
        first = min(entry.days)
        sessions = sum(entry.sessions.values())
        rows.append(
            {
                "client": pseudonym,
                "record": "client",
                "date": (first - shift).isoformat(),
                "day": 0,
                "age_band": age_band(births.get(client_id), first),
                "diagnosis_categories": ";".join(sorted(categories[client_id])),
                "sessions": sessions,
                "video_sessions": entry.sessions["video"],
                "audio_sessions": entry.sessions["audio"],
                "text_sessions": entry.sessions["text"],
                "late_cancellations": entry.late,
                "no_shows": entry.no_shows,
                "mean_feedback": (
                    round(sum(entry.feedback) / len(entry.feedback), 1) if entry.feedback else ""
                ),
            }
        )
        for row in sorted(entry.rows, key=lambda r: (r["date"], str(r["record"]))):
            when = row["date"]
            assert isinstance(when, date)  # noqa: S101
            rows.append(
                {
                    **row,
                    "client": pseudonym,
                    "date": (when - shift).isoformat(),
                    "day": (when - first).days,
                }
            )
    rows.sort(key=lambda r: (str(r["client"]), int(str(r["day"])), r["record"] != "client"))
    return rows, len(people)


def _pseudonym(rng: Random, used: set[str]) -> str:
    while True:
        candidate = "C" + "".join(rng.choice("0123456789abcdef") for _ in range(8))
        if candidate not in used:
            used.add(candidate)
            return candidate


def _feedback_instruments() -> dict[int, Instrument]:
    return {i.pk: i for i in Instrument.objects.all() if is_feedback(definition_of(i))}


def _feedback_by_visit() -> dict[int, float]:
    instruments = _feedback_instruments()
    corrected = Response.objects.filter(corrects=OuterRef("pk"))
    found: dict[int, float] = {}
    for visit_id, instrument_id, result in (
        Response.objects.filter(instrument__in=list(instruments), task__visit__isnull=False)
        .exclude(Exists(corrected))
        .values_list("task__visit_id", "instrument_id", "result")
    ):
        total = stored_total(result)
        if total is None:
            continue
        definition = definition_of(instruments[instrument_id])
        found[visit_id] = normalised_feedback(
            total, definition.range_min, definition.range_max, definition.higher_is_worse
        )
    return found


def _scores() -> list[tuple[int, str, str, datetime]]:
    feedback = list(_feedback_instruments())
    corrected = Response.objects.filter(corrects=OuterRef("pk"))
    return list(
        Response.objects.exclude(instrument__in=feedback)
        .exclude(Exists(corrected))
        .values_list("client_id", "instrument__key", "result", "submitted_at")
    )


def export_csv(
    admin: User, *, request: HttpRequest | None = None, rng: Random | None = None
) -> ResearchFile:
    """The export as CSV, audited (who, how many clients and rows; nothing about anyone)."""
    rows, count = build_rows(rng or secrets.SystemRandom())
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    with transaction.atomic():
        record(
            Action.RESEARCH_EXPORTED, actor=admin, request=request, clients=count, rows=len(rows)
        )
    stamp = timezone.now().strftime("%Y%m%d")
    return ResearchFile(
        out.getvalue().encode("utf-8"),
        f"rapport-research-{stamp}.csv",
        "text/csv; charset=utf-8",
        count,
        len(rows),
    )


def dictionary_markdown() -> str:
    """The data dictionary, as the download and docs/security.md show it."""
    lines = [
        "# " + str(_("Rapport research export: data dictionary")),
        "",
        str(_("One row per client, then their bookings, sessions and scores.")),
        "",
        "| " + str(_("Column")) + " | " + str(_("Meaning")) + " |",
        "|---|---|",
    ]
    lines += [f"| `{name}` | {meaning} |" for name, meaning in DICTIONARY]
    return "\n".join(lines) + "\n"
