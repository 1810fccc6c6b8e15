"""The sign-up form (allauth's, with what a first request for a therapist needs), the guardian's
consent and the admin's acknowledgement of a new client's safety alert."""

from __future__ import annotations

import zoneinfo
from datetime import date, time
from typing import Any

from allauth.account.forms import SignupForm
from django import forms
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from rapport.accounts.models import MinorsPolicy, Practice, User
from rapport.care.models import validate_date_of_birth
from rapport.matching.models import CareRequest
from rapport.matching.vocab import CONCERNS, region_choices
from rapport.scheduling.models import Modality
from rapport.signup import services

AVAILABILITY_ROWS = 3
WEEKDAYS = [
    ("0", _("Monday")),
    ("1", _("Tuesday")),
    ("2", _("Wednesday")),
    ("3", _("Thursday")),
    ("4", _("Friday")),
    ("5", _("Saturday")),
    ("6", _("Sunday")),
]
MEETING_WAYS = [
    (Modality.VIDEO.value, _("Video")),
    (Modality.AUDIO.value, _("Phone or audio only")),
    (Modality.TEXT.value, _("Text chat")),
]


class ClientSignupForm(SignupForm):  # type: ignore[misc]
    """allauth's sign-up (email, password, verification) plus the client's first request.

    ``save`` creates the account, profile and request in one transaction (``try_save`` runs
    it before allauth sends the verification email)."""

    full_name = forms.CharField(label=_("Full name"), max_length=150)
    preferred_name = forms.CharField(
        label=_("What should we call you?"),
        max_length=80,
        required=False,
        help_text=_("Optional: the name you like to be called, if not your first name."),
    )
    date_of_birth = forms.DateField(
        label=_("Date of birth"),
        widget=forms.DateInput(attrs={"type": "date", "autocomplete": "bday"}),
        validators=[validate_date_of_birth],
        error_messages={"invalid": _("Enter the date as year-month-day, like 1990-04-23.")},
    )
    region = forms.ChoiceField(label=_("Where you live"), choices=())
    time_zone = forms.CharField(
        label=_("Your time zone"),
        max_length=64,
        help_text=_("Filled in from your device; change it if it is wrong (like Europe/Madrid)."),
    )
    language = forms.ChoiceField(label=_("Language for your sessions"), choices=settings.LANGUAGES)
    modalities = forms.MultipleChoiceField(
        label=_("How you prefer to meet"),
        choices=MEETING_WAYS,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one way to meet.")},
    )
    concerns = forms.MultipleChoiceField(
        label=_("What you would like help with"),
        choices=CONCERNS,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    concerns_text = forms.CharField(
        label=_("Anything else, in your own words"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Optional. Kept encrypted; only the practice and your therapist read it."),
    )
    payment_route = forms.ChoiceField(
        label=_("How you will pay"),
        choices=CareRequest.Payment.choices,
        initial=CareRequest.Payment.SELF_PAY,
        widget=forms.RadioSelect,
    )
    insurer_name = forms.CharField(
        label=_("Insurance company"),
        max_length=120,
        required=False,
        help_text=_("Only if you pay with insurance. For information: nothing is checked now."),
    )
    guardian_name = forms.CharField(
        label=_("Parent or guardian's full name"), max_length=150, required=False
    )
    guardian_email = forms.EmailField(
        label=_("Parent or guardian's email address"), max_length=254, required=False
    )
    guardian_message = forms.CharField(
        label=_("A message for them (optional)"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.practice = Practice.get()
        self.refused_minor = False
        self.fields["region"].choices = [("", _("Choose where you live")), *region_choices()]
        self.fields["language"].initial = translation.get_language() or "en"
        for i in range(AVAILABILITY_ROWS):
            self.fields[f"day_{i}"] = forms.ChoiceField(
                label=_("Day"), choices=[("", "—"), *WEEKDAYS], required=False
            )
            self.fields[f"start_{i}"] = forms.TimeField(
                label=_("From"), required=False, widget=forms.TimeInput(attrs={"type": "time"})
            )
            self.fields[f"end_{i}"] = forms.TimeField(
                label=_("Until"), required=False, widget=forms.TimeInput(attrs={"type": "time"})
            )
        self.fields["email"].label = _("Email address")

    @property
    def takes_minors(self) -> bool:
        return self.practice.minors_policy == MinorsPolicy.GUARDIAN

    def availability_rows(self) -> list[tuple[int, Any, Any, Any]]:
        return [
            (i, self[f"day_{i}"], self[f"start_{i}"], self[f"end_{i}"])
            for i in range(AVAILABILITY_ROWS)
        ]

    def clean_time_zone(self) -> str:
        value = self.cleaned_data["time_zone"].strip()
        if value not in zoneinfo.available_timezones():
            raise forms.ValidationError(
                _("“%(value)s” is not a time zone we know. Use a name like America/Chicago."),
                params={"value": value},
            )
        return str(value)

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean()
        self._clean_availability(data)
        if (
            data.get("payment_route") == CareRequest.Payment.INSURANCE
            and not data.get("insurer_name", "").strip()
        ):
            self.add_error(
                "insurer_name", _("Say which insurance company, or choose to pay yourself.")
            )
        born, zone = data.get("date_of_birth"), data.get("time_zone")
        if (
            isinstance(born, date)
            and zone
            and services.is_minor(born, zone, practice=self.practice)
        ):
            self._clean_minor(data)
        return data

    def _clean_minor(self, data: dict[str, Any]) -> None:
        age = self.practice.age_of_majority
        if not self.takes_minors:
            self.refused_minor = True
            self.add_error(
                "date_of_birth",
                _(
                    "We are sorry: this practice can only work with people aged %(age)d or "
                    "older. Please talk to a parent, a school counsellor or your doctor; if you "
                    "need help now, the numbers below are there for you at any time."
                )
                % {"age": age},
            )
            return
        if not data.get("guardian_name", "").strip():
            self.add_error(
                "guardian_name",
                _("You are under %(age)d: give the name of a parent or guardian.") % {"age": age},
            )
        email = (data.get("guardian_email") or "").strip().lower()
        if not email:
            self.add_error(
                "guardian_email",
                _("You are under %(age)d: give a parent or guardian's email address.")
                % {"age": age},
            )
        elif email == (data.get("email") or "").strip().lower():
            self.add_error(
                "guardian_email", _("Give your parent or guardian's own address, not yours.")
            )

    def _clean_availability(self, data: dict[str, Any]) -> None:
        windows = []
        for i in range(AVAILABILITY_ROWS):
            day, start, end = data.get(f"day_{i}"), data.get(f"start_{i}"), data.get(f"end_{i}")
            if not day and start is None and end is None:
                continue
            if not day:
                self.add_error(f"day_{i}", _("Choose the day."))
            elif start is None or end is None:
                self.add_error(f"start_{i}" if start is None else f"end_{i}", _("Give both times."))
            elif isinstance(start, time) and isinstance(end, time) and end <= start:
                self.add_error(f"end_{i}", _("The end must be after the start."))
            else:
                windows.append(
                    {
                        "weekday": int(day),
                        "start": start.strftime("%H:%M"),
                        "end": end.strftime("%H:%M"),
                    }
                )
        data["availability"] = windows

    def registration(self) -> services.Registration:
        data = self.cleaned_data
        guardian = None
        if (
            data.get("guardian_name")
            and data.get("guardian_email")
            and services.is_minor(data["date_of_birth"], data["time_zone"], practice=self.practice)
        ):
            guardian = services.Guardian(
                data["guardian_name"].strip(),
                data["guardian_email"].strip().lower(),
                data.get("guardian_message", "").strip(),
            )
        return services.Registration(
            preferred_name=data.get("preferred_name", "").strip(),
            date_of_birth=data["date_of_birth"],
            region=data["region"],
            language=data["language"],
            modalities=data["modalities"],
            time_zone=data["time_zone"],
            concerns=data.get("concerns", []),
            concerns_text=data.get("concerns_text", "").strip(),
            availability=data["availability"],
            payment_route=data["payment_route"],
            insurer_name=data.get("insurer_name", "").strip()
            if data["payment_route"] == CareRequest.Payment.INSURANCE
            else "",
            guardian=guardian,
        )

    def save(self, request: HttpRequest) -> User:
        with transaction.atomic():
            user: User = super().save(request)
            services.register_client(user, self.registration(), request=request)
        return user


class GuardianConsentForm(forms.Form):
    agree = forms.BooleanField(
        label=_(
            "I am this young person's parent or legal guardian and I consent to them using "
            "this practice's therapy services."
        ),
        error_messages={"required": _("Tick the box to consent.")},
    )
    signed_name = forms.CharField(
        label=_("Your full name, as your signature"),
        max_length=150,
        error_messages={"required": _("Type your full name to sign.")},
    )


class GuardianResendForm(forms.Form):
    """A minor's own fix of their guardian's details, with a new link sent."""

    guardian_name = forms.CharField(
        label=_("Parent or guardian's full name"),
        max_length=150,
        error_messages={"required": _("Give the name of your parent or guardian.")},
    )
    guardian_email = forms.EmailField(
        label=_("Parent or guardian's email address"),
        max_length=254,
        error_messages={
            "required": _("Give your parent or guardian's email address."),
            "invalid": _("That email address does not look right: check it for typing mistakes."),
        },
    )


class AcknowledgeForm(forms.Form):
    action_taken = forms.CharField(
        label=_("Action taken"),
        max_length=services.ACTION_TAKEN_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "What you did, for example: “Phoned the client at 14:10, safe, booked an "
            "urgent first session.” Kept and audited."
        ),
        error_messages={"required": _("Write down the action you took.")},
    )
