"""The calendar in Chromium: a therapist drags a session to another time and moves one with the
keyboard, the practice's day for an admin, and the slot picker on a phone. Every page is checked
by axe-core (``Visitor``), and the data behind what the pages say is read from the server.

The people are made for each test (``people.new_pair``); they live in Europe/London. Their
sessions are in the week after next, so the tests never run into "that time has passed".
"""

from __future__ import annotations

import json
import re
import zoneinfo
from datetime import date, datetime, time, timedelta

import pytest
from playwright.sync_api import Dialog, expect

from tests.browser.browsing import SMALL_SCREEN, Visitor
from tests.browser.conftest import MakeVisitor
from tests.browser.people import Pair, new_pair
from tests.browser.server import DemoServer

pytestmark = pytest.mark.browser

LONDON = zoneinfo.ZoneInfo("Europe/London")

# Weekday hours 09:00-17:00 and an "Individual session" for the pair's therapist, the client's
# consent signed, and the sessions asked for (start times in London), written straight to the
# table as the demo's own are. Prints the session type's id and the sessions' ids.
SETUP = """
import json, zoneinfo
from datetime import datetime, time, timedelta
from rapport.accounts.models import User
from rapport.scheduling.models import (
    Appointment, ConsentDocument, ConsentSignature, SessionType, WeeklyWindow,
)
therapist = User.objects.get(email={therapist!r})
client = User.objects.get(email={client!r})
london = zoneinfo.ZoneInfo("Europe/London")
for weekday in range(5):
    WeeklyWindow.objects.create(
        therapist=therapist, weekday=weekday, start_time=time(9), end_time=time(17),
        time_zone="Europe/London",
    )
kind = SessionType.objects.create(
    therapist=therapist, name="Individual session", minutes=50, buffer_minutes=10,
    min_notice_hours=0,
)
document = ConsentDocument.objects.order_by("-version").first()
if document is not None:
    ConsentSignature.objects.create(client=client, document=document, typed_name=client.full_name)
made = []
for start in {starts!r}:
    starts_at = datetime.fromisoformat(start).replace(tzinfo=london)
    made.append(Appointment.objects.create(
        therapist=therapist, client=client, session_type=kind, modality="video",
        starts_at=starts_at, ends_at=starts_at + timedelta(minutes=50),
        busy_until=starts_at + timedelta(minutes=60), booked_by=therapist,
    ).pk)
print(json.dumps({{"session_type": kind.pk, "appointments": made}}))
"""

STARTS = (
    "from rapport.scheduling.models import Appointment;"
    "print(Appointment.objects.get(pk={pk}).starts_at.isoformat())"
)


def week_after_next() -> date:
    today = datetime.now(LONDON).date()
    return today - timedelta(days=today.weekday()) + timedelta(days=14)


def set_up(server: DemoServer, pair: Pair, *starts: datetime) -> tuple[int, list[int]]:
    """The pair's working hours, session type and sessions: the type's id and the sessions'."""
    code = SETUP.format(
        therapist=pair.therapist,
        client=pair.client,
        starts=[s.replace(tzinfo=None).isoformat() for s in starts],
    )
    made = json.loads(server.shell(code).strip().splitlines()[-1])
    return int(made["session_type"]), [int(pk) for pk in made["appointments"]]


def starts_of(server: DemoServer, pk: int) -> datetime:
    return datetime.fromisoformat(server.shell(STARTS.format(pk=pk)).strip().splitlines()[-1])


def full_text(pair: Pair, starts: datetime) -> str:
    """A session's link: "Tue 3 Dec, 14:00-14:50, Individual session with ..." (en dash)."""
    ends = starts + timedelta(minutes=50)
    return (
        f"{starts:%a} {starts.day} {starts:%b}, {starts:%H:%M}\N{EN DASH}{ends:%H:%M}, "
        f"Individual session with {pair.client_name}, Video"
    )


def drag(therapist: Visitor, source: str, day: date, wall: time) -> None:
    """Drag the session whose link reads ``source`` onto ``day`` at ``wall`` (the block's top
    edge lands there), accepting the confirmation; the page that answers is audited."""
    page = therapist.page
    link = page.get_by_role("link", name=source)
    block = link.locator("xpath=..")
    column = page.locator(f'.cal-col[data-day="{day.isoformat()}"]')
    link_box, block_box, column_box = (
        link.bounding_box(),
        block.bounding_box(),
        column.bounding_box(),
    )
    assert link_box and block_box and column_box
    rows = int(column.get_attribute("data-rows") or "0")
    first = int(column.get_attribute("data-first") or "0")
    row_height = column_box["height"] / rows
    grab = 4.0  # into the link, from its top
    row = (wall.hour * 60 + wall.minute - first) // 15
    top = row * row_height + (link_box["y"] - block_box["y"]) + grab + row_height * 0.2
    asked: list[str] = []

    def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    therapist.follow(
        lambda: link.drag_to(
            column,
            source_position={"x": 10, "y": grab},
            target_position={"x": column_box["width"] / 2, "y": top},
        )
    )
    assert asked == [
        f"Move this session to {day:%A} {day.day} {day:%B}, {wall:%H:%M}? "
        "The client is told, as with any move."
    ]


def test_therapist_drags_a_session_to_another_time(
    visitor: MakeVisitor, server: DemoServer
) -> None:
    pair = new_pair(server)
    monday = week_after_next()
    tuesday_ten = datetime.combine(monday + timedelta(days=1), time(10), tzinfo=LONDON)
    saturday = datetime.combine(monday + timedelta(days=5), time(11), tzinfo=LONDON)
    _kind, (first, weekend) = set_up(server, pair, tuesday_ten, saturday)
    # Tall enough for the whole working day: a drag's target must be on the screen.
    therapist = visitor("therapist", viewport={"width": 1280, "height": 1300})
    pair.let_in(therapist, pair.therapist)
    page = therapist.goto(f"/schedule/week/{monday.isoformat()}/")

    expect(page.get_by_role("heading", level=1)).to_contain_text("Week of")
    expect(page.get_by_role("link", name=full_text(pair, tuesday_ten))).to_be_visible()
    weekend_link = page.get_by_role(
        "link", name=full_text(pair, saturday) + ", Conflict: outside working hours"
    )
    expect(weekend_link).to_be_visible()
    expect(page.get_by_text("1 conflict to resolve.")).to_be_visible()

    # Tuesday 10:00 to Wednesday 14:00: the same reschedule page answers, back on the calendar.
    wednesday = monday + timedelta(days=2)
    drag(therapist, full_text(pair, tuesday_ten), wednesday, time(14))
    assert therapist.path == f"/schedule/week/{monday.isoformat()}/"
    expect(page.get_by_text("Moved 1 session.")).to_be_visible()
    wednesday_two = datetime.combine(wednesday, time(14), tzinfo=LONDON)
    expect(page.get_by_role("link", name=full_text(pair, wednesday_two))).to_be_visible()
    assert starts_of(server, first) == wednesday_two

    # Dropping the Saturday session (the same client's) on that time is refused in words, and
    # nothing moves.
    drag(
        therapist,
        full_text(pair, saturday) + ", Conflict: outside working hours",
        wednesday,
        time(14),
    )
    assert therapist.path.startswith(f"/appointments/{weekend}/reschedule/")
    expect(page.get_by_role("alert")).to_contain_text("already have a session at that time")
    assert starts_of(server, weekend) == saturday
    therapist.click(page.get_by_role("link", name="Back to the calendar"))
    assert therapist.path == f"/schedule/week/{monday.isoformat()}/"


def test_therapist_moves_a_session_with_the_keyboard(
    visitor: MakeVisitor, server: DemoServer
) -> None:
    pair = new_pair(server)
    monday = week_after_next()
    thursday_nine = datetime.combine(monday + timedelta(days=3), time(9), tzinfo=LONDON)
    _kind, (appointment,) = set_up(server, pair, thursday_nine)
    therapist = visitor("therapist")
    pair.let_in(therapist, pair.therapist)
    page = therapist.goto(f"/schedule/day/{thursday_nine.date().isoformat()}/")
    expect(page.get_by_role("link", name=full_text(pair, thursday_nine))).to_be_visible()
    therapist.click(page.get_by_role("link", name="Month"))
    expect(page.get_by_role("table")).to_contain_text(full_text(pair, thursday_nine))

    # The Move link, reached and followed with the keyboard; the form is typed and submitted.
    move = page.get_by_role(
        "link",
        name=f"Move the session of {thursday_nine:%a} "
        f"{thursday_nine.day} {thursday_nine:%b}, 09:00",
    )
    move.focus()
    therapist.follow(lambda: page.keyboard.press("Enter"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Move this session")
    friday = monday + timedelta(days=4)
    page.get_by_label("New date").fill(friday.isoformat())
    page.get_by_label("New start time (your time zone)").fill("15:30")
    therapist.follow(lambda: page.keyboard.press("Enter"))
    assert therapist.path.startswith("/schedule/month/")
    expect(page.get_by_text("Moved 1 session.")).to_be_visible()
    friday_half_three = datetime.combine(friday, time(15, 30), tzinfo=LONDON)
    expect(page.get_by_role("table")).to_contain_text(full_text(pair, friday_half_three))
    assert starts_of(server, appointment) == friday_half_three


NEW_ADMIN = """
import json
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from rapport.accounts.models import Role, User
from tests.sessions import session_cookie
admin = User.objects.create_user(
    {email!r}, None, full_name="Office Admin", role=Role.ADMIN, time_zone="Europe/London"
)
EmailAddress.objects.create(user=admin, email={email!r}, verified=True, primary=True)
TOTP.activate(admin, generate_totp_secret())
print(json.dumps(session_cookie(admin)))
"""


def test_admin_sees_the_practice_day_and_week_by_therapist(
    visitor: MakeVisitor, server: DemoServer
) -> None:
    pair = new_pair(server)
    monday = week_after_next()
    tuesday_ten = datetime.combine(monday + timedelta(days=1), time(10), tzinfo=LONDON)
    set_up(server, pair, tuesday_ten)
    email = f"office-{pair.client_id}@pair.test"
    cookie = json.loads(server.shell(NEW_ADMIN.format(email=email)).strip().splitlines()[-1])
    admin = visitor("admin")
    name, value = cookie.split("=", 1)
    admin.context.add_cookies([{"name": name, "value": value, "url": admin.base_url}])
    page = admin.goto("/")
    admin.click(page.get_by_role("navigation", name="Main").get_by_role("link", name="Schedule"))
    assert admin.path == "/practice/schedule/"
    admin.goto(f"/practice/schedule/{tuesday_ten.date().isoformat()}/")
    page.get_by_role("combobox", name="Therapist").select_option(label=pair.therapist_name)
    admin.click(page.get_by_role("button", name="Show"))
    column = page.get_by_role("region", name=pair.therapist_name)
    initials = "".join(part[0].upper() for part in pair.client_name.split())
    expect(column).to_contain_text(f"10:00\N{EN DASH}10:50, client {initials}, Video, Confirmed")
    expect(page.get_by_role("main")).not_to_contain_text(pair.client_name)
    expect(page.get_by_role("main")).not_to_contain_text("Individual session")
    assert page.locator(".cal-day").count() == 1

    # The week of that therapist at a glance; Tuesday's cell opens the day again.
    admin.click(page.get_by_role("link", name="Practice week"))
    week = page.get_by_role("table")
    row = week.get_by_role("row").filter(
        has=page.get_by_role("rowheader", name=pair.therapist_name)
    )
    expect(row).to_contain_text("1 session")
    expect(page.get_by_role("main")).not_to_contain_text(pair.client_name)
    admin.click(row.get_by_role("link", name="1 session"))
    assert admin.path.startswith(f"/practice/schedule/{tuesday_ten.date().isoformat()}/?therapist=")


def test_slot_picker_on_a_phone_shows_the_next_times_first(
    visitor: MakeVisitor, server: DemoServer
) -> None:
    pair = new_pair(server)
    kind, _none = set_up(server, pair)
    client = visitor("client on a phone", viewport=SMALL_SCREEN)
    pair.let_in(client, pair.client)
    page = client.goto(f"/book/?type={kind}&week=1")
    days = page.get_by_role("group").filter(has=page.locator("input[name=slot]"))
    first_day = days.first
    # Four times a day at most, the earliest first; the rest behind "Show all … times".
    assert first_day.locator("input[name=slot]").count() > 4
    assert first_day.get_by_role("radio").count() == 4  # hidden ones are out of the way too
    visible = [r for r in first_day.locator("input[name=slot]").all() if r.is_visible()]
    assert len(visible) == 4
    values = [r.get_attribute("value") or "" for r in first_day.locator("input[name=slot]").all()]
    assert [v.get_attribute("value") for v in visible] == values[:4] == sorted(values)[:4]
    client.assert_fits()
    height_before = page.evaluate("document.documentElement.scrollHeight")
    show_all = first_day.get_by_role("checkbox", name=re.compile(r"^Show all \d+ times on"))
    show_all.focus()
    page.keyboard.press("Space")
    sixth = first_day.locator("input[name=slot]").nth(5)
    expect(sixth).to_be_visible()
    assert page.evaluate("document.documentElement.scrollHeight") > height_before
    sixth.check()
    chosen = sixth.get_attribute("value")
    client.click(page.get_by_role("button", name="Book this time"))
    expect(page.get_by_role("status")).to_contain_text(
        re.compile("Your session is booked|Your request was sent")
    )
    booked = server.shell(
        "from rapport.scheduling.models import Appointment;"
        f"a = Appointment.objects.get(client__email={pair.client!r});"
        "print(a.starts_at.strftime('%Y-%m-%dT%H:%MZ'))"
    )
    assert booked.strip().splitlines()[-1] == chosen
