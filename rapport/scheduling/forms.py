"""Forms of the scheduling screens. Times are entered in the person's own zone; views convert."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from rapport.accounts.models import Role, User
from rapport.core.forms import PlausibleDateField, is_plausible_date
from rapport.scheduling.models import (
    AvailabilityChange,
    ConsentDocument,
    Modality,
    SessionType,
    Weekday,
)


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _time_input() -> forms.TimeInput:
    return forms.TimeInput(attrs={"type": "time", "step": 900}, format="%H:%M")


class WeeklyWindowForm(forms.Form):
    weekday = forms.TypedChoiceField(label=_("Day"), choices=Weekday.choices, coerce=int)
    start_time = forms.TimeField(label=_("From"), widget=_time_input())
    end_time = forms.TimeField(label=_("Until"), widget=_time_input())


class AvailabilityChangeForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Change"),
        choices=AvailabilityChange.Kind.choices,
        initial=AvailabilityChange.Kind.TIME_OFF,
        widget=forms.RadioSelect,
    )
    start_date = PlausibleDateField(label=_("From (date)"), widget=_date_input())
    start_time = forms.TimeField(label=_("From (time)"), widget=_time_input())
    end_date = PlausibleDateField(label=_("Until (date)"), widget=_date_input())
    end_time = forms.TimeField(label=_("Until (time)"), widget=_time_input())


class SessionTypeForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = SessionType
        fields = [
            "name",
            "minutes",
            "allow_video",
            "allow_audio",
            "allow_text",
            "buffer_minutes",
            "min_notice_hours",
            "horizon_days",
            "offered_to",
            "is_active",
        ]

    MODALITY_FIELDS = ("allow_video", "allow_audio", "allow_text")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not any(data.get(name) for name in self.MODALITY_FIELDS):
            raise ValidationError(_("Choose at least one way to hold the session."))
        return data

    def modality_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.MODALITY_FIELDS]

    def other_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name not in self.MODALITY_FIELDS]


class ScheduleByTherapistForm(forms.Form):
    """A therapist books one session, or a weekly series, for a client in their care."""

    REPEAT_CHOICES = [
        ("0", _("Does not repeat")),
        ("1", _("Every week")),
        ("2", _("Every two weeks")),
    ]

    client = forms.ModelChoiceField(label=_("Client"), queryset=User.objects.none())
    session_type = forms.ModelChoiceField(
        label=_("Session type"), queryset=SessionType.objects.none()
    )
    modality = forms.ChoiceField(label=_("Held as"), choices=Modality.choices)
    day = PlausibleDateField(label=_("Date"), widget=_date_input())
    start_time = forms.TimeField(label=_("Start time (your time zone)"), widget=_time_input())
    repeat = forms.ChoiceField(
        label=_("Repeat"), choices=REPEAT_CHOICES, initial="0", widget=forms.RadioSelect
    )
    count = forms.IntegerField(
        label=_("Number of sessions"),
        required=False,
        min_value=2,
        max_value=52,
        help_text=_("For a series: how many sessions, or leave empty and give an end date."),
    )
    until = PlausibleDateField(
        label=_("Last date"), required=False, widget=_date_input(), help_text=_("For a series.")
    )

    def __init__(
        self, *args: Any, clients: QuerySet[User], session_types: QuerySet[SessionType], **kw: Any
    ) -> None:
        super().__init__(*args, **kw)
        self.fields["client"].queryset = clients  # type: ignore[attr-defined]
        self.fields["session_type"].queryset = session_types  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("repeat", "0") != "0":
            if (data.get("count") is None) == (data.get("until") is None):
                raise ValidationError(
                    _("For a series, give either a number of sessions or a last date.")
                )
        else:
            data["count"] = data["until"] = None
        session_type = data.get("session_type")
        modality = data.get("modality")
        if session_type is not None and modality and modality not in session_type.modalities:
            self.add_error("modality", _("This session type is not held this way."))
        return data


def parse_slot(value: str) -> datetime | None:
    """A slot value from the picker (ISO 8601 with an offset) as a UTC time, or None."""
    try:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None or moment.utcoffset() is None:
            return None
        moment = moment.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 moved to UTC
        return None
    return moment if is_plausible_date(moment.date()) else None


def slot_value(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


class SlotField(forms.Field):
    """The chosen start time. Whether it is really open is the booking service's question."""

    def to_python(self, value: Any) -> datetime | None:
        text = str(value or "").strip()
        if not text:
            return None
        moment = parse_slot(text) if len(text) <= 40 else None
        if moment is None:
            raise ValidationError(_("Choose one of the times shown."), code="invalid")
        return moment


class ClientBookingForm(forms.Form):
    """The client's choice: session type (chosen first), modality and one open slot."""

    session_type = forms.ModelChoiceField(
        label=_("Session type"),
        queryset=SessionType.objects.none(),
        widget=forms.HiddenInput,
        error_messages={"invalid_choice": _("This kind of session is not offered to you.")},
    )
    modality = forms.ChoiceField(label=_("Held as"), choices=Modality.choices)
    slot = SlotField(
        label=_("Time"),
        error_messages={"required": _("Choose one of the times shown.")},
    )

    def __init__(self, *args: Any, session_types: QuerySet[SessionType], **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.fields["session_type"].queryset = session_types  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        session_type = data.get("session_type")
        modality = data.get("modality")
        if session_type is not None and modality and modality not in session_type.modalities:
            self.add_error("modality", _("This session type is not held this way."))
        return data


class SlotChoiceForm(forms.Form):
    """A client moves a session into one of the open slots."""

    slot = SlotField(
        label=_("New time"),
        error_messages={"required": _("Choose one of the times shown.")},
    )


class MoveByTherapistForm(forms.Form):
    day = PlausibleDateField(label=_("New date"), widget=_date_input())
    start_time = forms.TimeField(label=_("New start time (your time zone)"), widget=_time_input())
    scope = forms.ChoiceField(
        label=_("Which sessions"),
        choices=[("this", _("This session")), ("following", _("This and the following ones"))],
        initial="this",
        widget=forms.RadioSelect,
    )

    def __init__(self, *args: Any, in_series: bool, **kw: Any) -> None:
        super().__init__(*args, **kw)
        if not in_series:
            del self.fields["scope"]


class PracticeScheduleForm(forms.Form):
    """The practice calendar's filter: one therapist, or all of them."""

    therapist = forms.ModelChoiceField(
        label=_("Therapist"),
        queryset=User.objects.filter(role=Role.THERAPIST, is_active=True).order_by("full_name"),
        required=False,
        empty_label=_("All therapists"),
        error_messages={"invalid_choice": _("Choose a therapist from the list.")},
    )


class CancelForm(forms.Form):
    scope = forms.ChoiceField(
        label=_("Which sessions"),
        choices=[("this", _("This session")), ("following", _("This and the following ones"))],
        initial="this",
        widget=forms.RadioSelect,
    )

    def __init__(self, *args: Any, offer_following: bool, **kw: Any) -> None:
        super().__init__(*args, **kw)
        if not offer_following:
            del self.fields["scope"]


class ConsentDocumentForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=160)
    body = forms.CharField(
        label=_("Text"),
        max_length=50000,
        widget=forms.Textarea(attrs={"rows": 16}),
        help_text=_("Clients see this text and sign it with their typed name."),
    )


class ConsentSignatureForm(forms.Form):
    document = forms.IntegerField(widget=forms.HiddenInput)
    typed_name = forms.CharField(
        label=_("Type your full name to sign"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )


def week_start(day: date) -> date:
    """The Monday of ``day``'s week."""
    return day - timedelta(days=day.weekday())


def consent_initial(document: ConsentDocument | None) -> dict[str, str]:
    if document is None:
        return {}
    return {"title": document.title, "body": document.body}
