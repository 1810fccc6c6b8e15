"""The inbox and conversation pages without JavaScript: sending by form, errors, paging, queries."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.urls import reverse

from rapport.accounts.models import User
from rapport.care.models import CareRelationship
from rapport.messaging import services
from rapport.messaging.access import conversation_for
from rapport.messaging.models import Message, Participant
from tests.conftest import make_user, signed_in

pytestmark = pytest.mark.django_db

# Session, the user with their second factor; conversations missing for the caseload, the
# conversations with both people, their unread counts; the practice and the navigation badge.
INBOX_QUERIES = 7


@pytest.fixture
def chat(client_a: User, therapist_x: User) -> Any:
    relationship = CareRelationship.objects.get(client=client_a, therapist=therapist_x)
    return conversation_for(relationship)


def test_a_form_send_is_stored_once_even_when_submitted_twice(chat: Any, client_a: User) -> None:
    browser = signed_in(client_a)
    url = reverse("conversation", args=[chat.uid])
    form = {"id": str(uuid.uuid4()), "text": "Can we talk about <script>sleep</script>?"}
    for _ in range(2):
        response = browser.post(url, form)
        assert response.status_code == 302
        assert response["Location"] == url + "#latest"
    assert Message.objects.get().body == "Can we talk about <script>sleep</script>?"
    page = browser.get(url).content.decode()
    assert "Can we talk about &lt;script&gt;sleep&lt;/script&gt;?" in page
    assert "<script>sleep" not in page


def test_a_refused_form_keeps_what_was_written(chat: Any, client_a: User) -> None:
    browser = signed_in(client_a)
    url = reverse("conversation", args=[chat.uid])
    response = browser.post(url, {"id": str(uuid.uuid4()), "text": "x" * 8001})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Messages can be up to 8,000 characters; this one has 8,001." in page
    assert "x" * 8001 in page  # the text is still in the box
    response = browser.post(url, {"id": "not-an-id", "text": "hello"})
    assert response.status_code == 400
    assert "The form was incomplete; please send again." in response.content.decode()
    assert not Message.objects.exists()


def test_opening_the_conversation_reads_it_and_shows_what_to_expect(
    chat: Any, client_a: User, therapist_x: User
) -> None:
    services.send_message(therapist_x, chat.uid, uuid.uuid4(), "See you Tuesday")
    assert Participant.objects.get(user=client_a).unread == 1
    page = signed_in(client_a).get(reverse("conversation", args=[chat.uid])).content.decode()
    assert "See you Tuesday" in page
    assert "Messages are not for emergencies." in page
    assert "988" in page  # the practice's crisis resources
    reader = Participant.objects.get(user=client_a)
    assert (reader.unread, reader.last_read_seq) == (0, 1)


def test_earlier_pages_are_history_only(chat: Any, client_a: User) -> None:
    for n in range(1, 56):
        services.send_message(client_a, chat.uid, uuid.uuid4(), f"line {n}")
    browser = signed_in(client_a)
    url = reverse("conversation", args=[chat.uid])
    newest = browser.get(url).content.decode()
    assert "line 55" in newest and "line 5<" not in newest
    assert 'href="?before=6"' in newest and 'id="composer"' in newest
    earlier = browser.get(url + "?before=6").content.decode()
    assert "line 5<" in earlier and "line 6<" not in earlier
    assert 'id="composer"' not in earlier and "conversation.js" not in earlier
    assert browser.get(url + "?before=abc").status_code == 404


def test_the_inbox_costs_the_same_queries_for_one_client_or_twenty(
    therapist_x: User, client_a: User, django_assert_num_queries: Any
) -> None:
    browser = signed_in(therapist_x)
    browser.get(reverse("inbox"))  # makes the conversations; what follows is the page's own cost
    with django_assert_num_queries(INBOX_QUERIES):
        assert browser.get(reverse("inbox")).status_code == 200
    for n in range(19):
        client = make_user(f"inbox.{n}@example.test", "client", f"Client {n:02d}")
        CareRelationship.objects.create(therapist=therapist_x, client=client)
        services.send_message(
            client,
            conversation_for(CareRelationship.objects.get(client=client)).uid,
            uuid.uuid4(),
            "hello",
        )
    browser.get(reverse("inbox"))
    with django_assert_num_queries(INBOX_QUERIES):
        page = browser.get(reverse("inbox")).content.decode()
    # Newest first: the last client who wrote is at the top, the silent one at the bottom.
    assert page.index("Client 18") < page.index("Client 00") < page.index("Alice Client")
