"""The messaging settings form: emails, quiet hours; for therapists reply time and office hours.

Office hours are one window per weekday on this form (blank = closed); the saving function
accepts several per day and refuses overlaps.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from rapport.accounts.models import User
from rapport.messaging.models import MessagingSettings
from rapport.messaging.preferences import SHORTEST_DELAY_MINUTES, Window, office_hours_of

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def _time_field(label: StrOrPromise) -> forms.TimeField:
    return forms.TimeField(
        label=label,
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )


def weekday_name(day: int) -> str:
    return date_format(datetime(2024, 1, 1 + day, tzinfo=UTC), "l")


class MessagingSettingsForm(forms.Form):
    email_when_unread = forms.BooleanField(
        label=gettext_lazy("Email me when a message waits unread"), required=False
    )
    email_delay_minutes = forms.IntegerField(
        label=gettext_lazy("Wait this many minutes before emailing"),
        min_value=SHORTEST_DELAY_MINUTES,
        max_value=1440,
        help_text=gettext_lazy(
            "Between 5 and 1440 (one day). One email covers all messages waiting by then."
        ),
    )
    quiet_from = _time_field(gettext_lazy("Quiet hours from"))
    quiet_until = _time_field(gettext_lazy("Quiet hours until"))
    response_hours = forms.IntegerField(
        label=gettext_lazy("Clients may expect a reply within (hours)"),
        min_value=1,
        max_value=336,
        help_text=gettext_lazy(
            "Between 1 and 336 (two weeks). Shown to clients before they write."
        ),
    )

    def __init__(self, *args: Any, user: User, prefs: MessagingSettings, **kwargs: Any) -> None:
        self.user = user
        initial: dict[str, Any] = {
            "email_when_unread": prefs.email_when_unread,
            "email_delay_minutes": prefs.email_delay_minutes,
            "quiet_from": prefs.quiet_from,
            "quiet_until": prefs.quiet_until,
            "response_hours": prefs.response_hours,
        }
        if user.is_therapist:
            for window in reversed(office_hours_of(user)):  # the first window of a day wins
                initial[f"day{window.weekday}_starts"] = window.starts
                initial[f"day{window.weekday}_ends"] = window.ends
        kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        if not user.is_therapist:
            del self.fields["response_hours"]
            return
        for day in range(7):
            name = weekday_name(day)
            self.fields[f"day{day}_starts"] = _time_field(_("%(day)s from") % {"day": name})
            self.fields[f"day{day}_ends"] = _time_field(_("%(day)s until") % {"day": name})

    def quiet_fields(self) -> list[forms.BoundField]:
        return [self["quiet_from"], self["quiet_until"]]

    def email_fields(self) -> list[forms.BoundField]:
        return [self["email_when_unread"], self["email_delay_minutes"]]

    def days(self) -> list[tuple[str, forms.BoundField, forms.BoundField]]:
        """Each weekday's name and its two time fields (therapists only)."""
        if not self.user.is_therapist:
            return []
        return [(weekday_name(d), self[f"day{d}_starts"], self[f"day{d}_ends"]) for d in range(7)]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        quiet_from, quiet_until = data.get("quiet_from"), data.get("quiet_until")
        parsed = not (self.has_error("quiet_from") or self.has_error("quiet_until"))
        if parsed and (quiet_from is None) != (quiet_until is None):
            self.add_error(
                "quiet_until" if quiet_until is None else "quiet_from",
                _("Give both ends of the quiet hours, or leave both empty."),
            )
        elif parsed and quiet_from is not None and quiet_from == quiet_until:
            self.add_error(
                "quiet_until", _("Quiet hours must end at another time than they start.")
            )
        if self.user.is_therapist:
            for day in range(7):
                starts, ends = data.get(f"day{day}_starts"), data.get(f"day{day}_ends")
                if self.has_error(f"day{day}_starts") or self.has_error(f"day{day}_ends"):
                    continue
                if (starts is None) != (ends is None):
                    self.add_error(
                        f"day{day}_ends" if ends is None else f"day{day}_starts",
                        _("%(day)s: give both times, or leave both empty (closed).")
                        % {"day": weekday_name(day)},
                    )
                elif starts is not None and ends is not None and ends <= starts:
                    self.add_error(
                        f"day{day}_ends",
                        _("%(day)s: office hours must end after they start.")
                        % {"day": weekday_name(day)},
                    )
        return data

    def office_hours(self) -> list[Window] | None:
        """The weekly windows entered (None for a person without office hours)."""
        if not self.user.is_therapist:
            return None
        windows = []
        for day in range(7):
            starts: time | None = self.cleaned_data.get(f"day{day}_starts")
            ends: time | None = self.cleaned_data.get(f"day{day}_ends")
            if starts is not None and ends is not None:
                windows.append(Window(day, starts, ends))
        return windows
