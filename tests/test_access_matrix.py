"""Every route x every persona → the status that persona must get.

The routes are enumerated from the URL configuration, so a route added without an entry here fails
``test_every_route_has_an_access_rule``: nothing can be served without a written access rule.

Statuses are for a GET. 302 for anonymous users means "sent to sign in" (checked), 404 means the
object is hidden from that persona, 403 that the role may not use the page at all, 405 that the
page only takes POST (its role gate passed first).

Every route that takes a POST also needs a rule in ``POST_MATRIX`` (who is refused, and that a
refused POST changes nothing): ``test_every_route_that_takes_a_post_has_a_post_rule`` asks each
route which methods it takes and fails naming any without one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from rapport.core.models import DeliveryStatus, EmailDelivery, WorkerHeartbeat
from tests.conftest import signed_in_through_the_form
from tests.scheduling_data import direct_appointment

PERSONAS = ["anonymous", "client_a", "client_b", "therapist_x", "therapist_y", "admin"]
Kwargs = Callable[[dict[str, Any]], dict[str, Any]]


Expect = int | str  # a status, or "302 /prefix/" for a redirect to that place


def rule(
    anonymous: Expect,
    client_a: Expect,
    client_b: Expect,
    therapist_x: Expect,
    therapist_y: Expect,
    admin: Expect,
    kwargs: Kwargs | None = None,
) -> tuple[dict[str, Expect], Kwargs | None]:
    return (
        {
            "anonymous": anonymous,
            "client_a": client_a,
            "client_b": client_b,
            "therapist_x": therapist_x,
            "therapist_y": therapist_y,
            "admin": admin,
        },
        kwargs,
    )


def intake_alert_id(p: dict[str, Any]) -> dict[str, Any]:
    return {"alert_id": p["intake_alert"].pk}


def guardian_id(p: dict[str, Any]) -> dict[str, Any]:
    return {"consent_id": p["guardian"].pk}


def client_a_id(p: dict[str, Any]) -> dict[str, Any]:
    return {"client_id": p["client_a"].pk}


def appointment_id(p: dict[str, Any]) -> dict[str, Any]:
    return {"appointment_id": p["appointment"].pk}


def visit_id(p: dict[str, Any]) -> dict[str, Any]:
    return {"visit_id": p["visit"].uid}


def window_id(p: dict[str, Any]) -> dict[str, Any]:
    return {"window_id": p["window"].pk}


def change_id(p: dict[str, Any]) -> dict[str, Any]:
    return {"change_id": p["change"].pk}


def session_type_id(p: dict[str, Any]) -> dict[str, Any]:
    return {"session_type_id": p["session_type"].pk}


def task_id(p: dict[str, Any]) -> dict[str, Any]:
    return {"task_id": p["measure_task"].pk}


def response_id(p: dict[str, Any]) -> dict[str, Any]:
    return {"response_id": p["measure_response"].pk}


def alert_id(p: dict[str, Any]) -> dict[str, Any]:
    return {"alert_id": p["safety_alert"].pk}


def intake_id(p: dict[str, Any]) -> dict[str, Any]:
    return {"intake_id": p["open_intake"].pk}


def submission_id(p: dict[str, Any]) -> dict[str, Any]:
    return {"submission_id": p["intake_submission"].pk}


def assignment_id(p: dict[str, Any]) -> dict[str, Any]:
    return {"client_id": p["client_a"].pk, "assignment_id": p["assignment"].pk}


def diagnosis_id(p: dict[str, Any]) -> dict[str, Any]:
    return {"client_id": p["client_a"].pk, "diagnosis_id": p["diagnosis"].pk}


def crisis_resource_id(p: dict[str, Any]) -> dict[str, Any]:
    return {"resource_id": p["crisis_resource"].pk}


def plan_version_number(p: dict[str, Any]) -> dict[str, Any]:
    return {"client_id": p["client_a"].pk, "number": 1}


def instrument_id(p: dict[str, Any]) -> dict[str, Any]:
    return {"instrument_id": p["instrument"].pk}


def conversation_id(p: dict[str, Any]) -> dict[str, Any]:
    return {"conversation_id": p["conversation"].uid}


def attachment_id(p: dict[str, Any]) -> dict[str, Any]:
    return {"attachment_id": p["attachment"].uid}


def homework_id(p: dict[str, Any]) -> dict[str, Any]:
    return {"homework_id": p["homework"].pk}


def homework_assignment_id(p: dict[str, Any]) -> dict[str, Any]:
    return {"client_id": p["client_a"].pk, "assignment_id": p["homework"].assignment_id}


def journal_entry_id(p: dict[str, Any]) -> dict[str, Any]:
    return {"entry_id": p["journal_entry"].pk}


def note_id(p: dict[str, Any]) -> dict[str, Any]:
    return {"note_id": p["note"].pk}


def erasure_id(p: dict[str, Any]) -> dict[str, Any]:
    return {"erasure_id": p["erasure"].pk}


def supervision_id(p: dict[str, Any]) -> dict[str, Any]:
    return {"supervision_id": p["supervision"].pk}


def line_id(p: dict[str, Any]) -> dict[str, Any]:
    return {"line_id": p["billing_line"].pk}


def billed_line_id(p: dict[str, Any]) -> dict[str, Any]:
    return {"line_id": p["billed_line"].pk}


def invoice_id(p: dict[str, Any]) -> dict[str, Any]:
    return {"invoice_id": p["invoice"].pk}


def missed_id(p: dict[str, Any]) -> dict[str, Any]:
    return {"client_id": p["client_a"].pk, "appointment_id": p["appointment"].pk}


def client_fee_id(p: dict[str, Any]) -> dict[str, Any]:
    return {"client_id": p["client_a"].pk, "fee_id": p["client_fee"].pk}


def service_id(p: dict[str, Any]) -> dict[str, Any]:
    return {"service_id": p["service"].pk}


def therapist_x_id(p: dict[str, Any]) -> dict[str, Any]:
    return {"therapist_id": p["therapist_x"].pk}


LOGIN = "302 /accounts/login/"  # anonymous: sent to sign in
PASSWORD_FOR_NOBODY = "a long passphrase nobody has"
HOME = "302 /"  # signed in already: sent home
REAUTH = "302 /accounts/reauthenticate/"
TO_CODE = "302 /accounts/reauthenticate/code/"
TO_CHANGE = "302 /accounts/password/change/"
HAS_TOTP = "302 /accounts/2fa/totp/deactivate/"  # TOTP already on: offered to turn it off

MATRIX: dict[str, tuple[dict[str, Expect], Kwargs | None]] = {
    "home": rule(LOGIN, 200, 200, 200, 200, 200),
    "healthz": rule(200, 200, 200, 200, 200, 200),
    # The installable app's shell: no one's data, like static files.
    "web_manifest": rule(200, 200, 200, 200, 200, 200),
    "service_worker": rule(200, 200, 200, 200, 200, 200),
    "offline": rule(200, 200, 200, 200, 200, 200),
    # Push notices: each person turns their own devices on and off (POST only).
    "push_subscribe": rule(LOGIN, 405, 405, 405, 405, 405),
    "push_unsubscribe": rule(LOGIN, 405, 405, 405, 405, 405),
    "readyz": rule(200, 200, 200, 200, 200, 200),
    # No RAPPORT_METRICS_TOKEN in the tests: no such page, signed in or not (tests/test_health.py
    # has the token's own matrix).
    "metrics": rule(404, 404, 404, 404, 404, 404),
    "session_status": rule(LOGIN, 204, 204, 204, 204, 204),
    # The browser code's words: the same public catalog for everyone, sign-in pages included.
    "javascript_catalog": rule(200, 200, 200, 200, 200, 200),
    "account_login": rule(200, HOME, HOME, HOME, HOME, HOME),
    "account_logout": rule(LOGIN, 200, 200, 200, 200, 200),
    "account_inactive": rule(200, 200, 200, 200, 200, 200),
    "account_signup": rule(200, HOME, HOME, HOME, HOME, HOME),
    "account_reauthenticate": rule(LOGIN, 200, 200, 200, 200, 200),
    "account_request_reauthentication_code": rule(LOGIN, 200, 200, 200, 200, 200),
    "account_confirm_reauthentication_code": rule(
        LOGIN,
        TO_CODE,
        TO_CODE,
        TO_CODE,
        TO_CODE,
        TO_CODE,
    ),
    "account_email": rule(LOGIN, 200, 200, 200, 200, 200),
    "account_email_verification_sent": rule(200, 200, 200, 200, 200, 200),
    "account_change_password": rule(LOGIN, 200, 200, 200, 200, 200),
    "account_set_password": rule(
        LOGIN,
        TO_CHANGE,
        TO_CHANGE,
        TO_CHANGE,
        TO_CHANGE,
        TO_CHANGE,
    ),
    "account_reset_password": rule(200, 200, 200, 200, 200, 200),
    "account_confirm_login_code": rule(LOGIN, HOME, HOME, HOME, HOME, HOME),
    "account_confirm_email": rule(200, 200, 200, 200, 200, 200, lambda p: {"key": "bogus-key"}),
    "account_reset_password_from_key_done": rule(200, 200, 200, 200, 200, 200),
    "account_reset_password_from_key": rule(
        200, 200, 200, 200, 200, 200, lambda p: {"uidb36": "zz", "key": "bogus-key"}
    ),
    "account_reset_password_done": rule(200, 200, 200, 200, 200, 200),
    "mfa_index": rule(LOGIN, 200, 200, 200, 200, 200),
    "mfa_authenticate": rule(LOGIN, HOME, HOME, HOME, HOME, HOME),
    "mfa_reauthenticate": rule(
        LOGIN,
        REAUTH,
        REAUTH,
        200,
        200,
        200,
    ),
    "mfa_activate_totp": rule(
        LOGIN,
        200,
        200,
        HAS_TOTP,
        HAS_TOTP,
        HAS_TOTP,
    ),
    "mfa_deactivate_totp": rule(LOGIN, 404, 404, 200, 200, 200),
    "mfa_view_recovery_codes": rule(LOGIN, 404, 404, 404, 404, 404),
    "mfa_generate_recovery_codes": rule(LOGIN, 200, 200, 200, 200, 200),
    "mfa_download_recovery_codes": rule(LOGIN, 404, 404, 404, 404, 404),
    "mfa_list_webauthn": rule(LOGIN, 200, 200, 200, 200, 200),
    "mfa_add_webauthn": rule(LOGIN, 200, 200, 200, 200, 200),
    "mfa_reauthenticate_webauthn": rule(
        LOGIN,
        REAUTH,
        REAUTH,
        REAUTH,
        REAUTH,
        REAUTH,
    ),
    "mfa_remove_webauthn": rule(LOGIN, 404, 404, 404, 404, 404, lambda p: {"pk": 999999}),
    "mfa_edit_webauthn": rule(LOGIN, 404, 404, 404, 404, 404, lambda p: {"pk": 999999}),
    "mfa_login_webauthn": rule(LOGIN, HOME, HOME, HOME, HOME, HOME),
    "accept_invitation": rule(
        410, HOME, HOME, HOME, HOME, HOME, lambda p: {"token": "not-a-real-token"}
    ),
    "account_settings": rule(LOGIN, 200, 200, 200, 200, 200),
    "sign_out_everywhere": rule(LOGIN, 405, 405, 405, 405, 405),
    "invitations": rule(LOGIN, 403, 403, 200, 200, 200),
    "failed_emails": rule(LOGIN, 403, 403, 403, 403, 200),
    "revoke_invitation": rule(
        LOGIN,
        403,
        403,
        405,
        405,
        405,
        lambda p: {"invitation_id": p["invitation"].pk},
    ),
    "caseload": rule(LOGIN, 403, 403, 200, 200, 403),
    "client_record": rule(LOGIN, 200, 404, 200, 404, 404, client_a_id),
    "edit_client_record": rule(LOGIN, 200, 404, 200, 404, 404, client_a_id),
    "emergency_access": rule(LOGIN, 403, 403, 403, 403, 200, client_a_id),
    "my_record_access": rule(LOGIN, 200, 200, 403, 403, 403),
    "admin_users": rule(LOGIN, 403, 403, 403, 403, 200),
    "admin_set_active": rule(
        LOGIN, 403, 403, 403, 403, 405, lambda p: {"user_id": p["client_a"].pk}
    ),
    "admin_relationships": rule(LOGIN, 403, 403, 403, 403, 200),
    "end_relationship": rule(
        LOGIN,
        403,
        403,
        405,
        405,
        405,
        lambda p: {"relationship_id": p["relationship"].pk},
    ),
    "audit_trail": rule(LOGIN, 403, 403, 403, 403, 200),
    "audit_export": rule(LOGIN, 403, 403, 403, 403, 200),
    "practice_settings": rule(LOGIN, 403, 403, 403, 403, 200),
    # Matching: a profile is edited by its therapist or an admin; clients read the profiles of
    # therapists suggested to them or their own (client_a is in therapist_x's care).
    "edit_therapist_profile": rule(LOGIN, 403, 403, 200, 404, 200, therapist_x_id),
    "therapist_profile": rule(LOGIN, 200, 404, 200, 200, 200, therapist_x_id),
    "therapist_photo": rule(LOGIN, 200, 404, 200, 200, 200, therapist_x_id),
    "my_care_request": rule(LOGIN, 200, 200, 403, 403, 403),
    "ask_rematch": rule(LOGIN, 200, 200, 403, 403, 403),
    # The offer of a new client's request to therapist_x: only therapist_x answers (the
    # practice's default), and reading it is the audited pre-acceptance view.
    "care_offers": rule(LOGIN, 403, 403, 200, 200, 200),
    "care_offer": rule(LOGIN, 403, 403, 200, 404, 404, lambda p: {"offer_id": p["offer"].pk}),
    "decline_care_offer": rule(
        LOGIN, 403, 403, 405, 405, 405, lambda p: {"offer_id": p["offer"].pk}
    ),
    "care_requests": rule(LOGIN, 403, 403, 403, 403, 200),
    "care_request": rule(
        LOGIN, 403, 403, 403, 403, 200, lambda p: {"request_id": p["offer"].request_id}
    ),
    "handle_rematch": rule(
        LOGIN, 403, 403, 403, 403, 405, lambda p: {"rematch_id": p["rematch"].pk}
    ),
    # Practice outcomes: aggregates only; admins see the practice, therapists their caseload.
    "practice_outcomes": rule(LOGIN, 403, 403, 200, 200, 200),
    # Attendance, technology and feedback: aggregates of one's caseload (admins: the practice);
    # the one-page PDF likewise. The research export and its dictionary: admins only (the CSV
    # in sudo mode: a recent sign-in counts).
    "outcomes_service": rule(LOGIN, 403, 403, 200, 200, 200),
    "outcomes_summary_pdf": rule(LOGIN, 403, 403, 200, 200, 200),
    "outcomes_research_csv": rule(LOGIN, 403, 403, 403, 403, 200),
    "outcomes_research_dictionary": rule(LOGIN, 403, 403, 403, 403, 200),
    "caseload_outcomes": rule(LOGIN, 403, 403, 200, 200, 403),
    # Retention and erasure: practice admins only; the steps of an erasure take only a POST.
    "retention": rule(LOGIN, 403, 403, 403, 403, 200),
    "erasure_report": rule(LOGIN, 403, 403, 403, 403, 200, client_a_id),
    "erasure_approve": rule(LOGIN, 403, 403, 403, 403, 405, erasure_id),
    "erasure_cancel": rule(LOGIN, 403, 403, 403, 403, 405, erasure_id),
    "erasure_erase": rule(LOGIN, 403, 403, 403, 403, 405, erasure_id),
    "calendar_feed": rule(LOGIN, 200, 200, 200, 200, 200),
    # The token is the key: an unknown one is a 404 for everyone, signed in or not.
    "calendar_feed_ics": rule(
        404, 404, 404, 404, 404, 404, lambda p: {"token": "not-a-real-token"}
    ),
    # Scheduling. Therapist screens; POST-only routes answer GET with 405 once the role passed.
    "schedule": rule(LOGIN, 403, 403, 200, 200, 403),
    "schedule_week": rule(LOGIN, 403, 403, 200, 200, 403, lambda p: {"day": date(2026, 3, 9)}),
    "schedule_day": rule(LOGIN, 403, 403, 200, 200, 403, lambda p: {"day": date(2026, 3, 8)}),
    "schedule_this_month": rule(LOGIN, 403, 403, 200, 200, 403),
    "schedule_month": rule(LOGIN, 403, 403, 200, 200, 403, lambda p: {"day": date(2026, 3, 1)}),
    # The practice's day, every therapist's column: practice admins only.
    "practice_schedule": rule(LOGIN, 403, 403, 403, 403, 200),
    "practice_schedule_day": rule(
        LOGIN, 403, 403, 403, 403, 200, lambda p: {"day": date(2026, 3, 9)}
    ),
    "practice_week": rule(LOGIN, 403, 403, 403, 403, 200),
    "practice_week_of": rule(LOGIN, 403, 403, 403, 403, 200, lambda p: {"day": date(2026, 3, 9)}),
    "book_for_client": rule(LOGIN, 403, 403, 200, 200, 403),
    "availability": rule(LOGIN, 403, 403, 200, 200, 403),
    "add_weekly_window": rule(LOGIN, 403, 403, 405, 405, 403),
    "delete_weekly_window": rule(LOGIN, 403, 403, 405, 405, 403, window_id),
    "add_availability_change": rule(LOGIN, 403, 403, 405, 405, 403),
    "delete_availability_change": rule(LOGIN, 403, 403, 405, 405, 403, change_id),
    "add_session_type": rule(LOGIN, 403, 403, 405, 405, 403),
    "edit_session_type": rule(LOGIN, 403, 403, 405, 405, 403, session_type_id),
    # Client screens.
    "book": rule(LOGIN, 200, 200, 403, 403, 403),
    "my_sessions": rule(LOGIN, 200, 200, 403, 403, 403),
    "consent_sign": rule(LOGIN, 200, 200, 403, 403, 403),
    "consent_admin": rule(LOGIN, 403, 403, 403, 403, 200),
    # One appointment of therapist_x with client_a: its two parties only, a 404 for everyone else.
    "appointment_detail": rule(LOGIN, 200, 404, 200, 404, 404, appointment_id),
    "cancel_appointment": rule(LOGIN, 200, 404, 200, 404, 404, appointment_id),
    "reschedule_appointment": rule(LOGIN, 200, 404, 200, 404, 404, appointment_id),
    "set_appointment_status": rule(LOGIN, 403, 403, 405, 405, 403, appointment_id),
    # Live sessions: one open visit of therapist_x with client_a. Only those two ever get in;
    # admins are never participants. POST-only routes answer GET with 405.
    "appointment_join": rule(LOGIN, 405, 405, 405, 405, 405, appointment_id),
    "visit_start": rule(LOGIN, 403, 403, 405, 405, 403, client_a_id),
    "visits_open": rule(LOGIN, 200, 200, 200, 200, 200),
    "visit_room": rule(LOGIN, 200, 404, 200, 404, 404, visit_id),
    "visit_check": rule(LOGIN, 200, 404, 200, 404, 404, visit_id),
    "visit_checkin": rule(LOGIN, 200, 404, 404, 404, 404, visit_id),
    "visit_end": rule(LOGIN, 405, 405, 405, 405, 405, visit_id),
    "visit_timeline": rule(LOGIN, 403, 404, 200, 404, 404, visit_id),
    # FHIR export of client_a's measures: client_a and therapist_x only (sudo mode: a recent
    # sign-in counts); the admin without emergency access sees nothing.
    "measures_fhir_export": rule(LOGIN, 200, 404, 200, 404, 404, client_a_id),
    # The record as a whole: the client, their therapist in active care, an admin only under
    # emergency access (none here). Exports are in sudo mode (a recent sign-in counts).
    "my_record": rule(LOGIN, 200, 200, 403, 403, 403),
    "record_timeline": rule(LOGIN, 200, 404, 200, 404, 404, client_a_id),
    "record_export_fhir": rule(LOGIN, 200, 404, 200, 404, 404, client_a_id),
    "record_export_pdf": rule(LOGIN, 200, 404, 200, 404, 404, client_a_id),
    # Measures. client_a has an open GAD-7 questionnaire and a PHQ-9 response with a positive
    # item 9, whose open alert is therapist_x's. The admin sees an alert only once it escalated.
    "my_measures": rule(LOGIN, 200, 200, 403, 403, 403),
    "measure_task": rule(LOGIN, 200, 404, 403, 403, 403, task_id),
    "measure_result": rule(LOGIN, 200, 404, 200, 404, 404, response_id),
    "my_progress": rule(LOGIN, 200, 200, 403, 403, 403),
    "client_measures": rule(LOGIN, 403, 403, 200, 404, 403, client_a_id),
    "end_assignment": rule(LOGIN, 403, 403, 405, 405, 403, assignment_id),
    "client_progress": rule(LOGIN, 403, 403, 200, 404, 404, client_a_id),
    "alerts": rule(LOGIN, 403, 403, 200, 200, 403),
    "alert_detail": rule(LOGIN, 403, 403, 200, 404, 404, alert_id),
    "escalated_alerts": rule(LOGIN, 403, 403, 403, 403, 200),
    "instruments": rule(LOGIN, 403, 403, 403, 403, 200),
    "instrument_detail": rule(LOGIN, 403, 403, 403, 403, 200, instrument_id),
    # Diagnoses of client_a: therapist_x reads and records; clients have no diagnoses page (their
    # export carries them); the admin reads only under emergency access. Changes are POST-only.
    "client_diagnoses": rule(LOGIN, 403, 403, 200, 404, 404, client_a_id),
    "change_diagnosis": rule(LOGIN, 403, 403, 405, 405, 403, diagnosis_id),
    "diagnosis_code_search": rule(LOGIN, 403, 403, 200, 200, 403),
    "diagnosis_frequent_codes": rule(LOGIN, 403, 403, 403, 403, 200),
    # The practice's crisis resources: practice admins only (clients see theirs on their pages).
    "crisis_resources": rule(LOGIN, 403, 403, 403, 403, 200),
    "crisis_resource_add": rule(LOGIN, 403, 403, 403, 403, 200),
    "crisis_resource_change": rule(LOGIN, 403, 403, 403, 403, 200, crisis_resource_id),
    "crisis_resource_remove": rule(LOGIN, 403, 403, 403, 403, 405, crisis_resource_id),
    # Treatment plan of client_a (version 1 finalised, version 2 a draft): therapist_x reads and
    # writes; the admin reads only under emergency access; each client reads their own (/plan/).
    "client_plan": rule(LOGIN, 403, 403, 200, 404, 404, client_a_id),
    "plan_start": rule(LOGIN, 403, 403, 405, 405, 403, client_a_id),
    "plan_draft": rule(LOGIN, 403, 403, 200, 404, 403, client_a_id),
    "plan_finalise": rule(LOGIN, 403, 403, 405, 405, 403, client_a_id),
    "plan_version": rule(LOGIN, 403, 403, 200, 404, 404, plan_version_number),
    "my_plan": rule(LOGIN, 200, 200, 403, 403, 403),
    # Homework: therapist_x assigned client_a a thought record. The therapist in care assigns,
    # reads and comments; an admin reads only under emergency access; the client fills in their
    # own (another client's is a 404).
    "client_homework": rule(LOGIN, 403, 403, 200, 404, 404, client_a_id),
    "homework_review": rule(LOGIN, 403, 403, 200, 404, 404, homework_id),
    "homework_assignment": rule(LOGIN, 403, 403, 200, 404, 404, homework_assignment_id),
    "my_homework": rule(LOGIN, 200, 200, 403, 403, 403),
    "homework_fill": rule(LOGIN, 200, 404, 403, 403, 403, homework_id),
    # Journal: client_a's entry (shared). Only its client writes or changes it; the clinical
    # team reads shared entries only, on the client's journal page.
    "my_journal": rule(LOGIN, 200, 200, 403, 403, 403),
    "journal_entry": rule(LOGIN, 200, 404, 403, 403, 403, journal_entry_id),
    "journal_reminder": rule(LOGIN, 405, 405, 403, 403, 403),
    "client_journal": rule(LOGIN, 403, 403, 200, 404, 404, client_a_id),
    # Safety plan of client_a (one version): therapist_x reads, writes and reviews; the admin
    # reads only under emergency access; each client reads their own (/safety-plan/). The
    # service worker's script holds no data: open to everyone, like a static file.
    "client_safety_plan": rule(LOGIN, 403, 403, 200, 404, 404, client_a_id),
    "safety_plan_edit": rule(LOGIN, 403, 403, 200, 404, 403, client_a_id),
    "safety_plan_reviewed": rule(LOGIN, 403, 403, 405, 405, 403, client_a_id),
    "safety_plan_version": rule(LOGIN, 403, 403, 200, 404, 404, plan_version_number),
    "my_safety_plan": rule(LOGIN, 200, 200, 403, 403, 403),
    "safety_plan_worker": rule(200, 200, 200, 200, 200, 200),
    # Intake. client_a has an open minor intake and a submitted adult one. Filling in is the
    # client's alone; reading is the client, their therapist (or an admin under emergency
    # access); sending and correcting are care (the client or their therapist).
    "intake_fill": rule(LOGIN, 200, 404, 403, 403, 403, intake_id),
    "intake_detail": rule(LOGIN, 200, 404, 200, 404, 404, submission_id),
    "intake_correct": rule(LOGIN, 200, 404, 200, 404, 403, submission_id),
    "client_intakes": rule(LOGIN, 403, 403, 200, 404, 404, client_a_id),
    "intake_forms": rule(LOGIN, 403, 403, 403, 403, 200),
    # Sign-up: the screen is a signed-up client's own step (others are sent home: they have no
    # request waiting on it); the guardian's page needs its link (an unknown one is 404 for
    # everyone); the intake queue and new clients' alerts are the practice admins'.
    "signup_screen": rule(LOGIN, HOME, HOME, 403, 403, 403),
    "guardian_consent": rule(404, 404, 404, 404, 404, 404, lambda p: {"token": "not-a-token"}),
    "intake_queue": rule(LOGIN, 403, 403, 403, 403, 200),
    "intake_alert": rule(LOGIN, 403, 403, 403, 403, 200, intake_alert_id),
    # A minor's page about their guardian's consent is theirs alone (no consent: 404); an admin
    # sends a guardian a new link from the intake queue (a POST).
    "signup_guardian": rule(LOGIN, 404, 404, 403, 403, 403),
    "intake_guardian_send": rule(LOGIN, 403, 403, 403, 403, 405, guardian_id),
    # Messages: each person's own inbox; the conversation of therapist_x and client_a is theirs
    # alone (404 for outsiders); admins take part in no conversation (403).
    "inbox": rule(LOGIN, 200, 200, 200, 200, 403),
    "conversation": rule(LOGIN, 200, 404, 200, 404, 403, conversation_id),
    # Attachments in the conversation of therapist_x and client_a: those two only. Uploads are
    # POST-only (405 for a GET once signed in); admins take part in no conversation.
    "attachment_upload": rule(LOGIN, 405, 405, 405, 405, 405, conversation_id),
    "attachment": rule(LOGIN, 200, 404, 200, 404, 404, attachment_id),
    # Messaging settings: everyone in a conversation; admins take part in none (403).
    "messaging_settings": rule(LOGIN, 200, 200, 200, 200, 403),
    # Notes: therapist_x's draft progress note about client_a (a phone call), the note form of
    # their open visit. Only the author and the client's therapists; the client reads signed
    # progress notes in their record, not here. Admins reach notes only through emergency access.
    "visit_note": rule(LOGIN, 403, 404, 200, 404, 404, visit_id),
    "note": rule(LOGIN, 404, 404, 200, 404, 404, note_id),
    "contact_note": rule(LOGIN, 403, 404, 200, 404, 404, client_a_id),
    "note_addendum": rule(LOGIN, 405, 405, 405, 405, 405, note_id),
    "note_release": rule(LOGIN, 405, 405, 405, 405, 405, note_id),
    "note_cosign": rule(LOGIN, 405, 405, 405, 405, 405, note_id),
    "supervision": rule(LOGIN, 403, 403, 403, 403, 200),
    "end_supervision": rule(LOGIN, 403, 403, 403, 403, 405, supervision_id),
    "note_templates": rule(LOGIN, 403, 403, 403, 403, 200),
    # Billing of client_a: their therapist (therapist_x) and the billing office (practice
    # admins, billing staff: tests/test_billing_pages.py) see it; clients have none of these
    # pages; the fee schedule and settings are the office's. Some routes only take a POST.
    "billing_home": rule(LOGIN, 403, 403, 200, 200, 200),
    "billing_line": rule(LOGIN, 403, 403, 200, 404, 200, line_id),
    "void_billing_line": rule(LOGIN, 403, 403, 405, 405, 405, line_id),
    "correct_billing_line": rule(LOGIN, 403, 403, 403, 403, 200, billed_line_id),
    "visit_billing": rule(LOGIN, 403, 403, 200, 404, 200, visit_id),
    "client_billing": rule(LOGIN, 403, 403, 200, 404, 200, client_a_id),
    # Superbills of client_a: the client themselves, their therapist and the billing office;
    # anyone else (client_b included) 404. The portal page is the signed-in client's own.
    "client_superbill": rule(LOGIN, 200, 404, 200, 404, 200, client_a_id),
    "my_superbills": rule(LOGIN, 200, 200, 403, 403, 403),
    "charge_missed": rule(LOGIN, 403, 403, 405, 405, 405, missed_id),
    "client_fees": rule(LOGIN, 403, 403, 200, 404, 200, client_a_id),
    "remove_client_fee": rule(LOGIN, 403, 403, 405, 405, 405, client_fee_id),
    "billing_settings": rule(LOGIN, 403, 403, 403, 403, 200),
    "fee_schedule": rule(LOGIN, 403, 403, 403, 403, 200),
    "edit_service": rule(LOGIN, 403, 403, 403, 403, 200, service_id),
    "session_type_kind": rule(LOGIN, 403, 403, 403, 403, 405, session_type_id),
    "provider_details": rule(LOGIN, 403, 403, 403, 403, 200, therapist_x_id),
    # The ledger of client_a: their therapist reads it; the billing office issues, voids and
    # records (tests/test_billing_ledger_pages.py); the client reads their own in the portal.
    "client_ledger": rule(LOGIN, 403, 403, 200, 404, 200, client_a_id),
    "client_statement": rule(LOGIN, 403, 403, 200, 404, 200, client_a_id),
    "issue_invoice": rule(LOGIN, 403, 403, 403, 403, 200, client_a_id),
    "record_payment": rule(LOGIN, 403, 403, 403, 403, 200, client_a_id),
    "record_refund": rule(LOGIN, 403, 403, 403, 403, 200, client_a_id),
    "invoice": rule(LOGIN, 403, 403, 200, 404, 200, invoice_id),
    "void_invoice": rule(LOGIN, 403, 403, 403, 403, 200, invoice_id),
    "write_off": rule(LOGIN, 403, 403, 403, 403, 200, invoice_id),
    "billing_overview": rule(LOGIN, 403, 403, 403, 403, 200),
    "export_billing_lines": rule(LOGIN, 403, 403, 403, 403, 200),
    "export_payments": rule(LOGIN, 403, 403, 403, 403, 200),
    "my_billing": rule(LOGIN, 200, 200, 403, 403, 403),
    "my_statement": rule(LOGIN, 200, 200, 403, 403, 403),
    "my_invoice": rule(LOGIN, 200, 404, 403, 403, 403, invoice_id),
}


def route_names(patterns: list[Any] | None = None) -> Iterator[str]:
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            yield from route_names(entry.url_patterns)
        elif isinstance(entry, URLPattern):
            assert entry.name, f"route {entry.pattern} has no name, so it cannot have a rule"
            yield entry.name


def test_every_route_has_an_access_rule() -> None:
    routes = set(route_names())
    missing = sorted(routes - MATRIX.keys())
    stale = sorted(MATRIX.keys() - routes)
    assert not missing, f"routes without an access rule in MATRIX: {missing}"
    assert not stale, f"rules for routes that no longer exist: {stale}"


@pytest.fixture
def world(personas: dict[str, Any], settings: Any, tmp_path: Path) -> dict[str, Any]:
    from rapport.accounts.services import invite
    from rapport.care.models import CareRelationship

    invitation, _token = invite(
        personas["therapist_x"], email="new.client@example.test", full_name="New", role="client"
    )
    return {
        **personas,
        "invitation": invitation,
        # A worker beating now: /readyz is ready.
        "worker": WorkerHeartbeat.objects.create(worker_id="access-matrix", pid=1, host="test"),
        "failed_email": EmailDelivery.objects.create(
            key="access-matrix", kind="invitation", status=DeliveryStatus.FAILED, attempts=5
        ),
        "relationship": CareRelationship.objects.get(therapist=personas["therapist_x"]),
        **schedule_of(personas["therapist_x"], personas["client_a"]),
        "visit": open_visit(personas["therapist_x"], personas["client_a"]),
        **measures_of(personas["therapist_x"], personas["client_a"]),
        "diagnosis": diagnosis_of(personas["therapist_x"], personas["client_a"]),
        "crisis_resource": crisis_resource(),
        "plan_draft": plan_of(personas["therapist_x"], personas["client_a"]),
        "safety_plan": safety_plan_of(personas["therapist_x"], personas["client_a"]),
        **intake_of(personas["therapist_x"], personas["client_a"]),
        **attachment_sent(personas["therapist_x"], personas["client_a"], settings, tmp_path),
        **notes_of(personas["therapist_x"], personas["client_a"], personas["admin"]),
        "erasure": erasure_of(personas["client_b"], personas["admin"]),
        **between_sessions_of(personas["therapist_x"], personas["client_a"]),
        **billing_of(personas["therapist_x"], personas["client_a"]),
        "intake_alert": intake_alert_of(personas["client_b"]),
        "guardian": guardian_of(),
        **matching_of(personas["therapist_x"], personas["therapist_y"], personas["client_b"]),
    }


def matching_of(therapist: Any, other: Any, client_in_care: Any) -> dict[str, Any]:
    """Profiles (therapist_x's with a photo), a new client's request offered to therapist_x,
    and client_b's private request for a therapist other than therapist_y."""
    from rapport.accounts.models import User
    from rapport.matching.models import CareRequest, Offer, RematchRequest, TherapistProfile
    from rapport.matching.services import open_request, set_status

    TherapistProfile.objects.create(therapist=therapist, bio="X's bio", photo=b"\xff\xd8jpeg")
    TherapistProfile.objects.create(therapist=other, bio="Y's bio")
    newcomer = User.objects.create_user(
        "newcomer@example.test", None, full_name="Nia Newcomer", role="client"
    )
    request = open_request(
        newcomer, region="GB", language="en", modalities=["video"], time_zone="Europe/London"
    )
    set_status(request, CareRequest.Status.OFFERED)
    offer = Offer.objects.create(
        request=request,
        therapist=therapist,
        expires_at=timezone.now() + timedelta(hours=48),
    )
    rematch = RematchRequest.objects.create(client=client_in_care, therapist=other)
    return {"offer": offer, "rematch": rematch}


def guardian_of() -> Any:
    """A minor who signed up, whose guardian was asked and has not answered."""
    from rapport.accounts.models import User
    from rapport.signup.models import GuardianConsent

    minor = User.objects.create_user(
        "minor@example.test", None, full_name="Mo Minor", role="client"
    )
    return GuardianConsent.objects.create(
        client=minor,
        guardian_name="Pat Parent",
        guardian_email="pat@example.test",
        token_hash="0" * 64,
        asked_at=timezone.now() - timedelta(hours=1),
    )


def intake_alert_of(client: Any) -> Any:
    """A new client's safety alert (from their intake form), still open."""
    from rapport.signup.models import IntakeAlert

    return IntakeAlert.objects.create(client=client, source=IntakeAlert.Source.INTAKE)


def billing_of(therapist: Any, client: Any) -> dict[str, Any]:
    """A fee schedule row, a sliding fee, a proposed line and a billed one of client_a."""
    from rapport.billing.models import ClientFee, LineStatus, Service
    from tests.billing_data import billing_line

    service = Service.objects.create(cpt_code="90834", label="Therapy, 45 minutes", fee=15000)
    billed = billing_line(client, therapist, status=LineStatus.CONFIRMED)
    from rapport.billing.services import lock_lines

    lock_lines([billed], actor=therapist)
    from rapport.billing.ledger import issue_session_invoice

    on_invoice = billing_line(client, therapist, status=LineStatus.CONFIRMED, fee=9000)
    invoice = issue_session_invoice(client, line_id=on_invoice.pk, actor=therapist)
    return {
        "invoice": invoice,
        "service": service,
        "client_fee": ClientFee.objects.create(
            client=client, percent=50, reason="Hardship", set_by=therapist
        ),
        "billing_line": billing_line(client, therapist),
        "billed_line": billed,
    }


def between_sessions_of(therapist: Any, client: Any) -> dict[str, Any]:
    """A thought record due tomorrow (its reminder not yet due: /readyz counts a due task not
    run as backlog), and a journal entry the client shared."""
    from django.utils import timezone

    from rapport.homework.services import assign
    from rapport.journal.services import write_entry

    assignment = assign(
        therapist,
        client,
        exercise="thought_record",
        first_due=timezone.localdate() + timedelta(days=1),
    )
    return {
        "homework": assignment.homework.get(),
        "journal_entry": write_entry(client, mood=6, text="A calm day", shared=True),
    }


def erasure_of(client: Any, admin: Any) -> Any:
    """An erasure of client_b's record the admin asked for, waiting for a second admin."""
    from rapport.records.models import Erasure

    return Erasure.objects.create(
        client=client, reason="client_request", status="awaiting", requested_by=admin
    )


def crisis_resource() -> Any:
    from rapport.crisis.models import CrisisResource

    return CrisisResource.objects.create(
        country="NZ",
        name="Access matrix line",
        phone="1737",
        verified_on=date(2026, 12, 4),
        source_url="https://example.test/",
    )


def diagnosis_of(therapist: Any, client: Any) -> Any:
    from rapport.diagnoses.services import record_diagnosis

    return record_diagnosis(therapist, client, code="F41.1", rank="primary", onset=None)


def plan_of(therapist: Any, client: Any) -> Any:
    """A finalised first version and a draft of the next."""
    from rapport.plans.services import add_goal, finalise, start_draft

    draft = start_draft(therapist, client)
    add_goal(therapist, draft, problem="Worry", description="Worry less")
    finalise(therapist, draft)
    return start_draft(therapist, client)


def safety_plan_of(therapist: Any, client: Any) -> Any:
    """Version 1 of the client's safety plan."""
    from rapport.safety.forms import plan_content
    from rapport.safety.services import save_version

    return save_version(therapist, client, plan_content({"warning_signs": "Not sleeping"}))


def notes_of(therapist: Any, client: Any, admin: Any) -> dict[str, Any]:
    """A draft note of a phone call, and a supervision (of another therapist) that ended."""
    from django.utils import timezone

    from rapport.notes import services
    from tests.conftest import make_user

    note = services.start_standalone(
        therapist, client, contact="phone", date_of_service=timezone.localdate()
    )
    other = make_user("supervisee@example.test", "therapist", "Sam Supervisee")
    supervision = services.start_supervision(admin, other, therapist)
    services.end_supervision(admin, supervision.pk)
    return {"note": note, "supervision": supervision}


def attachment_sent(therapist: Any, client: Any, settings: Any, folder: Path) -> dict[str, Any]:
    """Their conversation, and a PDF the client sent in it."""
    import uuid

    from django.core.files.uploadedfile import SimpleUploadedFile

    from rapport.care.models import CareRelationship
    from rapport.messaging.access import conversation_for
    from rapport.messaging.attachments import store_attachment
    from rapport.messaging.models import Message

    settings.RAPPORT_ATTACHMENTS_DIR = folder / "attachments"
    conversation = conversation_for(
        CareRelationship.objects.get(therapist=therapist, client=client)
    )
    pdf = SimpleUploadedFile("letter.pdf", b"%PDF-1.4\n%%EOF\n")
    attachment = store_attachment(client, conversation.uid, pdf)
    Message.objects.create(
        conversation=conversation,
        seq=1,
        sender=client,
        client_uid=uuid.uuid4(),
        attachment=attachment,
    )
    return {"conversation": conversation, "attachment": attachment}


def measures_of(therapist: Any, client: Any) -> dict[str, Any]:
    """An open GAD-7 questionnaire, and a PHQ-9 sent with a positive item 9 (its alert open)."""
    from rapport.measures.answers import submit
    from rapport.measures.assignments import assign, due_tasks
    from rapport.measures.models import Instrument

    phq9 = Instrument.objects.get(key="phq9", builtin=True)
    gad7 = Instrument.objects.get(key="gad7", builtin=True)
    assign(therapist, client, phq9, "once")
    assignment = assign(therapist, client, gad7, "once")
    sent, open_task = sorted(due_tasks(client), key=lambda t: t.instrument.key != "phq9")
    answers = {str(n): 0 for n in range(1, 10)} | {"9": 1}
    response = submit(sent, client, answers)
    return {
        "measure_task": open_task,
        "measure_response": response,
        "safety_alert": response.alerts.get(),
        "assignment": assignment,
        "instrument": gad7,
    }


def intake_of(therapist: Any, client: Any) -> dict[str, Any]:
    """A minor intake still open, and an adult intake sent back without a risk answer."""
    from tests.intake_data import send_and_submit, send_form

    return {
        "open_intake": send_form(therapist, client, "minor"),
        "intake_submission": send_and_submit(therapist, client, risk=False),
    }


def open_visit(therapist: Any, client: Any) -> Any:
    """An unscheduled visit, the client already checked in."""
    from rapport.visits import services

    visit = services.start_unscheduled(therapist, client)
    services.check_in(
        visit, client, location="Home", callback_phone="+1 555 0100", emergency_contact="Sam"
    )
    return visit


def schedule_of(therapist: Any, client: Any) -> dict[str, Any]:
    """Working hours, a time off, a session type and one booked appointment of ``therapist``."""
    from django.utils import timezone

    from rapport.scheduling.models import (
        AvailabilityChange,
        SessionType,
        WeeklyWindow,
    )

    now = timezone.now().replace(microsecond=0)
    session_type = SessionType.objects.create(therapist=therapist, name="Session", minutes=50)
    starts_at = now + timedelta(days=3)
    return {
        "session_type": session_type,
        "window": WeeklyWindow.objects.create(
            therapist=therapist, weekday=0, start_time=time(9), end_time=time(12), time_zone="UTC"
        ),
        "change": AvailabilityChange.objects.create(
            therapist=therapist,
            kind="off",
            starts_at=now + timedelta(days=1),
            ends_at=now + timedelta(days=2),
        ),
        "appointment": direct_appointment(session_type, client, starts_at),
    }


def matches(expected: Expect, response: Any) -> bool:
    if isinstance(expected, int):
        return bool(response.status_code == expected)
    status, place = expected.split(" ", 1)
    return response.status_code == int(status) and str(response["Location"]).split("?")[0] == place


def browsers_for(world: dict[str, Any]) -> dict[str, Client]:
    """A test client per persona, each signed in through the real sign-in form."""
    return {
        p: Client() if p == "anonymous" else signed_in_through_the_form(world[p]) for p in PERSONAS
    }


def test_access_matrix(world: dict[str, Any]) -> None:
    browsers = browsers_for(world)
    wrong = []
    for name in sorted(route_names()):
        expected, kwargs = MATRIX[name]
        url = reverse(name, kwargs=kwargs(world) if kwargs else None)
        # The worker keeps beating while the matrix runs: on a busy machine the routes before
        # /readyz take longer than a lease, and /readyz would rightly call the worker gone.
        WorkerHeartbeat.objects.filter(pk=world["worker"].pk).update(beat_at=timezone.now())
        for persona in PERSONAS:
            response = browsers[persona].get(url)
            if not matches(expected[persona], response):
                got = f"{response.status_code} {response.get('Location', '')}".strip()
                wrong.append(f"{name} as {persona}: expected {expected[persona]}, got {got}")
    assert not wrong, "access matrix violations:\n" + "\n".join(wrong)


def no_kwargs(p: dict[str, Any]) -> dict[str, Any]:
    return {}


FormData = dict[str, str] | Callable[[dict[str, Any]], dict[str, str]]

# Every route that takes a POST: the personas that must be refused, and what they send. Each of
# them, and an anonymous visitor (sent to sign in unless the rule names "anonymous"), POSTs; none
# may change anything. Personas not named are allowed (their POSTs are tested with the feature).
NOTE_OUTSIDERS: dict[str, Expect] = {
    "client_a": 404,
    "client_b": 404,
    "therapist_y": 404,
    "admin": 404,
}
ADMIN_ONLY: dict[str, Expect] = {"client_a": 403, "therapist_x": 403, "therapist_y": 403}
CRISIS_RESOURCE_FORM = {
    "country": "NZ",
    "kind": "crisis_line",
    "name": "Changed by an outsider",
    "phone": "0800 543 354",
    "order": "10",
    "verified_on": "2026-12-01",
    "source_url": "https://example.test/changed",
}

BILLING_OUTSIDERS: dict[str, Expect] = {"client_a": 403, "client_b": 403, "therapist_y": 404}
LINE_FORM = {"cpt_code": "90837", "place_of_service": "10", "units": "1", "fee": "1.00"}
POST_MATRIX: dict[str, tuple[dict[str, Expect], Kwargs, FormData]] = {
    "billing_line": (BILLING_OUTSIDERS, line_id, LINE_FORM),
    "void_billing_line": (BILLING_OUTSIDERS, line_id, {}),
    "correct_billing_line": (
        {**ADMIN_ONLY, "client_b": 403},
        billed_line_id,
        {"action": "credit"},
    ),
    "visit_billing": (BILLING_OUTSIDERS, visit_id, {}),
    "charge_missed": (BILLING_OUTSIDERS, missed_id, {}),
    "client_fees": (BILLING_OUTSIDERS, client_a_id, {"percent": "10", "reason": "Hijacked"}),
    "remove_client_fee": (BILLING_OUTSIDERS, client_fee_id, {}),
    "billing_settings": (
        {**ADMIN_ONLY, "client_b": 403},
        no_kwargs,
        {"currency": "EUR", "modifier_rule": "any_video", "audio_only_percent": "10"},
    ),
    "fee_schedule": (ADMIN_ONLY, no_kwargs, {"cpt_code": "90832", "label": "X", "fee": "1"}),
    "edit_service": (ADMIN_ONLY, service_id, {"cpt_code": "90834", "label": "X", "fee": "1"}),
    "session_type_kind": (ADMIN_ONLY, session_type_id, {"kind": "crisis"}),
    "provider_details": (ADMIN_ONLY, therapist_x_id, {"npi": "1234567893"}),
    "issue_invoice": (
        {**ADMIN_ONLY, "client_b": 403},
        client_a_id,
        {"kind": "monthly", "month": "2026-03"},
    ),
    "record_payment": (
        {**ADMIN_ONLY, "client_b": 403},
        client_a_id,
        {"received_on": "2026-03-02", "amount": "1.00", "method": "cash"},
    ),
    "record_refund": (
        {**ADMIN_ONLY, "client_b": 403},
        client_a_id,
        {"refunded_on": "2026-03-02", "amount": "1.00", "method": "cash"},
    ),
    "void_invoice": ({**ADMIN_ONLY, "client_b": 403}, invoice_id, {"reason": "Hijacked"}),
    "write_off": (
        {**ADMIN_ONLY, "client_b": 403},
        invoice_id,
        {"amount": "1.00", "written_off_on": "2026-03-02", "reason": "Hijacked"},
    ),
    "visit_note": (
        {"client_a": 403, "client_b": 404, "therapist_y": 404, "admin": 404},
        visit_id,
        {"action": "save", "s-subjective": "Hijacked"},
    ),
    "note": (NOTE_OUTSIDERS, note_id, {"action": "sign", "s-subjective": "Hijacked"}),
    "contact_note": (
        {"client_a": 403, "client_b": 404, "therapist_y": 404, "admin": 404},
        client_a_id,
        {
            "contact": "phone",
            "date_of_service": "2026-01-05",
            "kind": "progress",
            "template": "soap",
        },
    ),
    "note_addendum": (NOTE_OUTSIDERS, note_id, {"text": "Hijacked"}),
    "note_release": (NOTE_OUTSIDERS, note_id, {"reason": "Hijacked"}),
    "note_cosign": ({**NOTE_OUTSIDERS, "therapist_x": 400}, note_id, {}),
    "supervision": (
        ADMIN_ONLY,
        no_kwargs,
        lambda p: {"supervisee": str(p["therapist_y"].pk), "supervisor": str(p["therapist_x"].pk)},
    ),
    "end_supervision": (ADMIN_ONLY, supervision_id, {}),
    "note_templates": (
        ADMIN_ONLY,
        no_kwargs,
        {"definition": '{"key": "x", "version": 1, "name": "X", "sections": []}'},
    ),
    "edit_client_record": (
        {"client_b": 404, "therapist_y": 404, "admin": 404},
        client_a_id,
        {"preferred_name": "Al", "phone": "", "emergency_contact": "", "intake_notes": ""},
    ),
    "conversation": (
        {"client_b": 404, "therapist_y": 404, "admin": 403},
        conversation_id,
        {"id": "5f0c6a36-3f1e-4a43-9d55-0d6c1f0b9e01", "text": "Hello"},
    ),
    "end_relationship": (
        {"client_a": 403, "client_b": 403, "therapist_y": 404},
        lambda p: {"relationship_id": p["relationship"].pk},
        {},
    ),
    "failed_emails": (
        {**ADMIN_ONLY, "client_b": 403},
        no_kwargs,
        lambda p: {"delivery": str(p["failed_email"].pk)},
    ),
    "revoke_invitation": (
        {"client_a": 403, "therapist_y": 404},
        lambda p: {"invitation_id": p["invitation"].pk},
        {},
    ),
    "admin_set_active": (
        {"client_a": 403, "therapist_x": 403, "therapist_y": 403},
        lambda p: {"user_id": p["client_b"].pk},
        {"active": "0"},
    ),
    "emergency_access": (
        {"client_a": 403, "therapist_x": 403, "therapist_y": 403},
        client_a_id,
        {"reason": "Client unreachable and at risk, safety check requested"},
    ),
    "delete_weekly_window": ({"client_a": 403, "therapist_y": 404, "admin": 403}, window_id, {}),
    "delete_availability_change": (
        {"client_a": 403, "therapist_y": 404, "admin": 403},
        change_id,
        {},
    ),
    "edit_session_type": (
        {"client_a": 403, "therapist_y": 404, "admin": 403},
        session_type_id,
        {"name": "Hijacked", "minutes": "15"},
    ),
    "add_weekly_window": (
        {"client_a": 403, "admin": 403},
        lambda p: {},
        {"window-weekday": "1", "window-start_time": "09:00", "window-end_time": "10:00"},
    ),
    "book_for_client": ({"client_a": 403, "admin": 403}, lambda p: {}, {}),
    "book": ({"therapist_x": 403, "admin": 403}, lambda p: {}, {}),
    "cancel_appointment": (
        {"client_b": 404, "therapist_y": 404, "admin": 404},
        appointment_id,
        {"scope": "this"},
    ),
    "reschedule_appointment": (
        {"client_b": 404, "therapist_y": 404, "admin": 404},
        appointment_id,
        {"day": "2030-01-07", "start_time": "10:00"},
    ),
    "set_appointment_status": (
        {"client_a": 403, "client_b": 403, "therapist_y": 404, "admin": 403},
        appointment_id,
        {"status": "decline"},
    ),
    "consent_sign": ({"therapist_x": 403, "admin": 403}, lambda p: {}, {"typed_name": "X"}),
    "appointment_join": (
        {"client_b": 404, "therapist_y": 404, "admin": 404},
        appointment_id,
        {},
    ),
    "visit_start": ({"client_a": 403, "therapist_y": 404, "admin": 403}, client_a_id, {}),
    "visit_end": (
        {"client_a": 403, "client_b": 404, "therapist_y": 404, "admin": 404},
        visit_id,
        {},
    ),
    "visit_checkin": (
        {"therapist_x": 404, "client_b": 404, "therapist_y": 404, "admin": 404},
        visit_id,
        {
            "location": "Elsewhere",
            "callback_phone": "+1 555 0199",
            "emergency_contact": "Nobody",
            "confirm": "on",
        },
    ),
    "consent_admin": (
        {"client_a": 403, "therapist_x": 403, "therapist_y": 403},
        lambda p: {},
        {"title": "Taken over", "body": "Text"},
    ),
    "measure_task": (
        {"client_b": 404, "therapist_x": 403, "admin": 403},
        task_id,
        {"action": "submit", **{f"q-{n}": "3" for n in range(1, 8)}},
    ),
    "client_measures": (
        {"client_a": 403, "therapist_y": 404, "admin": 403},
        client_a_id,
        {"instrument": "1", "schedule": "once"},
    ),
    "end_assignment": ({"client_a": 403, "therapist_y": 404, "admin": 403}, assignment_id, {}),
    "alert_detail": (
        {"client_a": 403, "client_b": 403, "therapist_y": 404, "admin": 404},
        alert_id,
        {"action_taken": "Closed by an outsider"},
    ),
    "instruments": (
        {"client_a": 403, "therapist_x": 403, "therapist_y": 403},
        lambda p: {},
        {"licence_record": "Taken over"},
    ),
    "intake_fill": (
        {"client_b": 404, "therapist_x": 403, "admin": 403},
        intake_id,
        {"action": "save", "f-guardian_name": "Outsider"},
    ),
    "intake_correct": (
        {"client_b": 404, "therapist_y": 404, "admin": 403},
        submission_id,
        {"f-reason": "Changed by an outsider"},
    ),
    "client_intakes": (
        {"client_a": 403, "therapist_y": 404, "admin": 404},
        client_a_id,
        {"form_key": "adult"},
    ),
    "intake_forms": (
        {"client_a": 403, "therapist_x": 403, "therapist_y": 403},
        lambda p: {},
        {"action": "default", "key": "minor"},
    ),
    "instrument_detail": (
        {"client_a": 403, "therapist_x": 403, "therapist_y": 403},
        instrument_id,
        {"licence_record": "Taken over", "is_active": ""},
    ),
    "attachment_upload": (
        {"client_b": 404, "therapist_y": 404, "admin": 404},
        conversation_id,
        {"file": "%PDF-1.4 sent by an outsider"},
    ),
    "add_availability_change": (
        {"client_a": 403, "admin": 403},
        no_kwargs,
        {
            "change-kind": "off",
            "change-start_date": "2030-01-07",
            "change-start_time": "09:00",
            "change-end_date": "2030-01-07",
            "change-end_time": "12:00",
        },
    ),
    "add_session_type": (
        {"client_a": 403, "admin": 403},
        no_kwargs,
        {"name": "Taken over", "minutes": "30", "allow_video": "on"},
    ),
    "admin_relationships": (
        {"client_a": 403, "therapist_x": 403, "therapist_y": 403},
        no_kwargs,
        lambda p: {"therapist": str(p["therapist_y"].pk), "client": str(p["client_a"].pk)},
    ),
    "invitations": (
        {"client_a": 403, "client_b": 403},
        no_kwargs,
        {"full_name": "Uninvited", "email": "uninvited@example.test", "role": "client"},
    ),
    "practice_settings": (
        {"client_a": 403, "therapist_x": 403, "therapist_y": 403},
        no_kwargs,
        {"name": "Taken over", "crisis_resources": "None."},
    ),
    "erasure_report": (
        {"client_a": 403, "client_b": 403, "therapist_x": 403, "therapist_y": 403},
        lambda p: {"client_id": p["client_b"].pk},
        lambda p: {"reason": "client_request", "confirm_email": p["client_b"].email},
    ),
    "erasure_approve": (
        {"client_a": 403, "client_b": 403, "therapist_x": 403, "therapist_y": 403},
        erasure_id,
        {},
    ),
    "erasure_cancel": (
        {"client_a": 403, "client_b": 403, "therapist_x": 403, "therapist_y": 403},
        erasure_id,
        {},
    ),
    "erasure_erase": (
        {"client_a": 403, "client_b": 403, "therapist_x": 403, "therapist_y": 403},
        erasure_id,
        {},
    ),
    "messaging_settings": (
        {"admin": 403},
        no_kwargs,
        {"email_delay_minutes": "5", "response_hours": "1"},
    ),
    # Each person's own settings, sessions and calendar address: no one else's to change.
    "account_settings": ({}, no_kwargs, {"full_name": "Renamed", "time_zone": "UTC"}),
    "sign_out_everywhere": ({}, no_kwargs, {}),
    # Signed in, each acts on their own devices only; a form post is not a subscription (400).
    "push_subscribe": (
        {p: 400 for p in ("client_a", "client_b", "therapist_x", "therapist_y", "admin")},
        no_kwargs,
        {"endpoint": "https://fcm.googleapis.com/fcm/send/x"},
    ),
    "push_unsubscribe": ({}, no_kwargs, {"device": "999999"}),
    "edit_therapist_profile": (
        {"client_a": 403, "client_b": 403, "therapist_y": 404},
        therapist_x_id,
        {"bio": "Rewritten by an outsider", "languages": "en"},
    ),
    "my_care_request": (
        {"therapist_x": 403, "therapist_y": 403, "admin": 403},
        no_kwargs,
        {"action": "practice"},
    ),
    "ask_rematch": (
        {"therapist_x": 403, "therapist_y": 403, "admin": 403},
        no_kwargs,
        {"reason": "Not from a client"},
    ),
    "care_offer": (
        {"client_a": 403, "client_b": 403, "therapist_y": 404, "admin": 404},
        lambda p: {"offer_id": p["offer"].pk},
        {},
    ),
    "decline_care_offer": (
        {"client_a": 403, "client_b": 403, "therapist_y": 404, "admin": 404},
        lambda p: {"offer_id": p["offer"].pk},
        {"reason": "Not theirs to decline"},
    ),
    "care_requests": ({**ADMIN_ONLY, "client_b": 403}, no_kwargs, {}),
    "care_request": (
        {**ADMIN_ONLY, "client_b": 403},
        lambda p: {"request_id": p["offer"].request_id},
        lambda p: {"therapist": str(p["therapist_y"].pk)},
    ),
    "handle_rematch": (
        {**ADMIN_ONLY, "client_b": 403},
        lambda p: {"rematch_id": p["rematch"].pk},
        {},
    ),
    "calendar_feed": ({}, no_kwargs, {"action": "regenerate"}),
    # An invitation is accepted by someone not signed in; an unknown token creates no one.
    "accept_invitation": (
        {"anonymous": 410, "client_a": HOME},
        lambda p: {"token": "not-a-real-token"},
        {"password1": PASSWORD_FOR_NOBODY, "password2": PASSWORD_FOR_NOBODY},
    ),
    # allauth's forms for people not signed in yet: an empty POST signs no one in and changes
    # nothing (signing in, lockout, sign-up and MFA are tested in test_accounts.py).
    "account_login": ({"anonymous": 200}, no_kwargs, {}),
    "account_signup": ({"anonymous": 200}, no_kwargs, {}),
    "guardian_consent": (
        {"anonymous": 404, "client_a": 404},
        lambda p: {"token": "not-a-token"},
        {"agree": "on", "signed_name": "Someone"},
    ),
    "signup_screen": (
        {"therapist_x": 403, "admin": 403, "client_a": HOME},
        no_kwargs,
        {"phq9-q-1": "1"},
    ),
    "intake_alert": (
        {"client_a": 403, "client_b": 403, "therapist_x": 403, "therapist_y": 403},
        intake_alert_id,
        {"action_taken": "Taken over"},
    ),
    "signup_guardian": (
        {"client_a": 404, "client_b": 404, "therapist_x": 403, "therapist_y": 403, "admin": 403},
        no_kwargs,
        {"guardian_name": "Someone Else", "guardian_email": "someone@example.test"},
    ),
    "intake_guardian_send": (
        {"client_a": 403, "client_b": 403, "therapist_x": 403, "therapist_y": 403},
        guardian_id,
        {},
    ),
    "account_reset_password": ({"anonymous": 200}, no_kwargs, {}),
    "account_reset_password_from_key": (
        {"anonymous": 200},
        lambda p: {"uidb36": "zz", "key": "bogus-key"},
        {"password1": PASSWORD_FOR_NOBODY, "password2": PASSWORD_FOR_NOBODY},
    ),
    "account_confirm_email": ({"anonymous": 404}, lambda p: {"key": "bogus-key"}, {}),
    "account_confirm_login_code": ({}, no_kwargs, {"code": "000000"}),
    "mfa_authenticate": ({}, no_kwargs, {"code": "000000"}),
    "mfa_login_webauthn": ({}, no_kwargs, {}),
    # allauth's pages for the signed-in person's own account (password, email addresses,
    # re-authentication, authenticators, signing out): anonymous visitors are sent to sign in.
    "account_logout": ({}, no_kwargs, {}),
    "account_change_password": ({}, no_kwargs, {}),
    "client_diagnoses": (
        {"client_a": 403, "client_b": 403, "therapist_y": 404, "admin": 404},
        client_a_id,
        {"code": "F32.1", "rank": "secondary", "onset": ""},
    ),
    "change_diagnosis": (
        {"client_a": 403, "client_b": 403, "therapist_y": 404, "admin": 403},
        diagnosis_id,
        {"action": "error"},
    ),
    "diagnosis_frequent_codes": (
        {"client_a": 403, "client_b": 403, "therapist_x": 403, "therapist_y": 403},
        no_kwargs,
        {"codes": "F41.1"},
    ),
    **{
        name: (
            {"client_a": 403, "client_b": 403, "therapist_x": 403, "therapist_y": 403},
            kwargs,
            CRISIS_RESOURCE_FORM,
        )
        for name, kwargs in [
            ("crisis_resource_add", no_kwargs),
            ("crisis_resource_change", crisis_resource_id),
            ("crisis_resource_remove", crisis_resource_id),
        ]
    },
    "plan_start": (
        {"client_a": 403, "client_b": 403, "therapist_y": 404, "admin": 403},
        client_a_id,
        {},
    ),
    "plan_draft": (
        {"client_a": 403, "client_b": 403, "therapist_y": 404, "admin": 403},
        client_a_id,
        {"form": "goal", "problem": "Taken over", "description": "x", "sustained_over": "1"},
    ),
    "plan_finalise": (
        {"client_a": 403, "client_b": 403, "therapist_y": 404, "admin": 403},
        client_a_id,
        {},
    ),
    "my_plan": (
        {"client_b": 404, "therapist_x": 403, "therapist_y": 403, "admin": 403},
        no_kwargs,
        {"typed_name": "Bea Client"},
    ),
    "client_homework": (
        {"client_a": 403, "client_b": 403, "therapist_y": 404, "admin": 404},
        client_a_id,
        {"exercise": "sleep_diary", "first_due": "2999-01-01", "repeat": "none"},
    ),
    "homework_review": (
        {"client_a": 403, "client_b": 403, "therapist_y": 404, "admin": 404},
        homework_id,
        {"comment": "Taken over"},
    ),
    "homework_assignment": (
        {"client_a": 403, "client_b": 403, "therapist_y": 404, "admin": 404},
        homework_assignment_id,
        {"action": "stop"},
    ),
    "homework_fill": (
        {"client_b": 404, "therapist_x": 403, "therapist_y": 403, "admin": 403},
        homework_id,
        {"action": "submit", "f-situation": "Taken over"},
    ),
    "my_journal": (
        {"therapist_x": 403, "therapist_y": 403, "admin": 403},
        no_kwargs,
        {"mood": "3", "text": "Taken over", "shared": "on"},
    ),
    "journal_entry": (
        {"client_b": 404, "therapist_x": 403, "therapist_y": 403, "admin": 403},
        journal_entry_id,
        {"mood": "1", "text": "Taken over"},
    ),
    "journal_reminder": (
        {"therapist_x": 403, "therapist_y": 403, "admin": 403},
        no_kwargs,
        {"enabled": "on", "remind_at": "08:00"},
    ),
    "safety_plan_edit": (
        {"client_a": 403, "client_b": 403, "therapist_y": 404, "admin": 403},
        client_a_id,
        {"warning_signs": "Taken over"},
    ),
    "safety_plan_reviewed": (
        {"client_a": 403, "client_b": 403, "therapist_y": 404, "admin": 403},
        client_a_id,
        {},
    ),
    "account_set_password": ({}, no_kwargs, {}),
    "account_email": ({}, no_kwargs, {"email": "another@example.test", "action_add": ""}),
    "account_reauthenticate": ({}, no_kwargs, {"password": PASSWORD_FOR_NOBODY}),
    "account_request_reauthentication_code": ({}, no_kwargs, {}),
    "account_confirm_reauthentication_code": ({}, no_kwargs, {"code": "000000"}),
    "mfa_reauthenticate": ({}, no_kwargs, {"code": "000000"}),
    "mfa_reauthenticate_webauthn": ({}, no_kwargs, {}),
    "mfa_activate_totp": ({}, no_kwargs, {"code": "000000"}),
    "mfa_deactivate_totp": ({}, no_kwargs, {}),
    "mfa_generate_recovery_codes": ({}, no_kwargs, {}),
    "mfa_download_recovery_codes": ({}, no_kwargs, {}),
    "mfa_add_webauthn": ({}, no_kwargs, {}),
    "mfa_edit_webauthn": ({}, lambda p: {"pk": 999999}, {"name": "Taken over"}),
    "mfa_remove_webauthn": ({}, lambda p: {"pk": 999999}, {}),
}


def methods_taken(browser: Any, url: str) -> set[str]:
    """The methods a route takes, from its answer to OPTIONS (which changes nothing): allauth's
    views list them with a 200, Rapport's in the 405 that refuses OPTIONS; a redirect says none."""
    allow = browser.options(url).get("Allow", "")
    return {method.strip() for method in allow.split(",") if method.strip()}


def test_every_route_that_takes_a_post_has_a_post_rule(world: dict[str, Any]) -> None:
    browsers = browsers_for(world)
    takes_post, unsaid = set(), set()
    for name in route_names():
        kwargs = MATRIX[name][1]
        url = reverse(name, kwargs=kwargs(world) if kwargs else None)
        methods = set().union(*(methods_taken(browser, url) for browser in browsers.values()))
        if "POST" in methods:
            takes_post.add(name)
        elif not methods:
            unsaid.add(name)  # every persona was redirected: it may take a POST
    missing = sorted((takes_post | unsaid) - POST_MATRIX.keys())
    stale = sorted(POST_MATRIX.keys() - takes_post - unsaid)
    assert not missing, f"routes that take a POST (or do not say) without a POST rule: {missing}"
    assert not stale, f"POST rules for routes that take no POST: {stale}"


def form_data(data: FormData, world: dict[str, Any]) -> dict[str, str]:
    return data(world) if callable(data) else data


def test_state_changing_routes_refuse_outsiders(world: dict[str, Any]) -> None:
    from allauth.account.models import EmailAddress
    from allauth.mfa.models import Authenticator

    from rapport.accounts.models import Invitation, Practice, User
    from rapport.billing.models import (
        Allocation,
        BillingLine,
        BillingSettings,
        ClientFee,
        Invoice,
        InvoiceLine,
        Payment,
        ProviderDetails,
        Refund,
        Service,
        SessionTypeBilling,
        TherapistFee,
        WriteOff,
    )
    from rapport.care.models import CareRelationship, ClientProfile, EmergencyAccess
    from rapport.crisis.models import CrisisResource
    from rapport.diagnoses.models import Diagnosis, FrequentCode
    from rapport.homework.models import Assignment as HomeworkAssignment
    from rapport.homework.models import Homework
    from rapport.journal.models import JournalEntry, MoodReminder
    from rapport.matching.models import CareRequest, Offer, RematchRequest, TherapistProfile
    from rapport.measures.models import Assignment, Instrument, MeasureTask, Response, SafetyAlert
    from rapport.messaging.models import Attachment, Message, MessagingSettings
    from rapport.notes.models import (
        Addendum,
        CoSignature,
        Note,
        NoteTemplate,
        Release,
        Supervision,
    )
    from rapport.plans.models import Goal, PlanSignature, PlanVersion
    from rapport.push.models import PushSubscription
    from rapport.records.models import Erasure
    from rapport.safety.models import SafetyPlanReview, SafetyPlanVersion
    from rapport.scheduling.models import (
        Appointment,
        AvailabilityChange,
        CalendarFeed,
        ConsentDocument,
        ConsentSignature,
        SessionType,
        WeeklyWindow,
    )
    from rapport.signup.models import GuardianConsent, IntakeAlert
    from rapport.visits.models import SafetyCheckIn, Visit

    def snapshot() -> tuple[Any, ...]:
        return (
            ClientProfile.objects.get(client=world["client_a"]).preferred_name,
            list(CareRelationship.objects.values_list("pk", "status")),
            list(Invitation.objects.values_list("pk", "revoked_at", "accepted_at")),
            list(EmailDelivery.objects.values_list("pk", "status", "attempts")),
            list(
                User.objects.values_list(
                    "pk", "is_active", "full_name", "time_zone", "session_generation", "password"
                )
            ),
            list(EmailAddress.objects.values_list("pk", "email", "verified")),
            list(Authenticator.objects.order_by("pk").values_list("pk", "type")),
            Practice.get().name,
            EmergencyAccess.objects.count(),
            list(Appointment.objects.values_list("pk", "status", "starts_at", "revision")),
            list(WeeklyWindow.objects.values_list("pk", "weekday", "start_time", "end_time")),
            list(AvailabilityChange.objects.values_list("pk", "starts_at", "ends_at")),
            list(SessionType.objects.values_list("pk", "name", "minutes")),
            list(CalendarFeed.objects.values_list("pk", "token_hash")),
            ConsentDocument.objects.count(),
            ConsentSignature.objects.count(),
            list(Visit.objects.values_list("pk", "status", "ended_at")),
            SafetyCheckIn.objects.count(),
            list(Assignment.objects.values_list("pk", "is_active")),
            list(MeasureTask.objects.values_list("pk", "status", "draft")),
            Response.objects.count(),
            list(SafetyAlert.objects.values_list("pk", "acknowledged_at", "action_taken")),
            list(Instrument.objects.values_list("pk", "licence_record", "is_active")),
            list(MessagingSettings.objects.values_list("pk", "email_delay_minutes")),
            Attachment.objects.count(),
            Message.objects.count(),
            list(Diagnosis.objects.values_list("pk", "code", "rank", "status")),
            FrequentCode.objects.count(),
            list(CrisisResource.objects.values_list("pk", "name", "phone", "source_url")),
            list(PlanVersion.objects.values_list("pk", "status", "review_on")),
            Goal.objects.count(),
            PlanSignature.objects.count(),
            SafetyPlanVersion.objects.count(),
            SafetyPlanReview.objects.count(),
            list(Note.objects.values_list("pk", "status", "updated_at")),
            list(Supervision.objects.values_list("pk", "ended_at")),
            NoteTemplate.objects.count(),
            Addendum.objects.count() + CoSignature.objects.count() + Release.objects.count(),
            list(Erasure.objects.values_list("pk", "status", "approved_by", "cancelled_by")),
            list(HomeworkAssignment.objects.values_list("pk", "stopped_at", "instructions")),
            list(Homework.objects.values_list("pk", "status", "saved_at", "commented_at")),
            list(JournalEntry.objects.values_list("pk", "shared", "mood", "updated_at")),
            list(MoodReminder.objects.values_list("client", "enabled", "at", "revision")),
            list(BillingLine.objects.values_list("pk", "status", "cpt_code", "fee", "updated_at")),
            list(Service.objects.values_list("pk", "cpt_code", "label", "fee", "is_active")),
            list(TherapistFee.objects.values_list("pk", "fee")),
            list(ClientFee.objects.values_list("pk", "fee", "percent", "set_at")),
            list(BillingSettings.objects.values_list("pk", "currency", "updated_at")),
            list(ProviderDetails.objects.values_list("pk", "npi")),
            list(SessionTypeBilling.objects.values_list("pk", "kind")),
            PushSubscription.objects.count(),
            list(TherapistProfile.objects.values_list("pk", "bio", "languages", "updated_at")),
            list(CareRequest.objects.values_list("pk", "status", "choices", "matched_at")),
            list(Offer.objects.values_list("pk", "status", "decline_reason")),
            list(RematchRequest.objects.values_list("pk", "handled_at", "reason")),
            list(Invoice.objects.values_list("pk", "status", "total", "settled")),
            list(InvoiceLine.objects.values_list("pk", "live")),
            list(Payment.objects.values_list("pk", "amount", "allocated", "refunded")),
            Allocation.objects.count() + WriteOff.objects.count() + Refund.objects.count(),
            list(IntakeAlert.objects.values_list("pk", "acknowledged_at", "action_taken")),
            list(
                GuardianConsent.objects.values_list(
                    "pk", "consented_at", "token_hash", "asked_at", "guardian_email"
                )
            ),
        )

    before = snapshot()
    browsers = browsers_for(world)
    wrong = []
    for name, (refused, kwargs, data) in POST_MATRIX.items():
        url = reverse(name, kwargs=kwargs(world))
        for persona, status in {"anonymous": LOGIN, **refused}.items():
            response = browsers[persona].post(url, form_data(data, world))
            if not matches(status, response):
                got = f"{response.status_code} {response.get('Location', '')}".strip()
                wrong.append(f"POST {name} as {persona}: expected {status}, got {got}")
    assert not wrong, "\n".join(wrong)
    assert snapshot() == before, "a refused request changed data"
    # The persona allowed to edit the record does change it.
    response = browsers["therapist_x"].post(
        reverse("edit_client_record", kwargs=client_a_id(world)),
        {"preferred_name": "Al", "phone": "", "emergency_contact": "", "intake_notes": ""},
    )
    assert response.status_code == 302
    assert ClientProfile.objects.get(client=world["client_a"]).preferred_name == "Al"


@pytest.mark.django_db(transaction=True)
def test_every_websocket_route_refuses_anonymous_and_accepts_members() -> None:
    from asgiref.sync import async_to_sync
    from channels.testing import WebsocketCommunicator

    from rapport.asgi import application
    from rapport.care.models import CareRelationship
    from rapport.routing import websocket_urlpatterns
    from tests.conftest import make_user

    user = make_user("ws.client@example.test", "client", "Wes Socket")
    therapist = make_user("ws.therapist@example.test", "therapist", "Tess Socket")
    CareRelationship.objects.create(therapist=therapist, client=user)
    visit = open_visit(therapist, user)
    real_kwargs = {"visit_id": str(visit.uid)}
    cookie = signed_in_through_the_form(user).cookies
    session = "; ".join(f"{k}={v.value}" for k, v in cookie.items())

    async def connect(path: str, headers: list[tuple[bytes, bytes]]) -> bool:
        communicator = WebsocketCommunicator(application, path, headers=headers)
        connected, _code = await communicator.connect()
        await communicator.disconnect()
        return bool(connected)

    origin = (b"origin", b"http://127.0.0.1")
    host = (b"host", b"127.0.0.1")  # the Origin must be the origin the handshake was sent to
    for pattern in websocket_urlpatterns:
        path = "/" + str(pattern.pattern)
        for name, value in real_kwargs.items():
            path = path.replace(f"<uuid:{name}>", value)
        assert not async_to_sync(connect)(path, [host, origin]), (
            f"{path} accepted an anonymous socket"
        )
        assert async_to_sync(connect)(path, [host, origin, (b"cookie", session.encode())]), path


# Once the care of therapist_x and client_a ends, or either of them is deactivated, the pages of
# what they shared answer each of them as they answer an outsider, as their sockets refuse:
# (client_a, therapist_x) for a GET of each route; the client keeps their own record.
AFTER_CARE: dict[str, tuple[Expect, Expect, Kwargs]] = {
    "appointment_detail": (404, 404, appointment_id),
    "cancel_appointment": (404, 404, appointment_id),
    "reschedule_appointment": (404, 404, appointment_id),
    "visit_room": (404, 404, visit_id),
    "visit_check": (404, 404, visit_id),
    "visit_checkin": (404, 404, visit_id),
    "visit_timeline": (404, 404, visit_id),
    "alert_detail": (403, 404, alert_id),
    "client_record": (200, 404, client_a_id),
    "client_progress": (403, 404, client_a_id),
    "client_diagnoses": (403, 404, client_a_id),
    "client_plan": (403, 404, client_a_id),
    "plan_draft": (403, 404, client_a_id),
    "my_plan": (200, 403, no_kwargs),
    "client_homework": (403, 404, client_a_id),
    "homework_review": (403, 404, homework_id),
    "homework_assignment": (403, 404, homework_assignment_id),
    "client_journal": (403, 404, client_a_id),
    "client_safety_plan": (403, 404, client_a_id),
    "safety_plan_edit": (403, 404, client_a_id),
    "safety_plan_version": (403, 404, plan_version_number),
    "my_safety_plan": (200, 403, no_kwargs),
    "client_intakes": (403, 404, client_a_id),
    "intake_detail": (200, 404, submission_id),
    "record_timeline": (200, 404, client_a_id),
    "record_export_fhir": (200, 404, client_a_id),
    "client_superbill": (200, 404, client_a_id),
    "my_superbills": (200, 403, no_kwargs),
    "conversation": (404, 404, conversation_id),
    "client_billing": (403, 404, client_a_id),
    "client_fees": (403, 404, client_a_id),
    "billing_line": (403, 404, line_id),
    "visit_billing": (403, 404, visit_id),
    "client_ledger": (403, 404, client_a_id),
    "client_statement": (403, 404, client_a_id),
    "invoice": (403, 404, invoice_id),
    "attachment": (404, 404, attachment_id),
    "visit_note": (404, 404, visit_id),
    "note": (404, 404, note_id),
    "contact_note": (403, 404, client_a_id),
}


def _end_care(world: dict[str, Any]) -> None:
    from django.test import RequestFactory

    from rapport.care.services import end_care

    request = RequestFactory().post("/")
    end_care(world["relationship"].pk, actor=world["admin"], request=request)


def _deactivate(persona: str) -> Callable[[dict[str, Any]], None]:
    def deactivate(world: dict[str, Any]) -> None:
        from django.test import RequestFactory

        from rapport.accounts.services import set_active

        set_active(world["admin"], world[persona], False, RequestFactory().post("/"))

    return deactivate


@pytest.mark.parametrize(
    ("change", "who_is_left"),
    [
        (_end_care, ["client_a", "therapist_x"]),
        (_deactivate("client_a"), ["therapist_x"]),
        (_deactivate("therapist_x"), ["client_a"]),
    ],
    ids=["care ended", "client deactivated", "therapist deactivated"],
)
def test_pages_of_ended_care_answer_as_for_an_outsider(
    world: dict[str, Any], change: Callable[[dict[str, Any]], None], who_is_left: list[str]
) -> None:
    from tests.conftest import signed_in

    browsers = {persona: signed_in(world[persona]) for persona in who_is_left}
    for persona, browser in browsers.items():  # open to both while the care lasts
        for name, (_client, _therapist, kwargs) in AFTER_CARE.items():
            url = reverse(name, kwargs=kwargs(world))
            assert browser.get(url).status_code == MATRIX[name][0][persona], (name, persona)
    change(world)
    wrong = []
    for persona, browser in browsers.items():
        for name, (as_client, as_therapist, kwargs) in AFTER_CARE.items():
            expected = as_client if persona == "client_a" else as_therapist
            response = browser.get(reverse(name, kwargs=kwargs(world)))
            if not matches(expected, response):
                wrong.append(
                    f"{name} as {persona}: expected {expected}, got {response.status_code}"
                )
    assert not wrong, "pages of ended care still answer:\n" + "\n".join(wrong)


@pytest.mark.parametrize("change", [_end_care, _deactivate("client_a")], ids=["ended", "inactive"])
def test_alert_lists_stop_naming_a_former_client(
    world: dict[str, Any], change: Callable[[dict[str, Any]], None]
) -> None:
    from rapport.measures.alerts import acknowledge
    from tests.conftest import signed_in

    browser = signed_in(world["therapist_x"])
    name = world["client_a"].full_name
    pages = [reverse("alerts"), reverse("home")]
    assert all(name in browser.get(page).content.decode() for page in pages)
    change(world)
    for page in pages:
        assert name not in browser.get(page).content.decode(), page
    # Nor once acknowledged ("recently closed").
    acknowledge(world["safety_alert"], world["therapist_x"], "Called her; she is safe.")
    assert name not in browser.get(reverse("alerts")).content.decode()


def test_calendars_show_each_therapist_only_their_own_sessions(world: dict[str, Any]) -> None:
    """therapist_x's session is on x's day, week and month, on no page of therapist_y's, and on
    the admin's practice day as times and initials only; y cannot move it, by form or drag."""
    from django.utils import timezone

    from tests.conftest import signed_in

    appointment = world["appointment"]
    day = timezone.localdate(appointment.starts_at, timezone=timezone.get_default_timezone())
    pages = [
        reverse("schedule_day", kwargs={"day": day}),
        reverse("schedule_week", kwargs={"day": day}),
        reverse("schedule_month", kwargs={"day": day}),
    ]
    link = reverse("appointment_detail", kwargs={"appointment_id": appointment.pk})
    name = world["client_a"].full_name
    own = signed_in(world["therapist_x"])
    for page in pages:
        body = own.get(page).content.decode()
        assert link in body and name in body, page
    other = signed_in(world["therapist_y"])
    for page in pages:
        body = other.get(page).content.decode()
        assert link not in body and name not in body, page
    moved = other.post(
        reverse("reschedule_appointment", kwargs={"appointment_id": appointment.pk}),
        {"day": (day + timedelta(days=1)).isoformat(), "start_time": "10:00", "next": pages[1]},
    )
    assert moved.status_code == 404
    appointment.refresh_from_db()
    assert appointment.revision == 0

    practice = signed_in(world["admin"]).get(reverse("practice_schedule_day", kwargs={"day": day}))
    body = practice.content.decode()
    assert practice.status_code == 200
    assert world["therapist_x"].full_name in body and world["therapist_y"].full_name in body
    assert f"client {world['client_a'].initials}" in body
    assert name not in body and link not in body
    assert appointment.session_type.name not in body.split("<main", 1)[1]
    for persona in ("client_a", "therapist_x"):
        denied = signed_in(world[persona]).get(reverse("practice_schedule"))
        assert denied.status_code == 403, persona


@pytest.mark.django_db(transaction=True)
def test_every_websocket_route_refuses_a_clinician_without_a_second_factor() -> None:
    """Therapists and admins must enrol an authenticator before anything else (the pages send
    them to enrolment): every socket refuses them at the handshake, as it refuses anyone not
    signed in, and accepts them once they have enrolled."""
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from asgiref.sync import async_to_sync
    from channels.testing import WebsocketCommunicator

    from rapport.asgi import application
    from rapport.care.models import CareRelationship
    from rapport.core.sockets import SECOND_FACTOR_REQUIRED
    from rapport.routing import websocket_urlpatterns
    from tests.conftest import make_user, signed_in
    from tests.sockets import socket_headers

    client = make_user("ws.client@example.test", "client", "Wes Socket")
    therapist = make_user("ws.therapist@example.test", "therapist", "Tess Socket", mfa=False)
    admin = make_user("ws.admin@example.test", "admin", "Ada Socket", mfa=False)
    CareRelationship.objects.create(therapist=therapist, client=client)
    visit = open_visit(therapist, client)
    paths = [
        "/" + str(pattern.pattern).replace("<uuid:visit_id>", str(visit.uid))
        for pattern in websocket_urlpatterns
    ]

    async def connect(path: str, browser: Client) -> tuple[bool, Any]:
        communicator = WebsocketCommunicator(application, path, headers=socket_headers(browser))
        connected, code = await communicator.connect()
        await communicator.disconnect()
        return bool(connected), code

    for person in (therapist, admin):
        browser = signed_in(person)
        assert browser.get("/").status_code == 302  # the pages send them to enrol
        for path in paths:
            expected = (False, SECOND_FACTOR_REQUIRED)
            assert async_to_sync(connect)(path, browser) == expected, (person.email, path)
    TOTP.activate(therapist, generate_totp_secret())
    browser = signed_in(therapist)
    for path in paths:
        assert async_to_sync(connect)(path, browser)[0], path
