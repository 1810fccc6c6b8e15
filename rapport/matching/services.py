"""Opening and reading clients' requests for a therapist."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from rapport.accounts.models import User
from rapport.matching.models import CareRequest

OPEN_STATUSES = (
    CareRequest.Status.INTAKE,
    CareRequest.Status.CHOOSING,
    CareRequest.Status.OFFERED,
    CareRequest.Status.PRACTICE,
    CareRequest.Status.WAITLISTED,
)


@transaction.atomic
def open_request(
    client: User,
    *,
    region: str,
    language: str,
    modalities: Sequence[str],
    time_zone: str,
    concerns: Iterable[str] = (),
    concerns_text: str = "",
    approaches: Iterable[str] = (),
    availability: Sequence[dict[str, Any]] = (),
    payment_route: str = CareRequest.Payment.SELF_PAY,
    insurer_name: str = "",
) -> CareRequest:
    """The client's request, in the intake state until their intake and screen are done."""
    return CareRequest.objects.create(
        client=client,
        region=region,
        language=language,
        modalities=list(modalities),
        time_zone=time_zone,
        concerns=list(concerns),
        concerns_text=concerns_text,
        approaches=list(approaches),
        availability=list(availability),
        payment_route=payment_route,
        insurer_name=insurer_name,
    )


def request_of(client: User) -> CareRequest | None:
    """The client's open request, if any (the newest)."""
    return (
        CareRequest.objects.filter(client=client, status__in=OPEN_STATUSES)
        .order_by("-created_at")
        .first()
    )


def set_status(request: CareRequest, status: str) -> None:
    request.status = status
    request.status_changed_at = timezone.now()
    request.save(update_fields=["status", "status_changed_at"])


def ready_for_matching(request: CareRequest) -> None:
    """The client's intake and screen are done: suggest therapists (or waitlist them)."""
    set_status(request, CareRequest.Status.CHOOSING)
