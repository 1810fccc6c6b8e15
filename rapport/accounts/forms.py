from __future__ import annotations

import zoneinfo
from typing import Any

from allauth.core import context
from allauth.mfa.base import forms as mfa_forms
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from rapport.accounts.models import Role, User, validate_time_zone
from rapport.accounts.services import INVITABLE_ROLES
from rapport.audit.services import Action, record

TIME_ZONES = sorted(zoneinfo.available_timezones() - {"localtime", "Factory"})


class TimeZoneField(forms.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=[(z, z.replace("_", " ")) for z in TIME_ZONES], **kwargs)


class InviteForm(forms.Form):
    full_name = forms.CharField(label=_("Full name"), max_length=150)
    email = forms.EmailField(label=_("Email address"), max_length=254)
    role = forms.ChoiceField(label=_("Role"), choices=())

    def __init__(self, *args: Any, inviter: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        allowed = INVITABLE_ROLES.get(inviter.role, set())
        self.fields["role"].choices = [(v, n) for v, n in Role.choices if v in allowed]  # type: ignore[attr-defined]
        if len(allowed) == 1:
            self.fields["role"].initial = next(iter(allowed))
            self.fields["role"].widget = forms.HiddenInput()


class AcceptInvitationForm(forms.Form):
    password1 = forms.CharField(
        label=_("Choose a password"),
        strip=False,
        max_length=256,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 12 characters. A long phrase is easiest to remember."),
    )
    password2 = forms.CharField(
        label=_("Type it again"),
        strip=False,
        max_length=256,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    time_zone = TimeZoneField(label=_("Your time zone"), initial="UTC")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", _("The two passwords are not the same."))
        return data


class PreferencesForm(forms.ModelForm):  # type: ignore[type-arg]
    time_zone = TimeZoneField(label=_("Time zone"))

    class Meta:
        model = User
        fields = ["full_name", "time_zone", "language", "clock"]

    def clean_time_zone(self) -> str:
        value = str(self.cleaned_data["time_zone"])
        validate_time_zone(value)
        return value


def audit_second_factor_lockout(user: User, *, reauthentication: bool) -> None:
    """A code refused because of too many wrong ones (allauth's ``too_many_login_attempts``, which
    it raises without a signal) is audited, as a password lockout is."""
    record(
        Action.MFA_LOCKED_OUT,
        actor=user,
        request=context.request,
        obj=user,
        reauthentication=reauthentication,
    )


class SecondFactorForm(mfa_forms.AuthenticateForm):  # type: ignore[misc]
    """allauth's second step of signing in (``MFA_FORMS["authenticate"]``), lockout audited."""

    def clean_code(self) -> str:
        try:
            return str(super().clean_code())
        except ValidationError as error:
            if error.code == "too_many_login_attempts":
                audit_second_factor_lockout(self.user, reauthentication=False)
            raise


class SecondFactorAgainForm(mfa_forms.ReauthenticateForm):  # type: ignore[misc]
    """allauth's re-authentication by code (``MFA_FORMS["reauthenticate"]``), lockout audited."""

    def clean_code(self) -> str:
        try:
            return str(super().clean_code())
        except ValidationError as error:
            if error.code == "too_many_login_attempts":
                audit_second_factor_lockout(self.user, reauthentication=True)
            raise
