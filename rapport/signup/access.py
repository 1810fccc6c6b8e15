"""Permission-checked reads of sign-up data: the practice's intake queue and a new client's
safety alert (practice admins only, each read audited), and a guardian's consent by its link.
Unknown and forbidden answer alike (404).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from allauth.account.models import EmailAddress
from django.http import Http404, HttpRequest
from django.utils import timezone

from rapport.accounts.models import User, hash_token
from rapport.audit.services import Action, record
from rapport.matching.models import CareRequest
from rapport.matching.services import OPEN_STATUSES
from rapport.measures.models import Response
from rapport.signup.models import GuardianConsent, IntakeAlert
from rapport.signup.services import SCREEN_KEYS, link_expired

QUEUE_LIMIT = 200


def _require_admin(user: User) -> None:
    if not (user.is_active and user.is_practice_admin):
        raise Http404("The intake queue is the practice admins'.")


@dataclass(frozen=True)
class ScreenBand:
    short_name: str
    total: int | None
    band: str


@dataclass(frozen=True)
class QueueRow:
    request: CareRequest
    client: User
    bands: list[ScreenBand]
    open_alert: IntakeAlert | None
    risk: bool
    # The guardian's consent still awaited (a minor's request), else None.
    guardian: GuardianConsent | None
    email_confirmed: bool
    waiting: timedelta

    @property
    def guardian_pending(self) -> bool:
        return self.guardian is not None

    @property
    def status_label(self) -> str:
        return str(self.request.get_status_display())


def intake_queue(
    user: User, *, request: HttpRequest | None = None, now: datetime | None = None
) -> list[QueueRow]:
    """Open requests, risk first (an open alert, then any risk answer), then the longest
    waiting. Reading the queue is audited once per opening."""
    _require_admin(user)
    now = now or timezone.now()
    requests = list(
        CareRequest.objects.filter(status__in=OPEN_STATUSES)
        .select_related("client")
        .defer("concerns_text")
        .order_by("created_at")[:QUEUE_LIMIT]
    )
    client_ids = [r.client_id for r in requests]
    responses: dict[int, list[Response]] = {}
    for response in (
        Response.objects.filter(client_id__in=client_ids, instrument__key__in=SCREEN_KEYS)
        .select_related("instrument")
        .only("pk", "client_id", "result", "instrument__short_name")
        .order_by("submitted_at", "pk")
    ):
        responses.setdefault(response.client_id, []).append(response)
    alerts: dict[int, IntakeAlert] = {}
    for alert in IntakeAlert.objects.filter(client_id__in=client_ids, acknowledged_at=None).defer(
        "action_taken"
    ):
        alerts.setdefault(alert.client_id, alert)
    pending = {
        consent.client_id: consent
        for consent in GuardianConsent.objects.filter(
            client_id__in=client_ids, consented_at=None
        ).only("pk", "client_id", "asked_at", "reminded_at")
    }
    confirmed = set(
        EmailAddress.objects.filter(user_id__in=client_ids, verified=True).values_list(
            "user_id", flat=True
        )
    )
    rows = []
    for care_request in requests:
        own = responses.get(care_request.client_id, [])
        bands = []
        for response in own:
            result = response.result_data()
            bands.append(
                ScreenBand(
                    response.instrument.short_name, result.get("total"), result.get("band") or ""
                )
            )
        rows.append(
            QueueRow(
                request=care_request,
                client=care_request.client,
                bands=bands,
                open_alert=alerts.get(care_request.client_id),
                risk=any(r.risk_positive for r in own),
                guardian=pending.get(care_request.client_id),
                email_confirmed=care_request.client_id in confirmed,
                waiting=now - care_request.created_at,
            )
        )
    rows.sort(key=lambda row: (row.open_alert is None, not row.risk, row.request.created_at))
    record(Action.INTAKE_QUEUE_VIEWED, actor=user, request=request, rows=len(rows))
    return rows


def access_intake_alert(
    user: User, alert_id: int, *, request: HttpRequest | None = None
) -> IntakeAlert:
    """A new client's safety alert, for a practice admin; the reading audited."""
    _require_admin(user)
    alert = (
        IntakeAlert.objects.select_related("client", "response__instrument", "acknowledged_by")
        .filter(pk=alert_id)
        .first()
    )
    if alert is None:
        raise Http404("No such alert.")
    record(Action.INTAKE_ALERT_VIEWED, actor=user, request=request, obj=alert, client=alert.client)
    return alert


class GuardianLinkExpired(Exception):
    """A guardian's link that was real but is past ``GUARDIAN_LINK_DAYS``: a new one must be
    sent (the page says so, rather than a bare "not found")."""


def consent_by_token(token: str) -> GuardianConsent:
    """The guardian consent a link names, still waiting and within its time; otherwise 404
    (or ``GuardianLinkExpired``)."""
    consent = (
        GuardianConsent.objects.select_related("client")
        .filter(token_hash=hash_token(token), consented_at=None)
        .exclude(token_hash="")
        .first()
    )
    if consent is None or not consent.client.is_active:
        raise Http404("This link is not valid or was already used.")
    if link_expired(consent):
        raise GuardianLinkExpired
    return consent


def own_guardian_consent(user: User) -> GuardianConsent:
    """A signed-in minor's own guardian request (404 for anyone else)."""
    consent = GuardianConsent.objects.filter(client=user, client__is_active=True).first()
    if consent is None or not user.is_client:
        raise Http404("No guardian to ask.")
    return consent


def guardian_consent_for_admin(user: User, consent_id: int) -> GuardianConsent:
    """A guardian request, for a practice admin acting from the intake queue."""
    _require_admin(user)
    consent = GuardianConsent.objects.select_related("client").filter(pk=consent_id).first()
    if consent is None:
        raise Http404("No such guardian request.")
    return consent
