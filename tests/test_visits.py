"""Session rooms over HTTP: joining in the window, the safety check-in, the end and the timeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone

from rapport.accounts.models import User
from rapport.audit.models import AuditEvent
from rapport.audit.services import Action
from rapport.care.models import CareRelationship, ClientProfile
from rapport.scheduling.models import Appointment, AppointmentStatus, SessionType
from rapport.visits import services
from rapport.visits.models import EventKind, SafetyCheckIn, Visit, VisitEvent, VisitStatus
from rapport.visits.quality import OWN, PEER, LinkQuality
from tests.conftest import signed_in
from tests.scheduling_data import direct_appointment

CHECKIN = {
    "location": "Home, 12 Elm Street, Springfield",
    "callback_phone": "+1 (555) 010-0100",
    "emergency_contact": "Sam Doe, sister, +1 555 0101",
    "confirm": "on",
}


@pytest.fixture
def appointment(therapist_x: User, client_a: User) -> Appointment:
    session_type = SessionType.objects.create(
        therapist=therapist_x, name="Session", minutes=50, allow_video=False
    )
    starts = timezone.now().replace(microsecond=0) + timedelta(hours=2)
    return direct_appointment(session_type, client_a, starts, modality="audio")


def test_joining_opens_the_room_only_in_the_join_window(
    appointment: Appointment, client_a: User, therapist_x: User
) -> None:
    browser = signed_in(client_a)
    url = reverse("appointment_join", args=[appointment.pk])
    early = browser.post(url)
    assert early.status_code == 302 and early["Location"] == f"/appointments/{appointment.pk}/"
    assert not Visit.objects.exists()
    with time_machine.travel(appointment.starts_at - timedelta(minutes=5), tick=False):
        response = signed_in(client_a).post(url)
        visit = Visit.objects.get()
        assert response["Location"] == reverse("visit_check", args=[visit.uid])
        # The therapist joining the same appointment gets the same visit.
        again = signed_in(therapist_x).post(url)
        assert again["Location"] == response["Location"]
    assert Visit.objects.count() == 1
    assert visit.appointment_id == appointment.pk
    assert visit.planned_modality == "audio"
    # Video is not offered by this session type; text always is.
    assert services.allowed_modalities(visit) == ["audio", "text"]
    with time_machine.travel(appointment.ends_at + timedelta(minutes=1), tick=False):
        Visit.objects.all().delete()
        late = signed_in(client_a).post(url)
        assert late.status_code == 302 and not Visit.objects.exists()


def test_a_therapist_starts_an_unscheduled_session_once(therapist_x: User, client_a: User) -> None:
    browser = signed_in(therapist_x)
    url = reverse("visit_start", args=[client_a.pk])
    first = browser.post(url, {"modality": "text"})
    second = browser.post(url, {"modality": "video"})
    assert first["Location"] == second["Location"]
    visit = Visit.objects.get()
    assert visit.modality == "text" and visit.appointment is None
    assert AuditEvent.objects.filter(action=Action.VISIT_OPENED).count() == 1


def test_the_client_checks_in_before_the_room(therapist_x: User, client_a: User) -> None:
    ClientProfile.objects.update_or_create(
        client=client_a, defaults={"phone": "+1 555 0199", "emergency_contact": "Mo"}
    )
    visit = services.start_unscheduled(therapist_x, client_a)
    browser = signed_in(client_a)
    room = browser.get(reverse("visit_room", args=[visit.uid]) + "?mode=audio")
    checkin_url = reverse("visit_checkin", args=[visit.uid])
    assert room.status_code == 302 and room["Location"] == checkin_url + "?mode=audio"
    form = browser.get(checkin_url)
    assert form.status_code == 200
    assert form["Permissions-Policy"].startswith("camera=()")
    assert "geolocation=(self)" in form["Permissions-Policy"]
    # Prefilled from the profile the first time.
    assert b"+1 555 0199" in form.content
    # Bad input: clear errors, nothing lost, nothing stored.
    bad = browser.post(checkin_url, {**CHECKIN, "callback_phone": "call me", "confirm": ""})
    assert bad.status_code == 400
    assert b"Enter a phone number" in bad.content
    assert b"Home, 12 Elm Street" in bad.content
    assert not SafetyCheckIn.objects.exists()
    good = browser.post(
        checkin_url + "?mode=audio",
        {**CHECKIN, "share_position": "on", "geolocation": "40.1,-75.2 ±30 m"},
    )
    assert good.status_code == 302
    assert good["Location"] == reverse("visit_room", args=[visit.uid]) + "?mode=audio"
    checkin = SafetyCheckIn.objects.get()
    assert checkin.geolocation == "40.1,-75.2 ±30 m"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT location, callback_phone, emergency_contact FROM visits_safetycheckin"
        )
        raw = " ".join(cursor.fetchone())
    assert "Elm" not in raw and "555" not in raw and "Sam" not in raw  # encrypted at rest
    room = browser.get(reverse("visit_room", args=[visit.uid]))
    assert room.status_code == 200
    assert "camera=(self)" in room["Permissions-Policy"]
    assert "microphone=(self)" in room["Permissions-Policy"]
    # The next session starts from this check-in, to be confirmed again.
    services.end(visit.pk, therapist_x)
    second = services.start_unscheduled(therapist_x, client_a)
    again = browser.get(reverse("visit_checkin", args=[second.uid]))
    assert b"12 Elm Street" in again.content and b"Sam Doe" in again.content
    assert (
        b'name="confirm"' in again.content
        and b"checked" not in again.content.split(b'name="confirm"')[1][:40]
    )


def test_position_is_kept_only_when_the_client_agreed(therapist_x: User, client_a: User) -> None:
    visit = services.start_unscheduled(therapist_x, client_a)
    signed_in(client_a).post(
        reverse("visit_checkin", args=[visit.uid]), {**CHECKIN, "geolocation": "40.1,-75.2"}
    )
    assert SafetyCheckIn.objects.get().geolocation == ""


def test_ending_keeps_the_record_and_shuts_the_pages(
    appointment: Appointment, therapist_x: User, client_a: User
) -> None:
    with time_machine.travel(appointment.starts_at - timedelta(minutes=1), tick=False):
        visit = services.open_for_appointment(client_a, appointment)
        services.check_in(
            visit, client_a, location="Home", callback_phone="555 0100", emergency_contact="Sam"
        )
    with time_machine.travel(appointment.starts_at, tick=False):
        Visit.objects.filter(pk=visit.pk).update(client_channel="specific.x")
        services.admit(visit.pk, therapist_x)
    assert Appointment.objects.get(pk=appointment.pk).status == AppointmentStatus.IN_PROGRESS
    with time_machine.travel(appointment.starts_at + timedelta(minutes=20), tick=False):
        services.switch_modality(visit.pk, therapist_x, "text", reason="user")
    with time_machine.travel(appointment.starts_at + timedelta(minutes=45), tick=False):
        response = signed_in(therapist_x).post(reverse("visit_end", args=[visit.uid]))
    assert response["Location"] == reverse("visit_timeline", args=[visit.uid])
    visit.refresh_from_db()
    assert visit.status == VisitStatus.ENDED and visit.ended_by == therapist_x
    assert Appointment.objects.get(pk=appointment.pk).status == AppointmentStatus.COMPLETED
    summary = services.summary(visit, list(visit.events.all()), services.current_checkin(visit))
    assert summary.minutes == {"video": 0.0, "audio": 20.0, "text": 25.0}
    assert summary.location == "Home"
    assert summary.minutes_lost == 0.0
    client = signed_in(client_a)
    for name in ("visit_room", "visit_check", "visit_checkin"):
        page = client.get(reverse(name, args=[visit.uid]))
        assert page.status_code == 410 and b"This session has ended" in page.content
    timeline = signed_in(therapist_x).get(reverse("visit_timeline", args=[visit.uid]))
    assert timeline.status_code == 200
    assert b"audio only 20.0" in timeline.content and b"text 25.0" in timeline.content
    kinds = list(VisitEvent.objects.filter(visit=visit).values_list("kind", flat=True))
    assert kinds == [
        EventKind.CREATED,
        EventKind.CHECKED_IN,
        EventKind.ADMITTED,
        EventKind.MODALITY,
        EventKind.ENDED,
    ]
    # A new session with the same person is a new visit; the appointment cannot reopen.
    assert (
        signed_in(client_a).post(reverse("appointment_join", args=[appointment.pk])).status_code
        == 302
    )
    assert Visit.objects.count() == 1


def test_the_therapist_home_lists_waiting_clients(therapist_x: User, client_a: User) -> None:
    visit = services.start_unscheduled(therapist_x, client_a)
    home = signed_in(therapist_x)
    assert visit.get_absolute_url().encode() not in home.get("/").content
    Visit.objects.filter(pk=visit.pk).update(client_channel="specific.x")
    assert visit.get_absolute_url().encode() in home.get("/").content
    services.admit(visit.pk, therapist_x)
    assert visit.get_absolute_url().encode() not in home.get("/").content
    # The client's home offers the open session, while their care lasts.
    assert visit.get_absolute_url().encode() in signed_in(client_a).get("/").content
    CareRelationship.objects.filter(client=client_a).update(status=CareRelationship.Status.ENDED)
    Visit.objects.filter(pk=visit.pk).update(client_admitted_at=None)
    assert visit.get_absolute_url().encode() not in signed_in(client_a).get("/").content
    assert visit.get_absolute_url().encode() not in home.get("/").content


def test_an_abandoned_room_does_not_block_the_next_appointment(
    appointment: Appointment, therapist_x: User, client_a: User
) -> None:
    stale = services.start_unscheduled(therapist_x, client_a)
    with time_machine.travel(appointment.starts_at - timedelta(minutes=2), tick=False):
        Visit.objects.filter(pk=stale.pk).update(client_channel="specific.busy")
        with pytest.raises(services.VisitError):
            services.open_for_appointment(client_a, appointment)
        Visit.objects.filter(pk=stale.pk).update(client_channel="")
        visit = services.open_for_appointment(client_a, appointment)
    stale.refresh_from_db()
    assert stale.is_ended and stale.ended_by is None
    assert stale.events.last().reason == "abandoned"  # type: ignore[union-attr]
    assert visit.pk != stale.pk and visit.appointment_id == appointment.pk


def test_pages_showing_the_checkin_audit_reading_it(therapist_x: User, client_a: User) -> None:
    visit = services.start_unscheduled(therapist_x, client_a)
    services.check_in(
        visit,
        client_a,
        location=CHECKIN["location"],
        callback_phone=CHECKIN["callback_phone"],
        emergency_contact=CHECKIN["emergency_contact"],
    )
    checkin = SafetyCheckIn.objects.get(visit=visit)

    def checkin_reads() -> list[dict[str, object]]:
        reads = AuditEvent.objects.filter(
            action=Action.CLIENT_RECORD_VIEWED, actor=therapist_x, client=client_a
        )
        return [
            {"object": (e.object_type, e.object_id), **e.detail} for e in reads.order_by("sequence")
        ]

    room = signed_in(therapist_x).get(reverse("visit_room", args=[visit.uid]))
    assert "12 Elm Street" in room.content.decode()
    read = {"object": ("SafetyCheckIn", str(checkin.pk)), "purpose": "checkin", "via": "care"}
    assert checkin_reads() == [read]
    signed_in(therapist_x).get(reverse("visit_timeline", args=[visit.uid]))
    assert checkin_reads() == [read, read]
    # The client's own pages read nothing of someone else's.
    signed_in(client_a).get(reverse("visit_room", args=[visit.uid]))
    assert len(checkin_reads()) == 2


def test_the_server_records_a_forced_switch_only_after_the_policys_wait() -> None:
    """Samples every 2 s: poor for 12 s (less one sampling period) calls for audio, in the words
    the pages use; a good sample, a stale one (over 1.5 periods old), a switch up or sideways do
    not."""
    now = [0.0]
    link = LinkQuality(settings.RAPPORT_QUALITY_POLICY, clock=lambda: now[0])
    poor = {"level": "poor", "rtt_ms": 80.0, "loss": 0.15, "jitter_ms": 5.0}
    for second in range(0, 10, 2):
        now[0] = float(second)
        link.report(OWN, poor)
        assert link.connection_detail("video", "audio") is None  # not for long enough yet
    now[0] = 10.0
    link.report(PEER, {"level": "good", "rtt_ms": 30.0, "loss": 0.0})
    assert link.connection_detail("video", "audio") == "loss 15 % for 10 s"
    assert link.connection_detail("audio", "video") is None
    assert link.connection_detail("video", "video") is None
    assert link.connection_detail("audio", "text") is None  # 15 % is not too weak for audio
    now[0] = 13.5  # the last poor sample is 5.5 s old: it may describe a fault that has ended
    assert link.connection_detail("video", "audio") is None
    now[0] = 20.0  # nothing heard for 10 s: the samples are stale
    assert link.connection_detail("video", "audio") is None
    link.report(OWN, {"level": "good", "loss": 0.0})
    assert link.poor_since is None
    for second in range(20, 40, 2):
        now[0] = float(second)
        link.report(OWN, {"level": "poor", "loss": 0.0, "audio_packets": 0})
    assert link.connection_detail("audio", "text") == "no sound arriving for 18 s"
    # The peer's page does not measure what reaches this one: its count is not evidence here.
    peer_only = LinkQuality(settings.RAPPORT_QUALITY_POLICY, clock=lambda: now[0])
    for second in range(40, 70, 2):
        now[0] = float(second)
        peer_only.report(PEER, {"level": "poor", "audio_packets": 0})
    assert peer_only.connection_detail("audio", "text") is None


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_existing_timeline_details(
    therapist_x: User, client_a: User
) -> None:
    """Details stored in plain text before 0002 are encrypted in place and read back the same."""
    visit = services.start_unscheduled(therapist_x, client_a)
    event = VisitEvent.objects.get(visit=visit)
    before = [("visits", "0001_initial")]
    executor = MigrationExecutor(connection)
    # Back to today's schema for every app: going back to visits 0001 also unapplies the
    # migrations that depend on it (notes, billing...), which the tests after this one need.
    after = executor.loader.graph.leaf_nodes()
    executor.migrate(before)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE visits_visitevent SET detail = %s WHERE id = %s",
            ["loss 15 % for 12 s", event.pk],
        )
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    assert VisitEvent.objects.get(pk=event.pk).detail == "loss 15 % for 12 s"
    with connection.cursor() as cursor:
        cursor.execute("SELECT detail FROM visits_visitevent WHERE id = %s", [event.pk])
        assert cursor.fetchone()[0].startswith("enc1$")


def test_minutes_lost_count_a_blackout_both_pages_reported_once() -> None:
    """Each page reports its own media loss when it ends; the summary takes their union."""
    start = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    visit = Visit(planned_modality="video", modality="video")

    def back(at_second: float, seconds: float | None) -> VisitEvent:
        at = start + timedelta(seconds=at_second)
        return VisitEvent(kind=EventKind.RECONNECTED, at=at, reason="media_lost", seconds=seconds)

    events = [
        back(40, 33.0),  # the therapist's page: no media from 7 s to 40 s
        back(41, 32.0),  # the client's page, the same blackout: 9 s to 41 s
        back(100, None),  # a socket's return: no figure
        back(190, 60.0),  # another, alone: 130 s to 190 s
    ]
    assert services.summary(visit, events, None).minutes_lost == round(94 / 60, 1)
