"""Telehealth consent: the practice publishes versions of its consent document; a client signs the
current one (typing their name) before they book.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _

from rapport.accounts.models import User
from rapport.audit.services import Action, record, request_origin
from rapport.scheduling.errors import SchedulingError
from rapport.scheduling.models import ConsentDocument, ConsentSignature


def current_consent() -> ConsentDocument | None:
    return ConsentDocument.objects.order_by("-version").first()


def has_current_consent(client: User) -> bool:
    signed = (
        ConsentDocument.objects.order_by("-version")
        .annotate(
            signed=Exists(ConsentSignature.objects.filter(client=client, document=OuterRef("pk")))
        )
        .values_list("signed", flat=True)
        .first()
    )
    return signed is None or signed  # None: the practice has not published a consent document.


def consent_versions(*, limit: int = 100) -> QuerySet[ConsentDocument]:
    """The consent's versions, newest first, each with who published it and how many signed."""
    return (
        ConsentDocument.objects.annotate(signature_count=Count("signatures"))
        .select_related("published_by")
        .order_by("-version")[:limit]
    )


def signature_of(client: User, document: ConsentDocument) -> ConsentSignature | None:
    """The client's own signature of ``document``, if they signed it."""
    return ConsentSignature.objects.filter(client=client, document=document).first()


def publish_consent(admin: User, *, title: str, body: str, request: HttpRequest) -> ConsentDocument:
    if not admin.is_practice_admin:
        raise PermissionDenied("only admins publish consent documents")
    with transaction.atomic():
        latest = ConsentDocument.objects.select_for_update().order_by("-version").first()
        document = ConsentDocument.objects.create(
            version=(latest.version + 1) if latest else 1,
            title=title.strip(),
            body=body.strip(),
            published_by=admin,
        )
        record(
            Action.CONSENT_PUBLISHED,
            actor=admin,
            request=request,
            obj=document,
            version=document.version,
        )
    return document


def sign_consent(
    client: User, document_id: int, *, typed_name: str, request: HttpRequest
) -> ConsentSignature:
    document = current_consent()
    if document is None or document.pk != document_id:
        raise SchedulingError(_("A newer version of the consent was published. Please read it."))
    if not client.is_client:
        raise PermissionDenied("only clients sign consent")
    typed = " ".join(typed_name.split())
    if typed.casefold() != " ".join(client.full_name.split()).casefold():
        raise SchedulingError(
            _("Type your full name exactly as it appears on your account: %(name)s")
            % {"name": client.full_name}
        )
    ip, agent = request_origin(request)
    with transaction.atomic():
        signature, created = ConsentSignature.objects.get_or_create(
            client=client,
            document=document,
            defaults={"typed_name": typed, "ip_address": ip, "user_agent": agent},
        )
        if created:
            record(
                Action.CONSENT_SIGNED,
                actor=client,
                request=request,
                obj=signature,
                client=client,
                version=document.version,
            )
    return signature


def clients_with_current_consent(client_ids: list[int]) -> set[int]:
    """Which of ``client_ids`` signed the current consent (all of them when none is published)."""
    document = current_consent()
    if document is None:
        return set(client_ids)
    return set(
        ConsentSignature.objects.filter(document=document, client_id__in=client_ids).values_list(
            "client_id", flat=True
        )
    )
