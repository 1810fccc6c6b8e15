"""The mood chart on the measures progress pages, beside the measures.

Measures sits below the journal and may not import it, so its progress pages send
``rapport.measures.signals.progress_sections`` and this receiver answers with a chart of the
daily mood (0 to 10) with the session dates marked, drawn as the measures' own charts are. The
client sees every mood they checked in; anyone else sees the mood of shared entries only (the
rule in ``rapport.journal.access``).
"""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from rapport.accounts.models import User
from rapport.care.access import Reach
from rapport.journal.access import own_entries, shared_of
from rapport.journal.models import MOOD_MAX, MOOD_MIN
from rapport.measures import charts
from rapport.visits.models import Visit


def mood_section(
    sender: Any, *, client: User, viewer: User, how: str, **kwargs: Any
) -> SafeString | None:
    mine = how == Reach.SELF
    entries = own_entries(client) if mine else shared_of(client)
    moods = list(
        entries.filter(mood__isnull=False)
        .order_by("written_at", "pk")
        .values_list("written_at", "mood")
    )
    if not moods:
        return None
    visits = Visit.objects.filter(client=client, started_at__isnull=False)
    if how == Reach.CARE:
        visits = visits.filter(therapist=viewer)
    sessions = [
        charts.Session(at, modality)
        for at, modality in visits.order_by("started_at").values_list("started_at", "modality")
        if at is not None
    ]
    chart = charts.progress_chart(
        chart_id="mood",
        name=_("Mood"),
        points=[charts.Point(at, mood) for at, mood in moods if mood is not None],
        sessions=sessions,
        low=MOOD_MIN,
        high=MOOD_MAX,
        higher_is_worse=False,
        width=charts.NARROW if mine else charts.WIDTH,
    )
    return render_to_string(  # a SafeString: the template engine escaped what it drew
        "journal/_mood_section.html",
        {
            "client": client,
            "mine": mine,
            "chart": chart,
            "rows": [(charts.short_date(at, with_time=True), mood) for at, mood in moods],
        },
    )
