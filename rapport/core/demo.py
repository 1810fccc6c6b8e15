"""The demo practice: an admin, three therapists, six clients, their care relationships."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from rapport.accounts.models import Practice, Role, User

DEMO_PASSWORD = "rapport-demo-password"  # noqa: S105 (published demo login, demo mode only)


@dataclass(frozen=True)
class DemoPerson:
    email: str
    full_name: str
    role: str
    time_zone: str


ADMIN = DemoPerson("admin@demo.rapport.test", "Alex Admin", Role.ADMIN, "Europe/London")
THERAPISTS = [
    DemoPerson(
        "therapist@demo.rapport.test", "Dr. Maya Okafor", Role.THERAPIST, "America/New_York"
    ),
    DemoPerson(
        "t.lindqvist@demo.rapport.test", "Erik Lindqvist", Role.THERAPIST, "Europe/Stockholm"
    ),
    DemoPerson("p.ramos@demo.rapport.test", "Paula Ramos", Role.THERAPIST, "America/Chicago"),
]
CLIENTS = [
    DemoPerson("client@demo.rapport.test", "Sam Rivera", Role.CLIENT, "America/Los_Angeles"),
    DemoPerson("j.chen@demo.rapport.test", "Jordan Chen", Role.CLIENT, "America/New_York"),
    DemoPerson("a.nowak@demo.rapport.test", "Anna Nowak", Role.CLIENT, "Europe/Warsaw"),
    DemoPerson("k.mensah@demo.rapport.test", "Kofi Mensah", Role.CLIENT, "Europe/London"),
    DemoPerson("l.garcia@demo.rapport.test", "Lucía García", Role.CLIENT, "America/Mexico_City"),
    DemoPerson("r.patel@demo.rapport.test", "Riya Patel", Role.CLIENT, "Asia/Kolkata"),
]
# Therapist index → client indexes.
CASELOADS = {0: [0, 1], 1: [2, 3], 2: [4, 5]}


def _person(person: DemoPerson) -> User:
    from allauth.account.models import EmailAddress

    user = User.objects.filter(email=person.email).first()
    if user is None:
        user = User.objects.create_user(
            person.email,
            DEMO_PASSWORD,
            full_name=person.full_name,
            role=person.role,
            time_zone=person.time_zone,
        )
    EmailAddress.objects.get_or_create(
        user=user, email=user.email, defaults={"verified": True, "primary": True}
    )
    return user


def seed_demo() -> bool:
    """Create the demo practice if it is not there yet. Returns True when it created anything."""
    from rapport.care.models import CareRelationship, ClientProfile
    from rapport.care.services import start_care

    if User.objects.filter(email=ADMIN.email).exists():
        return False
    with transaction.atomic():
        practice = Practice.get()
        practice.name = "Riverside Counselling (demo)"
        practice.save(update_fields=["name"])
        admin = _person(ADMIN)
        therapists = [_person(p) for p in THERAPISTS]
        clients = [_person(p) for p in CLIENTS]
        for t_index, c_indexes in CASELOADS.items():
            for c_index in c_indexes:
                therapist, client = therapists[t_index], clients[c_index]
                if not CareRelationship.objects.filter(therapist=therapist, client=client).exists():
                    start_care(therapist, client, actor=admin)
        for number, client in enumerate(clients, start=1):
            profile, _ = ClientProfile.objects.get_or_create(client=client)
            profile.preferred_name = client.full_name.split()[0]
            profile.phone = f"+1 555 010 {number:04d}"
            profile.emergency_contact = f"Demo contact {number} (friend), +1 555 020 {number:04d}"
            profile.intake_notes = "Demo record. Self-referred for low mood and sleep problems."
            profile.save()
    return True


def demo_logins() -> list[tuple[str, str, str]]:
    rows = [("Practice admin", ADMIN.email, DEMO_PASSWORD)]
    rows += [("Therapist", p.email, DEMO_PASSWORD) for p in THERAPISTS[:1]]
    rows += [("Client", p.email, DEMO_PASSWORD) for p in CLIENTS[:1]]
    return rows
