"""The practice's retention policy applied: when each client was last in contact, and whose
record has been kept longer than the policy asks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Max, Q
from django.utils import timezone

from rapport.accounts.models import Practice, Role, User
from rapport.care.models import CareRelationship
from rapport.records.models import Erasure


@dataclass(frozen=True)
class Overdue:
    client: User
    last_contact: datetime
    keep_until: datetime


def years_after(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28)


def last_contacts(clients: list[User] | None = None) -> dict[int, datetime]:
    """Each client's last contact: the latest of a past session, the end of care, a message in
    their conversation, a sign-in, and the day the account was made."""
    now = timezone.now()
    people = User.objects.filter(role=Role.CLIENT)
    if clients is not None:
        people = people.filter(pk__in=[c.pk for c in clients])
    rows = people.annotate(
        last_session=Max(
            "client_appointments__starts_at",
            filter=Q(client_appointments__starts_at__lte=now),
        ),
        care_ended=Max("care_relationships__ended_at"),
        last_message=Max("care_relationships__conversation__last_message_at"),
    ).values_list("pk", "date_joined", "last_login", "last_session", "care_ended", "last_message")
    return {pk: max(m for m in moments if m is not None) for pk, *moments in rows}


def overdue_records(practice: Practice | None = None) -> list[Overdue]:
    """Clients out of care whose last contact is older than the retention period, oldest first;
    none when the practice has not set a period. Records already erased or with an erasure
    under way are left out."""
    practice = practice or Practice.get()
    years = practice.retention_period_years
    if years is None:
        return []
    in_care = CareRelationship.objects.filter(status=CareRelationship.Status.ACTIVE).values(
        "client"
    )
    settled = Erasure.objects.filter(status__in=[*Erasure.OPEN, Erasure.Status.DONE]).values(
        "client"
    )
    clients = list(
        User.objects.filter(role=Role.CLIENT)
        .exclude(pk__in=in_care)
        .exclude(pk__in=settled)
        .order_by("pk")
    )
    contacts = last_contacts(clients)
    now = timezone.now()
    found = []
    for client in clients:
        keep_until = years_after(contacts[client.pk], years)
        if keep_until <= now:
            found.append(Overdue(client, contacts[client.pk], keep_until))
    return sorted(found, key=lambda o: o.last_contact)
