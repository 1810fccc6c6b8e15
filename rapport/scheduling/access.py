"""Permission-checked access to appointments (the scheduling side of ``rapport.care.access``)."""

from __future__ import annotations

from django.http import Http404

from rapport.accounts.models import User
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
