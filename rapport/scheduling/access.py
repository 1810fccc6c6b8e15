"""Permission-checked access to appointments (the scheduling side of ``rapport.care.access``)."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.http import Http404

from rapport.accounts.models import Role, User
from rapport.care.access import in_active_care
from rapport.scheduling.models import Appointment


def access_appointment(user: User, appointment_id: int) -> Appointment:
    """The appointment if ``user`` is its therapist or its client; otherwise 404.

    Only while the two are in active care and both accounts are active, as for their sessions
    and messages: once care ends, the appointment answers both of them as it answers an
    outsider. Admins see none.
    """
    appointment = (
        Appointment.objects.select_related("therapist", "client", "session_type")
        .filter(pk=appointment_id)
        .first()
    )
    if appointment is None or not user.is_active:
        raise Http404("No such appointment.")
    if user.pk not in (appointment.therapist_id, appointment.client_id):
        raise Http404("No such appointment.")
    if not in_active_care(appointment.therapist, appointment.client):
        raise Http404("No such appointment.")
    return appointment


def practice_schedule(
    user: User, start: datetime, end: datetime, *, therapist: User | None = None
) -> tuple[list[User], list[Appointment]]:
    """For an active practice admin: the practice's active therapists (or the one asked for)
    and their appointments overlapping [start, end), cancelled ones too.

    Only what the admin may see of a session: its times, status and modality, and the client's
    name, from which the page shows initials only. The session type (which can say what the
    sessions are about) is not loaded.
    """
    if not (user.is_active and user.is_practice_admin):
        raise PermissionDenied("the practice's schedule is for admins")
    therapists = list(
        User.objects.filter(role=Role.THERAPIST, is_active=True).order_by("full_name")
    )
    if therapist is not None:
        therapists = [t for t in therapists if t.pk == therapist.pk]
    appointments = list(
        Appointment.objects.filter(
            therapist__in=[t.pk for t in therapists], starts_at__lt=end, ends_at__gt=start
        )
        .select_related("client")
        .only(
            "therapist_id",
            "client__full_name",
            "client__email",
            "starts_at",
            "ends_at",
            "modality",
            "status",
        )
        .order_by("starts_at")
    )
    return therapists, appointments
