"""A client whose data is everywhere Rapport keeps a client's data, each piece carrying one
canary string, for the erasure tests (tests/test_erasure.py)."""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta

from allauth.account.models import EmailAddress
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory
from django.utils import timezone

from rapport.accounts.models import Invitation, User
from rapport.audit.services import Action, record
from rapport.care.models import CareRelationship, ClientProfile, EmergencyAccess
from rapport.diagnoses.services import record_diagnosis
from rapport.intake.services import submit
from rapport.measures import alerts
from rapport.measures.models import SafetyAlert
from rapport.messaging.access import conversation_for
from rapport.messaging.attachments import store_attachment
from rapport.messaging.models import Attachment
from rapport.messaging.services import edit_message, send_message
from rapport.notes import services as notes
from rapport.plans.services import add_goal, add_intervention, finalise, sign_plan, start_draft
from rapport.safety.forms import plan_content
from rapport.safety.services import save_version
from rapport.scheduling.models import ConsentSignature
from rapport.visits import services as visits
from rapport.visits.models import EventKind, Visit
from tests.conftest import make_user
from tests.intake_data import adult_answers, send_form
from tests.measures_data import answers_near, builtin, builtin_instrument, response
from tests.scheduling_data import consent_version, direct_appointment, therapist_with_hours


def a_request(canary: str, user: User) -> object:
    request = RequestFactory().get("/", HTTP_USER_AGENT=f"Browser {canary}-agent")
    request.META["REMOTE_ADDR"] = "203.0.113.7"
    request.user = user
    return request


def seed_client_everywhere(canary: str, admin: User) -> tuple[User, User]:
    """A client and their therapist; the client's data carries ``canary`` in every place it
    lives (a canary in an encrypted field is only visible decrypted). Returns (client, therapist).
    """
    email = f"{canary}@example.test"
    client = make_user(email, "client", f"{canary} Fullname")
    EmailAddress.objects.create(user=client, email=f"{canary}-second@example.test")
    therapist, session_type = therapist_with_hours(f"t-{uuid.uuid4().hex[:8]}@example.test")
    relationship = CareRelationship.objects.create(therapist=therapist, client=client)
    Invitation.objects.create(
        email=email,
        full_name=f"{canary} Invited",
        role="client",
        invited_by=therapist,
        token_hash=uuid.uuid4().hex,
        accepted_user=client,
        expires_at=timezone.now() + timedelta(days=1),
    )
    ClientProfile.objects.create(
        client=client,
        preferred_name=f"{canary}-preferred",
        phone=f"{canary}-phone",
        emergency_contact=f"{canary}-emergency-contact",
        date_of_birth=date(1979, 5, 17),
        postal_address=f"{canary}-street 1\n{canary}-city",
        intake_notes=f"{canary}-intake-notes",
    )
    EmergencyAccess.objects.create(
        admin=admin,
        client=client,
        reason=f"{canary} break glass reason",
        expires_at=timezone.now() + timedelta(minutes=5),
    )
    request = a_request(canary, client)

    # Appointments, a session with its check-in and timeline, notes of every kind.
    direct_appointment(session_type, client, timezone.now() - timedelta(days=3))
    visit = visits.start_unscheduled(therapist, client)
    visits.check_in(
        visit,
        client,
        location=f"{canary}-location",
        callback_phone=f"{canary}-callback",
        emergency_contact=f"{canary}-checkin-contact",
        geolocation=f"{canary}-geolocation",
    )
    Visit.objects.filter(pk=visit.pk).update(client_channel="specific.x")  # in the waiting room
    visits.admit(visit.pk, therapist)
    visits.note(visit.pk, therapist, EventKind.QUALITY_POOR, detail=f"{canary}-visit-event")
    visits.store_chat(visit.pk, client, uuid.uuid4(), f"{canary} said in the session chat")
    visits.end(visit.pk, therapist)
    soap = {k: f"{canary}-{k}" for k in ("subjective", "objective", "assessment", "plan")}
    note, _created = notes.start_for_visit(therapist, visit)
    notes.save_draft(note.pk, therapist, soap)
    notes.sign(note.pk, therapist)
    notes.add_addendum(note.pk, therapist, f"{canary}-addendum")
    today = timezone.now().date()
    private = notes.start_standalone(
        therapist, client, contact="phone", date_of_service=today, kind="psychotherapy"
    )
    notes.save_draft(private.pk, therapist, {k: f"{canary}-private-{k}" for k in soap})
    notes.sign(private.pk, therapist)
    notes.release(private.pk, therapist, f"{canary}-release-reason")
    draft = notes.start_standalone(therapist, client, contact="other", date_of_service=today)
    notes.save_draft(draft.pk, therapist, {"subjective": f"{canary}-draft-note"})

    # Messages, an edit (its earlier text kept), an attachment on disk.
    conversation = conversation_for(relationship)
    first = uuid.uuid4()
    send_message(client, conversation.uid, first, f"{canary} first message")
    edit_message(client, first, f"{canary} edited message")
    upload = SimpleUploadedFile(f"{canary}-file.pdf", b"%PDF-1.4\n" + canary.encode() * 4)
    attachment = store_attachment(client, conversation.uid, upload, request=request)  # type: ignore[arg-type]
    send_message(client, conversation.uid, uuid.uuid4(), "", attachment_uid=attachment.uid)

    # Intake, measures and a safety alert, diagnoses, a signed plan, consent.
    answers = adult_answers(risk=True, signer=client.full_name)
    answers["reason"] = f"{canary}-intake-reason"
    answers["self_harm_now__follow_up"] = f"{canary}-risk-follow-up"
    submit(send_form(therapist, client), client, answers)
    phq9 = builtin_instrument("phq9")
    highest = answers_near(builtin("phq9"), 1.0, random.Random(1))
    answered = response(client, phq9, highest, at=timezone.now())
    alert = SafetyAlert.objects.create(response=answered, client=client, therapist=therapist)
    safety_plan = save_version(
        therapist,
        client,
        plan_content(
            {
                "warning_signs": f"{canary}-warning-sign",
                "people_to_ask_name_0": f"{canary}-helper",
                "people_to_ask_phone_0": "+1 555 0100",
                "reason_for_living": f"{canary}-reason",
            }
        ),
    )
    alerts.acknowledge(alert, therapist, f"{canary}-action-taken", safety_plan_reviewed=safety_plan)
    record_diagnosis(
        therapist, client, code="F41.1", rank="primary", onset=None, notes=f"{canary}-diagnosis"
    )
    version = start_draft(therapist, client)
    goal = add_goal(
        therapist,
        version,
        problem=f"{canary}-problem",
        description=f"{canary}-goal",
        client_words=f"{canary}-client-words",
    )
    add_intervention(therapist, version, what=f"{canary}-intervention", goal=goal)
    finalise(therapist, version)
    sign_plan(client, version, typed_name=client.full_name, request=request)  # type: ignore[arg-type]
    ConsentSignature.objects.create(
        client=client,
        document=consent_version(admin),
        typed_name=client.full_name,
        ip_address="203.0.113.7",
        user_agent=f"{canary}-consent-agent",
    )

    # The audit trail: their own sign-in, a failed one typed with their address, an email added.
    record(Action.SIGN_IN, actor=client, request=request)  # type: ignore[arg-type]
    record(Action.SIGN_IN_FAILED, actor_label=email, request=request)  # type: ignore[arg-type]
    record(Action.EMAIL_ADDED, actor=client, obj=client, email=f"{canary}-second@example.test")
    assert Attachment.objects.filter(conversation=conversation).exists()
    return client, therapist


def unlock_signed_notes() -> None:
    """Delete every note left, through the erasure's marker: a transactional test's flush
    deletes every row, and the triggers refuse it for signed notes."""
    from django.db import connection, transaction

    from rapport.notes.models import Addendum, CoSignature, Note, Release, erasing

    for client_id in set(Note.objects.values_list("client_id", flat=True)):
        with transaction.atomic(), erasing(client_id):
            for part in (Addendum, CoSignature, Release):
                part.objects.filter(note__client_id=client_id)._raw_delete(connection.alias)
            Note.objects.filter(client_id=client_id)._raw_delete(connection.alias)
