"""Background jobs of the accounts app (run by ``rapport worker``)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.tasks import task  # type: ignore[import-untyped,unused-ignore]
from django.template.loader import render_to_string
from django.urls import reverse

from rapport.accounts.models import Invitation, Practice, Role, User
from rapport.audit.services import Action, record
from rapport.core.encryption import key_ring


@task()  # type: ignore[untyped-decorator,unused-ignore]
def send_invitation_email(invitation_id: int, sealed_token: str) -> None:
    invitation = Invitation.objects.select_related("invited_by").get(pk=invitation_id)
    if invitation.status != "pending":
        return
    account = User.objects.filter(email__iexact=invitation.email).first()
    if account is not None:
        tell_of_invitation_to_existing_account(invitation, account)
        return
    token = key_ring().decrypt(sealed_token, "task.invitation")
    link = settings.SITE_URL + reverse("accept_invitation", args=[token])
    context = {"invitation": invitation, "link": link, "practice": Practice.get()}
    send_mail(
        subject=render_to_string("accounts/email/invitation_subject.txt", context).strip(),
        message=render_to_string("accounts/email/invitation.txt", context),
        from_email=None,
        recipient_list=[invitation.email],
    )


def tell_of_invitation_to_existing_account(invitation: Invitation, account: User) -> None:
    """The inviter was answered as for a new address. The account holder is told to sign in,
    and the practice's admins that an invitation reached an existing account (content-free:
    the invitations page says which one)."""
    with transaction.atomic():
        record(
            Action.INVITATION_EXISTING_ACCOUNT,
            actor_label="rapport",
            obj=invitation,
            account=account.pk,
        )
    context = {
        "sign_in": settings.SITE_URL + reverse("account_login"),
        "invitations": settings.SITE_URL + reverse("invitations"),
    }
    send_mail(
        subject=render_to_string("accounts/email/existing_account_subject.txt", context).strip(),
        message=render_to_string("accounts/email/existing_account.txt", context),
        from_email=None,
        recipient_list=[account.email],
    )
    admins = User.objects.filter(role=Role.ADMIN, is_active=True).values_list("email", flat=True)
    for admin_email in admins:
        send_mail(
            subject=render_to_string(
                "accounts/email/invitation_to_account_subject.txt", context
            ).strip(),
            message=render_to_string("accounts/email/invitation_to_account.txt", context),
            from_email=None,
            recipient_list=[admin_email],
        )
