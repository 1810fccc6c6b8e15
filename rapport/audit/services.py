"""Writing and checking the audit trail. ``record`` is the only way events are written."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.http import HttpRequest
from django.utils import timezone

from rapport.audit.models import AuditEvent, ChainHead
from rapport.lib.hashchain import Break, Link, link_hash, seal_hash, verify_chain

if TYPE_CHECKING:
    from rapport.accounts.models import User


class Action:
    """Names of audited actions (stable strings: they are part of the chain)."""

    SIGN_IN = "auth.sign_in"
    SIGN_IN_FAILED = "auth.sign_in_failed"
    SIGN_OUT = "auth.sign_out"
    SIGN_OUT_EVERYWHERE = "auth.sign_out_everywhere"
    LOCKED_OUT = "auth.locked_out"
    SESSION_EXPIRED = "auth.session_expired"
    PASSWORD_CHANGED = "auth.password_changed"  # noqa: S105 (an action name)
    PASSWORD_RESET = "auth.password_reset"  # noqa: S105 (an action name)
    MFA_ADDED = "mfa.authenticator_added"
    MFA_REMOVED = "mfa.authenticator_removed"
    MFA_RECOVERY_RESET = "mfa.recovery_codes_reset"
    MFA_FAILED = "auth.mfa_failed"
    MFA_LOCKED_OUT = "auth.mfa_locked_out"
    EMAIL_CONFIRMED = "auth.email_confirmed"
    EMAIL_ADDED = "auth.email_added"
    EMAIL_PRIMARY_CHANGED = "auth.email_primary_changed"
    EMAIL_REMOVED = "auth.email_removed"
    INVITATION_SENT = "account.invitation_sent"
    INVITATION_ACCEPTED = "account.invitation_accepted"
    INVITATION_REVOKED = "account.invitation_revoked"
    INVITATION_EXISTING_ACCOUNT = "account.invitation_existing_account"
    EMAIL_RETRIED = "practice.email_retried"
    ACCOUNT_CREATED = "account.created"
    ACCOUNT_DEACTIVATED = "account.deactivated"
    ACCOUNT_REACTIVATED = "account.reactivated"
    PREFERENCES_CHANGED = "account.preferences_changed"
    PRACTICE_SETTINGS_CHANGED = "practice.settings_changed"
    CLIENT_RECORD_VIEWED = "client.record_viewed"
    CLIENT_RECORD_CHANGED = "client.record_changed"
    CARE_STARTED = "care.relationship_started"
    CARE_ENDED = "care.relationship_ended"
    EMERGENCY_ACCESS = "security.emergency_access"
    AUDIT_VIEWED = "audit.trail_viewed"
    AUDIT_EXPORTED = "audit.trail_exported"
    KEYS_ROTATED = "security.keys_rotated"
    CONSENT_PUBLISHED = "consent.published"
    CONSENT_SIGNED = "consent.signed"
    APPOINTMENT_BOOKED = "appointment.booked"
    APPOINTMENT_MOVED = "appointment.moved"
    APPOINTMENT_CANCELLED = "appointment.cancelled"
    APPOINTMENT_STATUS = "appointment.status_changed"
    AVAILABILITY_CHANGED = "availability.changed"
    CALENDAR_FEED_CHANGED = "calendar.feed_changed"
    VISIT_OPENED = "visit.opened"
    VISIT_CHECKED_IN = "visit.checked_in"
    VISIT_ADMITTED = "visit.admitted"
    VISIT_ENDED = "visit.ended"
    VISIT_TIMELINE_VIEWED = "visit.timeline_viewed"
    INSTRUMENT_IMPORTED = "instrument.imported"
    INSTRUMENT_CHANGED = "instrument.changed"
    MESSAGE_EDITED = "message.edited"
    MESSAGE_RETRACTED = "message.retracted"
    MESSAGE_ATTACHMENT_UPLOADED = "message.attachment_uploaded"
    MESSAGE_ATTACHMENT_OPENED = "message.attachment_opened"
    MESSAGING_SETTINGS_CHANGED = "messaging.settings_changed"
    PUSH_DEVICE_ADDED = "push.device_added"
    PUSH_DEVICE_CHANGED = "push.device_changed"
    PUSH_DEVICE_REMOVED = "push.device_removed"
    MEASURE_ASSIGNED = "measure.assigned"
    MEASURE_ASSIGNMENT_ENDED = "measure.assignment_ended"
    MEASURE_SUBMITTED = "measure.submitted"
    MEASURE_CORRECTED = "measure.corrected"
    MEASURES_EXPORTED = "measure.exported"
    ALERT_RAISED = "alert.raised"
    # Intake (issue 15)
    INTAKE_SENT = "intake.sent"
    INTAKE_SUBMITTED = "intake.submitted"
    INTAKE_CORRECTED = "intake.corrected"
    INTAKE_VIEWED = "intake.viewed"
    INTAKE_FORM_ADDED = "intake.form_added"
    INTAKE_DEFAULT_CHOSEN = "intake.default_chosen"
    # Sign-up (issue 21): a new client's way in, and the practice's intake queue.
    SIGNUP_REGISTERED = "signup.registered"
    SIGNUP_SCREENED = "signup.screened"
    GUARDIAN_ASKED = "signup.guardian_asked"
    GUARDIAN_CONSENTED = "signup.guardian_consented"
    GUARDIAN_CHANGED = "signup.guardian_changed"
    INTAKE_ALERT_RAISED = "signup.alert_raised"
    INTAKE_ALERT_VIEWED = "signup.alert_viewed"
    INTAKE_ALERT_ACKNOWLEDGED = "signup.alert_acknowledged"
    INTAKE_QUEUE_VIEWED = "signup.queue_viewed"
    ALERT_ACKNOWLEDGED = "alert.acknowledged"
    ALERT_ESCALATED = "alert.escalated"
    # Diagnoses and treatment plans (issue 15)
    DIAGNOSIS_RECORDED = "diagnosis.recorded"
    DIAGNOSIS_CHANGED = "diagnosis.changed"
    FREQUENT_CODES_CHANGED = "diagnosis.frequent_codes_changed"
    # Crisis resources (issue 18)
    CRISIS_RESOURCE_ADDED = "crisis.resource_added"
    CRISIS_RESOURCE_CHANGED = "crisis.resource_changed"
    CRISIS_RESOURCE_REMOVED = "crisis.resource_removed"
    PLAN_DRAFT_CHANGED = "plan.draft_changed"
    PLAN_FINALISED = "plan.finalised"
    PLAN_SIGNED = "plan.signed"
    # Homework and the journal (issue 18). Private journal entries are never audited: the trail
    # is read by others, and an entry's existence is the client's alone (docs/security.md).
    HOMEWORK_ASSIGNED = "homework.assigned"
    HOMEWORK_SUBMITTED = "homework.submitted"
    HOMEWORK_COMMENTED = "homework.commented"
    HOMEWORK_CHANGED = "homework.changed"
    HOMEWORK_STOPPED = "homework.stopped"
    JOURNAL_ENTRY_SHARED = "journal.entry_shared"
    JOURNAL_ENTRY_UNSHARED = "journal.entry_unshared"
    JOURNAL_REMINDER_CHANGED = "journal.reminder_changed"
    # Safety plans (issue 18)
    SAFETY_PLAN_SAVED = "safety_plan.saved"
    SAFETY_PLAN_REVIEWED = "safety_plan.reviewed"
    # Notes (issue 15). Labels never say which kind of note (docs/security.md, "Notes").
    NOTE_STARTED = "note.started"
    NOTE_SIGNED = "note.signed"
    NOTE_ADDENDUM = "note.addendum_added"
    NOTE_RELEASED = "note.released"
    NOTE_COSIGNED = "note.cosigned"
    NOTE_TEMPLATE_ADDED = "note.template_added"
    SUPERVISION_STARTED = "supervision.started"
    SUPERVISION_ENDED = "supervision.ended"
    # The record as a whole (rapport.records).
    RECORD_EXPORTED = "record.exported"
    # Retention and erasure (rapport.records).
    ERASURE_REQUESTED = "erasure.requested"
    ERASURE_APPROVED = "erasure.approved"
    ERASURE_CANCELLED = "erasure.cancelled"
    ERASURE_DONE = "erasure.done"
    # Billing (rapport.billing).
    BILLING_VIEWED = "billing.viewed"
    SUPERBILL_DOWNLOADED = "billing.superbill_downloaded"
    BILLING_LINE_PROPOSED = "billing.line_proposed"
    BILLING_LINE_CHANGED = "billing.line_changed"
    BILLING_LINE_CONFIRMED = "billing.line_confirmed"
    BILLING_LINE_VOIDED = "billing.line_voided"
    BILLING_LINES_BILLED = "billing.lines_billed"
    BILLING_LINE_CORRECTED = "billing.line_corrected"
    BILLING_FEES_CHANGED = "billing.fees_changed"
    BILLING_CLIENT_FEE_CHANGED = "billing.client_fee_changed"
    BILLING_SETTINGS_CHANGED = "billing.settings_changed"
    INVOICE_ISSUED = "billing.invoice_issued"
    INVOICE_VOIDED = "billing.invoice_voided"
    PAYMENT_RECORDED = "billing.payment_recorded"
    PAYMENT_ALLOCATED = "billing.payment_allocated"
    WRITE_OFF_RECORDED = "billing.write_off_recorded"
    REFUND_RECORDED = "billing.refund_recorded"
    BILLING_EXPORTED = "billing.exported"
    # Practice outcomes (rapport.outcomes): aggregates, audited with the scope they covered.
    OUTCOMES_VIEWED = "outcomes.viewed"
    SERVICE_QUALITY_VIEWED = "outcomes.service_viewed"
    OUTCOMES_SUMMARY_DOWNLOADED = "outcomes.summary_downloaded"
    RESEARCH_EXPORTED = "outcomes.research_exported"
    OUTCOMES_CASELOAD_VIEWED = "outcomes.caseload_viewed"
    # Matching (rapport.matching): profiles, a client's choice, the answer to an offer.
    THERAPIST_PROFILE_CHANGED = "matching.profile_changed"
    THERAPIST_CHOSEN = "matching.therapist_chosen"
    OFFER_ANSWERED = "matching.offer_answered"
    WAITLIST_REMATCHED = "matching.waitlist_rematched"
    REMATCH_REQUESTED = "matching.rematch_requested"
    REMATCH_HANDLED = "matching.rematch_handled"


def chain_key() -> bytes:
    """The audit chain's HMAC key: RAPPORT_AUDIT_KEY, or one derived from the secret key."""
    from django.conf import settings
    from django.utils.crypto import salted_hmac

    if settings.RAPPORT_AUDIT_KEY:
        return settings.RAPPORT_AUDIT_KEY.encode("utf-8")
    return salted_hmac("rapport.audit.chain", "key", algorithm="sha256").digest()


def request_origin(request: HttpRequest | None) -> tuple[str | None, str]:
    if request is None:
        return None, ""
    ip = request.META.get("REMOTE_ADDR") or None
    agent = str(request.META.get("HTTP_USER_AGENT", ""))[:300]
    return ip, agent


def object_type(obj: Any) -> str:
    """The model name of ``obj`` ("User"), also through a lazy object such as ``request.user``
    (whose ``type()`` is ``SimpleLazyObject``; its ``__class__`` is the wrapped model's)."""
    if obj is None:
        return ""
    meta = getattr(obj, "_meta", None)
    return str(meta.object_name) if meta is not None else str(obj.__class__.__name__)


def record(
    action: str,
    *,
    actor: User | None = None,
    request: HttpRequest | None = None,
    obj: Any = None,
    client: User | None = None,
    actor_label: str = "",
    **detail: Any,
) -> AuditEvent:
    """Append one event to the chain, inside the caller's transaction when there is one.

    ``detail`` holds identifiers and flags only, never free text written by a person.
    """
    ip, agent = request_origin(request)
    if actor is None and request is not None and request.user.is_authenticated:
        actor = request.user
    # No savepoint: the event belongs to the caller's transaction and fails with it.
    with transaction.atomic(savepoint=False):
        head, _ = ChainHead.objects.select_for_update().get_or_create(id=1)
        event = AuditEvent(
            sequence=head.sequence + 1,
            occurred_at=timezone.now(),
            actor=actor,
            actor_label=actor_label or (actor.email if actor is not None else ""),
            action=action,
            object_type=object_type(obj),
            object_id=str(getattr(obj, "pk", "") or "") if obj is not None else "",
            client=client,
            ip_address=ip,
            user_agent=agent,
            detail=detail,
            previous_hash=head.hash,
        )
        event.hash = link_hash(chain_key(), event.previous_hash, event.chain_content())
        event.save()
        head.sequence = event.sequence
        head.hash = event.hash
        head.save(update_fields=["sequence", "hash"])
    return event


ERASED = "(erased)"


def _scrub(value: Any, identifiers: Collection[str]) -> Any:
    """``value`` with every string that names the person replaced: one equal to an identifier,
    or holding one of their email addresses."""
    if isinstance(value, dict):
        return {key: _scrub(item, identifiers) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item, identifiers) for item in value]
    if isinstance(value, str):
        folded = value.strip().casefold()
        if folded in identifiers or any("@" in i and i in folded for i in identifiers):
            return ERASED
    return value


def redact_events(person: User, identifiers: Collection[str], pseudonym: str) -> int:
    """Remove what identifies ``person`` from the trail, keeping every event and the chain.

    The person's own events lose their label (replaced by ``pseudonym``), IP address and browser;
    events that name them (a failed sign-in typed with their address, an invitation to it) lose
    those strings. Each changed event is sealed: ``verify_trail`` checks its link by the hash it
    was written with and what is left of it by the seal. Runs inside the erasure's transaction.
    """
    folded = {i.strip().casefold() for i in identifiers if i.strip()}
    named = Q(actor=person) | Q(client=person) | Q(object_type="User", object_id=str(person.pk))
    for identifier in folded:
        escaped = json.dumps(identifier)[1:-1]
        named |= Q(actor_label__iexact=identifier) | Q(detail_text__icontains=identifier)
        if escaped != identifier:
            named |= Q(detail_text__icontains=escaped)
    events = AuditEvent.objects.annotate(detail_text=Cast("detail", TextField())).filter(named)
    now = timezone.now()
    key = chain_key()
    changed = 0
    for event in events.order_by("sequence").iterator(chunk_size=500):
        before = event.chain_content()
        if event.actor_id == person.pk or event.actor_label.strip().casefold() in folded:
            event.actor_label = pseudonym
            event.ip_address = None
            event.user_agent = ""
        event.detail = _scrub(event.detail, folded)
        if event.chain_content() == before:
            continue
        event.redacted_at = now
        event.redaction_seal = seal_hash(key, event.hash, event.sealed_content())
        event.save(
            update_fields=[
                "actor_label",
                "ip_address",
                "user_agent",
                "detail",
                "redacted_at",
                "redaction_seal",
            ]
        )
        changed += 1
    return changed


@dataclass(frozen=True)
class VerifyResult:
    checked: int
    problems: list[Break]
    redacted: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_trail(batch_size: int = 2000) -> VerifyResult:
    head = ChainHead.objects.filter(id=1).first()

    def links() -> Any:
        for event in AuditEvent.objects.order_by("sequence").iterator(chunk_size=batch_size):
            if event.redacted_at is None:
                yield Link(event.sequence, event.previous_hash, event.hash, event.chain_content())
            else:
                yield Link(
                    event.sequence,
                    event.previous_hash,
                    event.hash,
                    event.sealed_content(),
                    seal=event.redaction_seal,
                )

    count = AuditEvent.objects.count()
    redacted = AuditEvent.objects.filter(redacted_at__isnull=False).count()
    problems = verify_chain(
        links(),
        key=chain_key(),
        expected_count=head.sequence if head else 0,
        expected_head=head.hash if head else None,
    )
    return VerifyResult(checked=count, problems=problems, redacted=redacted)
