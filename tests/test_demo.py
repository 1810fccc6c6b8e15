"""The demo practice: what `rapport demo` seeds, and that seeding again keeps the data."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.test import Client

from rapport.accounts.models import User
from rapport.care.models import CareRelationship, ClientProfile
from rapport.home.demo import DEMO_PASSWORD, demo_logins, seed_demo
from tests.conftest import signed_in


def test_seed_creates_the_practice_once(db: Any) -> None:
    assert seed_demo() is True
    counts = {
        role: User.objects.filter(role=role).count() for role in ("admin", "therapist", "client")
    }
    assert counts == {"admin": 1, "therapist": 3, "client": 7}  # Noor Haddad is new
    assert CareRelationship.objects.filter(status="active").count() == 6
    profile = ClientProfile.objects.get(client__email="client@demo.rapport.test")
    profile.preferred_name = "Changed by a visitor"
    profile.save()

    assert seed_demo() is False
    assert User.objects.count() == 11
    profile.refresh_from_db()
    assert profile.preferred_name == "Changed by a visitor", "a second run keeps the data"


def test_demo_logins_sign_in_and_every_page_shows_the_banner(db: Any) -> None:
    seed_demo()
    for _role, email, password in demo_logins():
        assert password == DEMO_PASSWORD
        assert User.objects.get(email=email).check_password(password)
    browser = Client()
    page = browser.get("/accounts/login/").content.decode()
    assert 'class="demo-banner"' in page
    response = browser.post(
        "/accounts/login/", {"login": "client@demo.rapport.test", "password": DEMO_PASSWORD}
    )
    assert response.status_code == 302
    home = browser.get("/").content.decode()
    assert 'class="demo-banner"' in home
    assert "Dr. Maya Okafor" in home


def test_seed_gives_every_therapist_hours_types_and_two_weeks_of_sessions(db: Any) -> None:
    from django.utils import timezone

    from rapport.scheduling.availability import open_slots
    from rapport.scheduling.consent import has_current_consent
    from rapport.scheduling.models import Appointment, ConsentSignature, SessionType

    seed_demo()
    now = timezone.now()
    for therapist in User.objects.filter(role="therapist"):
        individual = SessionType.objects.get(therapist=therapist, name="Individual session")
        assert individual.modalities == ["video", "audio", "text"]
        assert SessionType.objects.get(therapist=therapist, name="Intake").minutes == 60
        assert open_slots(individual), f"{therapist} has no open slots"
        # The seeded fortnight; Jordan Chen's course of therapy before it is tested below.
        mine = Appointment.objects.filter(therapist=therapist, visit__isnull=True)
        assert mine.filter(starts_at__gt=now, status="confirmed").exists()
        assert mine.filter(starts_at__lt=now).exists()
        assert all(abs(a.starts_at - now).days <= 14 for a in mine), (
            "two weeks either side of today"
        )
    assert Appointment.objects.filter(status="no_show").count() == 1
    late = Appointment.objects.get(status="cancelled")
    assert late.late_cancellation and late.cancelled_by == late.client
    assert Appointment.objects.filter(status="completed").exists()
    unsigned = [
        c.full_name for c in User.objects.filter(role="client") if not has_current_consent(c)
    ]
    assert sorted(unsigned) == ["Noor Haddad", "Sam Rivera"]  # Noor is not in care yet
    signatures = ConsentSignature.objects.count()

    assert seed_demo() is False
    assert ConsentSignature.objects.count() == signatures
    assert SessionType.objects.count() == 6


def test_seed_gives_a_course_of_therapy_with_reliable_improvement(db: Any) -> None:
    """Jordan Chen's past: weekly visits with their timeline, feedback after each, PHQ-9 and
    GAD-7 every two weeks improving past the reliable change thresholds; Sam Rivera's start."""
    from django.utils import timezone

    from rapport.measures.instruments import definition_of
    from rapport.measures.models import Response, SafetyAlert
    from rapport.measures.scoring import classify_change
    from rapport.scheduling.models import Appointment
    from rapport.visits.models import EventKind, Visit, VisitEvent
    from rapport.visits.services import summary

    seed_demo()
    jordan = User.objects.get(email="j.chen@demo.rapport.test")
    now = timezone.now()
    past = Visit.objects.filter(client=jordan).order_by("started_at")
    assert past.count() == 9
    fortnight_ago = now - timedelta(days=14)
    assert all(v.is_ended and v.started_at and v.started_at < fortnight_ago for v in past)
    assert past[0].started_at and (now - past[0].started_at).days >= 70, "eleven weeks back"
    minutes = [summary(v, list(v.events.order_by("at", "pk")), None).minutes for v in past]
    assert sum(1 for m in minutes if m["video"] and not m["audio"]) == 7
    assert sum(1 for m in minutes if m["video"] and m["audio"]) == 1, "one stepped down"
    assert sum(1 for m in minutes if m["audio"] and not m["video"]) == 1, "one audio call"
    assert all(round(sum(m.values())) == 50 for m in minutes)
    joined = VisitEvent.objects.filter(visit__in=past, kind=EventKind.JOINED).count()
    assert joined == 9
    completed = Appointment.objects.filter(visit__in=past, status="completed")
    assert completed.count() == 9

    def totals(key: str) -> list[int]:
        rows = Response.objects.filter(client=jordan, instrument__key=key).order_by("submitted_at")
        return [json.loads(r.result)["total"] for r in rows]

    phq9, gad7 = totals("phq9"), totals("gad7")
    assert phq9 == [17, 15, 12, 10, 8, 7] and gad7 == [14, 12, 10, 9, 7, 6]
    for key, series in (("phq9", phq9), ("gad7", gad7)):
        definition = definition_of(Response.objects.filter(instrument__key=key)[0].instrument)
        assert classify_change(definition, series[0], series[-1]).kind == "improvement"
    first = Response.objects.filter(client=jordan, instrument__key="phq9").earliest("submitted_at")
    assert (now - first.submitted_at).days >= 70, "answered on the day, not today"
    assert all(
        json.loads(r.answers)["9"] == 0
        for r in Response.objects.filter(client=jordan, instrument__key="phq9")
    )
    assert not SafetyAlert.objects.exists()
    assert Response.objects.filter(client=jordan, instrument__key="rapport-feedback").count() == 9
    sam = User.objects.get(email="client@demo.rapport.test")
    assert Response.objects.filter(client=sam, instrument__key="phq9").count() == 2
    assert not Visit.objects.filter(client=sam).exists(), "no consent, no visits"
    responses = Response.objects.count()

    assert seed_demo() is False
    assert Response.objects.count() == responses


def test_demo_progress_page_charts_the_improvement(db: Any) -> None:
    seed_demo()
    jordan = User.objects.get(email="j.chen@demo.rapport.test")
    therapist = User.objects.get(email="therapist@demo.rapport.test")
    TOTP.activate(therapist, generate_totp_secret())  # as the demo therapist does on first sign-in
    response = signed_in(therapist).get(f"/clients/{jordan.pk}/progress/")
    assert response.status_code == 200
    page = response.content.decode()
    for name in ("PHQ-9", "GAD-7"):
        chart = f"<title id=[^>]*>{name} scores over time</title>"
        assert re.search(chart, page), f"no {name} chart"
    assert page.count('<svg class="chart"') >= 3, "PHQ-9, GAD-7 and the session feedback"
    assert page.count("Reliable improvement") >= 2
    mine = signed_in(jordan).get("/measures/progress/").content.decode()
    assert "PHQ-9 scores over time" in mine, "the client sees their own chart"


def test_demo_holds_a_clinical_record(db: Any) -> None:
    """Jordan Chen: an intake, a diagnosis, a plan whose PHQ-9 goal is met by the seeded
    history, a safety plan, three signed notes (one with an addendum) and one unsigned note
    waiting on the therapist's home page."""
    from rapport.diagnoses.services import active_diagnoses
    from rapport.intake.models import IntakeSubmission
    from rapport.notes.models import Addendum, Note, NoteStatus
    from rapport.notes.waiting import waiting_notes
    from rapport.plans.models import Goal
    from rapport.plans.progress import Status, goal_progress
    from rapport.plans.services import latest_final

    seed_demo()
    jordan = User.objects.get(email="j.chen@demo.rapport.test")
    therapist = User.objects.get(email="therapist@demo.rapport.test")
    assert IntakeSubmission.objects.filter(intake__client=jordan).count() == 1
    assert [d.code for d in active_diagnoses(jordan)] == ["F41.1", "F32.1"]
    version = latest_final(jordan.treatment_plan)
    assert version is not None
    goals = list(Goal.objects.filter(version=version).order_by("position"))
    progress = goal_progress(jordan, goals, version.starts_on)
    assert [p.status for p in progress] == [Status.MET, Status.MET]
    assert [v.number for v in jordan.safety_plan.versions.all()] == [1]
    notes = Note.objects.filter(client=jordan)
    assert notes.filter(status=NoteStatus.SIGNED).count() == 3
    assert Addendum.objects.filter(note__client=jordan).count() == 1
    waiting = [w for w in waiting_notes(therapist) if w.client_name == jordan.full_name]
    assert [w.has_draft for w in waiting] == [True] and waiting[0].hours_late > 0
    TOTP.activate(therapist, generate_totp_secret())
    home = signed_in(therapist).get("/").content.decode()
    assert "Jordan Chen" in home.split("Notes to write", 1)[1]
    assert seed_demo() is False, "a second run adds nothing"


def test_demo_client_has_homework_and_a_journal(db: Any) -> None:
    """Jordan Chen: a thought record handed in with the therapist's comment, a sleep diary due,
    and a month of journal entries with a mood, some shared; the therapist sees the shared ones
    only. A demo practice from before this part gets it on the next run, and only once."""
    from django.utils import timezone

    from rapport.homework.models import Assignment, Homework, Status
    from rapport.journal.access import shared_of
    from rapport.journal.models import JournalEntry

    assert seed_demo() is True
    jordan = User.objects.get(email="j.chen@demo.rapport.test")
    therapist = User.objects.get(email="therapist@demo.rapport.test")
    today = timezone.localdate()

    def between_sessions() -> tuple[Any, ...]:
        pieces = Homework.objects.filter(client=jordan).order_by("due_on")
        entries = JournalEntry.objects.filter(client=jordan).order_by("written_at")
        return (
            [(h.assignment.exercise, h.status, h.due_on < today, bool(h.comment)) for h in pieces],
            [(e.mood, e.shared) for e in entries],
        )

    pieces, entries = between_sessions()
    assert pieces == [
        ("thought_record", Status.SUBMITTED, True, True),
        ("sleep_diary", Status.ASSIGNED, False, False),
    ]
    assert len(entries) == 8 and all(mood is not None for mood, _shared in entries)
    assert {shared for _mood, shared in entries} == {True, False}
    written = list(JournalEntry.objects.filter(client=jordan).values_list("written_at", flat=True))
    assert min(written) < timezone.now() - timedelta(weeks=3) and max(written) < timezone.now()
    shared = shared_of(jordan).count()
    assert 0 < shared < len(entries)

    TOTP.activate(therapist, generate_totp_secret())
    browser = signed_in(therapist)
    journal = browser.get(f"/clients/{jordan.pk}/journal/").content.decode()
    assert len(re.findall(r"mood \d+ of 10", journal)) == shared
    assert "Lay awake going over the reorganisation" not in journal  # a private entry
    progress = browser.get(f"/clients/{jordan.pk}/progress/").content.decode()
    assert 'id="h-mood"' in progress
    homework = browser.get(f"/clients/{jordan.pk}/homework/").content.decode()
    assert "Thought record" in homework and "Sleep diary" in homework

    assert seed_demo() is False
    assert between_sessions() == (pieces, entries), "a second run adds nothing"
    JournalEntry.objects.filter(client=jordan).delete()
    Homework.objects.filter(client=jordan).delete()
    Assignment.objects.filter(client=jordan).delete()
    assert seed_demo() is True, "an older demo practice gets the part"
    assert between_sessions() == (pieces, entries)


def test_demo_has_billing_built_through_the_services(db: Any) -> None:
    from django.utils import timezone

    from rapport.billing import ledger
    from rapport.billing.access import waiting_lines
    from rapport.billing.models import (
        BillingLine,
        BillingSettings,
        ClientFee,
        Invoice,
        LineItem,
        Payment,
        ProviderDetails,
        Service,
        npi_is_valid,
    )
    from rapport.billing.superbill import build_superbill, render_pdf, superbill_months
    from rapport.visits.models import Visit

    seed_demo()
    settings = BillingSettings.get()
    settings.full_clean()
    assert settings.currency == "USD" and settings.address and settings.phone
    therapist = User.objects.get(email="therapist@demo.rapport.test")
    details = ProviderDetails.objects.get(therapist=therapist)
    details.full_clean()
    assert npi_is_valid(details.npi) and details.credentials and details.licence_state
    codes = set(Service.objects.values_list("cpt_code", flat=True))
    assert codes >= {"90791", "90832", "90834", "90837", "90846", "90847", "90839", "90840"}
    assert ClientFee.objects.get(client__email="client@demo.rapport.test").percent == 60

    jordan = User.objects.get(email="j.chen@demo.rapport.test")
    sessions = BillingLine.objects.filter(client=jordan, item=LineItem.SESSION)
    assert sessions.count() == Visit.objects.filter(client=jordan).count() == 9
    # Proposed from the visit timelines: the intake, 45-minute sessions, one mostly audio.
    by_date = list(sessions.order_by("date_of_service"))
    assert by_date[0].cpt_code == "90791"
    assert {line.cpt_code for line in by_date[1:]} == {"90834"}
    assert sorted(line.modifiers for line in by_date) == ["93", "93"] + ["95"] * 7
    latest = by_date[-1]
    assert latest.status == "proposed" and latest.place_of_service == ""
    assert latest in waiting_lines(therapist), "one line waits for the therapist"
    billed = sessions.filter(status="billed")
    assert billed.count() >= 7, "most sessions are billed"
    assert all(line.is_locked for line in billed)
    assert BillingLine.objects.filter(client=jordan, item=LineItem.NO_SHOW).exists()

    invoices = list(Invoice.objects.filter(client=jordan, status="issued").order_by("issued_on"))
    assert 1 <= len(invoices) <= 3
    for invoice in invoices:
        entries = invoice.entries.filter(live=True)
        amounts = [entry.amount for entry in entries]
        assert invoice.total == sum(e.line.amount for e in entries) == sum(amounts)
        assert all(e.line.status == "billed" for e in entries)
    totals = sum(invoice.total for invoice in invoices)
    paid = sum(p.amount for p in Payment.objects.filter(client=jordan))
    assert 0 < paid < totals
    balance = ledger.client_balance(jordan)
    assert balance == totals - paid > 0
    assert sum(ledger.invoice_balance(invoice) for invoice in invoices) == balance
    if len(invoices) > 1:
        assert ledger.invoice_balance(invoices[0]) == 0, "the first invoice is paid"
    tomorrow = timezone.localdate() + timedelta(days=1)
    assert invoices[0].issued_on is not None
    account = ledger.statement(jordan, invoices[0].issued_on, tomorrow)
    assert account.closing == balance and account.opening == 0

    month = superbill_months(jordan)[0]
    last_day = (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    bill = build_superbill(jordan, start=month, end=last_day)
    assert bill.line_ids
    pdf = render_pdf(bill, actor=therapist, via="test")
    assert pdf.content.startswith(b"%PDF")

    assert seed_demo() is False
    assert BillingLine.objects.filter(client=jordan).count() == sessions.count() + 1
    assert Invoice.objects.filter(client=jordan).count() == len(invoices), "seeded once"


def test_demo_billing_pages_show_the_account(db: Any) -> None:
    from rapport.billing import ledger
    from rapport.billing.models import BillingLine
    from rapport.billing.templatetags.money import money

    seed_demo()
    jordan = User.objects.get(email="j.chen@demo.rapport.test")
    therapist = User.objects.get(email="therapist@demo.rapport.test")
    TOTP.activate(therapist, generate_totp_secret())
    waiting = BillingLine.objects.get(client=jordan, status="proposed")
    home = signed_in(therapist).get("/billing/")
    assert home.status_code == 200
    assert f"/billing/lines/{waiting.pk}/" in home.content.decode()
    mine = signed_in(jordan).get("/my/billing/")
    assert mine.status_code == 200
    assert money(ledger.client_balance(jordan), "USD") in mine.content.decode()
    assert signed_in(jordan).get("/my/billing/statement/").status_code == 200
    superbills = signed_in(jordan).get("/my/superbills/")
    assert superbills.status_code == 200


def test_demo_shows_the_way_in_for_new_clients(db: Any) -> None:
    from rapport.accounts.models import Practice
    from rapport.matching.models import CareRequest, Offer, TherapistProfile

    seed_demo()
    assert TherapistProfile.objects.filter(accepting_new_clients=True).count() == 3
    assert Practice.get().allow_client_self_registration
    signup = Client().get("/accounts/signup/")
    assert signup.status_code == 200 and 'name="date_of_birth"' in signup.content.decode()

    # Noor signed up, sent the intake and screen, and chose the therapist matching suggested.
    noor = User.objects.get(email="n.haddad@demo.rapport.test")
    request = CareRequest.objects.get(client=noor)
    assert request.status == CareRequest.Status.OFFERED
    [suggestion] = request.suggestions
    assert suggestion["facts"]["region"] == "US-NY" and suggestion["facts"]["times"] > 0
    offer = Offer.objects.get(request=request)
    okafor = User.objects.get(email="therapist@demo.rapport.test")
    assert offer.therapist == okafor and offer.status == "pending"
    TOTP.activate(okafor, generate_totp_secret())  # as the demo therapist does on first sign-in
    shown = signed_in(okafor).get(f"/care-offers/{offer.pk}/").content.decode()
    assert "Noor" in shown and "Haddad" not in shown  # the first name only before accepting
    admin = User.objects.get(email="admin@demo.rapport.test")
    TOTP.activate(admin, generate_totp_secret())
    queue = signed_in(admin).get("/practice/intake-queue/")
    assert "Noor Haddad" in queue.content.decode()
    assert any(email == noor.email for _role, email, _password in demo_logins())

    # Dr. Okafor's intake is for new clients, her weekly session for returning ones.
    from rapport.matching.services import accept
    from rapport.scheduling.booking import bookable_types

    def kinds(client: User) -> list[str]:
        return [t.name for t in bookable_types(client)]

    assert kinds(User.objects.get(email="j.chen@demo.rapport.test")) == ["Individual session"]
    accept(offer, actor=okafor)
    assert kinds(noor) == ["Intake"]
