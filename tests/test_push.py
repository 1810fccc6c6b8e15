"""Push notices (issue 20), through the real worker, against a stand-in push service.

Headless Chromium cannot subscribe here (see ``tests/push_service.py``), so each subscription
is made as a browser makes it: a P-256 key pair and an auth secret, sent to the app's own
subscribe endpoint; the stand-in service receives what a real push service would, the VAPID
signature is checked and the payload decrypted with the subscription's private key. A notice
goes once, says nothing about who or what, stays silent in quiet hours, and a subscription the
service calls gone (404, 410) is deleted.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.db import transaction
from django.test import Client
from django.urls import reverse

from rapport.accounts.models import User
from rapport.audit.models import AuditEvent
from rapport.audit.services import Action
from rapport.care.models import CareRelationship
from rapport.measures.alerts import escalate, raise_alert_for
from rapport.measures.models import AlertKind
from rapport.messaging import services as messaging
from rapport.messaging.access import conversation_for
from rapport.messaging.preferences import settings_for
from rapport.push import services
from rapport.push.models import NoticeKind, PushDelivery, PushStatus, PushSubscription
from rapport.scheduling.models import SessionType
from rapport.scheduling.notifications import queue_reminders
from rapport.visits import services as visits
from tests.conftest import signed_in
from tests.push_service import BrowserKeys, PushService, check_vapid, push_service
from tests.scheduling_data import direct_appointment
from tests.worker import run_task_worker

pytestmark = pytest.mark.django_db(transaction=True)

UTC = ZoneInfo("UTC")
SECRET = "CANARY-I-stopped-taking-the-pills-4b1e"
START = datetime(2030, 1, 16, 15, 0, tzinfo=UTC)  # a Wednesday afternoon


@pytest.fixture
def service(settings: Any) -> Iterator[PushService]:
    with push_service() as running:
        settings.RAPPORT_PUSH_SERVICES = [running.origin]
        yield running


def subscribe(user: User, keys: BrowserKeys, kinds: list[str] | None = None) -> dict[str, Any]:
    body = {
        "subscription": keys.to_json(),
        "kinds": kinds if kinds is not None else [k.value for k in services.kinds_for(user)],
        "label": "Chrome on Android",
    }
    response = signed_in(user).post(
        reverse("push_subscribe"), json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 200, response.content.decode()
    answer: dict[str, Any] = response.json()
    return answer


def the_notice(service: PushService, keys: BrowserKeys) -> dict[str, Any]:
    [received] = service.take()
    assert received.path == keys.endpoint.removeprefix(service.origin)
    claims = check_vapid(received, settings.RAPPORT_VAPID_PUBLIC_KEY, service.origin)
    assert claims["sub"] == settings.RAPPORT_VAPID_SUBJECT
    assert int(received.headers["ttl"]) == settings.RAPPORT_PUSH_TTL_SECONDS
    return keys.decrypt(received)


def check_content_free(notice: dict[str, Any], *people: User) -> None:
    """The fixed words and a page address: no name, no text, no id of anything clinical."""
    assert set(notice) == {"title", "body", "url", "tag"}
    assert notice["title"] == "Rapport"
    everything = json.dumps(notice)
    assert SECRET not in everything
    for person in people:
        for word in (person.full_name, *person.full_name.split(), person.email):
            assert word not in everything
    assert not any(ch.isdigit() for ch in notice["url"])


def write(sender: User, therapist: User, client: User, text: str = SECRET) -> None:
    relationship = CareRelationship.objects.get(therapist=therapist, client=client)
    sender.refresh_from_db()
    messaging.send_message(sender, conversation_for(relationship).uid, uuid.uuid4(), text)


def test_a_new_message_pushes_one_content_free_encrypted_notice(
    client_a: User, therapist_x: User, service: PushService
) -> None:
    phone = BrowserKeys.new(service, "phone")
    with time_machine.travel(START, tick=False) as clock:
        subscribe(client_a, phone)
        write(therapist_x, therapist_x, client_a)
        run_task_worker()
        assert service.take() == []  # not before the person's delay, like the email
        clock.shift(timedelta(minutes=11))
        run_task_worker()
        notice = the_notice(service, phone)
        assert notice["body"] == "You have a new message in Rapport."
        assert notice["url"] == reverse("inbox")
        check_content_free(notice, client_a, therapist_x)
        # Once: the worker again, the same decision again, nothing new.
        run_task_worker()
        assert service.take() == []
        assert PushDelivery.objects.get().status == PushStatus.SENT
        assert PushSubscription.objects.get().last_success_at == START + timedelta(minutes=11)


def test_a_notice_in_another_language_is_still_content_free(
    client_a: User, therapist_x: User, service: PushService
) -> None:
    client_a.language = "es"
    client_a.save(update_fields=["language"])
    phone = BrowserKeys.new(service, "phone")
    subscribe(client_a, phone)
    assert services.payload(client_a, NoticeKind.NEW_MESSAGE)["url"] == reverse("inbox")
    with transaction.atomic():
        services.notify(client_a.pk, NoticeKind.NEW_MESSAGE, "test:language")
    run_task_worker()
    notice = the_notice(service, phone)
    check_content_free(notice, client_a)


def test_every_device_that_wants_it_and_only_those(
    client_a: User, therapist_x: User, service: PushService
) -> None:
    phone, laptop = BrowserKeys.new(service, "phone"), BrowserKeys.new(service, "laptop")
    subscribe(client_a, phone, ["new_message", "questionnaire_due"])
    subscribe(client_a, laptop, ["session_starting"])
    with transaction.atomic():
        services.notify(client_a.pk, NoticeKind.QUESTIONNAIRE_DUE, "test:questionnaire")
    run_task_worker()
    notice = the_notice(service, phone)
    assert notice["body"] == "You have a questionnaire to fill in in Rapport."
    assert notice["url"] == reverse("my_measures")
    # Nobody wants it: nothing is recorded at all.
    with transaction.atomic():
        assert services.notify(client_a.pk, NoticeKind.CLIENT_WAITING, "test:none") is None
    assert not PushDelivery.objects.filter(key="test:none").exists()


@pytest.mark.parametrize("status", [404, 410])
def test_a_subscription_the_service_calls_gone_is_removed(
    client_a: User, therapist_x: User, service: PushService, status: int
) -> None:
    phone, laptop = BrowserKeys.new(service, "phone"), BrowserKeys.new(service, "laptop")
    subscribe(client_a, phone)
    service.status = status
    with transaction.atomic():
        services.notify(client_a.pk, NoticeKind.NEW_MESSAGE, "test:gone")
    run_task_worker()
    assert len(service.take()) == 1
    assert not PushSubscription.objects.exists()
    # A server error is not "gone": the subscription stays.
    subscribe(client_a, laptop)
    service.status = 500
    with transaction.atomic():
        services.notify(client_a.pk, NoticeKind.NEW_MESSAGE, "test:error")
    run_task_worker()
    assert len(service.take()) == 1
    assert PushSubscription.objects.filter(endpoint=laptop.endpoint).exists()


def test_quiet_hours_keep_push_silent(
    client_a: User, therapist_x: User, service: PushService
) -> None:
    prefs = settings_for(client_a)
    prefs.quiet_from, prefs.quiet_until = time(14, 0), time(16, 0)  # client_a's zone is UTC
    prefs.save(update_fields=["quiet_from", "quiet_until"])
    phone = BrowserKeys.new(service, "phone")
    subscribe(client_a, phone)
    with time_machine.travel(START, tick=False) as clock:  # 15:00, inside
        with transaction.atomic():
            services.notify(client_a.pk, NoticeKind.QUESTIONNAIRE_DUE, "test:quiet")
        run_task_worker()
        assert service.take() == []
        delivery = PushDelivery.objects.get(key="test:quiet")
        assert (delivery.status, delivery.outcome) == (PushStatus.SKIPPED, "quiet hours")
        clock.move_to(START + timedelta(hours=1))  # 16:00, after
        with transaction.atomic():
            services.notify(client_a.pk, NoticeKind.QUESTIONNAIRE_DUE, "test:loud")
        run_task_worker()
        assert the_notice(service, phone)["tag"] == "questionnaire_due"


def test_a_message_in_quiet_hours_waits_for_them_to_end(
    client_a: User, therapist_x: User, service: PushService
) -> None:
    prefs = settings_for(client_a)
    prefs.quiet_from, prefs.quiet_until = time(14, 0), time(16, 0)
    prefs.email_when_unread = False  # push alone keeps the unread cycle going
    prefs.save(update_fields=["quiet_from", "quiet_until", "email_when_unread"])
    phone = BrowserKeys.new(service, "phone")
    subscribe(client_a, phone)
    with time_machine.travel(START, tick=False) as clock:
        write(therapist_x, therapist_x, client_a)
        clock.shift(timedelta(minutes=30))
        run_task_worker()
        assert service.take() == []
        clock.move_to(START + timedelta(hours=1, minutes=1))
        run_task_worker()
        assert the_notice(service, phone)["tag"] == "new_message"


def test_safety_alerts_reach_the_therapist_then_the_admins(
    client_a: User, therapist_x: User, admin: User, service: PushService
) -> None:
    therapist_phone, admin_phone = (
        BrowserKeys.new(service, "therapist"),
        BrowserKeys.new(service, "admin"),
    )
    subscribe(therapist_x, therapist_phone)
    subscribe(admin, admin_phone)
    with time_machine.travel(START, tick=False) as clock:
        with transaction.atomic():
            alert = raise_alert_for(
                client=client_a,
                therapist=therapist_x,
                kind=AlertKind.RISK_ITEM,
                actor=client_a,
                source="intake",
                label="Intake",
                url="/",
            )
        run_task_worker()
        notice = the_notice(service, therapist_phone)
        assert notice["body"] == "A safety alert in Rapport needs your attention."
        assert notice["url"] == reverse("alerts")
        check_content_free(notice, client_a, therapist_x)
        clock.shift(timedelta(hours=2))
        assert escalate(alert.pk)
        run_task_worker()
        notice = the_notice(service, admin_phone)
        # The practice's page, which shows escalated alerts and new clients' alerts alike.
        assert notice["url"] == reverse("home")
        check_content_free(notice, client_a, therapist_x, admin)


def test_a_waiting_client_is_pushed_to_the_therapist_once(
    client_a: User, therapist_x: User, service: PushService
) -> None:
    phone = BrowserKeys.new(service, "phone")
    subscribe(therapist_x, phone)
    visit = visits.start_unscheduled(therapist_x, client_a)
    visits.check_in(
        visit, client_a, location="Home", callback_phone="+1 555", emergency_contact="S"
    )
    visits.connect(visit.pk, client_a, "channel-1", "c1")
    visits.disconnect(visit.pk, client_a, "channel-1")
    visits.connect(visit.pk, client_a, "channel-2", "c2")
    run_task_worker()
    notice = the_notice(service, phone)
    assert notice["body"] == "A client is waiting for you in Rapport."
    check_content_free(notice, client_a, therapist_x)


def test_both_people_hear_ten_minutes_before_a_session(
    client_a: User, therapist_x: User, service: PushService
) -> None:
    client_phone, therapist_phone = (
        BrowserKeys.new(service, "client"),
        BrowserKeys.new(service, "therapist"),
    )
    subscribe(client_a, client_phone)
    subscribe(therapist_x, therapist_phone)
    session_type = SessionType.objects.create(therapist=therapist_x, name="Session", minutes=50)
    with time_machine.travel(START, tick=False) as clock:
        appointment = direct_appointment(session_type, client_a, START + timedelta(hours=3))
        with transaction.atomic():
            queue_reminders(appointment)
        clock.move_to(appointment.starts_at - timedelta(minutes=11))
        run_task_worker()
        assert service.take() == []
        clock.move_to(appointment.starts_at - timedelta(minutes=10))
        run_task_worker()
        received = service.take()
        assert sorted(r.path for r in received) == ["/push/client", "/push/therapist"]
        for keys, got in zip(
            (client_phone, therapist_phone),
            sorted(received, key=lambda r: r.path),
            strict=True,
        ):
            notice = keys.decrypt(got)
            assert notice["body"] == "Your session in Rapport starts in 10 minutes."
            check_content_free(notice, client_a, therapist_x)


def test_bad_subscriptions_are_refused_clearly_and_nothing_is_stored(
    client_a: User, admin: User, service: PushService
) -> None:
    browser = signed_in(client_a)
    good = BrowserKeys.new(service, "phone").to_json()

    def refused(body: Any, content_type: str = "application/json", who: Client = browser) -> str:
        data = body if isinstance(body, str) else json.dumps(body)
        response = who.post(reverse("push_subscribe"), data, content_type=content_type)
        assert response.status_code == 400, response.content.decode()
        return str(response.json()["error"])

    assert refused("endpoint=x", "application/x-www-form-urlencoded") == (
        "Send the subscription as JSON."
    )
    assert refused("{not json") == "The subscription is not valid JSON."
    assert refused([1, 2]) == "The subscription must be a JSON object."
    assert refused({"kinds": ["new_message"]}) == "The browser's subscription is missing."
    short = {**good, "keys": {**good["keys"], "auth": "AAAA"}}
    assert refused({"subscription": short, "kinds": ["new_message"]}) == (
        "The browser's authentication secret has the wrong length."
    )
    off_curve = {**good, "keys": {**good["keys"], "p256dh": "BA" + "A" * 85}}
    assert refused({"subscription": off_curve, "kinds": ["new_message"]}) == (
        "The browser's public key is not a P-256 key."
    )
    assert refused({"subscription": good, "kinds": []}) == "Choose at least one kind of notice."
    assert refused({"subscription": good, "kinds": ["everything"]}) == "Unknown kind of notice."
    elsewhere = {**good, "endpoint": "http://10.0.0.5:8080/admin"}
    assert refused({"subscription": elsewhere, "kinds": ["new_message"]}) == (
        "This browser's push service is not one this practice sends notices to."
    )
    assert refused({"subscription": good, "kinds": ["new_message"]}, who=signed_in(admin)) == (
        "Choose at least one kind of notice you can get."
    )
    assert not PushSubscription.objects.exists()


def test_turning_on_and_off_is_csrf_checked_audited_and_only_ones_own(
    client_a: User, client_b: User, service: PushService
) -> None:
    phone = BrowserKeys.new(service, "phone")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(client_a)
    body = json.dumps({"subscription": phone.to_json(), "kinds": ["new_message"]})
    response = strict.post(reverse("push_subscribe"), body, content_type="application/json")
    assert response.status_code == 403
    assert not PushSubscription.objects.exists()

    answer = subscribe(client_a, phone, ["new_message"])
    assert answer["kinds"] == ["new_message"]
    device = PushSubscription.objects.get()
    assert (device.user, device.label, device.kinds()) == (
        client_a,
        "Chrome on Android",
        ["new_message"],
    )
    # Someone else cannot turn it off, by id or by endpoint.
    response = signed_in(client_b).post(reverse("push_unsubscribe"), {"device": str(device.pk)})
    assert response.status_code == 302
    response = signed_in(client_b).post(
        reverse("push_unsubscribe"),
        json.dumps({"endpoint": phone.endpoint}),
        content_type="application/json",
    )
    assert response.json() == {"removed": False}
    assert PushSubscription.objects.filter(pk=device.pk).exists()
    # The page lists it; its owner turns it off from the list.
    page = signed_in(client_a).get(reverse("account_settings")).content.decode()
    assert "Notices on this device" in page and "Chrome on Android" in page
    assert phone.endpoint not in page
    response = signed_in(client_a).post(reverse("push_unsubscribe"), {"device": str(device.pk)})
    assert response.status_code == 302
    assert not PushSubscription.objects.exists()
    actions = list(
        AuditEvent.objects.filter(actor=client_a, action__startswith="push.")
        .order_by("sequence")
        .values_list("action", flat=True)
    )
    assert actions == [Action.PUSH_DEVICE_ADDED, Action.PUSH_DEVICE_REMOVED]


def test_the_account_page_offers_each_role_its_notices(
    client_a: User, therapist_x: User, admin: User
) -> None:
    def offered(user: User) -> set[str]:
        page = signed_in(user).get(reverse("account_settings")).content.decode()
        return {kind.value for kind in NoticeKind if f'value="{kind.value}"' in page}

    assert offered(client_a) == {
        "new_message",
        "session_starting",
        "questionnaire_due",
        "care_request",
    }
    assert offered(therapist_x) == {
        "new_message",
        "session_starting",
        "client_waiting",
        "safety_alert",
        "care_request",
    }
    assert offered(admin) == {"safety_alert", "care_request"}


def test_unsubscribe_refuses_bad_input_clearly(client_a: User) -> None:
    browser = signed_in(client_a)
    url = reverse("push_unsubscribe")
    response = browser.post(url, "{broken", content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"error": "The subscription is not valid JSON."}
    response = browser.post(url, json.dumps({"endpoint": 7}), content_type="application/json")
    assert response.json() == {"error": "The push service's address is missing."}
    response = browser.post(url, {"device": "not a number"}, follow=True)
    assert "Choose a device to turn notices off on." in response.content.decode()


def test_without_a_vapid_key_there_are_no_push_notices(
    client_a: User, service: PushService, settings: Any
) -> None:
    settings.RAPPORT_VAPID_PRIVATE_KEY = ""
    page = signed_in(client_a).get(reverse("account_settings")).content.decode()
    assert "This practice does not send push notices." in page
    assert 'id="push-form"' not in page
    body = {"subscription": BrowserKeys.new(service, "phone").to_json(), "kinds": ["new_message"]}
    response = signed_in(client_a).post(
        reverse("push_subscribe"), json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json() == {"error": "This practice does not send push notices."}
    assert not PushSubscription.objects.exists()
