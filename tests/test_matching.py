"""From a finished screen to an accepted offer: matching on real schedules, the client's choice,
decline and timeout passing the request on, the admin-accept setting, the waitlist and its
counts, the pre-acceptance view (only what it should, audited), and re-match privacy."""

from __future__ import annotations

import io
from datetime import time, timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from rapport.accounts.models import Practice, User
from rapport.audit.models import AuditEvent
from rapport.audit.services import Action
from rapport.care.models import CareRelationship, ClientProfile
from rapport.core.models import EmailDelivery
from rapport.matching import services
from rapport.matching.models import CareRequest, Offer, RematchRequest, TherapistProfile
from rapport.scheduling.models import (
    Appointment,
    AppointmentStatus,
    OfferedTo,
    SessionType,
    WeeklyWindow,
)
from tests.conftest import make_user, signed_in
from tests.matching_data import client_asking, therapist_for_matching
from tests.measures_data import builtin_instrument, response
from tests.scheduling_data import direct_appointment
from tests.worker import run_task_worker

pytestmark = pytest.mark.django_db


def emails_to(person: User) -> int:
    """Matching's emails recorded for ``person`` (their keys end with the person's id)."""
    return EmailDelivery.objects.filter(kind="care request", key__endswith=f":{person.pk}").count()


@pytest.fixture
def three() -> list[User]:
    return [
        therapist_for_matching("ana@t.test", "Ana Able", specialties=["anxiety"]),
        therapist_for_matching("ben@t.test", "Ben Best", specialties=["anxiety", "sleep"]),
        therapist_for_matching("cy@t.test", "Cy Calm"),
    ]


def test_ready_for_matching_suggests_from_real_open_times(three: list[User]) -> None:
    _client, request = client_asking("c@c.test", "Cara Client", concerns=["anxiety", "sleep"])
    services.ready_for_matching(request)
    request.refresh_from_db()
    assert request.status == CareRequest.Status.CHOOSING
    assert request.suggested_ids() == [three[1].pk, three[0].pk, three[2].pk]
    facts = request.suggestions[0]["facts"]
    assert facts["times"] > 0 and facts["concerns"] == ["anxiety", "sleep"]


def test_time_off_and_busy_hours_leave_nothing_to_suggest() -> None:
    """The therapist's hours are read from the schedule: without windows, nobody fits."""
    therapist = therapist_for_matching("t@t.test", "Tess", windows=())
    _client, request = client_asking("c@c.test", "Cara Client")
    services.ready_for_matching(request)
    request.refresh_from_db()
    assert request.status == CareRequest.Status.WAITLISTED
    assert request.unmet == ["availability"]
    # Hours added: matched again (the worker's task runs the same function).
    WeeklyWindow.objects.bulk_create(
        WeeklyWindow(
            therapist=therapist,
            weekday=day,
            start_time=time(0),
            end_time=time(23, 45),
            time_zone="Europe/London",
        )
        for day in range(7)
    )
    assert services.rematch_waitlisted() == 1
    request.refresh_from_db()
    assert request.status == CareRequest.Status.CHOOSING
    assert emails_to(request.client) == 1


@pytest.mark.django_db(transaction=True)
def test_new_working_hours_take_the_waitlist_off_by_themselves(mailoutbox: list[Any]) -> None:
    therapist = therapist_for_matching("t@t.test", "Tess Hours", windows=())
    client, request = client_asking("c@c.test", "Cara Client")
    client.language = "es"
    client.save(update_fields=["language"])
    services.ready_for_matching(request)
    # Each saved window queues the waitlist's matching once it commits (no transaction here).
    for day in range(7):
        WeeklyWindow.objects.create(
            therapist=therapist,
            weekday=day,
            start_time=time(0),
            end_time=time(23, 45),
            time_zone="Europe/London",
        )
    run_task_worker()
    request.refresh_from_db()
    assert request.status == CareRequest.Status.CHOOSING
    run_task_worker()  # the next round's sweep sends what the task recorded
    # One content-free email, in the client's language: no therapist, no concern.
    (sent,) = mailoutbox
    assert sent.to == ["c@c.test"]
    message = sent.message()  # sent as recorded (rapport.core.outbox)
    assert (
        message["Subject"] == "Novedades sobre su solicitud de terapeuta \N{EM DASH} abra Rapport"
    )
    body = message.get_payload(decode=True).decode()
    assert "Hay novedades sobre su solicitud de terapeuta" in body
    assert "Tess" not in body and "nsiedad" not in body


def test_a_session_type_must_allow_the_way_to_meet() -> None:
    therapist = therapist_for_matching("t@t.test", "Tess", modalities=["video", "text"])
    SessionType.objects.filter(therapist=therapist).update(allow_text=False)
    _client, request = client_asking("c@c.test", "Cara Client", modalities=["text"])
    services.ready_for_matching(request)
    request.refresh_from_db()
    assert request.status == CareRequest.Status.WAITLISTED
    # Without a way to meet, its open times are not looked at: only the way is missing.
    assert request.unmet == ["modality"]


def test_choice_decline_and_timeout_pass_the_request_on(three: list[User]) -> None:
    client, request = client_asking("c@c.test", "Cara Client")
    services.ready_for_matching(request)
    request.refresh_from_db()
    ana, ben, cy = three
    first = services.choose(request, [cy.pk, ana.pk, ben.pk], actor=client)
    assert (first.therapist, first.rank, first.status) == (cy, 1, Offer.Status.PENDING)
    request.refresh_from_db()
    assert request.status == CareRequest.Status.OFFERED
    assert emails_to(cy) == 1
    # Sign-up calling again changes nothing once a choice was made.
    services.ready_for_matching(request)
    assert CareRequest.objects.get(pk=request.pk).status == CareRequest.Status.OFFERED
    # A reason too long is refused clearly, and nothing is declined.
    browser = signed_in(cy)
    response = browser.post(reverse("decline_care_offer", args=[first.pk]), {"reason": "x" * 1001})
    assert response["Location"] == reverse("care_offer", args=[first.pk])
    assert Offer.objects.get(pk=first.pk).status == Offer.Status.PENDING
    assert "at most 1000 characters" in browser.get(response["Location"]).content.decode()
    # Cy declines (a private reason): Ana, the second choice, is asked.
    second = services.decline(first, actor=cy, reason="Full caseload this month")
    assert second is not None and second.therapist == ana and second.rank == 2
    assert Offer.objects.get(pk=first.pk).decline_reason == "Full caseload this month"
    # Ana does not answer in time: Ben is asked.
    assert services.expire_overdue(now=second.expires_at - timedelta(seconds=1)) == 0
    assert services.expire_overdue(now=second.expires_at) == 1
    assert Offer.objects.get(pk=second.pk).status == Offer.Status.EXPIRED
    third = Offer.objects.get(request=request, status=Offer.Status.PENDING)
    assert third.therapist == ben
    # Ben declines: nobody is left, the practice chooses (and is told).
    admin = make_user("adm@t.test", "admin", "Ada")
    assert services.decline(third, actor=ben) is None
    request.refresh_from_db()
    assert request.status == CareRequest.Status.PRACTICE
    assert emails_to(admin) == 1
    # The client's page never shows a decline reason.
    page = signed_in(client).get(reverse("my_care_request")).content.decode()
    assert "Full caseload" not in page


def test_only_suggested_therapists_can_be_chosen(three: list[User]) -> None:
    client, request = client_asking("c@c.test", "Cara Client")
    services.ready_for_matching(request)
    outsider = therapist_for_matching("o@t.test", "Otto", languages=["de"])
    browser = signed_in(client)
    response = browser.post(reverse("my_care_request"), {"choice_1": str(outsider.pk)})
    assert response.status_code == 200
    assert not Offer.objects.exists()
    response = browser.post(
        reverse("my_care_request"), {"choice_1": str(three[0].pk), "choice_2": str(three[0].pk)}
    )
    assert "Choose each therapist only once." in response.content.decode()
    response = browser.post(reverse("my_care_request"), {"action": "practice"})
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.status == CareRequest.Status.PRACTICE


def test_accepting_starts_care_and_opens_the_intake_booking(three: list[User]) -> None:
    client, request = client_asking("c@c.test", "Cara Client")
    services.ready_for_matching(request)
    request.refresh_from_db()
    offer = services.choose(request, [three[0].pk], actor=client)
    response = signed_in(three[0]).post(reverse("care_offer", args=[offer.pk]))
    assert response.status_code == 302
    assert CareRelationship.objects.filter(
        therapist=three[0], client=client, status=CareRelationship.Status.ACTIVE
    ).exists()
    request.refresh_from_db()
    assert request.status == CareRequest.Status.MATCHED
    card = services.card_for(client)
    intake = SessionType.objects.get(therapist=three[0], name="Intake")
    assert card is not None and card.book_url == f"/book/?type={intake.pk}"
    home = signed_in(client).get("/").content.decode()
    assert "Book your first session" in home and f"/book/?type={intake.pk}" in home
    # An intake kept for returning clients only is not the first session's.
    SessionType.objects.filter(pk=intake.pk).update(offered_to=OfferedTo.RETURNING)
    card = services.card_for(client)
    assert card is not None and card.book_url == "/book/"
    # The other therapists cannot answer an offer that is not theirs.
    assert signed_in(three[1]).get(reverse("care_offer", args=[offer.pk])).status_code == 404


def test_admins_accept_when_the_practice_says_so(three: list[User]) -> None:
    practice = Practice.get()
    practice.offers_answered_by = "admin"
    practice.save()
    admin = make_user("adm@t.test", "admin", "Ada")
    client, request = client_asking("c@c.test", "Cara Client")
    services.ready_for_matching(request)
    request.refresh_from_db()
    offer = services.choose(request, [three[0].pk], actor=client)
    assert emails_to(admin) == 1 and emails_to(three[0]) == 0
    assert signed_in(three[0]).get(reverse("care_offer", args=[offer.pk])).status_code == 404
    assert signed_in(three[0]).post(reverse("care_offer", args=[offer.pk])).status_code == 404
    assert signed_in(admin).get(reverse("care_offers")).content.decode().count("/care-offers/") >= 1
    assert signed_in(admin).post(reverse("care_offer", args=[offer.pk])).status_code == 302
    relationship = CareRelationship.objects.get(client=client)
    assert relationship.therapist == three[0]
    assert Offer.objects.get(pk=offer.pk).answered_by == admin


def test_practice_chooses_from_the_ranked_list(three: list[User]) -> None:
    admin = make_user("adm@t.test", "admin", "Ada")
    client, request = client_asking("c@c.test", "Cara Client")
    services.ready_for_matching(request)
    services.ask_practice(request, actor=client)
    page = signed_in(admin).get(reverse("care_request", args=[request.pk])).content.decode()
    assert "Ana Able" in page and "accepting new clients" in page
    response = signed_in(admin).post(
        reverse("care_request", args=[request.pk]), {"therapist": str(three[2].pk)}
    )
    assert response.status_code == 302
    offer = Offer.objects.get(request=request)
    assert (offer.therapist, offer.rank, offer.status) == (three[2], 0, Offer.Status.PENDING)


def test_waitlist_counts_group_by_what_nobody_offers() -> None:
    therapist_for_matching("es@t.test", "Eva", languages=["es"], licensed_regions=["US-CA"])
    therapist_for_matching("tx@t.test", "Tom", languages=["en"], licensed_regions=["US-TX"])
    waiting = []
    for n in range(3):
        _c, request = client_asking(
            f"w{n}@c.test", f"W {n}", region="US-TX", language="es", time_zone="America/Chicago"
        )
        waiting.append(request)
    _c, french = client_asking("fr@c.test", "Fleur", region="US-TX", language="fr")
    for request in [*waiting, french]:
        services.ready_for_matching(request)
    assert services.waitlist_groups() == [
        (3, ["is licensed in Texas", "speaks Spanish"]),
        (1, ["speaks French"]),
    ]
    admin = make_user("adm@t.test", "admin", "Ada")
    page = signed_in(admin).get(reverse("care_requests")).content.decode()
    assert "3 waiting for a therapist who is licensed in Texas · speaks Spanish" in page
    # The client is told honestly what is missing and what would widen the search.
    client_page = signed_in(french.client).get(reverse("my_care_request")).content.decode()
    assert "You are on the waitlist" in client_page and "speaks French" in client_page
    assert "Therapy in another language you speak would widen the search." in client_page
    # A Spanish speaker licensed in Texas joins: the three leave the waitlist, on demand.
    eva = TherapistProfile.objects.get(therapist__email="es@t.test")
    eva.licensed_regions = ["US-CA", "US-TX"]
    eva.save()
    response = signed_in(admin).post(reverse("care_requests"))
    assert response.status_code == 302
    assert services.waitlist_groups() == [(1, ["speaks French"])]


def test_nightly_rematch_only_takes_requests_not_matched_for_a_day() -> None:
    _c, request = client_asking("c@c.test", "Cara Client")
    services.ready_for_matching(request)
    therapist_for_matching("t@t.test", "Tess")
    assert services.nightly_rematch() == 0
    CareRequest.objects.filter(pk=request.pk).update(
        matched_at=timezone.now() - timedelta(hours=25)
    )
    assert services.nightly_rematch() == 1


def plant_a_record(client: User, other_therapist: User) -> None:
    """What a therapist must not see before accepting: a phone number, notes, a diagnosis."""
    from rapport.diagnoses.services import record_diagnosis

    CareRelationship.objects.create(therapist=other_therapist, client=client)
    ClientProfile.objects.update_or_create(
        client=client,
        defaults={
            "preferred_name": "Cee",
            "phone": "+1 555 0199",
            "intake_notes": "PLANTED-NOTE about the family",
        },
    )
    record_diagnosis(other_therapist, client, code="F41.1", rank="primary", onset=None)
    CareRelationship.objects.filter(client=client).update(
        status=CareRelationship.Status.ENDED, ended_at=timezone.now()
    )


def test_the_pre_acceptance_view_shows_only_the_request_and_is_audited(
    three: list[User],
) -> None:
    client, request = client_asking(
        "cara.secret@c.test",
        "Cara Hiddensurname",
        concerns=["anxiety", "sleep"],
        concerns_text="Trouble sleeping since the move",
        availability=[{"weekday": 2, "start": "18:00", "end": "21:00"}],
        payment_route="insurance",
        insurer_name="Acme Health",
    )
    plant_a_record(client, three[2])
    phq9 = builtin_instrument("phq9")
    gad7 = builtin_instrument("gad7")
    now = timezone.now()
    response(client, phq9, {str(i): 2 for i in range(1, 9)} | {"9": 1}, at=now)
    response(client, gad7, {str(i): 1 for i in range(1, 8)}, at=now)
    services.ready_for_matching(request)
    request.refresh_from_db()
    offer = services.choose(request, [three[0].pk], actor=client)
    before = AuditEvent.objects.filter(action=Action.CLIENT_RECORD_VIEWED).count()
    page = signed_in(three[0]).get(reverse("care_offer", args=[offer.pk])).content.decode()
    # Shown: the first name, concerns and their words, the screen bands and risk, preferences.
    for shown in [
        "Cee",
        "Anxiety or worry",
        "Sleep",
        "Trouble sleeping since the move",
        "PHQ-9: Moderately severe",
        "GAD-7: Mild",
        "A risk answer was given",
        "Video",
        "English",
        "Wednesday 18:00\N{EN DASH}21:00",
        "Insurance (Acme Health)",
    ]:
        assert shown in page, shown
    # Not shown: anything else about the client.
    for hidden in [
        "Hiddensurname",
        "cara.secret@c.test",
        "555 0199",
        "PLANTED-NOTE",
        "F41.1",
        "Generalized anxiety",
    ]:
        assert hidden not in page, hidden
    events = AuditEvent.objects.filter(action=Action.CLIENT_RECORD_VIEWED).order_by("sequence")
    assert events.count() == before + 1
    event = events.last()
    assert event is not None
    assert (event.actor, event.client, event.detail["purpose"]) == (
        three[0],
        client,
        "care_request",
    )


def test_rematch_is_private_until_the_practice_acts(three: list[User]) -> None:
    admin = make_user("adm@t.test", "admin", "Ada")
    client, request = client_asking("c@c.test", "Cara Client")
    services.ready_for_matching(request)
    request.refresh_from_db()
    offer = services.choose(request, [three[0].pk], actor=client)
    services.accept(offer, actor=three[0])
    mails_before = emails_to(three[0])
    response = signed_in(client).post(reverse("ask_rematch"), {"reason": "PRIVATE-REASON"})
    assert response.status_code == 302
    rematch = RematchRequest.objects.get(client=client)
    assert rematch.therapist == three[0]
    # The therapist hears nothing and sees nothing of it.
    assert emails_to(three[0]) == mails_before
    therapist = signed_in(three[0])
    for page in ["/", reverse("client_record", args=[client.pk]), reverse("care_offers")]:
        text = therapist.get(page).content.decode()
        assert "PRIVATE-REASON" not in text and "different therapist" not in text, page
    # Audited as the client's own act, not as a read of their record by anyone.
    assert AuditEvent.objects.filter(action=Action.REMATCH_REQUESTED, actor=client).exists()
    # Admins see it, and acting on it matches the client again, never with the same therapist.
    admin_page = signed_in(admin).get(reverse("care_requests")).content.decode()
    assert "PRIVATE-REASON" in admin_page and emails_to(admin) == 1
    response = signed_in(admin).post(reverse("handle_rematch", args=[rematch.pk]))
    assert response.status_code == 302
    new = CareRequest.objects.filter(client=client).exclude(pk=request.pk).get()
    assert new.status == CareRequest.Status.CHOOSING
    assert three[0].pk not in new.suggested_ids()
    # A second request while one is open is refused, with the reason.
    RematchRequest.objects.create(client=client, therapist=three[0])
    response = signed_in(client).post(reverse("ask_rematch"), {"reason": ""})
    assert "already with the practice" in response.content.decode()


@pytest.mark.parametrize("hand_over", [True, False])
def test_a_handover_ends_the_old_care_when_the_new_therapist_accepts(
    three: list[User], hand_over: bool
) -> None:
    admin = make_user("adm@t.test", "admin", "Ada")
    client, request = client_asking("c@c.test", "Cara Client")
    services.ready_for_matching(request)
    request.refresh_from_db()
    left = three[0]
    services.accept(services.choose(request, [left.pk], actor=client), actor=left)
    individual = SessionType.objects.get(therapist=left, name="Individual session")
    now = timezone.now()
    held = direct_appointment(
        individual, client, now - timedelta(days=7), status=AppointmentStatus.COMPLETED
    )
    soon = direct_appointment(individual, client, now + timedelta(hours=2))  # a late window
    later = direct_appointment(individual, client, now + timedelta(days=7))
    rematch = services.ask_for_rematch(client, reason="")

    admin_page = signed_in(admin).get(reverse("care_requests")).content.decode()
    assert "End care with Ana Able once a new therapist accepts" in admin_page
    response = signed_in(admin).post(
        reverse("handle_rematch", args=[rematch.pk]), {"hand_over": "1"} if hand_over else {}
    )
    assert response.status_code == 302
    rematch.refresh_from_db()
    assert rematch.hand_over is hand_over
    old = CareRelationship.objects.get(therapist=left, client=client)
    # Nothing changes before a new therapist accepts: the client is never without a therapist.
    assert old.status == CareRelationship.Status.ACTIVE
    new = CareRequest.objects.filter(client=client).exclude(pk=request.pk).get()
    chosen = User.objects.get(pk=new.suggested_ids()[0])
    services.accept(services.choose(new, [chosen.pk], actor=client), actor=chosen)

    old.refresh_from_db()
    assert CareRelationship.objects.get(therapist=chosen, client=client).status == "active"
    statuses = {a.pk: a for a in Appointment.objects.filter(client=client)}
    assert statuses[held.pk].status == AppointmentStatus.COMPLETED
    ended = AuditEvent.objects.filter(action=Action.CARE_ENDED, client=client)
    if not hand_over:
        assert old.status == CareRelationship.Status.ACTIVE
        assert {statuses[a.pk].status for a in (soon, later)} == {AppointmentStatus.CONFIRMED}
        assert not ended.exists()
        return
    # The old care ended in the name of the admin who chose the handover; its sessions still to
    # come are cancelled, never as late cancellations (nobody chose to miss them).
    assert (old.status, old.ended_by) == (CareRelationship.Status.ENDED, admin)
    for appointment in (soon, later):
        cancelled = statuses[appointment.pk]
        assert cancelled.status == AppointmentStatus.CANCELLED
        assert (cancelled.cancelled_by, cancelled.late_cancellation) == (admin, False)
    event = ended.get()
    assert (event.actor, event.detail.get("handover")) == (admin, True)
    assert (
        AuditEvent.objects.filter(
            action=Action.APPOINTMENT_CANCELLED, actor=admin, detail__handover=True
        ).count()
        == 2
    )
    # The old therapist no longer reaches the client's record.
    assert signed_in(left).get(reverse("client_record", args=[client.pk])).status_code == 404


def image_upload(format_: str = "PNG", **save: Any) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (900, 600), "teal").save(buffer, format=format_, **save)
    return SimpleUploadedFile(f"me.{format_.lower()}", buffer.getvalue())


def test_profile_photo_is_reencoded_without_metadata_and_served_to_signed_in_people(
    three: list[User],
) -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "GPS-SECRET 51.5N")
    browser = signed_in(three[0])
    url = reverse("edit_therapist_profile", args=[three[0].pk])
    form = {
        "pronouns": "she/her",
        "bio": "Hello.",
        "languages": "en, es",
        "modalities": ["video"],
        "licensed_regions": ["GB"],
        "accepting_new_clients": "on",
        "photo": image_upload(pnginfo=info),
    }
    response = browser.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    profile = TherapistProfile.objects.get(therapist=three[0])
    stored = bytes(profile.photo or b"")
    assert stored.startswith(b"\xff\xd8") and b"GPS-SECRET" not in stored
    assert Image.open(io.BytesIO(stored)).size == (512, 341)
    assert profile.languages == ["en", "es"]
    photo_url = reverse("therapist_photo", args=[three[0].pk])
    assert browser.get(photo_url)["Content-Type"] == "image/jpeg"
    from django.test import Client

    assert Client().get(photo_url).status_code == 302
    # Not a picture: a clear error, nothing saved.
    bad = dict(form, photo=SimpleUploadedFile("x.png", b"not an image"), bio="Changed")
    response = browser.post(url, bad)
    assert "could not be read as a photo" in response.content.decode()
    assert TherapistProfile.objects.get(therapist=three[0]).bio == "Hello."
    # A language that is not a code: a clear error.
    response = browser.post(url, dict(form, languages="Spanish!", photo=""))
    assert "is not a language code" in response.content.decode()


def test_a_client_reads_only_profiles_suggested_to_them(three: list[User]) -> None:
    outsider = therapist_for_matching("o@t.test", "Otto", languages=["de"])
    client, request = client_asking("c@c.test", "Cara Client")
    services.ready_for_matching(request)
    browser = signed_in(client)
    assert browser.get(reverse("therapist_profile", args=[three[0].pk])).status_code == 200
    assert browser.get(reverse("therapist_profile", args=[outsider.pk])).status_code == 404
    page = browser.get(reverse("my_care_request")).content.decode()
    assert "speaks English · licensed in United Kingdom · meets by video" in page
    assert "Otto" not in page


def test_the_practice_pages_read_in_a_fixed_number_of_queries(
    three: list[User], django_assert_max_num_queries: Any
) -> None:
    """The requests page and the offers list: no query per request (an N+1 fails here)."""
    admin = make_user("adm@t.test", "admin", "Ada")
    practice = Practice.get()
    practice.offers_answered_by = "admin"
    practice.save()
    browser = signed_in(admin)

    def queries() -> tuple[int, int]:
        counts = []
        for page in [reverse("care_requests"), reverse("care_offers")]:
            with django_assert_max_num_queries(100) as captured:
                assert browser.get(page).status_code == 200
            counts.append(len(captured.captured_queries))
        return counts[0], counts[1]

    def more(n: int) -> None:
        for i in range(n):
            client, request = client_asking(f"m{n}{i}@c.test", f"M {i}", language="fr")
            services.ready_for_matching(request)
            other, chosen = client_asking(f"o{n}{i}@c.test", f"O {i}")
            services.ready_for_matching(chosen)
            chosen.refresh_from_db()
            services.choose(chosen, [three[i % 3].pk], actor=other)
            RematchRequest.objects.create(client=client, therapist=three[0])

    more(1)
    few = queries()
    more(4)
    assert queries() == few
