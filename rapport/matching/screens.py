"""The screen as a therapist may see it before accepting: the latest PHQ-9 and GAD-7 severity
bands and whether any risk was raised, read from the client's measures responses. No answers,
no item text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rapport.accounts.models import User
from rapport.measures.models import Response, SafetyAlert
from rapport.measures.results import effective_responses, result_of

SCREENS = ("phq9", "gad7")


@dataclass(frozen=True)
class ScreenBand:
    instrument: str  # "PHQ-9"
    band: str  # the instrument's severity band, "Moderate"
    submitted_at: datetime


def latest_screens(client: User) -> tuple[list[ScreenBand], bool]:
    """The latest PHQ-9 and GAD-7 bands, and the risk flag: a risk item answered at or above
    its threshold (or left unanswered) in them, or a safety alert about the client still open."""
    latest: dict[str, Response] = {}
    for response in effective_responses(client).filter(instrument__key__in=SCREENS):
        latest[response.instrument.key] = response  # in submission order: the last one wins
    bands = []
    risk = SafetyAlert.objects.filter(client=client, acknowledged_at__isnull=True).exists()
    for key in SCREENS:
        last = latest.get(key)
        if last is None:
            continue
        score = result_of(last)
        risk = risk or score.risk_positive or bool(score.risk_unanswered)
        bands.append(ScreenBand(last.instrument.short_name, score.band or "", last.submitted_at))
    return bands, risk
