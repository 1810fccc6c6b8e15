"""Forms of the pages that span several apps."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from rapport.accounts.models import Practice
from rapport.measures.models import Instrument

KEPT_WHEN_ABSENT = ("minors_policy", "age_of_majority", "on_call_admin")


class PracticeForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Practice
        fields = [
            "name",
            "allow_client_self_registration",
            "requires_booking_approval",
            "late_cancel_hours",
            "reminder_minutes",
            "join_opens_minutes",
            "calendar_shows_client_names",
            "crisis_resources",
            "message_attachment_limit_mb",
            "alert_escalation_minutes",
            "unsent_risk_minutes",
            "after_session_instrument",
            "late_note_hours",
            "retention_jurisdiction",
            "retention_years",
            "outcomes_suppression_threshold",
            "outcomes_episode_gap_days",
            "offers_answered_by",
            "offer_answer_hours",
            "minors_policy",
            "age_of_majority",
            "on_call_admin",
        ]
        widgets = {"crisis_resources": forms.Textarea(attrs={"rows": 4})}
        labels = {"crisis_resources": _("Crisis text when no listed resource fits")}
        help_texts = {
            "message_attachment_limit_mb": _("From 1 to 100 MB."),
            "outcomes_suppression_threshold": _(
                "From 5 to 100. The outcomes pages hide smaller counts, and any count that "
                "could be worked out from the totals."
            ),
            "outcomes_episode_gap_days": _(
                "From 14 to 730 days. An episode also ends when the care relationship ends."
            ),
            "offer_answer_hours": _(
                "From 1 to 336 hours. With no answer by then, the request goes to the client's "
                "next choice, or to the practice."
            ),
            "on_call_admin": _(
                "Hears at once of a risk answer in a new client's screen, before any therapist "
                "is assigned. Leave blank to tell every active admin."
            ),
            "crisis_resources": _(
                "Clients whose country is not known, or has no crisis resources listed, see "
                "this text. Numbers in it are not links: list them under Crisis resources."
            ),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        imported = (
            Instrument.objects.filter(builtin=False, is_active=True)
            .order_by("short_name")
            .values_list("key", "short_name")
            .distinct()
        )
        self.fields["after_session_instrument"] = forms.ChoiceField(
            label=_("After each session, ask"),
            required=False,
            choices=[("", _("Rapport's own feedback form (not a validated instrument)"))]
            + [(key, name) for key, name in imported],
            help_text=_("An imported, licensed alliance measure can replace Rapport's form."),
        )
        # The sign-up settings came later: a form posted without them leaves them as they are.
        if self.is_bound:
            for name in KEPT_WHEN_ABSENT:
                if name not in self.data:
                    self.fields[name].required = False
                    self.fields[name].disabled = True
