"""The treatment plan's goals on the measures progress pages.

Measures sits below plans and may not import it, so its progress pages send
``rapport.measures.signals.progress_sections`` and this receiver answers with the goals of the
client's current plan that are tied to a measure, with their progress computed from the scores.
The client reads their goals in their own words; the clinical team reads the clinical wording.
"""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from rapport.accounts.models import User
from rapport.care.access import Reach
from rapport.plans import services
from rapport.plans.models import Plan
from rapport.plans.progress import goal_progress


def goal_section(
    sender: Any, *, client: User, viewer: User, how: str, **kwargs: Any
) -> SafeString | None:
    version = services.latest_final(Plan.objects.filter(client=client).first())
    if version is None:
        return None
    goals = [g for g in services.goals_of(version) if g.has_measure]
    if not goals:
        return None
    return render_to_string(  # a SafeString: the template engine escaped what it drew
        "plans/_goal_progress.html",
        {
            "client": client,
            "mine": how == Reach.SELF,
            "progress": goal_progress(client, goals, version.starts_on),
        },
    )
