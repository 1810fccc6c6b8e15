"""Changes to care relationships, client records and emergency access."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from rapport.accounts.models import Invitation, User
from rapport.audit.services import Action, record
from rapport.care.access import access_relationship
from rapport.care.models import CareRelationship, ClientProfile, EmergencyAccess


def start_care(
    therapist: User, client: User, *, actor: User, request: HttpRequest | None = None
) -> CareRelationship:
    if not therapist.is_therapist or not client.is_client:
        raise ValidationError(_("A care relationship joins a therapist and a client."))
    if not (actor.is_practice_admin or actor.pk == therapist.pk):
        raise PermissionDenied("only admins or the therapist start care")
    if actor.pk != therapist.pk:
        refuse_care_from_the_inviting_admin(actor, therapist)
    with transaction.atomic():
        existing = CareRelationship.objects.filter(
            therapist=therapist, client=client, status=CareRelationship.Status.ACTIVE
        ).first()
        if existing is not None:
            raise ValidationError(_("%(t)s already treats %(c)s.") % {"t": therapist, "c": client})
        relationship = CareRelationship.objects.create(therapist=therapist, client=client)
        ClientProfile.objects.get_or_create(client=client)
        record(
            Action.CARE_STARTED,
            actor=actor,
            request=request,
            obj=relationship,
            client=client,
            therapist=therapist.pk,  # "Who saw my record" marks this therapist's reads
        )
    return relationship


# An admin could invite a therapist account at an address they control and give it clients; for
# its first day such an account gets clients only from a different admin (docs/security.md).
NEW_ACCOUNT_HOURS = 24


def refuse_care_from_the_inviting_admin(admin: User, therapist: User) -> None:
    """ValidationError if ``therapist`` joined in the last day through an invitation from
    ``admin``, or from the admin who invited ``admin`` in the last day (a second account of the
    same person would otherwise do)."""
    since = timezone.now() - timedelta(hours=NEW_ACCOUNT_HOURS)
    recent = Invitation.objects.filter(accepted_at__gte=since)
    inviter = recent.filter(accepted_user=therapist).values_list("invited_by", flat=True).first()
    if inviter is None:
        return
    if inviter == admin.pk:
        why = _("%(t)s joined on your invitation less than a day ago.")
    elif recent.filter(accepted_user=admin, invited_by=inviter).exists():
        why = _("%(t)s joined less than a day ago on an invitation from the admin who invited you.")
    else:
        return
    ask = _("Ask another admin to start this care, or start it yourself once the day has passed.")
    raise ValidationError(" ".join([why % {"t": therapist}, ask]))


def care_for_invited_client(
    sender: Any, invitation: Invitation, user: User, request: HttpRequest, **kwargs: Any
) -> None:
    """A client a therapist invited is in that therapist's care from the moment they accept
    (``rapport.accounts.signals.invitation_accepted``, in the acceptance's transaction)."""
    if user.is_client and invitation.invited_by.is_therapist:
        start_care(invitation.invited_by, user, actor=invitation.invited_by, request=request)


def end_care(relationship_id: int, *, actor: User, request: HttpRequest) -> CareRelationship:
    with transaction.atomic():
        relationship = access_relationship(actor, relationship_id, lock=True)
        _end(relationship, actor=actor, request=request)
    return relationship


def end_care_for_handover(
    therapist: User, client: User, *, decided_by: User, request: HttpRequest | None = None
) -> CareRelationship | None:
    """Care with ``therapist`` ends because the client moved to another therapist, as the
    practice admin ``decided_by`` chose when acting on the client's re-match request. Carried out
    when the new therapist accepts, whoever that answer comes from. None if there was no
    active care left to end."""
    if not decided_by.is_practice_admin:
        raise PermissionDenied("only a practice admin hands a client over")
    with transaction.atomic():
        relationship = (
            CareRelationship.objects.select_for_update()
            .filter(therapist=therapist, client=client, status=CareRelationship.Status.ACTIVE)
            .first()
        )
        if relationship is None:
            return None
        _end(relationship, actor=decided_by, request=request, handover=True)
    return relationship


def _end(
    relationship: CareRelationship,
    *,
    actor: User,
    request: HttpRequest | None,
    handover: bool = False,
) -> None:
    if relationship.status != CareRelationship.Status.ACTIVE:
        return
    relationship.status = CareRelationship.Status.ENDED
    relationship.ended_at = timezone.now()
    relationship.ended_by = actor
    relationship.save(update_fields=["status", "ended_at", "ended_by"])
    detail: dict[str, Any] = {"handover": True} if handover else {}
    record(
        Action.CARE_ENDED,
        actor=actor,
        request=request,
        obj=relationship,
        client=relationship.client,
        **detail,
    )


def update_client_profile(
    client: User, *, actor: User, request: HttpRequest, changes: dict[str, Any]
) -> ClientProfile:
    """Save edits to a client's record (the caller has passed ``access_client``)."""
    with transaction.atomic():
        profile, _created = ClientProfile.objects.select_for_update().get_or_create(client=client)
        changed = [name for name, value in changes.items() if getattr(profile, name) != value]
        for name in changed:
            setattr(profile, name, changes[name])
        if changed:
            profile.save(update_fields=[*changed, "updated_at"])
            record(
                Action.CLIENT_RECORD_CHANGED,
                actor=actor,
                request=request,
                obj=profile,
                client=client,
                fields=sorted(changed),
            )
    return profile


def grant_emergency_access(
    admin: User, client: User, *, reason: str, request: HttpRequest
) -> EmergencyAccess:
    """Break glass: give an admin time-limited access to one client's record, audited."""
    if not admin.is_practice_admin:
        raise PermissionDenied("only practice admins may use emergency access")
    if not client.is_client:
        raise ValidationError(_("Emergency access is to a client's record."))
    reason = reason.strip()
    if len(reason) < 15:
        raise ValidationError(_("Write down why you need access (at least 15 characters)."))
    with transaction.atomic():
        grant = EmergencyAccess.objects.create(
            admin=admin,
            client=client,
            reason=reason,
            expires_at=timezone.now() + timedelta(minutes=settings.EMERGENCY_ACCESS_MINUTES),
        )
        record(
            Action.EMERGENCY_ACCESS,
            actor=admin,
            request=request,
            obj=grant,
            client=client,
            minutes=settings.EMERGENCY_ACCESS_MINUTES,
        )
    return grant
