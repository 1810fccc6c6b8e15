"""A new client's way in, each write in one transaction: registering (profile and care request
with the account), asking a minor's guardian and recording their consent, sending the intake,
the PHQ-9 + GAD-7 screen, and the safety alert a risk answer raises before any therapist is
assigned. The request moves on to matching only when the intake and screen are done and, for a
minor, a guardian has consented (``ready_if_complete``).
"""

from __future__ import annotations

import secrets
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from rapport.accounts.models import MinorsPolicy, Practice, Role, User, hash_token
from rapport.audit.services import Action, record
from rapport.care.models import ClientProfile
from rapport.core import outbox
from rapport.intake import answers as intake_answers
from rapport.intake.catalogue import default_form, definition_of, newest_version
from rapport.intake.models import Intake, IntakeSubmission
from rapport.intake.services import send_intake
from rapport.matching.models import CareRequest
from rapport.matching.services import open_request, ready_for_matching, request_of
from rapport.measures.answers import submit_unassigned
from rapport.measures.instruments import definition_of as instrument_definition
from rapport.measures.models import Instrument, Response
from rapport.push import services as push
from rapport.push.models import NoticeKind
from rapport.signup.models import GuardianConsent, IntakeAlert

# The screen every new client sends: depression and anxiety (PHQ-9 item 9 is the risk item).
SCREEN_KEYS = ("phq9", "gad7")
# The built-in intake sent when the practice has not chosen a default form: the client's own
# (the built-in "minor" form is filled by a parent or guardian, who has no account here).
BUILTIN_INTAKE = "adult"
ACTION_TAKEN_MAX = 2000
# A guardian's link works this long; one reminder (with a new link) goes out when they have not
# answered after GUARDIAN_REMINDER_DAYS; the minor or an admin may send the link again, at most
# once every GUARDIAN_RESEND_MINUTES.
GUARDIAN_LINK_DAYS = 14
GUARDIAN_REMINDER_DAYS = 3
GUARDIAN_RESEND_MINUTES = 10


class SignupError(ValidationError):
    """Something a person must fix; the message is for them."""


# --- Age ----------------------------------------------------------------------------------------


def today_in(time_zone: str, now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(zoneinfo.ZoneInfo(time_zone)).date()


def age_on(date_of_birth: date, today: date) -> int:
    """Whole years lived by ``today`` (born 29 February: a year older on 1 March)."""
    years = today.year - date_of_birth.year
    return years - ((today.month, today.day) < (date_of_birth.month, date_of_birth.day))


def is_minor(
    date_of_birth: date, time_zone: str, *, practice: Practice, now: datetime | None = None
) -> bool:
    """Younger than the practice's age of majority today, where the client lives."""
    return age_on(date_of_birth, today_in(time_zone, now)) < practice.age_of_majority


# --- Registering ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Guardian:
    name: str
    email: str
    message: str = ""


@dataclass(frozen=True)
class Registration:
    """What the sign-up form collected beyond the account itself."""

    preferred_name: str
    date_of_birth: date
    region: str
    language: str
    modalities: Sequence[str]
    time_zone: str
    concerns: Sequence[str] = ()
    concerns_text: str = ""
    availability: Sequence[dict[str, Any]] = ()
    payment_route: str = CareRequest.Payment.SELF_PAY
    insurer_name: str = ""
    guardian: Guardian | None = None


def register_client(
    user: User, details: Registration, *, request: HttpRequest | None = None
) -> CareRequest:
    """The new client's profile, their request for a therapist and, for a minor, the guardian
    to ask: in the caller's transaction with the account, so bad input leaves nothing."""
    practice = Practice.get()
    if not user.is_client:
        raise PermissionDenied("only clients sign up")
    minor = is_minor(details.date_of_birth, details.time_zone, practice=practice)
    if minor and practice.minors_policy == MinorsPolicy.REFUSE:
        raise SignupError(
            _("This practice does not take clients under %(age)d.")
            % {"age": practice.age_of_majority}
        )
    if minor and details.guardian is None:
        raise SignupError(_("Give the name and email address of a parent or guardian."))
    with transaction.atomic():
        ClientProfile.objects.create(
            client=user,
            preferred_name=details.preferred_name,
            date_of_birth=details.date_of_birth,
            country=details.region.partition("-")[0],
        )
        care_request = open_request(
            user,
            region=details.region,
            language=details.language,
            modalities=details.modalities,
            time_zone=details.time_zone,
            concerns=details.concerns,
            concerns_text=details.concerns_text,
            availability=details.availability,
            payment_route=details.payment_route,
            insurer_name=details.insurer_name,
        )
        if minor and details.guardian is not None:
            GuardianConsent.objects.create(
                client=user,
                guardian_name=details.guardian.name,
                guardian_email=details.guardian.email,
                message=details.guardian.message,
            )
        record(
            Action.SIGNUP_REGISTERED,
            actor=user,
            request=request,
            obj=care_request,
            client=user,
            minor=minor,
        )
    return care_request


def on_email_confirmed(user: User) -> None:
    """The new client proved their address: send their intake and, for a minor, ask the
    guardian (not before: a sign-up with someone else's address emails nobody else)."""
    care_request = request_of(user)
    if care_request is None or care_request.status != CareRequest.Status.INTAKE:
        return
    with transaction.atomic():
        send_intake_if_needed(user)
        consent = GuardianConsent.objects.filter(client=user, asked_at=None).first()
        if consent is not None:
            ask_guardian(consent)


# --- The guardian -------------------------------------------------------------------------------


def _link(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def _email(to: str, language: str, template: str, context: dict[str, Any]) -> EmailMessage:
    with translation.override(language):
        context = {"practice": Practice.get(), "site_url": settings.SITE_URL, **context}
        subject = render_to_string(f"signup/email/{template}_subject.txt", context)
        body = render_to_string(f"signup/email/{template}.txt", context)
    return EmailMessage(
        subject=" ".join(subject.split()),
        body=body,
        to=[to],
        headers={"Auto-Submitted": "auto-generated"},
    )


def ask_guardian(
    consent: GuardianConsent, *, actor: User | None = None, reminder: bool = False
) -> str:
    """Email the guardian a single-use link to consent (a new link replaces an older one and
    works ``GUARDIAN_LINK_DAYS``). ``actor``: who asked (the minor by default); ``reminder``:
    the one reminder of an unanswered request. Returns the link's token (kept only as its
    hash)."""
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        now = timezone.now()
        consent.token_hash = hash_token(token)
        consent.asked_at = now
        consent.reminded_at = now if reminder else None  # a new request earns its own reminder
        consent.save(update_fields=["token_hash", "asked_at", "reminded_at"])
        client = consent.client
        link = _link(reverse("guardian_consent", kwargs={"token": token}))
        context = {
            "consent": consent,
            "client": client,
            "first_name": first_name(client),
            "link": link,
            "days": GUARDIAN_LINK_DAYS,
            "reminder": reminder,
        }
        message = _email(consent.guardian_email, client.language, "guardian", context)
        outbox.record(message, key=f"guardian:{consent.pk}:{consent.token_hash}", kind="guardian")
        if reminder:
            record(
                Action.GUARDIAN_ASKED,
                actor_label="rapport",
                obj=consent,
                client=client,
                reminder=True,
            )
        else:
            record(Action.GUARDIAN_ASKED, actor=actor or client, obj=consent, client=client)
    return token


def link_expired(consent: GuardianConsent, now: datetime | None = None) -> bool:
    """Whether the guardian's latest link is past ``GUARDIAN_LINK_DAYS``."""
    if consent.asked_at is None:
        return True
    return consent.asked_at < (now or timezone.now()) - timedelta(days=GUARDIAN_LINK_DAYS)


def can_resend_at(consent: GuardianConsent) -> datetime | None:
    """When the link may next be sent again by hand (None: now)."""
    if consent.asked_at is None:
        return None
    allowed = consent.asked_at + timedelta(minutes=GUARDIAN_RESEND_MINUTES)
    return allowed if allowed > timezone.now() else None


def resend_guardian_link(
    consent: GuardianConsent,
    actor: User,
    *,
    guardian_name: str = "",
    guardian_email: str = "",
    request: HttpRequest | None = None,
) -> GuardianConsent:
    """Send the guardian a new link, optionally to a corrected name or address (the minor's
    fix of a typing mistake). The old link stops working. Only while consent is awaited, only
    once the minor has confirmed their own address, and at most once every
    ``GUARDIAN_RESEND_MINUTES``."""
    with transaction.atomic():
        locked = (
            GuardianConsent.objects.select_for_update().select_related("client").get(pk=consent.pk)
        )
        client = locked.client
        if locked.consented_at is not None:
            raise SignupError(_("Your parent or guardian has already consented."), code="done")
        if locked.asked_at is None:
            raise SignupError(
                _("Confirm your own email address first: we write to your guardian after that.")
            )
        wait_until = can_resend_at(locked)
        if wait_until is not None:
            minutes = max(1, round((wait_until - timezone.now()).total_seconds() / 60))
            raise SignupError(
                _("The link went out a moment ago. You can send it again in %(n)d minutes.")
                % {"n": minutes},
                code="too_soon",
            )
        name = " ".join(guardian_name.split())[:150]
        email = guardian_email.strip().lower()
        if email and email == client.email.lower():
            raise SignupError(
                _("Give your parent or guardian's own address, not yours."), code="own_address"
            )
        changed = [
            field
            for field, value, old in (
                ("guardian_name", name, locked.guardian_name),
                ("guardian_email", email, locked.guardian_email),
            )
            if value and value != old
        ]
        if changed:
            if name:
                locked.guardian_name = name
            if email:
                locked.guardian_email = email
            locked.save(update_fields=changed)
            record(
                Action.GUARDIAN_CHANGED,
                actor=actor,
                request=request,
                obj=locked,
                client=client,
                fields=changed,
            )
        ask_guardian(locked, actor=actor)
    return locked


def remind_guardians(now: datetime | None = None) -> int:
    """The worker's sweep: one reminder, with a new link, to each guardian who has not answered
    ``GUARDIAN_REMINDER_DAYS`` after being asked. Returns how many were reminded."""
    due = (now or timezone.now()) - timedelta(days=GUARDIAN_REMINDER_DAYS)
    reminded = 0
    for pk in GuardianConsent.objects.filter(
        consented_at=None, reminded_at=None, asked_at__lte=due
    ).values_list("pk", flat=True)[:100]:
        with transaction.atomic():
            consent = (
                GuardianConsent.objects.select_for_update(skip_locked=True)
                .select_related("client")
                .filter(pk=pk, consented_at=None, reminded_at=None, asked_at__lte=due)
                .first()
            )
            if consent is None or not consent.client.is_active:
                continue
            ask_guardian(consent, reminder=True)
            reminded += 1
    return reminded


def first_name(client: User) -> str:
    profile = ClientProfile.objects.filter(client=client).only("preferred_name").first()
    if profile is not None and profile.preferred_name:
        return profile.preferred_name
    return client.full_name.split(" ")[0] if client.full_name else ""


def give_guardian_consent(
    consent: GuardianConsent, signed_name: str, *, request: HttpRequest | None = None
) -> GuardianConsent:
    """Record the guardian's consent (their typed name as signature), once; then the minor's
    request may go on to matching."""
    name = " ".join(signed_name.split())
    if not name:
        raise SignupError(_("Type your full name to sign."))
    with transaction.atomic():
        locked = GuardianConsent.objects.select_for_update().get(pk=consent.pk)
        if locked.consented_at is not None:
            raise SignupError(_("Consent was already given. Thank you."), code="done")
        locked.consented_at, locked.signed_name = timezone.now(), name[:150]
        locked.token_hash = ""  # the link works once
        locked.save(update_fields=["consented_at", "signed_name", "token_hash"])
        record(
            Action.GUARDIAN_CONSENTED,
            actor_label="guardian",
            request=request,
            obj=locked,
            client=locked.client,
        )
        care_request = request_of(locked.client)
        if care_request is not None:
            ready_if_complete(care_request)
    return locked


# --- Intake and screen --------------------------------------------------------------------------


def intake_form_for(client: User) -> Any:
    """The practice's default intake form, else the built-in one the client fills in."""
    return default_form() or newest_version(BUILTIN_INTAKE)


def send_intake_if_needed(client: User) -> Intake | None:
    if Intake.objects.filter(client=client).exists():
        return None
    form = intake_form_for(client)
    return send_intake(client, form, sent_by=None) if form is not None else None


def intake_done(client: User) -> bool:
    return Intake.objects.filter(client=client, submitted_at__isnull=False).exists()


def screen_instruments() -> list[Instrument]:
    """The newest built-in PHQ-9 and GAD-7, in that order."""
    found = []
    for key in SCREEN_KEYS:
        instrument = (
            Instrument.objects.filter(key=key, builtin=True, is_active=True)
            .order_by("-imported_at", "-pk")
            .first()
        )
        if instrument is None:
            raise RuntimeError(f"the built-in {key} instrument is missing")
        found.append(instrument)
    return found


def screened(client: User) -> bool:
    keys = set(
        Response.objects.filter(client=client, instrument__key__in=SCREEN_KEYS).values_list(
            "instrument__key", flat=True
        )
    )
    return keys == set(SCREEN_KEYS)


def guardian_pending(client: User) -> bool:
    return GuardianConsent.objects.filter(client=client, consented_at=None).exists()


def ready_if_complete(care_request: CareRequest) -> bool:
    """Hand the request to matching when the intake and screen are done and no guardian's
    consent is awaited. True if it moved on."""
    client = care_request.client
    if care_request.status != CareRequest.Status.INTAKE:
        return False
    if not (intake_done(client) and screened(client)) or guardian_pending(client):
        return False
    ready_for_matching(care_request)
    return True


@dataclass(frozen=True)
class NextStep:
    key: str  # "intake", "screen", "guardian"
    url: str


def next_step(client: User) -> NextStep | None:
    """What a signed-up client should do next, while their request waits on them."""
    care_request = request_of(client)
    if care_request is None or care_request.status != CareRequest.Status.INTAKE:
        return None
    open_intake = Intake.objects.filter(client=client, submitted_at=None).only("pk").first()
    if open_intake is not None:
        return NextStep("intake", reverse("intake_fill", kwargs={"intake_id": open_intake.pk}))
    if not screened(client):
        return NextStep("screen", reverse("signup_screen"))
    if guardian_pending(client):
        return NextStep("guardian", "")
    return None


@dataclass(frozen=True)
class ScreenResult:
    responses: list[Response]
    alert: IntakeAlert | None

    @property
    def risk(self) -> bool:
        return any(response.risk_positive for response in self.responses)


def submit_screen(
    client: User,
    answers: Mapping[str, Mapping[str, Any]],
    *,
    request: HttpRequest | None = None,
    language: str = "en",
) -> ScreenResult:
    """Store the PHQ-9 and GAD-7 (``answers`` by instrument key) as measures responses, alert
    the practice of a risk answer, and move the request on if nothing else waits. Every scored
    item must be answered (``SignupError``)."""
    instruments = screen_instruments()
    for instrument in instruments:
        definition = instrument_definition(instrument)
        given = answers.get(instrument.key, {})
        if any(given.get(item.key) is None for item in definition.items if item.scored):
            raise SignupError(_("Answer every question, then send."))
    with transaction.atomic():
        if screened(client):
            raise SignupError(_("You have already sent the screen."), code="done")
        responses = [
            submit_unassigned(
                client, instrument, answers[instrument.key], request=request, language=language
            )
            for instrument in instruments
        ]
        record(Action.SIGNUP_SCREENED, actor=client, request=request, client=client)
        alert = None
        risky = next((r for r in responses if r.risk_positive), None)
        if risky is not None:
            alert = raise_intake_alert(client, IntakeAlert.Source.SCREEN, response=risky)
        elif _intake_has_risk(client):
            alert = raise_intake_alert(client, IntakeAlert.Source.INTAKE)
        care_request = request_of(client)
        if care_request is not None:
            ready_if_complete(care_request)
    return ScreenResult(responses, alert)


def _intake_has_risk(client: User) -> bool:
    """A risk answer in the client's sent intake (it alerted no therapist: there was none)."""
    submission = (
        IntakeSubmission.objects.filter(client=client)
        .select_related("form")
        .order_by("-pk")
        .first()
    )
    if submission is None:
        return False
    definition = definition_of(submission.form)
    return bool(intake_answers.risk_answers(definition, submission.answer_values()))


# --- Safety alerts before a therapist -----------------------------------------------------------


def on_call_admins(practice: Practice | None = None) -> list[User]:
    """The practice's on-call admin if set and active, else every active admin."""
    practice = practice or Practice.get()
    chosen = practice.on_call_admin
    if chosen is not None and chosen.is_active and chosen.is_practice_admin:
        return [chosen]
    return list(User.objects.filter(role=Role.ADMIN, is_active=True).order_by("pk"))


def raise_intake_alert(
    client: User, source: str, *, response: Response | None = None
) -> IntakeAlert:
    """Open the alert and tell the on-call admin (or every admin) by a content-free email and
    push notice, in the caller's transaction: they commit with the answers or not at all."""
    admins = on_call_admins()
    alert = IntakeAlert.objects.create(
        client=client, source=source, response=response, notified=[a.pk for a in admins]
    )
    link = _link(reverse("intake_alert", kwargs={"alert_id": alert.pk}))
    for admin in admins:
        message = _email(admin.email, admin.language, "alert", {"person": admin, "link": link})
        outbox.record(message, key=f"intake-alert:{alert.pk}:{admin.pk}", kind="safety alert")
        push.notify(admin.pk, NoticeKind.SAFETY_ALERT, f"intake-alert:{alert.pk}:{admin.pk}")
    record(
        Action.INTAKE_ALERT_RAISED,
        actor=client,
        obj=alert,
        client=client,
        source=source,
        admins=[a.pk for a in admins],
    )
    return alert


def acknowledge(
    alert: IntakeAlert, admin: User, action_taken: str, *, request: HttpRequest | None = None
) -> IntakeAlert:
    text = action_taken.strip()
    if not text:
        raise SignupError(_("Write down the action you took."))
    if len(text) > ACTION_TAKEN_MAX:
        raise SignupError(
            _("Keep the action taken under %(max)d characters.") % {"max": ACTION_TAKEN_MAX}
        )
    if not (admin.is_active and admin.is_practice_admin):
        raise PermissionDenied("new clients' alerts are the practice admins'")
    with transaction.atomic():
        locked = IntakeAlert.objects.select_for_update().get(pk=alert.pk)
        if locked.acknowledged_at is not None:
            raise SignupError(_("This alert has already been acknowledged."), code="done")
        now = timezone.now()
        locked.acknowledged_at, locked.acknowledged_by, locked.action_taken = now, admin, text
        locked.save(update_fields=["acknowledged_at", "acknowledged_by", "action_taken"])
        record(
            Action.INTAKE_ALERT_ACKNOWLEDGED,
            actor=admin,
            request=request,
            obj=locked,
            client=locked.client,
            minutes_open=int((now - locked.opened_at).total_seconds() // 60),
        )
    return locked


def open_alert_count() -> int:
    return IntakeAlert.objects.filter(acknowledged_at=None).count()


@dataclass(frozen=True)
class Flagged:
    question: str
    answer: str


def flagged_items(alert: IntakeAlert) -> list[Flagged]:
    """The risk questions of the alert's screen and what was answered (an alert from the intake
    form: its risk questions are on the intake's own page, for the client's therapist)."""
    if alert.response is None:
        return []
    definition = instrument_definition(alert.response.instrument)
    answers = alert.response.answer_values()
    flagged = []
    for item in definition.risk_items:
        value = answers.get(item.key)
        option = item.option(value) if isinstance(value, int) else None
        flagged.append(Flagged(item.text, option.label if option else "—"))
    return flagged


def waiting_count() -> int:
    """Requests still in intake or waiting for the practice (the admin home page's count)."""
    return CareRequest.objects.filter(
        status__in=[CareRequest.Status.INTAKE, CareRequest.Status.PRACTICE]
    ).count()
