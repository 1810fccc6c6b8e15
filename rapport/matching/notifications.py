"""Telling people that something happened to a request for a therapist: a content-free email
(through the outbox, sent by the worker's sweep) and a push notice, in each person's language.

Nothing about the client is in either: the email says there is news and links to the home page,
where the person sees what it is after signing in.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from rapport.accounts.models import Practice, Role, User
from rapport.core import outbox
from rapport.push.models import NoticeKind
from rapport.push.services import notify

# What happened, for the email's words: the client's news, or a request that waits.
CLIENT_NEWS = "client_news"
WAITING = "waiting"


def tell(person: User, what: str, key: str) -> None:
    """Inside the deciding transaction: one email and one push to ``person``, once per ``key``."""
    if not person.is_active:
        return
    notify(person.pk, NoticeKind.CARE_REQUEST, f"matching:{key}:{person.pk}")
    if not person.email:
        return
    with translation.override(person.language):
        context = {
            "practice": Practice.get(),
            "person": person,
            "link": f"{settings.SITE_URL}{reverse('home')}",
        }
        subject = render_to_string(f"matching/email/{what}_subject.txt", context)
        body = render_to_string(f"matching/email/{what}.txt", context)
    message = EmailMessage(
        subject=" ".join(subject.split()),
        body=body,
        to=[person.email],
        headers={"Auto-Submitted": "auto-generated"},
    )
    outbox.record(message, key=f"matching:{key}:{person.pk}", kind="care request")


def tell_admins(what: str, key: str) -> None:
    for admin in User.objects.filter(role=Role.ADMIN, is_active=True).order_by("pk"):
        tell(admin, what, key)
