"""Permission-checked access to visits: only the two people of the care relationship, ever.

Admins are never participants, emergency access included; everyone else gets a 404.
"""

from __future__ import annotations

import uuid

from django.http import Http404

from rapport.accounts.models import User
from rapport.visits.models import Visit
from rapport.visits.services import role_in


def access_visit(user: User, visit_uid: uuid.UUID) -> tuple[Visit, str]:
    """The visit and ``user``'s role in it ("therapist" / "client"); otherwise 404."""
    visit = (
        Visit.objects.select_related("therapist", "client", "appointment__session_type")
        .filter(uid=visit_uid)
        .first()
    )
    role = role_in(visit, user) if visit is not None and user.is_active else None
    if visit is None or role is None:
        raise Http404("No such session.")
    return visit, role
