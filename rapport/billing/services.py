"""Writing billing: proposing a session's line, confirming it, billing (locking) and correcting
lines, and keeping the fee schedule. Each function runs in one transaction and audits.

The rules (which code, modifier, place of service) are ``rapport.billing.rules``; this module
gathers the facts they need (minutes per modality from the visit timeline, the check-in's "at
home", the client's active diagnoses) and the fee: the client's sliding-scale fee, else the
therapist's own fee, else the schedule's.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from rapport.accounts.models import User
from rapport.audit.services import Action, record
from rapport.billing import rules
from rapport.billing.models import (
    BillingLine,
    BillingSettings,
    ClientFee,
    LineItem,
    LineKind,
    LineStatus,
    LockedLine,
    ProviderDetails,
    Service,
    SessionKind,
    SessionTypeBilling,
    TherapistFee,
)
from rapport.diagnoses.models import Diagnosis
from rapport.diagnoses.models import Status as DiagnosisStatus
from rapport.scheduling.models import Appointment, AppointmentStatus, SessionType
from rapport.visits.models import AtHome, EventKind, SafetyCheckIn, Visit
from rapport.visits.services import summary

MAX_DIAGNOSIS_POINTERS = 12  # a claim's diagnosis slots (A to L)


class BillingError(ValidationError):
    """A billing change that cannot be made, in words for the person who asked."""


# --- Reading the facts ---------------------------------------------------------------------------


def modifier_policy(settings: BillingSettings) -> rules.ModifierPolicy:
    return rules.ModifierPolicy(
        rule=settings.modifier_rule,
        audio_only_percent=settings.audio_only_percent,
        audio_only_modifier=settings.audio_only_modifier,
    )


def fee_policy(settings: BillingSettings) -> rules.FeePolicy:
    return rules.FeePolicy(
        no_show_fee=settings.no_show_fee, late_cancel_fee=settings.late_cancel_fee
    )


def session_minutes(visit: Visit) -> rules.Minutes:
    """Minutes per modality from the visit timeline (admission to end)."""
    switches = list(visit.events.filter(kind=EventKind.MODALITY))
    minutes = summary(visit, switches, None).minutes
    return rules.Minutes(
        video=minutes.get("video", 0.0),
        audio=minutes.get("audio", 0.0),
        text=minutes.get("text", 0.0),
    )


def client_at_home(visit: Visit) -> bool | None:
    """What the client said in the session's latest check-in; None when they did not say."""
    checkin = SafetyCheckIn.objects.filter(visit=visit).only("at_home").first()
    if checkin is None or not checkin.at_home:
        return None
    return checkin.at_home == AtHome.HOME


def diagnosis_pointers(client: User) -> list[str]:
    """The client's active ICD-10-CM codes, the primary first, then the most recent."""
    rows = Diagnosis.objects.filter(client=client, status=DiagnosisStatus.ACTIVE).order_by(
        "rank", "-recorded_at", "pk"
    )
    codes: list[str] = []
    for code in rows.values_list("code", flat=True):
        if code not in codes:
            codes.append(code)
    return codes[:MAX_DIAGNOSIS_POINTERS]


def session_kind(visit: Visit) -> str:
    if visit.appointment_id is None:
        return SessionKind.PSYCHOTHERAPY
    session_type = Appointment.objects.filter(pk=visit.appointment_id).values("session_type_id")
    row = SessionTypeBilling.objects.filter(session_type_id__in=session_type).first()
    return row.kind if row is not None else SessionKind.PSYCHOTHERAPY


def fee_for(code: str, *, therapist: User, client: User) -> int | None:
    """The fee for one unit of ``code``: the client's sliding-scale fee, else the therapist's
    own fee, else the schedule's. None when the code is not on the active schedule."""
    service = Service.objects.filter(cpt_code=code, is_active=True).first()
    if service is None:
        return None
    own = TherapistFee.objects.filter(therapist=therapist, service=service).first()
    usual = own.fee if own is not None else service.fee
    sliding = ClientFee.objects.filter(client=client, service=service).first()
    if sliding is None:
        sliding = ClientFee.objects.filter(client=client, service__isnull=True).first()
    if sliding is None:
        return usual
    if sliding.fee is not None:
        return sliding.fee
    return rules.apply_percent(usual, sliding.percent or 0)


def local_date(moment: Any, user: User) -> date:
    return timezone.localtime(moment, zoneinfo.ZoneInfo(user.time_zone)).date()


# --- Proposing -----------------------------------------------------------------------------------


def propose_session_line(visit_id: int, *, actor: User | None = None) -> BillingLine | None:
    """The proposed line of an ended session (made once; the existing one after that).

    None for a session nobody was admitted to. Called when a visit ends
    (``rapport.visits.signals.visit_ended``) and when the session's billing page opens."""
    with transaction.atomic():
        visit = (
            Visit.objects.select_for_update(of=("self",))
            .select_related("client", "therapist")
            .filter(pk=visit_id)
            .first()
        )
        if visit is None or not visit.is_ended or visit.started_at is None:
            return None
        existing = (
            BillingLine.objects.filter(visit=visit, item=LineItem.SESSION, kind=LineKind.CHARGE)
            .exclude(status=LineStatus.VOID)
            .order_by("-pk")
            .first()
        )
        if existing is not None:
            return existing
        settings = BillingSettings.get()
        minutes = session_minutes(visit)
        # The note is stored: write it in the rendering therapist's language, not in that of
        # whoever ended the session.
        with translation.override(visit.therapist.language):
            code = rules.session_code(session_kind(visit), minutes.face_to_face)
            modifier = rules.telehealth_modifier(minutes, modifier_policy(settings))
            place = rules.place_of_service(client_at_home(visit))
            fee = (
                fee_for(code.code, therapist=visit.therapist, client=visit.client)
                if code.code
                else 0
            )
            notes = [code.reason, modifier.reason, place.reason]
            if code.code and fee is None:
                notes.append(
                    _("%(code)s is not on the fee schedule: enter the fee.") % {"code": code.code}
                )
        line = BillingLine.objects.create(
            client=visit.client,
            therapist=visit.therapist,
            appointment_id=visit.appointment_id,
            visit=visit,
            item=LineItem.SESSION,
            date_of_service=local_date(visit.started_at, visit.therapist),
            cpt_code=code.code,
            add_ons=[{"code": a.code, "units": a.units} for a in code.add_ons],
            modifiers=modifier.value,
            place_of_service=place.value,
            diagnosis_codes=diagnosis_pointers(visit.client),
            fee=fee or 0,
            currency=settings.currency,
            video_minutes=int(minutes.video),
            audio_minutes=int(minutes.audio),
            text_minutes=int(minutes.text),
            proposal_note=" ".join(notes)[:300],
            created_by=actor or visit.therapist,
        )
        record(
            Action.BILLING_LINE_PROPOSED,
            actor=actor,
            obj=line,
            client=visit.client,
            visit=visit.pk,
        )
    return line


def visit_ended(sender: Any, *, visit_id: int, **kwargs: Any) -> None:
    """Receiver of ``visit_ended``: propose the session's line as soon as it ends, once the
    practice bills at all (its fee schedule has a row); the session's billing page can still
    propose one by hand."""
    if Service.objects.exists():
        propose_session_line(visit_id)


def missed_appointments(client: User) -> list[Appointment]:
    """The client's no-shows and late cancellations with no fee line yet (void ones aside),
    when the practice charges for them."""
    policy = fee_policy(BillingSettings.get())
    kinds = Q()
    if policy.no_show_fee:
        kinds |= Q(status=AppointmentStatus.NO_SHOW)
    if policy.late_cancel_fee:
        kinds |= Q(status=AppointmentStatus.CANCELLED, late_cancellation=True)
    if not kinds:
        return []
    charged = BillingLine.objects.filter(
        client=client, item__in=[LineItem.NO_SHOW, LineItem.LATE_CANCEL]
    ).exclude(status=LineStatus.VOID)
    return list(
        Appointment.objects.filter(kinds, client=client)
        .exclude(pk__in=charged.values("appointment_id"))
        .select_related("therapist")
        .order_by("-starts_at")[:50]
    )


def propose_missed_session_line(
    appointment_id: int, *, actor: User, request: HttpRequest | None = None
) -> BillingLine:
    """The practice's no-show or late-cancellation fee for one missed appointment, proposed."""
    with transaction.atomic():
        appointment = (
            Appointment.objects.select_for_update(of=("self",))
            .select_related("client", "therapist")
            .get(pk=appointment_id)
        )
        settings = BillingSettings.get()
        fee = rules.missed_session_fee(
            no_show=appointment.status == AppointmentStatus.NO_SHOW,
            late_cancellation=appointment.status == AppointmentStatus.CANCELLED
            and appointment.late_cancellation,
            policy=fee_policy(settings),
        )
        if fee is None:
            raise BillingError(_("The practice charges no fee for this appointment."))
        item, amount = fee
        existing = (
            BillingLine.objects.filter(appointment=appointment, item=item)
            .exclude(status=LineStatus.VOID)
            .first()
        )
        if existing is not None:
            return existing
        with translation.override(appointment.therapist.language):  # stored: theirs
            note = _("The practice's fee policy.")
        line = BillingLine.objects.create(
            client=appointment.client,
            therapist=appointment.therapist,
            appointment=appointment,
            item=item,
            date_of_service=local_date(appointment.starts_at, appointment.therapist),
            fee=amount,
            currency=settings.currency,
            proposal_note=note,
            created_by=actor,
        )
        record(
            Action.BILLING_LINE_PROPOSED,
            actor=actor,
            request=request,
            obj=line,
            client=appointment.client,
            appointment=appointment.pk,
        )
    return line


# --- Confirming, billing, correcting -------------------------------------------------------------


@dataclass(frozen=True)
class LineValues:
    """What a person may set on a line (the form's cleaned values)."""

    cpt_code: str
    add_ons: list[dict[str, Any]]
    modifiers: list[str]
    place_of_service: str
    diagnosis_codes: list[str]
    units: int
    fee: int


EDITABLE = [
    "cpt_code",
    "add_ons",
    "modifiers",
    "place_of_service",
    "diagnosis_codes",
    "units",
    "fee",
]


def _apply(line: BillingLine, values: LineValues) -> list[str]:
    """Set ``values`` on ``line``; the names of the fields that changed."""
    new = {
        "cpt_code": values.cpt_code,
        "add_ons": values.add_ons,
        "modifiers": ",".join(values.modifiers),
        "place_of_service": values.place_of_service,
        "diagnosis_codes": values.diagnosis_codes,
        "units": values.units,
        "fee": values.fee,
    }
    changed = [name for name, value in new.items() if getattr(line, name) != value]
    for name in changed:
        setattr(line, name, new[name])
    return changed


def _check_complete(line: BillingLine) -> None:
    if line.item == LineItem.SESSION and not (line.cpt_code and line.place_of_service):
        raise BillingError(_("A session line needs its code and its place of service."))


def _locked_row(line_id: int) -> BillingLine:
    return BillingLine.objects.select_for_update(of=("self",)).get(pk=line_id)


def confirm_line(
    line: BillingLine, values: LineValues, *, actor: User, request: HttpRequest | None = None
) -> BillingLine:
    """Confirm a proposed (or re-confirm a confirmed) line with the therapist's values.

    A billed line refuses (``LockedLine``): correct it instead; a void line refuses too."""
    with transaction.atomic():
        row = _locked_row(line.pk)
        if row.status == LineStatus.BILLED:
            raise LockedLine
        if row.status == LineStatus.VOID or row.kind == LineKind.CREDIT:
            raise BillingError(_("This line cannot be changed."))
        changed = _apply(row, values)
        _check_complete(row)
        row.status = LineStatus.CONFIRMED
        row.confirmed_by = actor
        row.confirmed_at = row.updated_at = timezone.now()
        row.save()
        record(
            Action.BILLING_LINE_CONFIRMED,
            actor=actor,
            request=request,
            obj=row,
            client=row.client,
            changed=changed,
        )
    return row


def void_line(line: BillingLine, *, actor: User, request: HttpRequest | None = None) -> BillingLine:
    """Withdraw a line that was never billed (a billed one is corrected instead)."""
    with transaction.atomic():
        row = _locked_row(line.pk)
        if row.status == LineStatus.BILLED:
            raise LockedLine
        if row.status == LineStatus.VOID:
            return row
        row.status = LineStatus.VOID
        row.updated_at = timezone.now()
        row.save(update_fields=["status", "updated_at"])
        record(Action.BILLING_LINE_VOIDED, actor=actor, request=request, obj=row, client=row.client)
    return row


def unbilled_lines(client: User) -> list[BillingLine]:
    """A client's confirmed lines not yet billed (charges and credits), oldest first: what the
    next invoice takes. The caller reached the client through ``access.access_billing``."""
    return list(
        BillingLine.objects.filter(client=client, status=LineStatus.CONFIRMED).order_by(
            "date_of_service", "pk"
        )
    )


def lock_lines(
    lines: Iterable[BillingLine], *, actor: User, request: HttpRequest | None = None
) -> list[BillingLine]:
    """Mark confirmed lines billed: from now on they are locked (here and in the database).

    The invoicing code calls this, inside its own transaction, for the lines it puts on an
    invoice. Every line must be confirmed (a proposed, void or already billed line raises
    ``BillingError`` and nothing is locked). Returns the locked rows, in the order given."""
    with transaction.atomic():
        rows = []
        now = timezone.now()
        for line in lines:
            row = _locked_row(line.pk)
            if row.status != LineStatus.CONFIRMED:
                raise BillingError(
                    _("Only confirmed lines can be billed (line %(id)s is %(status)s).")
                    % {"id": row.pk, "status": row.get_status_display()}
                )
            row.status = LineStatus.BILLED
            row.billed_at = row.updated_at = now
            row.save(update_fields=["status", "billed_at", "updated_at"])
            rows.append(row)
        for client_id in sorted({r.client_id for r in rows}):
            record(
                Action.BILLING_LINES_BILLED,
                actor=actor,
                request=request,
                client=User.objects.get(pk=client_id),
                lines=[r.pk for r in rows if r.client_id == client_id],
            )
    return rows


def correct_line(
    line: BillingLine,
    values: LineValues | None,
    *,
    actor: User,
    request: HttpRequest | None = None,
) -> tuple[BillingLine, BillingLine | None]:
    """Correct a billed charge: a credit line negating it (the same codes, units and fee) and,
    with ``values``, a new confirmed charge carrying the right ones. The billed line itself
    never changes. Returns (credit, new charge or None)."""
    with transaction.atomic():
        row = _locked_row(line.pk)
        if row.status != LineStatus.BILLED or row.kind != LineKind.CHARGE:
            raise BillingError(_("Only a billed charge is corrected with a credit."))
        if BillingLine.objects.filter(corrects=row, kind=LineKind.CREDIT).exists():
            raise BillingError(_("This line has already been credited."))
        now = timezone.now()
        copied = {
            name: getattr(row, name)
            for name in [
                "client_id",
                "therapist_id",
                "appointment_id",
                "visit_id",
                "item",
                "date_of_service",
                *EDITABLE,
                "currency",
                "video_minutes",
                "audio_minutes",
                "text_minutes",
            ]
        }
        common = {"corrects": row, "created_by": actor, "created_at": now, "updated_at": now}
        credit = BillingLine.objects.create(
            **copied,
            **common,
            kind=LineKind.CREDIT,
            status=LineStatus.CONFIRMED,
            confirmed_by=actor,
            confirmed_at=now,
        )
        rebill = None
        if values is not None:
            rebill = BillingLine(**copied, **common, kind=LineKind.CHARGE)
            _apply(rebill, values)
            _check_complete(rebill)
            rebill.status = LineStatus.CONFIRMED
            rebill.confirmed_by = actor
            rebill.confirmed_at = now
            rebill.save()
        record(
            Action.BILLING_LINE_CORRECTED,
            actor=actor,
            request=request,
            obj=row,
            client=row.client,
            credit=credit.pk,
            rebill=rebill.pk if rebill is not None else None,
        )
    return credit, rebill


# --- The fee schedule and settings ---------------------------------------------------------------


def save_service(service: Service, *, actor: User, request: HttpRequest | None = None) -> Service:
    """Add or change a row of the fee schedule (``service`` is the validated instance)."""
    with transaction.atomic():
        is_new = service.pk is None
        service.save()
        record(
            Action.BILLING_FEES_CHANGED,
            actor=actor,
            request=request,
            obj=service,
            code=service.cpt_code,
            added=is_new,
        )
    return service


def set_therapist_fee(
    therapist: User,
    service: Service,
    fee: int | None,
    *,
    actor: User,
    request: HttpRequest | None = None,
) -> TherapistFee | None:
    """A therapist's own fee for a service; ``fee=None`` removes it (the schedule's applies)."""
    with transaction.atomic():
        row = None
        if fee is None:
            TherapistFee.objects.filter(therapist=therapist, service=service).delete()
        else:
            row, _created = TherapistFee.objects.update_or_create(
                therapist=therapist, service=service, defaults={"fee": fee}
            )
        record(
            Action.BILLING_FEES_CHANGED,
            actor=actor,
            request=request,
            obj=service,
            therapist=therapist.pk,
            removed=fee is None,
        )
    return row


def set_client_fee(
    client: User,
    *,
    service: Service | None,
    fee: int | None,
    percent: int | None,
    reason: str,
    actor: User,
    request: HttpRequest | None = None,
) -> ClientFee:
    """Set a client's sliding-scale fee for one service (or a percentage for all of them)."""
    with transaction.atomic():
        row, _created = ClientFee.objects.update_or_create(
            client=client,
            service=service,
            defaults={
                "fee": fee,
                "percent": percent,
                "reason": reason,
                "set_by": actor,
                "set_at": timezone.now(),
            },
        )
        record(
            Action.BILLING_CLIENT_FEE_CHANGED,
            actor=actor,
            request=request,
            obj=row,
            client=client,
            service=service.pk if service is not None else None,
        )
    return row


def remove_client_fee(fee: ClientFee, *, actor: User, request: HttpRequest | None = None) -> None:
    with transaction.atomic():
        client = fee.client
        record(
            Action.BILLING_CLIENT_FEE_CHANGED,
            actor=actor,
            request=request,
            obj=fee,
            client=client,
            removed=True,
        )
        fee.delete()


def save_billing_settings(
    settings: BillingSettings, *, actor: User, request: HttpRequest | None = None
) -> BillingSettings:
    with transaction.atomic():
        settings.updated_at = timezone.now()
        settings.save()
        record(Action.BILLING_SETTINGS_CHANGED, actor=actor, request=request, obj=settings)
    return settings


def save_provider_details(
    details: ProviderDetails, *, actor: User, request: HttpRequest | None = None
) -> ProviderDetails:
    with transaction.atomic():
        details.updated_at = timezone.now()
        details.save()
        record(
            Action.BILLING_SETTINGS_CHANGED,
            actor=actor,
            request=request,
            obj=details,
            therapist=details.therapist_id,
        )
    return details


def intake_session_types(therapist: User) -> QuerySet[SessionType]:
    """The therapist's active session types billed as a diagnostic evaluation (90791): the
    kind a new client's first session is booked as."""
    return SessionType.objects.filter(
        therapist=therapist, is_active=True, billing__kind=SessionKind.INTAKE
    ).order_by("minutes", "name", "pk")


def set_session_kind(
    session_type_id: int, kind: str, *, actor: User, request: HttpRequest | None = None
) -> SessionTypeBilling:
    with transaction.atomic():
        row, _created = SessionTypeBilling.objects.update_or_create(
            session_type_id=session_type_id, defaults={"kind": kind}
        )
        record(
            Action.BILLING_SETTINGS_CHANGED,
            actor=actor,
            request=request,
            obj=row,
            session_type=session_type_id,
        )
    return row
