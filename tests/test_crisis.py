"""Crisis help that fits the client: which resources a client sees (last check-in's country, then
the record's, then the practice's text), tap-to-call links on every page that shows them, the
admin's list with its validation and audit, and the resources Rapport ships."""

from __future__ import annotations

import importlib
import re
from datetime import date
from typing import Any

import pytest
from django.urls import reverse

from rapport.accounts.models import Practice, User
from rapport.audit.models import AuditEvent
from rapport.audit.services import Action
from rapport.care.models import ClientProfile
from rapport.core import realtime
from rapport.crisis.models import CrisisResource, dial_string
from rapport.crisis.resources import KnownFrom, resources_for
from rapport.messaging.access import conversation_for
from rapport.visits import services as visits
from tests.conftest import signed_in

PRACTICE_TEXT = "Practice fallback: call your local emergency number."
CHECKED = date(2026, 12, 4)


@pytest.fixture(autouse=True)
def _no_live_events(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(realtime, "deliver", lambda events: None)


def add(country: str, name: str, phone: str = "", **fields: Any) -> CrisisResource:
    return CrisisResource.objects.create(
        country=country,
        name=name,
        phone=phone,
        verified_on=CHECKED,
        source_url="https://example.test/source",
        **fields,
    )


@pytest.fixture
def listed(db: Any) -> None:
    """A small list of the practice's own (the shipped rows are replaced, so tests never hang
    on them), and the practice's fallback text."""
    CrisisResource.objects.all().delete()
    add("GB", "Emergency services", "999", kind="emergency", order=0)
    add("GB", "NHS 111", "111", region="England", note="Choose option 2.", order=10)
    add("GB", "Samaritans", "116 123", order=20)
    add("PL", "Numer alarmowy", "112", kind="emergency", order=0)
    add("PL", "Telefon Zaufania", "116 111", order=10)
    add("US", "Emergency services", "911", kind="emergency", order=0)
    add("US", "988 Lifeline", "988", text_number="988", chat_url="https://988.example.test/chat")
    practice = Practice.get()
    practice.crisis_resources = PRACTICE_TEXT
    practice.save(update_fields=["crisis_resources"])


def check_in(therapist: User, client: User, country: str) -> None:
    visit = visits.start_unscheduled(therapist, client)
    visits.check_in(
        visit,
        client,
        location="Somewhere",
        country=country,
        callback_phone="+1 555 0100",
        emergency_contact="Sam",
    )


def set_home(client: User, country: str) -> None:
    ClientProfile.objects.update_or_create(client=client, defaults={"country": country})


# check-ins' countries (oldest first), the record's country → the country shown, from where,
# and the names of the resources shown (empty: the practice's text).
CASES = [
    ([], "", "", KnownFrom.NOWHERE, []),
    ([], "GB", "GB", KnownFrom.PROFILE, ["Emergency services", "NHS 111", "Samaritans"]),
    (["PL"], "GB", "PL", KnownFrom.CHECK_IN, ["Numer alarmowy", "Telefon Zaufania"]),
    (["GB", "US"], "PL", "US", KnownFrom.CHECK_IN, ["Emergency services", "988 Lifeline"]),
    # A check-in that gave no country (from before it was asked) does not hide an earlier one.
    (["US", ""], "GB", "US", KnownFrom.CHECK_IN, ["Emergency services", "988 Lifeline"]),
    ([""], "PL", "PL", KnownFrom.PROFILE, ["Numer alarmowy", "Telefon Zaufania"]),
    # A country the practice lists nothing for: its own text, never another country's numbers.
    (["DE"], "GB", "DE", KnownFrom.CHECK_IN, []),
    ([], "FR", "FR", KnownFrom.PROFILE, []),
]


@pytest.mark.parametrize(("checkins", "home", "country", "known_from", "names"), CASES)
def test_resources_follow_the_last_check_in_then_the_record_then_the_practice(
    listed: None,
    client_a: User,
    therapist_x: User,
    checkins: list[str],
    home: str,
    country: str,
    known_from: str,
    names: list[str],
) -> None:
    set_home(client_a, home)
    for stated in checkins:
        check_in(therapist_x, client_a, stated)
    help_ = resources_for(client_a)
    assert (help_.country, help_.known_from) == (country, known_from)
    assert [r.name for r in help_.resources] == names
    assert help_.practice_text == ("" if names else PRACTICE_TEXT)
    # Emergency numbers come first.
    assert all(r.kind == "emergency" for r in help_.emergency)
    assert all(r.kind == "crisis_line" for r in help_.lines)


def test_another_clients_check_in_never_counts(
    listed: None, client_a: User, client_b: User, therapist_x: User, therapist_y: User
) -> None:
    set_home(client_a, "GB")
    check_in(therapist_y, client_b, "PL")
    assert resources_for(client_a).country == "GB"
    assert resources_for(client_b).country == "PL"


@pytest.mark.parametrize(
    ("written", "dialled"),
    [("988", "988"), ("116 123", "116123"), ("+44 (0)20 7946-0000", "+440207946" + "0000")],
)
def test_numbers_dial_as_their_digits(written: str, dialled: str) -> None:
    assert dial_string(written) == dialled


def links(page: str) -> set[str]:
    return set(re.findall(r'href="((?:tel|sms):[^"]*)"', page))


def test_every_page_with_crisis_help_has_tap_to_call_links(
    listed: None, client_a: User, therapist_x: User
) -> None:
    set_home(client_a, "GB")
    expected = {"tel:999", "tel:111", "tel:116123"}
    client = signed_in(client_a)
    visit = visits.start_unscheduled(therapist_x, client_a)
    chat = conversation_for(therapist_x.caseload.get(client=client_a))
    for url in [
        reverse("home"),
        reverse("visit_checkin", args=[visit.uid]),
        reverse("conversation", args=[chat.uid]),
    ]:
        page = client.get(url).content.decode()
        assert expected <= links(page), url
        assert "England only" in page, url
    # The therapist sees the client's resources: in the conversation and in the room.
    therapist = signed_in(therapist_x)
    check_in(therapist_x, client_a, "US")
    for url in [
        reverse("conversation", args=[chat.uid]),
        reverse("visit_room", args=[visit.uid]),
    ]:
        page = therapist.get(url).content.decode()
        assert {"tel:911", "tel:988", "sms:988"} <= links(page), url
        assert "tel:999" not in page, url


def test_the_record_edit_page_sets_the_country_of_residence(
    listed: None, client_a: User, therapist_x: User
) -> None:
    response = signed_in(therapist_x).post(
        reverse("edit_client_record", args=[client_a.pk]),
        {
            "preferred_name": "Al",
            "country": "GB",
            "phone": "",
            "emergency_contact": "",
            "intake_notes": "",
        },
    )
    assert response.status_code == 302
    assert (resources_for(client_a).country, resources_for(client_a).known_from) == (
        "GB",
        KnownFrom.PROFILE,
    )
    bad = signed_in(therapist_x).post(
        reverse("edit_client_record", args=[client_a.pk]), {"preferred_name": "Al", "country": "ZZ"}
    )
    assert bad.status_code == 200 and "Select a valid choice" in bad.content.decode()


def test_the_check_in_asks_for_the_country_and_starts_from_the_record(
    listed: None, client_a: User, therapist_x: User
) -> None:
    set_home(client_a, "PL")
    visit = visits.start_unscheduled(therapist_x, client_a)
    client = signed_in(client_a)
    url = reverse("visit_checkin", args=[visit.uid])
    form = client.get(url).context["form"]
    assert form["country"].value() == "PL"
    response = client.post(
        url,
        {
            "location": "A hotel in Manchester",
            "country": "GB",
            "callback_phone": "+44 7700 900000",
            "emergency_contact": "Sam, partner, +44 7700 900001",
            "confirm": "on",
        },
    )
    assert response.status_code == 302
    assert resources_for(client_a).country == "GB"
    # Next time the form starts from where they said they were.
    visit_2 = visits.start_unscheduled(therapist_x, client_a)
    assert client.get(reverse("visit_checkin", args=[visit_2.uid])).context["form"][
        "country"
    ].value() == ("GB")
    bad = client.post(
        url,
        {
            "location": "Home",
            "country": "XX",
            "callback_phone": "+44 7700 900000",
            "emergency_contact": "Sam",
            "confirm": "on",
        },
    )
    assert bad.status_code == 400
    assert "Select a valid choice" in bad.content.decode()


# --- The admin's pages ---------------------------------------------------------------------------

GOOD = {
    "country": "NZ",
    "region": "",
    "kind": "crisis_line",
    "name": "Need to talk? 1737",
    "phone": "1737",
    "text_number": "1737",
    "chat_url": "",
    "hours": "24 hours, every day",
    "note": "",
    "order": "10",
    "verified_on": "2026-12-01",
    "source_url": "https://1737.org.nz/",
}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"country": "XX"}, "country", "Select a valid choice"),
        ({"country": ""}, "country", "This field is required"),
        ({"phone": "call us"}, "phone", "Enter a number to dial"),
        ({"phone": "12"}, "phone", "Enter a number to dial"),
        ({"text_number": "text HELLO"}, "text_number", "Enter a number to dial"),
        ({"phone": "", "text_number": ""}, None, "Give at least one way to reach it"),
        ({"kind": "emergency", "phone": ""}, "phone", "An emergency number needs its phone"),
        ({"source_url": "http://1737.org.nz/"}, "source_url", "Use an https:// address"),
        ({"source_url": ""}, "source_url", "This field is required"),
        ({"chat_url": "javascript:alert(1)"}, "chat_url", "Enter a valid URL"),
        ({"verified_on": "2999-01-01"}, "verified_on", "cannot be in the future"),
        ({"verified_on": "yesterday"}, "verified_on", "Enter a valid date"),
        ({"name": ""}, "name", "This field is required"),
        ({"kind": "hotline"}, "kind", "Select a valid choice"),
    ],
)
def test_the_admin_form_names_what_is_wrong(
    admin: User, changes: dict[str, str], field: str | None, message: str
) -> None:
    before = CrisisResource.objects.count()
    response = signed_in(admin).post(reverse("crisis_resource_add"), {**GOOD, **changes})
    assert response.status_code == 400
    form = response.context["form"]
    errors = form.errors.get(field or "__all__", [])
    assert any(message in str(error) for error in errors), form.errors
    # The error summary at the top of the form names it too.
    summary = response.content.decode().split('id="error-summary"')[1].split("</div>")[0]
    assert message in summary
    assert CrisisResource.objects.count() == before


def test_the_admin_adds_changes_and_removes_a_resource_each_audited(admin: User) -> None:
    browser = signed_in(admin)
    response = browser.post(reverse("crisis_resource_add"), GOOD)
    assert response.status_code == 302
    added = CrisisResource.objects.get(name="Need to talk? 1737")
    assert (added.country, added.phone, added.verified_on) == ("NZ", "1737", date(2026, 12, 1))
    listing = browser.get(reverse("crisis_resources")).content.decode()
    assert "Need to talk? 1737" in listing and "New Zealand" in listing

    page = browser.get(reverse("crisis_resource_change", args=[added.pk]))
    assert page.status_code == 200
    response = browser.post(
        reverse("crisis_resource_change", args=[added.pk]), {**GOOD, "hours": "Every day"}
    )
    assert response.status_code == 302
    added.refresh_from_db()
    assert added.hours == "Every day"

    response = browser.post(reverse("crisis_resource_remove", args=[added.pk]))
    assert response.status_code == 302
    assert not CrisisResource.objects.filter(pk=added.pk).exists()
    events = AuditEvent.objects.filter(object_id=str(added.pk), actor=admin).order_by("sequence")
    assert [(e.action, e.detail) for e in events] == [
        (Action.CRISIS_RESOURCE_ADDED, {"country": "NZ"}),
        (Action.CRISIS_RESOURCE_CHANGED, {"country": "NZ", "fields": ["hours"]}),
        (Action.CRISIS_RESOURCE_REMOVED, {"country": "NZ"}),
    ]
    assert browser.get(reverse("crisis_resource_change", args=[added.pk])).status_code == 404


def test_the_database_refuses_a_resource_nobody_can_reach(db: Any) -> None:
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        add("NZ", "Nothing to dial")
    with pytest.raises(IntegrityError), transaction.atomic():
        add("NZ", "Emergency without a number", chat_url="https://x.test/", kind="emergency")


# --- What Rapport ships --------------------------------------------------------------------------

SHIPPED = importlib.import_module("rapport.crisis.migrations.0002_shipped_resources")


def shipped() -> list[CrisisResource]:
    rows = []
    for row in SHIPPED.SHIPPED:
        country, region, kind, name, phone, text, chat, hours, note, order, source = row
        rows.append(
            CrisisResource(
                country=country,
                region=region,
                kind=kind,
                name=name,
                phone=phone,
                text_number=text,
                chat_url=chat,
                hours=hours,
                note=note,
                order=order,
                verified_on=SHIPPED.WRITTEN,
                source_url=source,
            )
        )
    return rows


def test_the_shipped_resources_are_valid_and_cover_the_promised_numbers(db: Any) -> None:
    rows = shipped()
    for row in rows:
        row.full_clean()  # the admin form's rules hold for the shipped rows too
    numbers = {(r.country, r.kind, dial_string(r.phone)) for r in rows}
    promised = {
        ("US", "crisis_line", "988"),
        ("GB", "crisis_line", "111"),
        ("GB", "crisis_line", "116123"),
        ("CA", "crisis_line", "988"),
        ("AU", "crisis_line", "131114"),
        ("MX", "crisis_line", "8009112000"),
        ("PL", "crisis_line", "116123"),
        ("PL", "crisis_line", "116111"),
        ("IN", "crisis_line", "14416"),
        ("US", "emergency", "911"),
        ("CA", "emergency", "911"),
        ("MX", "emergency", "911"),
        ("GB", "emergency", "999"),
        ("GB", "emergency", "112"),
        ("AU", "emergency", "000"),
        ("PL", "emergency", "112"),
        ("IN", "emergency", "112"),
    }
    assert promised <= numbers
    assert next(r for r in rows if r.name == "NHS 111").region == "England"
    assert all(r.source_url.startswith("https://") for r in rows)


def test_the_migration_ships_them_once(db: Any) -> None:
    """Adds them to a practice with none; leaves a practice's own list alone."""
    from django.apps import apps

    CrisisResource.objects.all().delete()
    SHIPPED.add_shipped(apps, None)
    assert CrisisResource.objects.count() == len(SHIPPED.SHIPPED)
    CrisisResource.objects.exclude(country="GB").delete()
    SHIPPED.add_shipped(apps, None)
    assert set(CrisisResource.objects.values_list("country", flat=True)) == {"GB"}


def test_the_country_is_optional_at_check_in(
    listed: None, client_a: User, therapist_x: User
) -> None:
    """The country is optional: a client in a hurry is never held up by it."""
    visit = visits.start_unscheduled(therapist_x, client_a)
    response = signed_in(client_a).post(
        reverse("visit_checkin", args=[visit.uid]),
        {
            "location": "Home",
            "callback_phone": "+1 555 0100",
            "emergency_contact": "Sam",
            "confirm": "on",
        },
    )
    assert response.status_code == 302
    checkin = visits.current_checkin(visit)
    assert checkin is not None and checkin.country == ""
    assert resources_for(client_a).practice_text == PRACTICE_TEXT
