"""What the audit trail's codes mean in people's words.

The codes stay in the chain and in the CSV export (they are stable); pages show these labels.
Every action code recorded anywhere needs one here (``tests/test_audit_labels.py`` scans the
source); an unknown code still reads as words, never as a raw dotted code.
"""

from __future__ import annotations

import re

from django.utils.translation import gettext_lazy as _

from rapport.audit.services import Action

# How the trail names each action, for a practice admin reading it.
ACTION_LABELS = {
    Action.SIGN_IN: _("Signed in"),
    Action.SIGN_IN_FAILED: _("Failed to sign in"),
    Action.SIGN_OUT: _("Signed out"),
    Action.SIGN_OUT_EVERYWHERE: _("Signed out on every device"),
    Action.LOCKED_OUT: _("Locked out after failed sign-ins"),
    Action.SESSION_EXPIRED: _("Signed out automatically"),
    Action.PASSWORD_CHANGED: _("Changed their password"),
    Action.PASSWORD_RESET: _("Reset their password"),
    Action.MFA_ADDED: _("Added an authenticator app"),
    Action.MFA_REMOVED: _("Removed an authenticator app"),
    Action.MFA_RECOVERY_RESET: _("Made new recovery codes"),
    Action.EMAIL_CONFIRMED: _("Confirmed an email address"),
    Action.EMAIL_ADDED: _("Added an email address"),
    Action.EMAIL_PRIMARY_CHANGED: _("Changed the sign-in email address"),
    Action.EMAIL_REMOVED: _("Removed an email address"),
    Action.MFA_FAILED: _("Typed a wrong second-factor code"),
    Action.MFA_LOCKED_OUT: _("Locked out after too many wrong second-factor codes"),
    Action.INVITATION_EXISTING_ACCOUNT: _("Invited an address that already has an account"),
    Action.INVITATION_SENT: _("Sent an invitation"),
    Action.INVITATION_ACCEPTED: _("Accepted an invitation"),
    Action.INVITATION_REVOKED: _("Withdrew an invitation"),
    Action.EMAIL_RETRIED: _("Tried a failed email again"),
    Action.ACCOUNT_CREATED: _("Account created"),
    Action.ACCOUNT_DEACTIVATED: _("Account deactivated"),
    Action.ACCOUNT_REACTIVATED: _("Account reactivated"),
    Action.PREFERENCES_CHANGED: _("Changed their preferences"),
    Action.PRACTICE_SETTINGS_CHANGED: _("Changed the practice settings"),
    Action.CLIENT_RECORD_VIEWED: _("Opened a client's record"),
    Action.CLIENT_RECORD_CHANGED: _("Changed a client's record"),
    Action.CARE_STARTED: _("Care started"),
    Action.CARE_ENDED: _("Care ended"),
    Action.EMERGENCY_ACCESS: _("Emergency access to a client's record"),
    Action.AUDIT_VIEWED: _("Looked at the audit trail"),
    Action.AUDIT_EXPORTED: _("Exported the audit trail"),
    Action.KEYS_ROTATED: _("Encryption keys rotated"),
    Action.CONSENT_PUBLISHED: _("Published a consent document"),
    Action.CONSENT_SIGNED: _("Signed the consent document"),
    Action.APPOINTMENT_BOOKED: _("Booked a session"),
    Action.APPOINTMENT_MOVED: _("Moved a session"),
    Action.APPOINTMENT_CANCELLED: _("Cancelled a session"),
    Action.APPOINTMENT_STATUS: _("Changed a session's status"),
    Action.AVAILABILITY_CHANGED: _("Changed their availability"),
    Action.CALENDAR_FEED_CHANGED: _("Changed their calendar feed"),
    Action.VISIT_OPENED: _("Opened a session room"),
    Action.VISIT_CHECKED_IN: _("Checked in for a session"),
    Action.VISIT_ADMITTED: _("Let a client into a session"),
    Action.VISIT_ENDED: _("Ended a session"),
    Action.VISIT_TIMELINE_VIEWED: _("Looked at a session's timeline"),
    Action.INSTRUMENT_IMPORTED: _("Imported a questionnaire"),
    Action.INSTRUMENT_CHANGED: _("Changed a questionnaire"),
    Action.MESSAGE_EDITED: _("Corrected a message"),
    Action.MESSAGE_RETRACTED: _("Took back a message"),
    Action.MESSAGE_ATTACHMENT_UPLOADED: _("Attached a file to a message"),
    Action.MESSAGE_ATTACHMENT_OPENED: _("Opened a file sent in a message"),
    Action.MESSAGING_SETTINGS_CHANGED: _("Changed the messaging settings"),
    Action.PUSH_DEVICE_ADDED: _("Turned on notices on a device"),
    Action.PUSH_DEVICE_CHANGED: _("Changed which notices a device gets"),
    Action.PUSH_DEVICE_REMOVED: _("Turned off notices on a device"),
    Action.MEASURE_ASSIGNED: _("Assigned a questionnaire"),
    Action.MEASURE_ASSIGNMENT_ENDED: _("Stopped a questionnaire"),
    Action.MEASURE_SUBMITTED: _("Sent a questionnaire"),
    Action.MEASURE_CORRECTED: _("Corrected a questionnaire's answers"),
    Action.MEASURES_EXPORTED: _("Exported questionnaire results"),
    Action.ALERT_RAISED: _("Safety alert raised"),
    Action.ALERT_ACKNOWLEDGED: _("Safety alert acknowledged"),
    Action.ALERT_ESCALATED: _("Safety alert escalated"),
    # Diagnoses and treatment plans (issue 15)
    Action.DIAGNOSIS_RECORDED: _("Recorded a diagnosis"),
    Action.DIAGNOSIS_CHANGED: _("Changed a diagnosis"),
    Action.FREQUENT_CODES_CHANGED: _("Changed the practice's frequent diagnosis codes"),
    Action.CRISIS_RESOURCE_ADDED: _("Added a crisis resource"),
    Action.CRISIS_RESOURCE_CHANGED: _("Changed a crisis resource"),
    Action.CRISIS_RESOURCE_REMOVED: _("Removed a crisis resource"),
    Action.PLAN_DRAFT_CHANGED: _("Changed a draft treatment plan"),
    Action.PLAN_FINALISED: _("Finalised a treatment plan"),
    Action.PLAN_SIGNED: _("Signed a treatment plan"),
    # Homework and the journal (issue 18)
    Action.HOMEWORK_ASSIGNED: _("Assigned homework"),
    Action.HOMEWORK_SUBMITTED: _("Handed in homework"),
    Action.HOMEWORK_COMMENTED: _("Commented on homework"),
    Action.HOMEWORK_CHANGED: _("Changed homework"),
    Action.HOMEWORK_STOPPED: _("Stopped homework"),
    Action.JOURNAL_ENTRY_SHARED: _("Shared a journal entry"),
    Action.JOURNAL_ENTRY_UNSHARED: _("Stopped sharing a journal entry"),
    Action.JOURNAL_REMINDER_CHANGED: _("Changed their daily reminder"),
    # Safety plans (issue 18)
    Action.SAFETY_PLAN_SAVED: _("Saved a safety plan"),
    Action.SAFETY_PLAN_REVIEWED: _("Reviewed a safety plan"),
    # Intake (issue 15)
    Action.INTAKE_SENT: _("Sent an intake form"),
    Action.INTAKE_SUBMITTED: _("Sent back an intake form"),
    Action.INTAKE_CORRECTED: _("Corrected an intake form"),
    Action.INTAKE_VIEWED: _("Opened an intake form"),
    Action.INTAKE_FORM_ADDED: _("Added an intake form"),
    Action.INTAKE_DEFAULT_CHOSEN: _("Chose the default intake form"),
    # Sign-up (issue 21)
    Action.SIGNUP_REGISTERED: _("Signed up as a new client"),
    Action.SIGNUP_SCREENED: _("Sent the sign-up screen"),
    Action.GUARDIAN_ASKED: _("Asked a guardian to consent"),
    Action.GUARDIAN_CONSENTED: _("A guardian consented"),
    Action.GUARDIAN_CHANGED: _("Changed the guardian's name or address"),
    Action.INTAKE_ALERT_RAISED: _("Raised a new client's safety alert"),
    Action.INTAKE_ALERT_VIEWED: _("Opened a new client's safety alert"),
    Action.INTAKE_ALERT_ACKNOWLEDGED: _("Acknowledged a new client's safety alert"),
    Action.INTAKE_QUEUE_VIEWED: _("Opened the intake queue"),
    # Notes: one word for every kind of note.
    Action.NOTE_STARTED: _("Started a note"),
    Action.NOTE_SIGNED: _("Signed a note"),
    Action.NOTE_ADDENDUM: _("Added an addendum to a note"),
    Action.NOTE_RELEASED: _("Released a note into the record"),
    Action.NOTE_COSIGNED: _("Co-signed a note"),
    Action.NOTE_TEMPLATE_ADDED: _("Added a note template"),
    Action.SUPERVISION_STARTED: _("Supervision started"),
    Action.SUPERVISION_ENDED: _("Supervision ended"),
    # The record as a whole (rapport.records).
    Action.RECORD_EXPORTED: _("Downloaded a client's whole record"),
    # Retention and erasure (rapport.records).
    Action.ERASURE_REQUESTED: _("Asked to erase a client's record"),
    Action.ERASURE_APPROVED: _("Approved erasing a client's record"),
    Action.ERASURE_CANCELLED: _("Cancelled erasing a client's record"),
    Action.ERASURE_DONE: _("Erased a client's record"),
    # Billing (rapport.billing).
    Action.BILLING_VIEWED: _("Looked at a client's billing"),
    Action.SUPERBILL_DOWNLOADED: _("Downloaded a superbill"),
    Action.BILLING_LINE_PROPOSED: _("A billing line was proposed"),
    Action.BILLING_LINE_CHANGED: _("Changed a proposed billing line"),
    Action.BILLING_LINE_CONFIRMED: _("Confirmed a billing line"),
    Action.BILLING_LINE_VOIDED: _("Voided a billing line"),
    Action.BILLING_LINES_BILLED: _("Billed and locked billing lines"),
    Action.BILLING_LINE_CORRECTED: _("Corrected a billed line (credit and new charge)"),
    Action.BILLING_FEES_CHANGED: _("Changed the fee schedule"),
    Action.BILLING_CLIENT_FEE_CHANGED: _("Changed a client's fee"),
    Action.BILLING_SETTINGS_CHANGED: _("Changed the billing settings"),
    Action.INVOICE_ISSUED: _("Issued an invoice"),
    Action.INVOICE_VOIDED: _("Voided an invoice"),
    Action.PAYMENT_RECORDED: _("Recorded a payment"),
    Action.PAYMENT_ALLOCATED: _("Allocated a payment to invoices"),
    Action.WRITE_OFF_RECORDED: _("Wrote off part of an invoice"),
    Action.REFUND_RECORDED: _("Recorded a refund of a client's credit"),
    Action.BILLING_EXPORTED: _("Exported billing for the accountant"),
    Action.OUTCOMES_VIEWED: _("Viewed practice outcomes"),
    Action.SERVICE_QUALITY_VIEWED: _("Viewed attendance, technology and feedback figures"),
    Action.OUTCOMES_SUMMARY_DOWNLOADED: _("Downloaded the outcomes summary"),
    Action.RESEARCH_EXPORTED: _("Downloaded the de-identified research export"),
    Action.OUTCOMES_CASELOAD_VIEWED: _("Viewed the outcomes of their own clients"),
    Action.THERAPIST_PROFILE_CHANGED: _("Changed a therapist profile"),
    Action.THERAPIST_CHOSEN: _("Chose a therapist for a request"),
    Action.OFFER_ANSWERED: _("Answered a request for a therapist"),
    Action.WAITLIST_REMATCHED: _("Matched the waitlist again"),
    Action.REMATCH_REQUESTED: _("Asked for a different therapist"),
    Action.REMATCH_HANDLED: _("Acted on a request for a different therapist"),
}

# The kinds of object an event names. "SimpleLazyObject" is what events recorded before the fix
# hold for the signed-in person's own account (request.user).
OBJECT_LABELS = {
    "User": _("Account"),
    "SimpleLazyObject": _("Account"),
    "Visit": _("Session room"),
    "Diagnosis": _("Diagnosis"),
    "PlanVersion": _("Treatment plan"),
    "PlanSignature": _("Treatment plan signature"),
    "Appointment": _("Session"),
    "AppointmentSeries": _("Series of sessions"),
    "CareRelationship": _("Care relationship"),
    "ClientProfile": _("Client record"),
    "EmergencyAccess": _("Emergency access"),
    "ConsentDocument": _("Consent document"),
    "ConsentSignature": _("Consent signature"),
    "CalendarFeed": _("Calendar feed"),
    "AvailabilityChange": _("Availability change"),
    "WeeklyWindow": _("Weekly hours"),
    "MeasureTask": _("Questionnaire to fill in"),
    "Response": _("Questionnaire answers"),
    "SafetyAlert": _("Safety alert"),
    "Instrument": _("Questionnaire"),
    "Assignment": _("Questionnaire assignment"),
    "MessagingSettings": _("Messaging settings"),
    "Note": _("Note"),
    "NoteTemplate": _("Note template"),
    "Supervision": _("Supervision"),
    "BillingLine": _("Billing line"),
    "Service": _("Fee schedule row"),
    "TherapistFee": _("Therapist's fee"),
    "ClientFee": _("Client's fee"),
    "BillingSettings": _("Billing settings"),
    "ProviderDetails": _("Provider billing details"),
    "TherapistProfile": _("Therapist profile"),
    "CareRequest": _("Request for a therapist"),
    "Offer": _("Request put to a therapist"),
    "RematchRequest": _("Request for a different therapist"),
}


def humanise(code: str) -> str:
    """``visit.recording_started`` -> "Visit: recording started", ``SafetyPlan`` -> "Safety
    plan"."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", code).replace("_", " ").strip()
    area, dot, rest = words.partition(".")
    if not dot:
        return area.capitalize()
    return f"{area.capitalize()}: {rest.replace('.', ' ').lower()}"


def action_label(code: str) -> str:
    return str(ACTION_LABELS.get(code) or humanise(code))


def object_label(object_type: str) -> str:
    return str(OBJECT_LABELS.get(object_type) or humanise(object_type))


# What a client is told someone else did with their record ("Who saw my record"), by action.
CLIENT_LABELS = {
    Action.CLIENT_RECORD_CHANGED: _("Changed your record"),
    Action.EMERGENCY_ACCESS: _("Emergency access to your record"),
    Action.CARE_STARTED: _("Care started"),
    Action.CARE_ENDED: _("Care ended"),
    Action.AUDIT_EXPORTED: _("Exported records about you"),
    # The record as a whole (rapport.records).
    Action.RECORD_EXPORTED: _("Downloaded your whole record"),
    # Billing (rapport.billing).
    Action.SUPERBILL_DOWNLOADED: _("Downloaded a superbill of your sessions"),
}

# A read of the client's billing says what was looked at (its ``purpose``).
BILLING_READ_LABELS = {
    "billing": _("Looked at your billing"),
    "superbill": _("Opened your superbills"),
    "session": _("Looked at the billing of a session"),
    "line": _("Looked at the billing of a session"),
    "fees": _("Looked at your fees"),
    "invoice": _("Opened one of your invoices"),
    "statement": _("Opened your statement"),
    "ledger": _("Looked at your account balance"),
    "missed": _("Looked at a missed-session fee"),
    "payment": _("Looked at one of your payments"),
}

# How an export's format is named to the client.
EXPORT_FORMAT_LABELS = {
    "fhir-r4": _("as a FHIR file for other health systems"),
    "pdf": _("as a PDF to read and print"),
}

# A read of the record says what was looked at: the ``purpose`` its accessor recorded.
READ_LABELS = {
    "view": _("Opened your record"),
    "edit": _("Opened your record to change it"),
    "start_session": _("Opened your record to start a session"),
    "measures": _("Opened your questionnaires"),
    "measures_progress": _("Opened your progress"),
    "measure_response": _("Opened your answers to a questionnaire"),
    "alert": _("Opened a safety alert about your answers"),
    "fhir_export": _("Exported your questionnaire results"),
    "messages": _("Read your messages"),
    "checkin": _("Opened your safety check-in"),
    "note": _("Opened a note about your care"),
    # The record as a whole (rapport.records).
    "record_timeline": _("Opened the timeline of your record"),
    "record_export": _("Opened your record to download it"),
    "erasure_report": _("Counted what erasing your record would remove"),
    "care_request": _("Read your request for a therapist"),
}


def client_label(action: str, purpose: str = "", export_format: str = "") -> str:
    """How "Who saw my record" names an event about the client's own record."""
    if action == Action.RECORD_EXPORTED and export_format in EXPORT_FORMAT_LABELS:
        return f"{CLIENT_LABELS[action]} {EXPORT_FORMAT_LABELS[export_format]}"
    if action == Action.BILLING_VIEWED:
        return str(BILLING_READ_LABELS.get(purpose) or BILLING_READ_LABELS["billing"])
    if action == Action.CLIENT_RECORD_VIEWED:
        if purpose in READ_LABELS:
            return str(READ_LABELS[purpose])
        if purpose:
            return f"{READ_LABELS['view']} ({humanise(purpose).lower()})"
        return str(READ_LABELS["view"])
    return str(CLIENT_LABELS.get(action) or action_label(action))
