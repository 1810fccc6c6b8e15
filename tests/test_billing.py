"""Billing from what happened in the session: the proposal, the fee, confirming with the note,
locking, corrections, the pages of the practice and of a client, and bad input on every form."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from rapport.accounts.models import User
from rapport.audit.models import AuditEvent
from rapport.audit.services import Action
from rapport.billing import services
from rapport.billing.models import (
    BillingLine,
    BillingSettings,
    ClientFee,
    LineKind,
    LineStatus,
    LockedLine,
    ProviderDetails,
    Service,
    TherapistFee,
)
from rapport.diagnoses.services import record_diagnosis
from rapport.scheduling.models import Appointment, AppointmentStatus, SessionType
from rapport.visits import services as visits
from rapport.visits.models import SafetyCheckIn, Visit
from tests.billing_data import billing_line
from tests.conftest import make_user, signed_in
from tests.scheduling_data import direct_appointment


def session(
    therapist: User,
    client: User,
    *,
    video: int,
    audio: int = 0,
    at_home: str = "home",
    start: datetime | None = None,
) -> Visit:
    """An ended session: ``video`` minutes of audio-video, then ``audio`` minutes audio-only."""
    start = (start or timezone.now() - timedelta(hours=2)).replace(microsecond=0)
    with time_machine.travel(start - timedelta(minutes=1), tick=False):
        visit = visits.start_unscheduled(therapist, client)
        visits.check_in(
            visit,
            client,
            location="Somewhere",
            callback_phone="555 0100",
            emergency_contact="Sam",
            at_home=at_home,
        )
    with time_machine.travel(start, tick=False):
        Visit.objects.filter(pk=visit.pk).update(client_channel="specific.x")
        visits.admit(visit.pk, therapist)
    if audio:
        with time_machine.travel(start + timedelta(minutes=video), tick=False):
            visits.switch_modality(visit.pk, therapist, "audio", reason="connection")
    with time_machine.travel(start + timedelta(minutes=video + audio), tick=False):
        visits.end(visit.pk, therapist)
    return Visit.objects.get(pk=visit.pk)


@pytest.fixture
def schedule(db: None) -> dict[str, Service]:
    return {
        code: Service.objects.create(cpt_code=code, label=label, fee=fee)
        for code, label, fee in [
            ("90832", "Therapy, about 30 minutes", 9000),
            ("90834", "Therapy, about 45 minutes", 15000),
            ("90837", "Therapy, about 60 minutes", 18000),
        ]
    }


@pytest.fixture
def billing_staff(db: None) -> User:
    return make_user("billing@example.test", "billing", "Bea Billing")


# --- The proposal ----------------------------------------------------------------------------


def test_a_video_session_that_stepped_down_to_audio_for_most_of_it_bills_audio_only(
    therapist_x: User, client_a: User, schedule: dict[str, Service]
) -> None:
    """The documented rule: audio-only for more than half the face-to-face minutes -> 93."""
    record_diagnosis(therapist_x, client_a, code="F32.1", rank="secondary", onset=None)
    record_diagnosis(therapist_x, client_a, code="F41.1", rank="primary", onset=None)
    visit = session(therapist_x, client_a, video=12, audio=38)
    line = services.propose_session_line(visit.pk)
    assert line is not None
    assert (line.cpt_code, line.modifiers, line.place_of_service) == ("90834", "93", "10")
    assert (line.video_minutes, line.audio_minutes) == (12, 38)
    assert line.diagnosis_codes == ["F41.1", "F32.1"]  # the primary first
    assert (line.fee, line.currency, line.status) == (15000, "USD", LineStatus.PROPOSED)
    assert "50 face-to-face minutes" in line.proposal_note
    # Proposing again returns the same line.
    assert services.propose_session_line(visit.pk) == line
    assert AuditEvent.objects.filter(action=Action.BILLING_LINE_PROPOSED).count() == 1


def test_a_session_mostly_on_video_bills_95_and_the_rule_is_configurable(
    therapist_x: User, client_a: User, client_b: User, therapist_y: User, schedule: Any
) -> None:
    visit = session(therapist_x, client_a, video=30, audio=25, at_home="elsewhere")
    line = services.propose_session_line(visit.pk)
    assert line is not None
    assert (line.cpt_code, line.modifiers, line.place_of_service) == ("90837", "95", "02")
    settings = BillingSettings.get()
    settings.audio_only_percent = 30
    settings.save()
    other = session(therapist_y, client_b, video=30, audio=25)
    assert services.propose_session_line(other.pk).modifiers == "93"  # type: ignore[union-attr]


def test_an_unsaid_place_and_a_short_session_are_left_to_the_therapist(
    therapist_x: User, client_a: User, schedule: Any
) -> None:
    visit = session(therapist_x, client_a, video=15, at_home="")
    line = services.propose_session_line(visit.pk)
    assert line is not None
    assert (line.cpt_code, line.place_of_service, line.fee) == ("", "", 0)
    assert "under 16" in line.proposal_note
    assert "did not say" in line.proposal_note


def test_the_end_of_a_session_proposes_its_line_once_the_practice_bills(
    therapist_x: User, client_a: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        visit = session(therapist_x, client_a, video=40)
    assert not BillingLine.objects.filter(visit=visit).exists()  # no fee schedule: no billing
    Service.objects.create(cpt_code="90834", label="Therapy", fee=15000)
    with django_capture_on_commit_callbacks(execute=True):
        visit = session(therapist_x, client_a, video=40)
    line = BillingLine.objects.get(visit=visit)
    assert (line.cpt_code, line.fee) == ("90834", 15000)


def test_the_fee_is_the_clients_then_the_therapists_then_the_schedules(
    therapist_x: User, client_a: User, schedule: dict[str, Service]
) -> None:
    therapy = schedule["90834"]

    def fee() -> int | None:
        return services.fee_for("90834", therapist=therapist_x, client=client_a)

    assert fee() == 15000
    TherapistFee.objects.create(therapist=therapist_x, service=therapy, fee=14000)
    assert fee() == 14000
    everything = ClientFee.objects.create(client=client_a, percent=33, set_by=therapist_x)
    assert fee() == 4620  # 33 % of 14000, in whole cents
    ClientFee.objects.create(client=client_a, service=therapy, fee=5000, set_by=therapist_x)
    assert fee() == 5000
    everything.delete()
    therapy.is_active = False
    therapy.save()
    assert fee() is None


def test_the_check_in_asks_whether_the_client_is_at_home(therapist_x: User, client_a: User) -> None:
    visit = visits.start_unscheduled(therapist_x, client_a)
    browser = signed_in(client_a)
    url = reverse("visit_checkin", args=[visit.uid])
    form = {
        "location": "The office",
        "callback_phone": "+1 555 0100",
        "emergency_contact": "Sam, +1 555 0101",
        "confirm": "on",
    }
    assert "Are you at home?" in browser.get(url).content.decode()
    response = browser.post(url, {**form, "at_home": "garden"})
    assert response.status_code == 400
    assert not SafetyCheckIn.objects.filter(visit=visit).exists()
    assert browser.post(url, {**form, "at_home": "elsewhere"}).status_code == 302
    assert SafetyCheckIn.objects.get(visit=visit).at_home == "elsewhere"


# --- Confirming with the note ------------------------------------------------------------------

GOOD_LINE = {
    "cpt_code": "90834",
    "add_ons": "90785",
    "modifiers": "95",
    "place_of_service": "10",
    "diagnosis_codes": "F41.1, Z63.0",
    "units": "1",
    "fee": "140.00",
}


def test_the_therapist_confirms_the_line_from_the_sessions_page(
    therapist_x: User, client_a: User, schedule: Any
) -> None:
    visit = session(therapist_x, client_a, video=45, at_home="")
    browser = signed_in(therapist_x)
    page = browser.get(reverse("visit_billing", args=[visit.uid])).content.decode()
    assert "No line has been proposed" in page
    response = browser.post(reverse("visit_billing", args=[visit.uid]))
    line = BillingLine.objects.get(visit=visit)
    assert response["Location"] == reverse("billing_line", args=[line.pk])
    page = browser.get(response["Location"]).content.decode()
    assert "Confirm or edit" in page
    response = browser.post(reverse("billing_line", args=[line.pk]), GOOD_LINE)
    assert response.status_code == 302
    line.refresh_from_db()
    assert line.status == LineStatus.CONFIRMED
    assert (line.cpt_code, line.place_of_service, line.fee) == ("90834", "10", 14000)
    assert line.add_ons == [{"code": "90785", "units": 1}]
    assert line.diagnosis_codes == ["F41.1", "Z63.0"]
    assert line.confirmed_by == therapist_x
    confirmed = AuditEvent.objects.get(action=Action.BILLING_LINE_CONFIRMED)
    assert confirmed.client == client_a
    assert AuditEvent.objects.filter(action=Action.BILLING_VIEWED, client=client_a).exists()


def test_the_note_links_to_the_sessions_billing(therapist_x: User, client_a: User) -> None:
    visit = session(therapist_x, client_a, video=45)
    page = signed_in(therapist_x).get(reverse("visit_note", args=[visit.uid])).content.decode()
    assert reverse("visit_billing", args=[visit.uid]) in page


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("cpt_code", "9083", "five-character procedure code"),
        ("cpt_code", "", "This field is required"),
        ("fee", "-1", "Enter an amount"),
        ("fee", "1.005", "Enter an amount"),
        ("fee", "ten", "Enter an amount"),
        ("units", "0", "greater than or equal to 1"),
        ("units", "25", "less than or equal to 24"),
        ("modifiers", "955", "two letters or digits"),
        ("modifiers", "95,93,GT,GA,FQ", "Up to four"),
        ("diagnosis_codes", "XYZ", "Not an ICD-10-CM code: XYZ"),
        ("add_ons", "90840x0", "between 1 and 24"),
        ("add_ons", "9084", "a code, or a code x units"),
        ("place_of_service", "", "This field is required"),
        ("place_of_service", "11", "Select a valid choice"),
    ],
)
def test_bad_input_on_the_line_form_changes_nothing(
    therapist_x: User, client_a: User, field: str, value: str, message: str
) -> None:
    line = billing_line(client_a, therapist_x)
    response = signed_in(therapist_x).post(
        reverse("billing_line", args=[line.pk]), {**GOOD_LINE, field: value}
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    line.refresh_from_db()
    assert (line.status, line.fee, line.cpt_code) == (LineStatus.PROPOSED, 15000, "90834")
    assert not AuditEvent.objects.filter(action=Action.BILLING_LINE_CONFIRMED).exists()


def test_only_the_rendering_therapist_or_the_office_confirms(
    therapist_x: User, therapist_y: User, client_a: User, admin: User
) -> None:
    line = billing_line(client_a, therapist_y)  # rendered by a colleague
    url = reverse("billing_line", args=[line.pk])
    assert signed_in(therapist_x).get(url).status_code == 200  # a therapist of the client reads
    assert signed_in(therapist_x).post(url, GOOD_LINE).status_code == 404
    assert signed_in(admin).post(url, GOOD_LINE).status_code == 302


# --- Locking and corrections -------------------------------------------------------------------


def _billed(client: User, therapist: User) -> BillingLine:
    line = billing_line(client, therapist, status=LineStatus.CONFIRMED)
    return services.lock_lines([line], actor=therapist)[0]


def test_a_billed_line_refuses_change_in_the_services_and_on_its_page(
    therapist_x: User, client_a: User
) -> None:
    line = _billed(client_a, therapist_x)
    values = services.LineValues("90837", [], ["95"], "10", ["F41.1"], 1, 1)
    with pytest.raises(LockedLine):
        services.confirm_line(line, values, actor=therapist_x)
    with pytest.raises(LockedLine):
        services.void_line(line, actor=therapist_x)
    browser = signed_in(therapist_x)
    response = browser.post(reverse("billing_line", args=[line.pk]), GOOD_LINE)
    assert response.status_code == 400
    assert "billed and locked" in response.content.decode()
    browser.post(reverse("void_billing_line", args=[line.pk]))
    line.refresh_from_db()
    assert (line.status, line.cpt_code, line.fee) == (LineStatus.BILLED, "90834", 15000)


def test_locking_takes_confirmed_lines_only_and_all_or_none(
    therapist_x: User, client_a: User
) -> None:
    confirmed = billing_line(client_a, therapist_x, status=LineStatus.CONFIRMED)
    proposed = billing_line(client_a, therapist_x)
    with pytest.raises(services.BillingError, match="Only confirmed lines"):
        services.lock_lines([confirmed, proposed], actor=therapist_x)
    confirmed.refresh_from_db()
    assert confirmed.status == LineStatus.CONFIRMED
    assert services.unbilled_lines(client_a) == [confirmed]
    assert services.lock_lines([confirmed], actor=therapist_x)[0].billed_at is not None
    assert services.unbilled_lines(client_a) == []
    assert AuditEvent.objects.get(action=Action.BILLING_LINES_BILLED).detail["lines"] == [
        confirmed.pk
    ]


def test_a_correction_is_a_credit_and_a_new_charge(
    therapist_x: User, client_a: User, admin: User
) -> None:
    line = _billed(client_a, therapist_x)
    browser = signed_in(admin)
    url = reverse("correct_billing_line", args=[line.pk])
    assert signed_in(therapist_x).get(url).status_code == 403
    bad = browser.post(url, {**GOOD_LINE, "fee": "-3"})
    assert bad.status_code == 400
    assert BillingLine.objects.count() == 1
    response = browser.post(url, {**GOOD_LINE, "cpt_code": "90837", "fee": "180"})
    assert response.status_code == 302
    credit = BillingLine.objects.get(corrects=line, kind=LineKind.CREDIT)
    rebill = BillingLine.objects.get(corrects=line, kind=LineKind.CHARGE)
    assert (credit.cpt_code, credit.amount, credit.status) == ("90834", -15000, "confirmed")
    assert (rebill.cpt_code, rebill.amount, rebill.status) == ("90837", 18000, "confirmed")
    line.refresh_from_db()
    assert (line.status, line.cpt_code, line.fee) == (LineStatus.BILLED, "90834", 15000)
    assert sum(x.amount for x in BillingLine.objects.filter(client=client_a)) == 18000
    # A line is credited once.
    again = browser.post(url, {"action": "credit"})
    assert again.status_code == 400
    assert BillingLine.objects.filter(kind=LineKind.CREDIT).count() == 1


def test_a_line_may_be_credited_without_a_rebill(
    therapist_x: User, client_a: User, admin: User
) -> None:
    line = _billed(client_a, therapist_x)
    response = signed_in(admin).post(
        reverse("correct_billing_line", args=[line.pk]), {"action": "credit"}
    )
    assert response.status_code == 302
    assert [x.amount for x in BillingLine.objects.order_by("pk")] == [15000, -15000]


# --- Missed sessions ---------------------------------------------------------------------------


def test_a_no_show_is_charged_by_the_practices_policy(therapist_x: User, client_a: User) -> None:
    session_type = SessionType.objects.create(therapist=therapist_x, name="Session", minutes=50)
    appointment = direct_appointment(
        session_type, client_a, timezone.now().replace(microsecond=0) - timedelta(days=1)
    )
    Appointment.objects.filter(pk=appointment.pk).update(status=AppointmentStatus.NO_SHOW)
    browser = signed_in(therapist_x)
    charge = reverse("charge_missed", args=[client_a.pk, appointment.pk])
    assert (
        "Propose the fee"
        not in browser.get(reverse("client_billing", args=[client_a.pk])).content.decode()
    )
    browser.post(charge)
    assert not BillingLine.objects.exists()  # no policy, no fee
    settings = BillingSettings.get()
    settings.no_show_fee = 5000
    settings.save()
    assert (
        "Propose the fee"
        in browser.get(reverse("client_billing", args=[client_a.pk])).content.decode()
    )
    browser.post(charge)
    browser.post(charge)
    line = BillingLine.objects.get()
    assert (line.item, line.fee, line.cpt_code) == ("no_show", 5000, "")
    response = browser.post(
        reverse("billing_line", args=[line.pk]),
        {"cpt_code": "", "place_of_service": "", "units": "1", "fee": "50"},
    )
    assert response.status_code == 302
    line.refresh_from_db()
    assert line.status == LineStatus.CONFIRMED


# --- The practice's pages ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"cpt_code": "ABC", "label": "X", "fee": "1"}, "five-character procedure code"),
        ({"cpt_code": "90834", "label": "Dup", "fee": "1"}, "already exists"),
        ({"cpt_code": "90846", "label": "", "fee": "1"}, "This field is required"),
        ({"cpt_code": "90846", "label": "X", "fee": "1.2.3"}, "Enter an amount"),
        ({"cpt_code": "90846", "label": "X", "fee": ""}, "This field is required"),
        ({"cpt_code": "90846", "label": "x" * 81, "fee": "1"}, "at most 80 characters"),
    ],
)
def test_bad_input_on_the_fee_schedule(
    admin: User, schedule: Any, data: dict[str, str], message: str
) -> None:
    response = signed_in(admin).post(reverse("fee_schedule"), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Service.objects.count() == 3


def test_the_office_keeps_the_fee_schedule_and_therapists_fees(
    admin: User, therapist_x: User, schedule: dict[str, Service]
) -> None:
    browser = signed_in(admin)
    response = browser.post(
        reverse("fee_schedule"),
        {"cpt_code": "90846", "label": "Family, client absent", "fee": "160"},
    )
    assert response.status_code == 302
    assert Service.objects.get(cpt_code="90846").fee == 16000
    therapy = schedule["90834"]
    url = reverse("edit_service", args=[therapy.pk])
    bad = browser.post(url, {"action": "therapist_fee", "own-therapist": "x", "own-fee": "1"})
    assert bad.status_code == 400
    browser.post(
        url, {"action": "therapist_fee", "own-therapist": therapist_x.pk, "own-fee": "140"}
    )
    assert TherapistFee.objects.get(therapist=therapist_x).fee == 14000
    browser.post(url, {"action": "therapist_fee", "own-therapist": therapist_x.pk, "own-fee": ""})
    assert not TherapistFee.objects.exists()
    browser.post(url, {"cpt_code": "90834", "label": "Therapy 45", "fee": "151.50"})
    therapy.refresh_from_db()
    assert (therapy.label, therapy.fee) == ("Therapy 45", 15150)
    assert AuditEvent.objects.filter(action=Action.BILLING_FEES_CHANGED).count() == 4


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"percent": "50", "fee": "10", "service": "S"}, "either a fixed fee or a percentage"),
        ({"reason": "x"}, "either a fixed fee or a percentage"),
        ({"percent": "101"}, "less than or equal to 100"),
        ({"percent": "-1"}, "greater than or equal to 0"),
        ({"fee": "10"}, "A fixed fee is for one service"),
        ({"fee": "10", "service": "999999"}, "Select a valid choice"),
        ({"fee": "1,0.0.1", "service": "S"}, "Enter an amount"),
    ],
)
def test_bad_input_on_a_clients_fee(
    therapist_x: User,
    client_a: User,
    schedule: dict[str, Service],
    data: dict[str, str],
    message: str,
) -> None:
    if data.get("service") == "S":
        data = {**data, "service": str(schedule["90834"].pk)}
    response = signed_in(therapist_x).post(reverse("client_fees", args=[client_a.pk]), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ClientFee.objects.exists()


def test_a_clients_therapist_sets_and_removes_a_sliding_fee(
    therapist_x: User, therapist_y: User, client_a: User, schedule: dict[str, Service]
) -> None:
    browser = signed_in(therapist_x)
    url = reverse("client_fees", args=[client_a.pk])
    data = {"service": str(schedule["90834"].pk), "fee": "60", "reason": "Lost their job"}
    assert browser.post(url, data).status_code == 302
    fee = ClientFee.objects.get()
    assert (fee.fee, fee.reason, fee.set_by) == (6000, "Lost their job", therapist_x)
    assert "Lost their job" in browser.get(url).content.decode()
    assert signed_in(therapist_y).get(url).status_code == 404
    remove = reverse("remove_client_fee", args=[client_a.pk, fee.pk])
    assert signed_in(therapist_y).post(remove).status_code == 404
    assert browser.post(remove).status_code == 302
    assert not ClientFee.objects.exists()
    assert AuditEvent.objects.filter(action=Action.BILLING_CLIENT_FEE_CHANGED).count() == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"currency": "us1"}, "ISO 4217"),
        ({"currency": "usd1"}, "at most 3 characters"),
        ({"tax_id": "123"}, "two digits, a dash and seven digits"),
        ({"audio_only_percent": "100"}, "less than or equal to 99"),
        ({"modifier_rule": "guess"}, "Select a valid choice"),
        ({"audio_only_modifier": "GT"}, "Select a valid choice"),
        ({"no_show_fee": "-5"}, "Enter an amount"),
        ({"late_cancel_fee": "1.001"}, "Enter an amount"),
    ],
)
def test_bad_input_on_the_billing_settings(
    billing_staff: User, change: dict[str, str], message: str
) -> None:
    good = {
        "currency": "USD",
        "modifier_rule": "audio_share",
        "audio_only_percent": "50",
        "audio_only_modifier": "93",
        "tax_id": "12-3456789",
        "no_show_fee": "75",
    }
    browser = signed_in(billing_staff)
    response = browser.post(reverse("billing_settings"), {**good, **change})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert BillingSettings.get().no_show_fee is None
    assert browser.post(reverse("billing_settings"), good).status_code == 302
    settings = BillingSettings.get()
    assert (settings.no_show_fee, settings.tax_id) == (7500, "12-3456789")


def test_provider_details_need_a_valid_npi(admin: User, therapist_x: User) -> None:
    browser = signed_in(admin)
    url = reverse("provider_details", args=[therapist_x.pk])
    response = browser.post(url, {"npi": "1234567890", "credentials": "LCSW"})
    assert response.status_code == 400
    assert "valid check digit" in response.content.decode()
    assert not ProviderDetails.objects.exists()
    assert browser.post(url, {"npi": "1234567893", "credentials": "LCSW"}).status_code == 302
    assert ProviderDetails.objects.get(therapist=therapist_x).npi == "1234567893"


def test_session_types_bill_as_chosen(admin: User, therapist_x: User) -> None:
    session_type = SessionType.objects.create(therapist=therapist_x, name="Intake", minutes=60)
    browser = signed_in(admin)
    url = reverse("session_type_kind", args=[session_type.pk])
    browser.post(url, {"kind": "guess"})
    assert not session_type.__class__.objects.filter(billing__isnull=False).exists()
    browser.post(url, {"kind": "intake"})
    assert SessionType.objects.get(pk=session_type.pk).billing.kind == "intake"
    assert (
        "selected>Diagnostic evaluation"
        in browser.get(reverse("billing_settings")).content.decode()
    )


# --- The billing role --------------------------------------------------------------------------


def test_billing_staff_see_billing_and_nothing_of_the_record(
    billing_staff: User, therapist_x: User, client_a: User
) -> None:
    assert billing_staff.requires_mfa
    visit = session(therapist_x, client_a, video=45)
    browser = signed_in(billing_staff)
    assert browser.get(reverse("home"))["Location"] == reverse("billing_home")
    pages: list[tuple[str, list[Any]]] = [
        ("billing_home", []),
        ("client_billing", [client_a.pk]),
        ("client_fees", [client_a.pk]),
        ("visit_billing", [visit.uid]),
        ("fee_schedule", []),
        ("billing_settings", []),
    ]
    for name, args in pages:
        assert browser.get(reverse(name, args=args)).status_code == 200, name
    record: list[tuple[str, list[Any]]] = [
        ("client_record", [client_a.pk]),
        ("client_diagnoses", [client_a.pk]),
        ("visit_note", [visit.uid]),
        ("visit_timeline", [visit.uid]),
        ("caseload", []),
    ]
    for name, args in record:
        assert browser.get(reverse(name, args=args)).status_code in {403, 404}, name
    views = AuditEvent.objects.filter(action=Action.BILLING_VIEWED, actor=billing_staff)
    assert views.filter(client=client_a).count() == 3


def test_the_billing_lists_take_as_many_queries_for_forty_lines_as_for_one(
    therapist_x: User, client_a: User, admin: User
) -> None:
    """No query per line: an N+1 on the client's billing or the billing home fails here."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries(browser: Any, url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert browser.get(url).status_code == 200
        return len(captured)

    billing_line(client_a, therapist_x)
    pages = [reverse("client_billing", args=[client_a.pk]), reverse("billing_home")]
    for user in (therapist_x, admin):
        browser = signed_in(user)
        [queries(browser, url) for url in pages]  # the session's first requests do more
        one = [queries(browser, url) for url in pages]
        for _n in range(39):
            billing_line(client_a, therapist_x)
        assert [queries(browser, url) for url in pages] == one, user
        BillingLine.objects.exclude(pk=BillingLine.objects.order_by("pk").first().pk).delete()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("kind", "video", "code", "add_ons"),
    [
        ("intake", 70, "90791", []),
        ("crisis", 80, "90839", [{"code": "90840", "units": 1}]),
        ("family_with", 50, "90847", []),
        ("psychotherapy", 50, "90834", []),
    ],
)
def test_the_session_type_chooses_the_code_family(
    therapist_x: User, client_a: User, kind: str, video: int, code: str, add_ons: list[Any]
) -> None:
    from rapport.billing.models import SessionTypeBilling

    session_type = SessionType.objects.create(therapist=therapist_x, name=kind, minutes=60)
    SessionTypeBilling.objects.create(session_type=session_type, kind=kind)
    appointment = direct_appointment(
        session_type, client_a, timezone.now().replace(microsecond=0) + timedelta(days=2)
    )
    visit = session(therapist_x, client_a, video=video)
    Visit.objects.filter(pk=visit.pk).update(appointment=appointment)
    line = services.propose_session_line(visit.pk)
    assert line is not None
    assert (line.cpt_code, line.add_ons, line.appointment_id) == (code, add_ons, appointment.pk)
