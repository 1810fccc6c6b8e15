"""Permission-checked access to appointments (the scheduling side of ``rapport.care.access``)."""

from __future__ import annotations

from django.http import Http404

from rapport.accounts.models import User
from rapport.scheduling.models import Appointment


def access_appointment(user: User, appointment_id: int) -> Appointment:
    """The appointment if ``user`` is its therapist or its client; otherwise 404.

    A therapist keeps access to appointments of a relationship that has since ended (the
    record of what happened); admins see none without break glass.
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
    return appointment
