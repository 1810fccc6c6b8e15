"""When an intake goes out by itself: care starts, or a client's session is booked, and the
client has no intake of the practice's default form yet. Runs after the causing write commits,
so a failed email queue never undoes the care relationship or the booking.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from rapport.intake.services import ensure_intake


def care_saved(sender: type, instance: Any, created: bool = False, **kwargs: Any) -> None:
    if kwargs.get("raw") or not created:
        return
    client_id, therapist_id = instance.client_id, instance.therapist_id
    transaction.on_commit(lambda: ensure_intake(client_id, sent_by_id=therapist_id), robust=True)


def appointment_saved(sender: type, instance: Any, created: bool = False, **kwargs: Any) -> None:
    if kwargs.get("raw") or not created or not getattr(instance, "client_id", None):
        return
    client_id, therapist_id = instance.client_id, instance.therapist_id
    transaction.on_commit(lambda: ensure_intake(client_id, sent_by_id=therapist_id), robust=True)
