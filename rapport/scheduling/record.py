"""Consent in the client's record: each telehealth consent version the client signed.

One query whatever the number of signatures. Nothing in FHIR yet (a ``Consent`` resource would
need the practice's policy as a resource of its own).
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from django.utils.translation import gettext as _

from rapport.accounts.models import User
from rapport.core.record import WHOLE, RecordEntry, Window
from rapport.scheduling.models import ConsentSignature

KINDS = {"consent"}


def entries(
    client: User, *, viewer: User, export: bool = False, window: Window = WHOLE
) -> list[RecordEntry]:
    # Few rows: the whole record is read and the composer cuts it to the window.
    signatures = ConsentSignature.objects.filter(client=client).select_related("document")
    return [
        RecordEntry(
            kind="consent",
            at=signature.signed_at,
            title=_("Signed the telehealth consent (version %(version)s)")
            % {"version": signature.document.version},
            summary=signature.document.title,
            status=_("signed"),
            details=(
                (_("Document"), f"{signature.document.title} v{signature.document.version}"),
                (_("Typed name"), signature.typed_name),
                (_("Signed"), signature.signed_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")),
            ),
        )
        for signature in signatures
    ]


def fhir_resources(client: User, *, viewer: User, export: bool = True) -> list[dict[str, Any]]:
    return []
