"""Asking for an erasure, approving, cancelling and carrying it out.

Two admins are needed: one asks, another approves, and the record is erased at once. A practice
with a single active admin cannot have that second pair of eyes, so the erasure waits seven
days instead, the client is emailed (while their address still exists) and any admin may cancel
it; seven days after the email went out, an admin, or ``rapport retention --apply``, carries
it out. Every step is an
audit event, and the erasure's own events stay in the trail.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from rapport.accounts.models import Practice, Role, User
from rapport.audit.services import Action, record
from rapport.care.models import CareRelationship
from rapport.records import erasure, tasks
from rapport.records.models import Erasure
from rapport.records.retention import overdue_records

HOLD = timedelta(days=7)


class ErasureError(Exception):
    """Why an erasure cannot be asked for or carried out, in words for the admin."""


def _require_admin(user: User) -> None:
    if not (user.is_active and user.role == Role.ADMIN):
        raise ErasureError(_("Only a practice admin may do this."))


def active_admins() -> int:
    return User.objects.filter(role=Role.ADMIN, is_active=True).count()


def request_erasure(
    admin: User, client: User, reason: str, *, request: HttpRequest | None = None
) -> Erasure:
    """Open an erasure of ``client``'s record: awaiting a second admin, or on a 7-day hold."""
    _require_admin(admin)
    if reason not in Erasure.Reason.values:
        raise ErasureError(_("Choose why the record is to be erased."))
    with transaction.atomic():
        client = User.objects.select_for_update().get(pk=client.pk)
        if client.role != Role.CLIENT:
            raise ErasureError(_("Only a client's record can be erased."))
        if Erasure.objects.filter(client=client, status=Erasure.Status.DONE).exists():
            raise ErasureError(_("This record has already been erased."))
        if Erasure.objects.filter(client=client, status__in=Erasure.OPEN).exists():
            raise ErasureError(_("An erasure of this record is already under way."))
        if CareRelationship.objects.filter(
            client=client, status=CareRelationship.Status.ACTIVE
        ).exists():
            raise ErasureError(_("This client is still in care: end their care first."))
        if reason == Erasure.Reason.RETENTION and client.pk not in {
            o.client.pk for o in overdue_records()
        }:
            raise ErasureError(
                _(
                    "The retention period of this record has not passed. Erase it only if the "
                    "client asks and the law allows."
                )
            )
        now = timezone.now()
        single = active_admins() < 2
        item = Erasure.objects.create(
            client=client,
            reason=reason,
            requested_by=admin,
            requested_at=now,
            status=Erasure.Status.ON_HOLD if single else Erasure.Status.AWAITING_APPROVAL,
            hold_until=now + HOLD if single else None,
        )
        record(
            Action.ERASURE_REQUESTED,
            actor=admin,
            request=request,
            obj=item,
            client=client,
            reason=reason,
            then="hold" if single else "approval",
        )
        if single:
            transaction.on_commit(lambda: tasks.send_erasure_notice.enqueue(item.pk))
    return item


def deliver_erasure_notice(erasure_id: int) -> bool:
    """Email the client that their record is on hold for erasure (once)."""
    with transaction.atomic():
        item = (
            Erasure.objects.select_for_update()
            .select_related("client")
            .filter(pk=erasure_id, status=Erasure.Status.ON_HOLD, client_told_at__isnull=True)
            .first()
        )
        if item is None or not item.client.email:
            return False
        client = item.client
        # Seven days from when they are told, however late the email goes out.
        item.client_told_at = timezone.now()
        item.hold_until = max(item.hold_until or item.client_told_at, item.client_told_at + HOLD)
        item.save(update_fields=["client_told_at", "hold_until"])
        with translation.override(client.language):
            context = {"practice": Practice.get(), "person": client, "hold_until": item.hold_until}
            subject = render_to_string("records/email/erasure_notice_subject.txt", context)
            body = render_to_string("records/email/erasure_notice.txt", context)
        EmailMessage(
            subject=" ".join(subject.split()),
            body=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[client.email],
            headers={"Auto-Submitted": "auto-generated"},
        ).send()
    return True


def _open(erasure_id: int) -> Erasure:
    item = Erasure.objects.select_for_update().filter(pk=erasure_id).first()
    if item is None or not item.is_open:
        raise ErasureError(_("This erasure is no longer open."))
    return item


def cancel(admin: User, erasure_id: int, *, request: HttpRequest | None = None) -> Erasure:
    _require_admin(admin)
    with transaction.atomic():
        item = _open(erasure_id)
        item.status = Erasure.Status.CANCELLED
        item.cancelled_by = admin
        item.cancelled_at = timezone.now()
        item.save(update_fields=["status", "cancelled_by", "cancelled_at"])
        record(Action.ERASURE_CANCELLED, actor=admin, request=request, obj=item, client=item.client)
    return item


def approve(admin: User, erasure_id: int, *, request: HttpRequest | None = None) -> Erasure:
    """A second admin approves: the record is erased now."""
    _require_admin(admin)
    with transaction.atomic():
        item = _open(erasure_id)
        if item.status != Erasure.Status.AWAITING_APPROVAL:
            raise ErasureError(_("This erasure waits for its hold to pass, not for approval."))
        if item.requested_by_id == admin.pk:
            raise ErasureError(_("A second admin must approve an erasure you asked for."))
        item.approved_by = admin
        item.approved_at = timezone.now()
        item.save(update_fields=["approved_by", "approved_at"])
        record(Action.ERASURE_APPROVED, actor=admin, request=request, obj=item, client=item.client)
        return _carry_out(item, admin, request)


def erase_after_hold(
    admin: User | None, erasure_id: int, *, request: HttpRequest | None = None
) -> Erasure:
    """Carry out an erasure whose hold has passed (an admin's button, or the sweep's --apply)."""
    if admin is not None:
        _require_admin(admin)
    with transaction.atomic():
        item = _open(erasure_id)
        if item.status != Erasure.Status.ON_HOLD or not item.hold_passed():
            raise ErasureError(_("This erasure's hold has not passed yet."))
        if item.client_told_at is None:
            raise ErasureError(_("The client has not been told yet: their email has not gone out."))
        return _carry_out(item, admin, request)


def _carry_out(item: Erasure, admin: User | None, request: HttpRequest | None) -> Erasure:
    plan = erasure.gather(item.client)
    label = erasure.pseudonym()
    counts = erasure.destroy(plan, label)
    item.status = Erasure.Status.DONE
    item.done_at = timezone.now()
    item.report = counts
    item.files_to_shred = plan.files
    item.save(update_fields=["status", "done_at", "report", "files_to_shred"])
    record(
        Action.ERASURE_DONE,
        actor=admin,
        actor_label="" if admin else "rapport retention",
        request=request,
        obj=item,
        client=item.client,
        reason=item.reason,
        removed=counts,
    )
    transaction.on_commit(lambda: finish(item.pk))
    return item


def finish(erasure_id: int) -> int:
    """After commit: shred the erasure's files and empty SQLite's log. Also run by the sweep,
    so files left by a process that died in between are shredded later. Returns files shredded."""
    item = Erasure.objects.filter(pk=erasure_id, status=Erasure.Status.DONE).first()
    if item is None or not item.files_to_shred:
        erasure.forget_sqlite_history()
        return 0
    gone = erasure.shred(item.files_to_shred)
    Erasure.objects.filter(pk=item.pk).update(
        files_to_shred=[name for name in item.files_to_shred if name not in gone]
    )
    erasure.forget_sqlite_history()
    return len(gone)


def due_holds() -> list[Erasure]:
    now = timezone.now()
    return list(
        Erasure.objects.filter(
            status=Erasure.Status.ON_HOLD, hold_until__lte=now, client_told_at__isnull=False
        ).order_by("pk")
    )
