"""The demo's way in for new clients: therapist profiles, self-registration switched on, and one
new client whose request waits on a therapist's answer.

Every therapist gets a profile a client can read before choosing (pronouns, bio, approaches,
languages, where they are licensed, fees; no photo). The practice lets people sign up, so a
visitor can try the whole path from "I need help" (emails are printed in the demo's terminal).
Noor Haddad signed up through the same services the sign-up form uses: the intake and the
PHQ-9 + GAD-7 screen are sent, matching explained its suggestions, and Noor chose the first, who
now has an offer to answer (the therapist's home page; the admin's intake queue lists Noor).
Dr. Okafor offers her intake to new clients only and her weekly session to returning ones.
"""

from __future__ import annotations

from datetime import date

from allauth.account.models import EmailAddress
from django.utils import timezone

from rapport.accounts.models import Practice, Role, User
from rapport.intake import services as intake
from rapport.intake.models import Intake
from rapport.matching import services as matching
from rapport.matching.models import CareRequest, TherapistProfile
from rapport.scheduling.models import OfferedTo, SessionType
from rapport.signup import services as signup

# Profiles of the demo's therapists, in the order of ``demo.THERAPISTS``.
PROFILES = [
    {
        "pronouns": "she/her",
        "bio": (
            "I help adults with anxiety, low mood and sleep problems find practical steps "
            "that fit a busy life. Sessions are warm, structured and at your pace."
        ),
        "approaches": ["cbt", "act", "mindfulness"],
        "specialties": ["anxiety", "depression", "sleep", "stress"],
        "populations": ["adults", "students"],
        "languages": ["en"],
        "modalities": ["video", "audio", "text"],
        "licensed_regions": ["US-NY", "US-NJ", "US-CA"],
        "fee_information": "$140 per session; sliding scale available. Self-pay and Aetna.",
    },
    {
        "pronouns": "he/him",
        "bio": (
            "I work with trauma and grief, and with people whose relationships feel stuck. "
            "I listen first, and we decide together where to go."
        ),
        "approaches": ["emdr", "psychodynamic", "person_centred"],
        "specialties": ["trauma", "grief", "relationships"],
        "populations": ["adults", "older_adults", "couples"],
        "languages": ["en", "sv"],
        "modalities": ["video", "audio"],
        "licensed_regions": ["SE", "GB"],
        "fee_information": "SEK 1,200 / GBP 90 per session. Self-pay.",
    },
    {
        "pronouns": "she/her",
        "bio": (
            "Bilingual therapist (English and Spanish) for teenagers, young adults and "
            "families, with a focus on emotions that feel too big and on identity."
        ),
        "approaches": ["dbt", "family_systems", "solution_focused"],
        "specialties": ["anxiety", "anger", "identity", "relationships"],
        "populations": ["adolescents", "adults", "lgbtq", "students"],
        "languages": ["en", "es"],
        "modalities": ["video", "text"],
        "licensed_regions": ["US-IL", "US-TX", "US-CA"],
        "fee_information": "$120 per session. Self-pay, Blue Cross Blue Shield of Illinois.",
    },
]

NEW_CLIENT_EMAIL = "n.haddad@demo.rapport.test"
NEW_CLIENT_NAME = "Noor Haddad"
NEW_CLIENT_ZONE = "America/New_York"
NEW_CLIENT_INTAKE = {
    "reason": "Panic before presentations at work; I lie awake the night before.",
    "how_long": "",
    "previous_therapy": "no",
    "physical_health": "Well.",
    "medications": "None.",
    "drugs": "no",
    "self_harm_now": "no",
    "self_harm_past": "no",
    "harm_others": "no",
    "goals": "Give a presentation without dreading it for a week.",
    "emergency_name": "Rana Haddad",
    "emergency_relation": "Sister",
    "emergency_phone": "+1 555 030 0001",
    "telehealth_consent": "on",
}
# PHQ-9 (mild, no risk answer) and GAD-7 (moderate), by item key.
PHQ9 = [1, 1, 2, 1, 0, 1, 1, 0, 0]
GAD7 = [2, 2, 2, 1, 1, 2, 1]
NEW_CLIENT_SCREEN = {
    "phq9": {str(n): value for n, value in enumerate(PHQ9, start=1)},
    "gad7": {str(n): value for n, value in enumerate(GAD7, start=1)},
}


def has_profiles(therapists: list[User]) -> bool:
    return TherapistProfile.objects.filter(therapist__in=therapists).exists()


def seed_matching(admin: User, therapists: list[User], password: str) -> None:
    """Profiles, self-registration on, and Noor Haddad's request offered to a therapist."""
    for therapist, fields in zip(therapists, PROFILES, strict=True):
        TherapistProfile.objects.update_or_create(therapist=therapist, defaults=fields)
    practice = Practice.get()
    practice.allow_client_self_registration = True
    practice.save(update_fields=["allow_client_self_registration"])
    # Dr. Okafor keeps her intake for new clients and her weekly sessions for returning ones:
    # once she accepts Noor, Noor is offered the intake; her other clients, the weekly session.
    okafor = therapists[0]
    kinds = SessionType.objects.filter(therapist=okafor)
    kinds.filter(name="Intake").update(offered_to=OfferedTo.NEW)
    kinds.filter(name="Individual session").update(offered_to=OfferedTo.RETURNING)
    if not User.objects.filter(email=NEW_CLIENT_EMAIL).exists():
        _new_client(password)


def _new_client(password: str) -> None:
    noor = User.objects.create_user(
        NEW_CLIENT_EMAIL,
        password,
        full_name=NEW_CLIENT_NAME,
        role=Role.CLIENT,
        time_zone=NEW_CLIENT_ZONE,
    )
    EmailAddress.objects.create(user=noor, email=noor.email, verified=True, primary=True)
    today = timezone.localdate()
    signup.register_client(
        noor,
        signup.Registration(
            preferred_name="Noor",
            date_of_birth=date(today.year - 29, 3, 14),
            region="US-NY",
            language="en",
            modalities=["video", "audio"],
            time_zone=NEW_CLIENT_ZONE,
            concerns=["anxiety", "sleep"],
            concerns_text="Panic before presentations.",
            # Weekday mornings and afternoons, on Noor's own clock.
            availability=[
                {"weekday": weekday, "start": "09:00", "end": "17:00"} for weekday in range(5)
            ],
            payment_route=CareRequest.Payment.INSURANCE,
            insurer_name="Aetna",
        ),
    )
    signup.on_email_confirmed(noor)  # sends the intake, as confirming the address does
    sent = Intake.objects.filter(client=noor, submitted_at=None).first()
    if sent is not None:
        intake.submit(sent, noor, {**NEW_CLIENT_INTAKE, "signature": NEW_CLIENT_NAME})
    signup.submit_screen(noor, NEW_CLIENT_SCREEN)
    request = matching.request_of(noor)
    if request is not None and request.status == CareRequest.Status.CHOOSING:
        matching.choose(request, request.suggested_ids()[:1], actor=noor)
