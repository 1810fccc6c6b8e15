"""Background jobs of the accounts app (run by ``rapport worker``)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.tasks import task  # type: ignore[import-untyped,unused-ignore]
from django.template.loader import render_to_string
from django.urls import reverse

from rapport.accounts.models import Invitation, Practice
from rapport.core.encryption import key_ring


@task()  # type: ignore[untyped-decorator,unused-ignore]
def send_invitation_email(invitation_id: int, sealed_token: str) -> None:
    invitation = Invitation.objects.select_related("invited_by").get(pk=invitation_id)
    if invitation.status != "pending":
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
