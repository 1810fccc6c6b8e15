"""The installable app in real Chromium (issue 20).

Chromium reads the manifest without an error and finds the app installable; the service worker
registers for the whole site and keeps its offline shell; with the network cut, a page opens as
"You are offline" (the safety plan's own offline copy is tested in test_safety_plan.py, with
this worker registered beside it).

Push: headless Chromium refuses push subscriptions here (its push service is Google's, and
headless mode denies the permission: "Registration failed - permission denied"), and the
Account page says so. The subscription is therefore made with a browser's keys by the test
(``tests/push_service.py``) and sent by the real page, with its CSRF token, to the app's real
endpoint; the worker's ``deliver`` then posts to a stand-in push service on this machine, which
checks the VAPID signature and decrypts the payload with the subscription's private key. A
subscription the service calls gone (410) is removed.
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.browser.browsing import SMALL_SCREEN
from tests.browser.conftest import MakeVisitor
from tests.browser.people import new_pair
from tests.browser.server import DemoServer
from tests.push_service import BrowserKeys, check_vapid, push_service

pytestmark = pytest.mark.browser

HAS_SHELL = "async () => (await caches.keys()).some((name) => name.startsWith('rapport-shell-'))"
SUBSCRIBE = """async (body) => {
  const token = document.querySelector('#push-form input[name="csrfmiddlewaretoken"]').value;
  const response = await fetch(document.querySelector('#push-form').dataset.subscribe, {
    method: "POST",
    headers: {"Content-Type": "application/json", "X-CSRFToken": token},
    body: JSON.stringify(body),
  });
  return [response.status, await response.json()];
}"""
# The worker's part, in the server's own database and settings: decide a notice, deliver it.
NOTIFY = """
from django.db import transaction
from rapport.accounts.models import User
from rapport.push import services
from rapport.push.models import NoticeKind, PushSubscription
user = User.objects.get(email={email!r})
with transaction.atomic():
    delivery = services.notify(user.pk, NoticeKind.NEW_MESSAGE, {key!r})
print("sent", services.deliver(delivery.pk), PushSubscription.objects.filter(user=user).count())
"""


def test_the_app_installs_and_opens_offline(visitor: MakeVisitor, server: DemoServer) -> None:
    pair = new_pair(server)
    client = visitor("client on a phone", viewport=SMALL_SCREEN, service_workers="allow")
    page = pair.let_in(client, pair.client)

    cdp = client.context.new_cdp_session(page)
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["url"].endswith("/manifest.webmanifest")
    assert manifest["errors"] == [], manifest["errors"]
    worker = page.evaluate(
        "navigator.serviceWorker.ready.then((r) => [r.scope, r.active.scriptURL])"
    )
    assert worker == [client.url("/"), client.url("/sw.js")]
    page.wait_for_function(HAS_SHELL)
    # Chromium's own installability check; the one reason left is the test's browser context,
    # which is incognito (no app is ever installed from one).
    installability = cdp.send("Page.getInstallabilityErrors")
    reasons = [error["errorId"] for error in installability["installabilityErrors"]]
    assert reasons == ["in-incognito"], installability

    # The network is cut: any page of the app opens as the offline page.
    client.context.set_offline(True)
    page.goto(client.url("/messages/"))
    expect(page.get_by_role("heading", name="You are offline", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="Open my safety plan")).to_have_attribute(
        "href", "/safety-plan/"
    )
    expect(page.locator("main")).not_to_contain_text(pair.client_name)
    client.context.set_offline(False)
    client.audit()
    client.assert_fits()
    # Back online, the network wins again.
    client.goto("/messages/")
    expect(page.get_by_role("heading", name="You are offline")).to_have_count(0)


def test_a_push_subscription_reaches_the_app_and_a_notice_its_device(
    visitor: MakeVisitor, server: DemoServer
) -> None:
    pair = new_pair(server)
    client = visitor(
        "client on a phone",
        viewport=SMALL_SCREEN,
        permissions=["notifications"],
        service_workers="allow",
    )
    page = pair.let_in(client, pair.client)
    client.goto("/settings/")
    section = page.get_by_role("region", name="Notices on this device")
    status = section.get_by_role("status")
    expect(status).to_have_text("Notices are off for this device.")
    for kind in ("New messages", "A session starts in 10 minutes", "A questionnaire to fill in"):
        expect(section.get_by_label(kind)).to_be_checked()
    expect(section.get_by_label("Safety alerts")).to_have_count(0)
    # Headless Chromium cannot reach a push service: the page says so plainly.
    section.get_by_role("button", name="Turn on notices on this device").click()
    expect(status).to_have_text("This browser could not turn notices on. Please try again later.")
    client.audit()

    public_key = section.locator("#push-form").get_attribute("data-key")
    with push_service() as service:
        phone = BrowserKeys.new(service, "phone")
        body = {"subscription": phone.to_json(), "kinds": ["new_message"], "label": "Phone"}
        answer = page.evaluate(SUBSCRIBE, body)
        assert answer == [200, {"device": answer[1]["device"], "kinds": ["new_message"]}]
        bad = page.evaluate(SUBSCRIBE, {**body, "kinds": ["everything"]})
        assert bad == [400, {"error": "Unknown kind of notice."}]

        out = server.shell(NOTIFY.format(email=pair.client, key=f"browser:{phone.endpoint}"))
        assert out.strip().splitlines()[-1] == "sent 1 1"
        [received] = service.take()
        check_vapid(received, str(public_key), service.origin)
        notice = phone.decrypt(received)
        assert notice == {
            "title": "Rapport",
            "body": "You have a new message in Rapport.",
            "url": "/messages/",
            "tag": "new_message",
        }
        assert pair.client_name not in json.dumps(notice)

        # The page lists the device; the push service then forgets it (410): it is removed.
        client.goto("/settings/")
        expect(section).to_contain_text("Phone: on since")
        service.status = 410
        out = server.shell(NOTIFY.format(email=pair.client, key=f"gone:{phone.endpoint}"))
        assert out.strip().splitlines()[-1] == "sent 0 0"
        assert len(service.take()) == 1
    client.goto("/settings/")
    expect(section).not_to_contain_text("Phone: on since")
