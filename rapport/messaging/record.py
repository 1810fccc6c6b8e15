"""Messages in the client's record: how many were exchanged in each conversation each month,
never what they said. Two queries whatever the number of messages; nothing in FHIR.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count
from django.db.models.functions import TruncMonth
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from rapport.accounts.models import User
from rapport.core.record import WHOLE, RecordEntry, Window
from rapport.messaging.models import Message, Participant

KINDS = {"messages"}


def entries(
    client: User, *, viewer: User, export: bool = False, window: Window = WHOLE
) -> list[RecordEntry]:
    # Few rows: the whole record is read and the composer cuts it to the window.
    counts = list(
        Message.objects.filter(conversation__participants__user=client, visit__isnull=True)
        .annotate(month=TruncMonth("created_at"))
        .values("conversation_id", "month")
        .annotate(n=Count("pk"))
        .order_by()
    )
    conversations = {row["conversation_id"] for row in counts}
    others = {
        p.conversation_id: p.user.full_name
        for p in Participant.objects.filter(conversation_id__in=conversations)
        .exclude(user=client)
        .select_related("user")
    }
    rows = []
    for row in counts:
        month = row["month"]
        words = ngettext("%(n)d message", "%(n)d messages", row["n"]) % {"n": row["n"]}
        other = others.get(row["conversation_id"], "")
        rows.append(
            RecordEntry(
                kind="messages",
                at=month,
                title=_("Messages in %(month)s")
                % {"month": date_format(month, "YEAR_MONTH_FORMAT")},
                summary=_("%(count)s with %(other)s") % {"count": words, "other": other},
                details=((_("Messages"), words), (_("With"), other)),
            )
        )
    return rows


def fhir_resources(client: User, *, viewer: User, export: bool = True) -> list[dict[str, Any]]:
    return []
