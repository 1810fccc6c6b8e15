"""The demo's billing: the practice's details, a fee schedule and Jordan Chen's account.

Everything goes through ``rapport.billing.services`` and ``rapport.billing.ledger``, as the
billing pages would: each of Jordan Chen's past sessions gets the line its visit timeline
proposes (code from the minutes, modifier from the minutes per modality), the therapist confirms
all but the latest (choosing the place of service, which the client did not say), the office
invoices every month that has ended and records a payment that covers the first invoice and part
of the next, so the client's billing page shows a balance and a statement, the superbill has
months to download and the therapist's home page has one line waiting. Jordan's no-show in the
seeded fortnight gets the practice's no-show fee, confirmed. Sam Rivera has a sliding-scale fee.

The dates follow the sessions (invoices on the first day after their month, the payment ten days
after the first invoice); nothing else depends on when the seeding runs.
"""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, timedelta

from rapport.accounts.models import User
from rapport.billing import ledger
from rapport.billing import services as billing
from rapport.billing.models import (
    BillingLine,
    BillingSettings,
    LineItem,
    PaymentMethod,
    ProviderDetails,
    Service,
    SessionKind,
)
from rapport.scheduling.models import Appointment, AppointmentStatus, SessionType
from rapport.visits.models import Visit

PRACTICE_ADDRESS = "100 Demo Street, Suite 2\nSpringfield, NY 10000"
PRACTICE_PHONE = "+1 555 010 0000"
DEMO_EIN = "00-0000000"  # not a real EIN: the format only
# Dr. Okafor's NPI: a demo number (its check digit is valid; no such provider).
DEMO_NPI = "1234567893"
# The fee schedule in cents, with the practice's own labels.
FEES = [
    ("90785", "Interactive complexity (add-on)", 2500),
    ("90791", "Intake assessment", 20000),
    ("90832", "Psychotherapy, 30 minutes", 10000),
    ("90834", "Psychotherapy, 45 minutes", 14000),
    ("90837", "Psychotherapy, 60 minutes", 18000),
    ("90839", "Crisis psychotherapy, first hour", 22000),
    ("90840", "Crisis psychotherapy, each further 30 minutes", 10000),
    ("90846", "Family session without the client", 14000),
    ("90847", "Family session with the client", 15000),
]
NO_SHOW_FEE = 7500
LATE_CANCEL_FEE = 7500
SLIDING_SCALE_PERCENT = 60  # Sam Rivera pays 60% of the usual fee
HOME = "10"  # place of service: the client's home
PAYMENT_DAYS = 10


def has_billing() -> bool:
    return Service.objects.exists()


def seed_billing(admin: User, therapists: list[User], client: User, sliding: User) -> None:
    """The practice's billing set-up, then ``client``'s account (``therapists[0]`` is theirs)."""
    _seed_setup(admin, therapists, sliding)
    therapist = therapists[0]
    lines = _propose_and_confirm(therapist, client)
    _missed_session_fee(therapist, client)
    _invoice_and_pay(admin, therapist, client, lines)


def _seed_setup(admin: User, therapists: list[User], sliding: User) -> None:
    settings = BillingSettings.get()
    settings.legal_name = "Riverside Counselling LLC (demo)"
    settings.address = PRACTICE_ADDRESS
    settings.phone = PRACTICE_PHONE
    settings.tax_id = DEMO_EIN
    settings.currency = "USD"
    settings.no_show_fee = NO_SHOW_FEE
    settings.late_cancel_fee = LATE_CANCEL_FEE
    settings.full_clean()
    billing.save_billing_settings(settings, actor=admin)
    therapist = therapists[0]
    details = ProviderDetails.objects.filter(therapist=therapist).first() or ProviderDetails(
        therapist=therapist
    )
    details.npi = DEMO_NPI
    details.credentials = "PhD, LCSW"
    details.licence_number = "LCSW-000000"
    details.licence_state = "NY"
    details.full_clean()
    billing.save_provider_details(details, actor=admin)
    for code, label, fee in FEES:
        service = Service(cpt_code=code, label=label, fee=fee)
        service.full_clean()
        billing.save_service(service, actor=admin)
    for intake in SessionType.objects.filter(therapist__in=therapists, name="Intake"):
        billing.set_session_kind(intake.pk, SessionKind.INTAKE, actor=admin)
    billing.set_client_fee(
        sliding,
        service=None,
        fee=None,
        percent=SLIDING_SCALE_PERCENT,
        reason="Demo: a student on a reduced income.",
        actor=admin,
    )


def _propose_and_confirm(therapist: User, client: User) -> list[BillingLine]:
    """A proposed line for each ended visit; all but the latest confirmed as proposed, with the
    client's home as the place of service. Returns the confirmed lines."""
    proposed = []
    visits = Visit.objects.filter(client=client, ended_at__isnull=False).order_by("started_at")
    for visit_id in visits.values_list("pk", flat=True):
        line = billing.propose_session_line(visit_id)
        if line is not None:
            proposed.append(line)
    confirmed = []
    for line in proposed[:-1]:
        values = billing.LineValues(
            cpt_code=line.cpt_code,
            add_ons=line.add_ons,
            modifiers=line.modifier_list,
            place_of_service=line.place_of_service or HOME,
            diagnosis_codes=line.diagnosis_codes,
            units=line.units,
            fee=line.fee,
        )
        confirmed.append(billing.confirm_line(line, values, actor=therapist))
    return confirmed


def _missed_session_fee(therapist: User, client: User) -> None:
    """The practice's fee for the client's no-show, confirmed (it is billed next month)."""
    missed = Appointment.objects.filter(client=client, status=AppointmentStatus.NO_SHOW).first()
    if missed is None:
        return
    line = billing.propose_missed_session_line(missed.pk, actor=therapist)
    values = billing.LineValues(
        cpt_code="",
        add_ons=[],
        modifiers=[],
        place_of_service="",
        diagnosis_codes=[],
        units=line.units,
        fee=line.fee,
    )
    billing.confirm_line(line, values, actor=therapist)


def _invoice_and_pay(admin: User, therapist: User, client: User, lines: list[BillingLine]) -> None:
    """A monthly invoice for each month of sessions that has ended (issued the day after), and
    one card payment: the first invoice in full and half of the rest, oldest first."""
    today = datetime.now(zoneinfo.ZoneInfo(therapist.time_zone)).date()
    this_month = today.replace(day=1)
    months = sorted(
        {
            line.date_of_service.replace(day=1)
            for line in lines
            if line.item == LineItem.SESSION and line.date_of_service < this_month
        }
    )
    invoices = []
    for first in months:
        last = _next_month(first) - timedelta(days=1)
        invoices.append(
            ledger.issue_monthly_invoice(
                client, first, last, actor=admin, issued_on=last + timedelta(days=1)
            )
        )
    if not invoices:
        return
    rest = sum(invoice.total for invoice in invoices[1:])
    amount = invoices[0].total + rest // 2 if rest else invoices[0].total // 2
    amount -= amount % 100  # whole dollars
    received_on = min(_next_month(months[0]) + timedelta(days=PAYMENT_DAYS), today)
    ledger.record_payment(
        client,
        ledger.PaymentValues(
            received_on=received_on,
            amount=amount,
            method=PaymentMethod.CARD,
            payer=client.full_name,
            reference="DEMO-0001",
        ),
        actor=admin,
    )


def _next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)
