"""Who sees practice outcomes, and how much of them.

Outcomes are aggregates of client data, so they are read through here like any client data:
a practice admin sees the whole practice, with the breakdown by therapist (for supervision); a
therapist sees the aggregates of their own caseload only, and drills down to their own clients
only. Clients and billing staff have no outcomes page (403). Every read is audited by the view
that calls these, with the scope it was given.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied

from rapport.accounts.models import User


@dataclass(frozen=True)
class OutcomesScope:
    """What one reader may aggregate: every episode (``therapist`` None) or one caseload."""

    therapist: User | None
    by_therapist: bool  # the breakdown by therapist (admins only)

    @property
    def whole_practice(self) -> bool:
        return self.therapist is None


def outcomes_scope(user: User) -> OutcomesScope:
    """The outcomes ``user`` may read; PermissionDenied for anyone but admins and therapists."""
    if user.is_practice_admin:
        return OutcomesScope(therapist=None, by_therapist=True)
    if user.is_therapist:
        return OutcomesScope(therapist=user, by_therapist=False)
    raise PermissionDenied("Outcomes are for therapists and practice admins.")


def outcomes_caseload(user: User) -> User:
    """The therapist whose own clients' episodes ``user`` may list: themselves only.

    Admins read aggregates only (no client is ever named on an outcomes page for them), and
    only clients still in the therapist's active care are listed (``report.caseload_clients``),
    as every other page of a client closes when their care ends."""
    if not user.is_therapist:
        raise PermissionDenied("Only a therapist lists their own clients' outcomes.")
    return user


def research_export_allowed(user: User) -> None:
    """The de-identified research export is the practice's decision: admins only."""
    if not user.is_practice_admin:
        raise PermissionDenied("The research export is for practice admins.")
