"""Permission-checked access to intakes. Only the client (their own), their therapists in active
care and a practice admin under emergency access read them; filling one in is the client's
alone. Unknown and forbidden answer alike (404); every read by someone else is audited.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest

from rapport.accounts.models import User
from rapport.audit.services import Action, record
from rapport.care.access import Reach, access_client
from rapport.intake.models import Intake, IntakeSubmission


def access_intake_to_fill(user: User, intake_id: int) -> Intake:
    """The client's own intake, or 404."""
    intake = Intake.objects.select_related("form", "client").filter(pk=intake_id).first()
    if intake is None or intake.client_id != user.pk or not user.is_active:
        raise Http404("No such form.")
    return intake


def open_intakes(client: User) -> list[Intake]:
    """The client's own forms still to fill in (for their home page)."""
    return list(
        Intake.objects.filter(client=client, submitted_at=None)
        .select_related("form")
        .defer("draft", "form__definition")
    )


def access_client_intakes(
    user: User, client_id: int, *, request: HttpRequest | None = None, care_only: bool = False
) -> tuple[User, str]:
    """The client whose intakes ``user`` may read (audited), and how; ``care_only`` for sending
    a form, which is care: emergency access does not reach it. Otherwise 404."""
    client, how = access_client(user, client_id, request=request, purpose="intake")
    if care_only and how != Reach.CARE:
        raise Http404("Only the client's therapist sends intake forms.")
    return client, how


def access_submission(
    user: User, submission_id: int, *, request: HttpRequest | None = None
) -> tuple[IntakeSubmission, str]:
    """A submitted intake and how ``user`` reaches its client; the read audited. Otherwise 404."""
    submission = (
        IntakeSubmission.objects.select_related("form", "client", "submitted_by")
        .filter(pk=submission_id)
        .first()
    )
    if submission is None:
        raise Http404("No such form.")
    client, how = access_client(user, submission.client_id, request=request, purpose="intake")
    if how != Reach.SELF:
        record(
            Action.INTAKE_VIEWED,
            actor=user,
            request=request,
            obj=submission,
            client=client,
            via=how,
        )
    return submission, how
