"""Every billing rule in one place: which code, modifier and place of service a session's facts
call for, and which fee the practice's policy charges for a missed session. Pure functions of
their arguments: no database, no clock, so the boundaries are tested by a table
(tests/test_billing_rules.py) and a payer's different rule is a change here alone.

Time. Only synchronous face-to-face time counts: the minutes in audio-video plus the minutes in
audio-only, from the visit's timeline (admission to end, per modality). Live text is not
face-to-face psychotherapy; its minutes are kept on the line but never counted. A minute counts
once it is complete (the total is rounded down), so a line never claims time not spent.

Codes (CPT time rule: a unit is reported once its midpoint is passed):
- individual psychotherapy by minutes: under 16 no time code (the therapist decides), 16-37
  90832, 38-52 90834, 53 and more 90837;
- diagnostic evaluation (an intake session type): 90791, not timed, but some face-to-face time;
- family psychotherapy: 90846 without the client, 90847 with them, each from 26 minutes;
- crisis: 90839 for 30-74 minutes, and one +90840 for each further 30 minutes once the midpoint
  of that half hour is passed (75-104 one, 105-134 two, ...); under 30 minutes a crisis session
  is billed as psychotherapy by minutes.
- +90785 interactive complexity is never proposed: only the therapist knows it applied.

Telehealth modifier, from the minutes per modality (``BillingSettings``; payers differ):
- "audio_share" (the default): the audio-only modifier (93, or FQ for RHC/FQHC) when the
  audio-only minutes are *more than* ``audio_only_percent`` percent (default 50) of the
  face-to-face minutes; otherwise 95. Exactly half at 50 % is 95. A video session that stepped
  down to audio for most of its length is therefore billed as audio-only.
- "any_video": 95 whenever the session had any video minute; audio-only otherwise.
No face-to-face minute: no modifier.

Place of service, from the client's safety check-in for the session: 10 when they said they
were at home, 02 when they said they were elsewhere. When they did not say (or there was no
check-in) nothing is guessed: the line waits for the therapist to choose.

Missed sessions: a no-show, or a cancellation the scheduling app marked late (inside the
practice's ``late_cancel_hours``), is charged the practice's fee for it, when it has one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from rapport.billing.models import AudioOnlyModifier, LineItem, ModifierRule, SessionKind

VIDEO_MODIFIER = "95"


@dataclass(frozen=True)
class Minutes:
    """Minutes per modality of one session, as the visit timeline measured them."""

    video: float = 0.0
    audio: float = 0.0
    text: float = 0.0

    @property
    def face_to_face(self) -> int:
        """Whole minutes in audio-video or audio-only (a minute counts once complete)."""
        return math.floor(self.video + self.audio + 1e-6)


@dataclass(frozen=True)
class AddOn:
    code: str
    units: int


@dataclass(frozen=True)
class CodeChoice:
    """A proposed code (empty when none fits) with its add-ons, and why, in words."""

    code: str
    reason: str
    add_ons: tuple[AddOn, ...] = field(default=())


def psychotherapy_code(minutes: int) -> CodeChoice:
    if minutes < 16:
        return CodeChoice(
            "",
            _("%(minutes)s face-to-face minutes: under 16, no psychotherapy time code applies.")
            % {"minutes": minutes},
        )
    code = "90832" if minutes <= 37 else "90834" if minutes <= 52 else "90837"
    return CodeChoice(code, _("%(minutes)s face-to-face minutes.") % {"minutes": minutes})


def intake_code(minutes: int) -> CodeChoice:
    if minutes < 1:
        return CodeChoice("", _("No face-to-face time: no evaluation to bill."))
    return CodeChoice("90791", _("Diagnostic evaluation (intake session type)."))


def family_code(minutes: int, *, with_client: bool) -> CodeChoice:
    if minutes < 26:
        return CodeChoice(
            "",
            _("%(minutes)s face-to-face minutes: family psychotherapy needs 26 or more.")
            % {"minutes": minutes},
        )
    return CodeChoice(
        "90847" if with_client else "90846",
        _("%(minutes)s face-to-face minutes, family session.") % {"minutes": minutes},
    )


def crisis_codes(minutes: int) -> CodeChoice:
    if minutes < 30:
        fallback = psychotherapy_code(minutes)
        reason = _("Under 30 minutes of crisis care is billed as psychotherapy by minutes.")
        return CodeChoice(fallback.code, f"{reason} {fallback.reason}")
    extra = minutes - 74
    units = max(0, (extra + 29) // 30)  # 75-104: 1, 105-134: 2, ...
    add_ons = (AddOn("90840", units),) if units else ()
    return CodeChoice(
        "90839", _("%(minutes)s minutes of crisis care.") % {"minutes": minutes}, add_ons
    )


def session_code(kind: str, minutes: int) -> CodeChoice:
    """The code a session of this kind (``SessionKind``) and face-to-face length calls for."""
    if kind == SessionKind.INTAKE:
        return intake_code(minutes)
    if kind == SessionKind.FAMILY_WITH_CLIENT:
        return family_code(minutes, with_client=True)
    if kind == SessionKind.FAMILY_WITHOUT_CLIENT:
        return family_code(minutes, with_client=False)
    if kind == SessionKind.CRISIS:
        return crisis_codes(minutes)
    return psychotherapy_code(minutes)


@dataclass(frozen=True)
class ModifierPolicy:
    rule: str = ModifierRule.AUDIO_SHARE
    audio_only_percent: int = 50
    audio_only_modifier: str = AudioOnlyModifier.MOD_93


@dataclass(frozen=True)
class Choice:
    """A proposed value (empty when it is the therapist's to choose), and why."""

    value: str
    reason: str


def telehealth_modifier(minutes: Minutes, policy: ModifierPolicy) -> Choice:
    face = minutes.video + minutes.audio
    if minutes.face_to_face < 1:
        return Choice("", _("No audio or video minutes: no telehealth modifier."))
    if policy.rule == ModifierRule.ANY_VIDEO:
        if minutes.video > 0:
            return Choice(VIDEO_MODIFIER, _("The session had video."))
        return Choice(policy.audio_only_modifier, _("The session was audio-only throughout."))
    # Compared in tenths of a minute, as the timeline measures them: no float edge at the line.
    audio_tenths = round(minutes.audio * 10)
    face_tenths = round(face * 10)
    if audio_tenths * 100 > policy.audio_only_percent * face_tenths:
        return Choice(
            policy.audio_only_modifier,
            _("Audio-only for more than %(percent)s%% of the face-to-face minutes.")
            % {"percent": policy.audio_only_percent},
        )
    return Choice(
        VIDEO_MODIFIER,
        _("Audio-video for at least %(percent)s%% of the face-to-face minutes.")
        % {"percent": 100 - policy.audio_only_percent},
    )


def place_of_service(at_home: bool | None) -> Choice:
    """10 at home, 02 elsewhere; None (not said, or no check-in) is the therapist's to choose."""
    if at_home is None:
        return Choice("", _("The client did not say whether they were at home: please choose."))
    if at_home:
        return Choice("10", _("The client said they were at home."))
    return Choice("02", _("The client said they were not at home."))


@dataclass(frozen=True)
class FeePolicy:
    no_show_fee: int | None = None
    late_cancel_fee: int | None = None


def missed_session_fee(
    *, no_show: bool, late_cancellation: bool, policy: FeePolicy
) -> tuple[str, int] | None:
    """The fee line (item, minor units) a missed appointment calls for, or None."""
    if no_show and policy.no_show_fee:
        return LineItem.NO_SHOW, policy.no_show_fee
    if late_cancellation and not no_show and policy.late_cancel_fee:
        return LineItem.LATE_CANCEL, policy.late_cancel_fee
    return None


def apply_percent(fee: int, percent: int) -> int:
    """``percent`` of ``fee`` in whole minor units, half a unit rounded up; integers only."""
    return (fee * percent + 50) // 100
