"""The review-due email of a treatment plan. Content-free: no client name, no goal, no
diagnosis; it says a plan waits for review and links to the therapist's home page, where the
plan is named after sign-in. Decided when the worker runs, not when it was queued.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from rapport.accounts.models import Practice
from rapport.care.access import therapists_of
from rapport.core import outbox
from rapport.plans.models import PlanVersion, VersionStatus


def deliver_review_reminder(version_id: int) -> int:
    """Email each therapist treating the client that the plan's review is due. Returns how many
    emails went out: none when the version was replaced, already reminded, or not yet due."""
    with transaction.atomic():
        version = (
            PlanVersion.objects.select_for_update(of=("self",))
            .select_related("plan__client")
            .filter(pk=version_id, status=VersionStatus.FINAL)
            .first()
        )
        if version is None or version.review_reminded_at is not None:
            return 0
        if version.review_on > timezone.localdate():
            return 0
        if version.plan.versions.filter(status=VersionStatus.FINAL, number__gt=version.number):
            return 0  # a newer version has its own reminder
        version.review_reminded_at = timezone.now()
        version.save(update_fields=["review_reminded_at"])
        recorded = []
        link = f"{settings.SITE_URL}{reverse('home')}"
        for therapist in therapists_of(version.plan.client).filter(is_active=True):
            if not therapist.email:
                continue
            with translation.override(therapist.language):
                context = {"practice": Practice.get(), "person": therapist, "link": link}
                subject = render_to_string("plans/email/review_due_subject.txt", context)
                body = render_to_string("plans/email/review_due.txt", context)
            message = EmailMessage(
                subject=" ".join(subject.split()),
                body=body,
                to=[therapist.email],
                headers={"Auto-Submitted": "auto-generated"},
            )
            key = f"plan-review:{version.pk}:{therapist.pk}"
            delivery = outbox.record(message, key=key, kind="plan review")
            if delivery is not None:
                recorded.append((delivery, message))
    # Sent after commit, outside the transaction (``rapport.core.outbox``).
    return sum(outbox.send(delivery, message) for delivery, message in recorded)
