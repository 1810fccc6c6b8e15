"""Background jobs of the accounts app (run by ``rapport worker``)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.tasks import task  # type: ignore[import-untyped,unused-ignore]
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from rapport.accounts.models import Invitation, Practice, Role, User
from rapport.audit.services import Action, record
from rapport.core import outbox
from rapport.core.encryption import key_ring


@task()  # type: ignore[untyped-decorator,unused-ignore]
def send_invitation_email(invitation_id: int, sealed_token: str) -> None:
    """Email the invitation link, once per invitation (``rapport.core.outbox``): a second run
    of this task, after a worker died in the first, sends nothing new."""
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
    # No account yet, so no language of their own: the practice's default.
    message = _email(invitation.email, "invitation", context, settings.LANGUAGE_CODE)
    delivery = outbox.record(message, key=f"invitation:{invitation.pk}", kind="invitation")
    if delivery is not None:
        outbox.send(delivery, message)


def _email(to: str, template: str, context: dict[str, object], language: str) -> EmailMessage:
    """Written in the recipient's language, whoever's request or task builds it."""
    with translation.override(language):
        subject = render_to_string(f"accounts/email/{template}_subject.txt", context).strip()
        body = render_to_string(f"accounts/email/{template}.txt", context)
    return EmailMessage(subject=subject, body=body, to=[to])


def tell_of_invitation_to_existing_account(invitation: Invitation, account: User) -> None:
    """The inviter was answered as for a new address. The account holder is told to sign in,
    and the practice's admins that an invitation reached an existing account (content-free:
    the invitations page says which one)."""
    context: dict[str, object] = {
        "sign_in": settings.SITE_URL + reverse("account_login"),
        "invitations": settings.SITE_URL + reverse("invitations"),
    }
    key = f"invitation:{invitation.pk}"
    emails = [
        (
            f"{key}:account",
            _email(account.email, "existing_account", context, account.language),
        )
    ]
    admins = User.objects.filter(role=Role.ADMIN, is_active=True).values_list(
        "pk", "email", "language"
    )
    for admin_id, admin_email, admin_language in admins:
        emails.append(
            (
                f"{key}:admin:{admin_id}",
                _email(admin_email, "invitation_to_account", context, admin_language),
            )
        )
    with transaction.atomic():
        recorded = [
            (delivery, message)
            for email_key, message in emails
            if (delivery := outbox.record(message, key=email_key, kind="invitation")) is not None
        ]
        if recorded:  # the first run; a second finds the emails recorded
            record(
                Action.INVITATION_EXISTING_ACCOUNT,
                actor_label="rapport",
                obj=invitation,
                account=account.pk,
            )
    for delivery, message in recorded:
        outbox.send(delivery, message)
