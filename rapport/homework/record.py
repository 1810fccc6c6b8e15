"""Homework's part of a client's record (contract in ``rapport.core.record``): an entry per
piece of homework handed in or past its due day (done or not done), and a FHIR ``Task`` for
each, in one query whatever their number. Homework not yet due is not part of the record, and
a draft's answers stay with the client: only handed-in answers are exported.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from rapport.accounts.models import User
from rapport.core.record import WHOLE, RecordEntry, Window, fhir_id, fhir_reference
from rapport.homework.models import Homework
from rapport.homework.services import readable_answers, title_of

KINDS = {"homework"}


def _rows(client: User) -> list[Homework]:
    today = timezone.localdate()
    return list(
        Homework.objects.filter(client=client)
        .filter(Q(submitted_at__isnull=False) | Q(due_on__lt=today))
        .select_related("assignment")
        .order_by("due_on", "pk")
    )


def _at(homework: Homework) -> datetime:
    """When it entered the record: handed in, or the end of its due day."""
    if homework.submitted_at is not None:
        return homework.submitted_at
    return datetime.combine(homework.due_on, time(23, 59), timezone.get_current_timezone())


def _answer_lines(homework: Homework) -> list[tuple[str, str]]:
    answers = readable_answers(homework)
    lines = list(answers["fields"])
    for n, row in enumerate(answers["rows"], start=1):
        pairs = [f"{c}: {v}" for c, v in zip(answers["columns"], row, strict=True) if v]
        lines.append((_("Row %(n)d") % {"n": n}, "; ".join(pairs)))
    return lines


def entries(
    client: User, *, viewer: User, export: bool = False, window: Window = WHOLE
) -> list[RecordEntry]:
    # Few rows: the whole record is read and the composer cuts it to the window.
    mine = viewer.pk == client.pk
    result = []
    for h in _rows(client):
        details: list[tuple[str, str]] = []
        if export:
            details = [
                (_("Due"), h.due_on.isoformat()),
                (_("Status"), _("done") if h.is_done else _("not done")),
            ]
            if h.is_done:
                details += _answer_lines(h)
            if h.comment:
                details.append((_("Therapist's comment"), h.comment))
        url = reverse("homework_fill" if mine else "homework_review", args=[h.pk])
        result.append(
            RecordEntry(
                kind="homework",
                at=_at(h),
                title=title_of(h.assignment),
                summary=_("due %(day)s") % {"day": h.due_on.isoformat()},
                url=url,
                status=_("done") if h.is_done else _("not done"),
                details=tuple(details),
            )
        )
    return result


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def task(h: Homework) -> dict[str, Any]:
    """A piece of homework as a FHIR R4 ``Task``: the answers handed in as its outputs."""
    resource: dict[str, Any] = {
        "resourceType": "Task",
        "id": fhir_id("task", h.pk),
        "status": "completed" if h.is_done else "requested",
        "intent": "order",
        "description": title_of(h.assignment),
        "for": {"reference": fhir_reference("patient", h.client_id)},
        "authoredOn": _instant(h.assignment.created_at),
        "restriction": {"period": {"end": h.due_on.isoformat()}},
    }
    if h.is_done:
        resource["output"] = [
            {"type": {"text": label}, "valueString": text}
            for label, text in _answer_lines(h)
            if text
        ]
    if h.comment and h.commented_at is not None:
        resource["note"] = [{"text": h.comment, "time": _instant(h.commented_at)}]
    return resource


def fhir_resources(client: User, *, viewer: User, export: bool = True) -> list[dict[str, Any]]:
    return [task(h) for h in _rows(client)]
