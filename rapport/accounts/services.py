"""Account actions: invitations, sign out everywhere, preferences, deactivation."""

from __future__ import annotations

from django.contrib.auth import login
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import Http404, HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from rapport.accounts import signals
from rapport.accounts.models import Invitation, Role, User, hash_token
from rapport.accounts.tasks import send_invitation_email
from rapport.audit.services import Action, record
from rapport.core import realtime
from rapport.core.encryption import key_ring

# Who may invite whom: admins bring in therapists (and other admins), therapists their clients.
INVITABLE_ROLES: dict[str, set[str]] = {
    # Admins invite clients too (a new client who will be matched, not one of their own).
    Role.ADMIN: {Role.THERAPIST, Role.ADMIN, Role.BILLING, Role.CLIENT},
    Role.THERAPIST: {Role.CLIENT},
    Role.CLIENT: set(),
}


class InvitationError(ValidationError):
    """An invitation cannot be created or used; the message says why, for the person."""


def invite(
    inviter: User, *, email: str, full_name: str, role: str, request: HttpRequest | None = None
) -> tuple[Invitation, str]:
    """Create an invitation and queue its email. Returns the invitation and its one-time token.

    An address that already has an account is invited all the same, so that the inviter cannot
    tell the two apart; the queued task tells that person to sign in instead, and the practice's
    admins (``tasks.send_invitation_email``).
    """
    if role not in INVITABLE_ROLES.get(inviter.role, set()):
        raise PermissionDenied("this role may not invite that role")
    email = email.strip().lower()
    token = Invitation.new_token()
    with transaction.atomic():
        # Re-inviting the same address replaces the earlier pending link.
        Invitation.objects.pending().filter(email__iexact=email).update(revoked_at=timezone.now())
        invitation = Invitation.objects.create(
            email=email,
            full_name=full_name.strip(),
            role=role,
            invited_by=inviter,
            token_hash=hash_token(token),
            expires_at=Invitation.default_expiry(),
        )
        record(Action.INVITATION_SENT, actor=inviter, request=request, obj=invitation, role=role)
        sealed = key_ring().encrypt(token, "task.invitation")
        # Queued in the same transaction: the invitation and its email commit together, so a
        # process that dies right after the commit cannot lose the email.
        send_invitation_email.enqueue(invitation.pk, sealed)
    return invitation, token


def find_invitation(token: str) -> Invitation:
    invitation = Invitation.objects.filter(token_hash=hash_token(token)).first()
    if invitation is None:
        raise InvitationError(_("This invitation link is not valid."))
    status = invitation.status
    if status == "accepted":
        raise InvitationError(_("This invitation has already been used. Please sign in instead."))
    if status == "revoked":
        raise InvitationError(_("This invitation was withdrawn. Ask for a new one."))
    if status == "expired":
        raise InvitationError(_("This invitation has expired. Ask for a new one."))
    return invitation


def accept_invitation(token: str, *, password: str, time_zone: str, request: HttpRequest) -> User:
    """Create the invited account (email already proven by the link) and sign it in."""
    from allauth.account.models import EmailAddress

    with transaction.atomic():
        invitation = find_invitation(token)
        # Lock the row: two tabs submitting the same link must not both create an account.
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.status != "pending":
            raise InvitationError(
                _("This invitation has already been used. Please sign in instead.")
            )
        user = User(
            email=invitation.email,
            full_name=invitation.full_name,
            role=invitation.role,
            time_zone=time_zone,
        )
        validate_password(password, user)
        user.set_password(password)
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError as exc:
            raise InvitationError(
                _("Someone with this email address already has an account.")
            ) from exc
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
        invitation.accepted_at = timezone.now()
        invitation.accepted_user = user
        invitation.save(update_fields=["accepted_at", "accepted_user"])
        record(Action.ACCOUNT_CREATED, actor=user, request=request, obj=user, role=user.role)
        record(Action.INVITATION_ACCEPTED, actor=user, request=request, obj=invitation)
        signals.invitation_accepted.send(
            Invitation, invitation=invitation, user=user, request=request
        )
    login(request, user, backend="rapport.accounts.backends.ModelBackend")
    return user


def revoke_invitation(actor: User, invitation_id: int, request: HttpRequest) -> Invitation:
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().filter(pk=invitation_id).first()
        if invitation is None or not (
            invitation.invited_by_id == actor.pk or actor.is_practice_admin
        ):
            raise Http404("No such invitation.")  # unknown and someone else's alike
        if invitation.status == "pending":
            invitation.revoked_at = timezone.now()
            invitation.save(update_fields=["revoked_at"])
            record(Action.INVITATION_REVOKED, actor=actor, request=request, obj=invitation)
    return invitation


def sign_out_everywhere(user: User, request: HttpRequest) -> None:
    """End every session of ``user`` on every device, this one included."""
    from django.contrib.auth import logout

    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(session_generation=F("session_generation") + 1)
        record(Action.SIGN_OUT_EVERYWHERE, actor=user, request=request, obj=user)
        end_live_connections(user.pk)
    logout(request)


def end_live_connections(user_id: int) -> None:
    """Close every open WebSocket of the user once the change commits (their sessions ended)."""
    realtime.close_sockets(realtime.user_group(user_id))


def set_active(actor: User, target: User, active: bool, request: HttpRequest) -> None:
    if not actor.is_practice_admin or actor.pk == target.pk:
        raise PermissionDenied("admins manage other accounts")
    with transaction.atomic():
        target.is_active = active
        if not active:
            target.session_generation += 1
        target.save(update_fields=["is_active", "session_generation"])
        if not active:
            end_live_connections(target.pk)
        record(
            Action.ACCOUNT_REACTIVATED if active else Action.ACCOUNT_DEACTIVATED,
            actor=actor,
            request=request,
            obj=target,
        )
