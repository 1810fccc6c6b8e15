"""Scheduling routes (mounted at the site root). Each needs a rule in the access matrix."""

from datetime import date

from django.urls import path, register_converter

from rapport.core.forms import is_plausible_date
from rapport.scheduling import (
    appointment_views,
    availability_views,
    booking_views,
    calendar_views,
    consent_views,
    feed_views,
    schedule_views,
)


class IsoDateConverter:
    """A calendar date as yyyy-mm-dd; impossible (2025-02-30) or implausible dates are a 404."""

    regex = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"

    def to_python(self, value: str) -> date:
        day = date.fromisoformat(value)  # ValueError: no match, so a 404
        if not is_plausible_date(day):
            raise ValueError(value)
        return day

    def to_url(self, value: date) -> str:
        return value.isoformat()


register_converter(IsoDateConverter, "isodate")

urlpatterns = [
    path("settings/calendar/", feed_views.calendar_feed, name="calendar_feed"),
    path("calendar/<str:token>.ics", feed_views.calendar_feed_ics, name="calendar_feed_ics"),
    # Therapist: availability, schedule, booking for a client.
    path("schedule/", calendar_views.schedule_week, name="schedule"),
    path("schedule/week/<isodate:day>/", calendar_views.schedule_week, name="schedule_week"),
    path("schedule/day/<isodate:day>/", calendar_views.schedule_day, name="schedule_day"),
    path("schedule/month/", calendar_views.schedule_month, name="schedule_this_month"),
    path("schedule/month/<isodate:day>/", calendar_views.schedule_month, name="schedule_month"),
    path("schedule/book/", booking_views.book_for_client, name="book_for_client"),
    path("schedule/availability/", availability_views.availability_page, name="availability"),
    path(
        "schedule/availability/hours/",
        availability_views.add_weekly_window,
        name="add_weekly_window",
    ),
    path(
        "schedule/availability/hours/<int:window_id>/delete/",
        availability_views.delete_weekly_window,
        name="delete_weekly_window",
    ),
    path(
        "schedule/availability/changes/",
        availability_views.add_availability_change,
        name="add_availability_change",
    ),
    path(
        "schedule/availability/changes/<int:change_id>/delete/",
        availability_views.delete_availability_change,
        name="delete_availability_change",
    ),
    path("schedule/session-types/", availability_views.add_session_type, name="add_session_type"),
    path(
        "schedule/session-types/<int:session_type_id>/",
        availability_views.edit_session_type,
        name="edit_session_type",
    ),
    # Client: booking and their sessions.
    path("book/", booking_views.book, name="book"),
    path("sessions/", schedule_views.my_sessions, name="my_sessions"),
    # Both parties of one appointment.
    path(
        "appointments/<int:appointment_id>/",
        appointment_views.appointment_detail,
        name="appointment_detail",
    ),
    path(
        "appointments/<int:appointment_id>/cancel/",
        appointment_views.cancel_appointment,
        name="cancel_appointment",
    ),
    path(
        "appointments/<int:appointment_id>/reschedule/",
        appointment_views.reschedule_appointment,
        name="reschedule_appointment",
    ),
    path(
        "appointments/<int:appointment_id>/status/",
        appointment_views.set_appointment_status,
        name="set_appointment_status",
    ),
    # Telehealth consent.
    path("consent/", consent_views.consent_sign, name="consent_sign"),
    # Practice admin: every therapist's day, one column each.
    path("practice/schedule/", calendar_views.practice_day, name="practice_schedule"),
    path(
        "practice/schedule/<isodate:day>/",
        calendar_views.practice_day,
        name="practice_schedule_day",
    ),
    path("practice/schedule/week/", calendar_views.practice_week, name="practice_week"),
    path(
        "practice/schedule/week/<isodate:day>/",
        calendar_views.practice_week,
        name="practice_week_of",
    ),
    path("practice/consent/", consent_views.consent_admin, name="consent_admin"),
]
