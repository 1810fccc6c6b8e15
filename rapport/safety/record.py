"""The safety plan's part of a client's record (contract in ``rapport.core.record``): a timeline
entry per version, with every step in the readable export, in one query whatever their number.

The FHIR export carries no resource for it yet: FHIR R4 has no safety plan resource, and a
``CarePlan`` would misstate what it is (the readable export holds every version in full).
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _

from rapport.accounts.models import User
from rapport.core.record import WHOLE, RecordEntry, Window
from rapport.safety.models import SafetyPlanVersion

KINDS = {"safety_plan"}


def _steps(version: SafetyPlanVersion) -> list[tuple[str, str]]:
    def contacts(field: str) -> str:
        people = version.contacts(field)
        return "\n".join(f"{c.name}: {c.phone}" if c.phone else c.name for c in people) or "—"

    return [
        (_("Warning signs"), "\n".join(version.warning_signs_list) or "—"),
        (_("Things I can do on my own"), "\n".join(version.coping_strategies_list) or "—"),
        (
            _("People and places that take my mind off things"),
            "\n".join(version.distractions_list) or "—",
        ),
        (_("People I can ask for help"), contacts("people_to_ask")),
        (_("Professionals and services to contact in a crisis"), contacts("professionals")),
        (_("Making where I am safer"), "\n".join(version.environment_list) or "—"),
        (
            _("The one thing most important to me and worth living for"),
            version.reason_for_living or "—",
        ),
    ]


def entries(
    client: User, *, viewer: User, export: bool = False, window: Window = WHOLE
) -> list[RecordEntry]:
    """One entry per version, at the time it was saved (one query)."""
    # Few rows: the whole record is read and the composer cuts it to the window.
    rows = SafetyPlanVersion.objects.filter(plan__client=client).select_related("created_by")
    if not export:  # the timeline shows who and when; the words stay undecrypted
        rows = rows.only(
            "plan_id", "number", "created_at", "written_in_visit", "created_by__full_name"
        )
    result = []
    for version in rows.order_by("number"):
        if viewer.pk == client.pk:
            url = reverse("my_safety_plan")
        else:
            url = reverse("safety_plan_version", args=[client.pk, version.number])
        result.append(
            RecordEntry(
                kind="safety_plan",
                at=version.created_at,
                title=_("Safety plan, version %(number)d") % {"number": version.number},
                summary=(
                    _("Written together in a session by %(name)s")
                    if version.written_in_visit
                    else _("Written by %(name)s")
                )
                % {"name": version.created_by.full_name},
                url=url,
                details=tuple(_steps(version)) if export else (),
            )
        )
    return result


def fhir_resources(client: User, *, viewer: User, export: bool = True) -> list[dict[str, Any]]:
    """None yet (see the module's docstring)."""
    return []
