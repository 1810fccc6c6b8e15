"""The client's record as a whole: the timeline, its filters and query count, and who may see it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from rapport.accounts.models import User
from rapport.care.models import CareRelationship, EmergencyAccess
from rapport.core.record import RecordEntry
from rapport.measures import record as measures_record
from rapport.measures.models import Response
from rapport.messaging import record as messaging_record
from rapport.records.timeline import record_entries
from rapport.records.views import PAGE_SIZE
from rapport.scheduling import record as scheduling_record
from rapport.visits import record as visits_record
from tests.conftest import signed_in
from tests.record_data import seed_record

START = datetime(2025, 1, 6, 10, 0, tzinfo=UTC)


def relationship_of(therapist: User, client: User) -> CareRelationship:
    return CareRelationship.objects.get(therapist=therapist, client=client)


def timeline_url(client: User, **query: str) -> str:
    url = reverse("record_timeline", kwargs={"client_id": client.pk})
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def test_the_timeline_lists_every_kind_newest_first(client_a: User, therapist_x: User) -> None:
    seed_record(relationship_of(therapist_x, client_a), scale=0.02, start=START)
    entries = record_entries(client_a, viewer=therapist_x)
    assert {"session", "measure", "alert", "consent", "messages"} <= {e.kind for e in entries}
    assert [e.at for e in entries] == sorted((e.at for e in entries), reverse=True)
    page = signed_in(therapist_x).get(timeline_url(client_a))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Session with Xena Therapist" in text
    assert "PHQ-9 result" in text
    # The timeline says a location was confirmed; the location itself is only in exports.
    assert "Home office" not in text


def test_session_minutes_per_modality(client_a: User, therapist_x: User) -> None:
    seed_record(relationship_of(therapist_x, client_a), scale=0.005, start=START)
    (session,) = [e for e in record_entries(client_a, viewer=therapist_x) if e.kind == "session"]
    # 20 minutes as planned (video), then 30 in the modality switched to (audio).
    assert session.summary == "Video 20 min, Audio only 30 min"
    details = dict(session.details)
    assert details["Who attended"] == "Xena Therapist, Alice Client"
    exported = [e for e in record_entries(client_a, viewer=client_a, export=True)]
    assert dict(next(e for e in exported if e.kind == "session").details)[
        "Client's stated location"
    ] == ("Home office, Leeds")


def test_filter_by_kind_and_dates(client_a: User, therapist_x: User) -> None:
    seed_record(relationship_of(therapist_x, client_a), scale=0.02, start=START)
    browser = signed_in(therapist_x)
    page = browser.get(timeline_url(client_a, kind="session")).content.decode()
    assert "Session with" in page and "PHQ-9 result" not in page
    response = browser.get(timeline_url(client_a, since="2025-01-06", until="2025-01-06"))
    assert response.status_code == 200
    entries = response.context["entries"]
    assert entries and all(e.at.date() == START.date() for e in entries)


def test_bad_dates_are_refused_with_the_form_kept(client_a: User, therapist_x: User) -> None:
    page = signed_in(therapist_x).get(
        timeline_url(client_a, since="2025-02-01", until="2025-01-01")
    )
    assert page.status_code == 400
    text = page.content.decode()
    assert "The end date is before the start date." in text
    assert 'value="2025-02-01"' in text


def walk(browser: Client, url: str) -> tuple[list[RecordEntry], list[str]]:
    """Every page of the timeline from ``url`` by its "Older entries" links: (the entries, the
    URLs of the pages)."""
    entries: list[RecordEntry] = []
    urls = []
    while url:
        response = browser.get(url)
        assert response.status_code == 200
        urls.append(url)
        entries.extend(response.context["entries"])
        url = response.context["older"] and url.split("?")[0] + response.context["older"]
    return entries, urls


def test_the_pages_hold_the_whole_record_once(client_a: User, therapist_x: User) -> None:
    seed_record(relationship_of(therapist_x, client_a), scale=0.15, start=START)
    # Two notes at the very same instant across a page boundary stay on one page.
    whole = record_entries(client_a, viewer=therapist_x)
    browser = signed_in(therapist_x)
    paged, urls = walk(browser, timeline_url(client_a))
    assert len(urls) == -(-len(whole) // PAGE_SIZE) > 2
    assert [(e.kind, e.at, e.title) for e in paged] == [(e.kind, e.at, e.title) for e in whole]
    # Filtered by kind, the pages hold exactly the filtered record, across pages too.
    alerts_and_sessions = record_entries(client_a, viewer=therapist_x, kinds={"alert", "session"})
    paged, _urls = walk(browser, timeline_url(client_a, kind="session") + "&kind=alert")
    assert [(e.kind, e.at) for e in paged] == [(e.kind, e.at) for e in alerts_and_sessions]
    last = browser.get(urls[-1])
    assert "Newest entries" in last.content.decode() and last.context["older"] == ""


def test_entries_at_one_instant_are_not_split(client_a: User, therapist_x: User) -> None:
    seed_record(relationship_of(therapist_x, client_a), scale=0.1, start=START)
    whole = record_entries(client_a, viewer=therapist_x)
    # Move the entries around the first page's boundary to the same instant as its last one.
    boundary = whole[PAGE_SIZE - 1].at
    tied = [e for e in whole[PAGE_SIZE - 3 : PAGE_SIZE + 3] if e.kind == "measure"]
    assert len(tied) >= 2
    Response.objects.filter(client=client_a, submitted_at__in=[e.at for e in tied]).update(
        submitted_at=boundary
    )
    whole = record_entries(client_a, viewer=therapist_x)
    paged, _urls = walk(signed_in(therapist_x), timeline_url(client_a))
    assert sorted((e.kind, e.at, e.title) for e in paged) == sorted(
        (e.kind, e.at, e.title) for e in whole
    )
    assert len(paged) == len(whole)


def test_a_bad_page_link_is_refused_with_a_way_back(client_a: User, therapist_x: User) -> None:
    browser = signed_in(therapist_x)
    for cursor in ("yesterday", "2025-01-06T10:00:00"):  # not a time; no time zone
        response = browser.get(timeline_url(client_a, before=cursor))
        assert response.status_code == 400
        assert "Newest entries" in response.content.decode()


def count_queries(viewer: User, client: User, url: str = "") -> int:
    browser = signed_in(viewer)
    url = url or timeline_url(client)
    browser.get(url)  # warm the session and caches
    with CaptureQueriesContext(connection) as queries:
        assert browser.get(url).status_code == 200
    return len(queries.captured_queries)


def test_the_timeline_query_count_does_not_grow(
    client_a: User, client_b: User, therapist_x: User, therapist_y: User
) -> None:
    seed_record(relationship_of(therapist_x, client_a), scale=0.05, start=START)
    seed_record(relationship_of(therapist_y, client_b), scale=0.15, start=START)
    assert len(record_entries(client_b, viewer=therapist_y)) > 2.5 * len(
        record_entries(client_a, viewer=therapist_x)
    )
    assert count_queries(therapist_x, client_a) == count_queries(therapist_y, client_b)
    # An older page reads no more than the first (fewer when a provider has nothing there,
    # as its prefetches are then skipped).
    older = signed_in(therapist_y).get(timeline_url(client_b)).context["older"]
    assert older
    assert count_queries(therapist_y, client_b, timeline_url(client_b) + older) <= (
        count_queries(therapist_y, client_b)
    )


@pytest.mark.parametrize(
    ("provider", "queries"),
    [(visits_record, 2), (measures_record, 2), (scheduling_record, 1), (messaging_record, 2)],
)
@pytest.mark.parametrize("scale", [0.05, 0.15])
def test_each_provider_reads_in_fixed_queries(
    client_a: User,
    therapist_x: User,
    django_assert_num_queries: object,
    provider: object,
    queries: int,
    scale: float,
) -> None:
    seed_record(relationship_of(therapist_x, client_a), scale=scale, start=START)
    with django_assert_num_queries(queries):  # type: ignore[operator]
        assert provider.entries(client_a, viewer=therapist_x)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("persona", "status"),
    [("client_a", 200), ("client_b", 404), ("therapist_x", 200), ("therapist_y", 404)],
)
def test_who_may_open_the_timeline(
    personas: dict[str, User | None], persona: str, status: int
) -> None:
    user = personas[persona]
    assert user is not None
    response = signed_in(user).get(timeline_url(personas["client_a"]))  # type: ignore[arg-type]
    assert response.status_code == status


def test_an_admin_only_under_emergency_access(client_a: User, admin: User) -> None:
    browser = signed_in(admin)
    assert browser.get(timeline_url(client_a)).status_code == 404
    EmergencyAccess.objects.create(
        admin=admin, client=client_a, reason="Unreachable", expires_at=timezone.now() + timedelta(1)
    )
    page = browser.get(timeline_url(client_a))
    assert page.status_code == 200
    assert "emergency access" in page.content.decode()


def test_my_record_leads_a_client_to_their_timeline(client_a: User, therapist_x: User) -> None:
    response = signed_in(client_a).get(reverse("my_record"))
    assert response.status_code == 200
    assert response.context["client"] == client_a
    assert "Your record" in response.content.decode()
    assert signed_in(therapist_x).get(reverse("my_record")).status_code == 403


def test_the_client_record_page_links_to_the_timeline(client_a: User, therapist_x: User) -> None:
    page = signed_in(therapist_x).get(reverse("client_record", kwargs={"client_id": client_a.pk}))
    assert timeline_url(client_a) in page.content.decode()
