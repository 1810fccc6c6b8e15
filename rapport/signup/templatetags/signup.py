"""The sign-up cards other pages include: the client's next step and the admin's intake queue
(``{% load signup %}{% next_step %}``), so the home page needs no sign-up code of its own."""

from __future__ import annotations

from typing import Any

from django import template

from rapport.accounts.models import User
from rapport.crisis.resources import resources_in
from rapport.signup import services

register = template.Library()


@register.inclusion_tag("signup/next_step.html", takes_context=True)
def next_step(context: dict[str, Any]) -> dict[str, Any]:
    user = context["request"].user
    step = services.next_step(user) if isinstance(user, User) and user.is_client else None
    # A minor's guardian is asked alongside the intake and screen, not after them.
    guardian = step is not None and step.key != "guardian" and services.guardian_pending(user)
    return {"step": step, "guardian": guardian}


@register.inclusion_tag("signup/queue_card.html", takes_context=True)
def intake_queue_card(context: dict[str, Any]) -> dict[str, Any]:
    return {"open_alerts": services.open_alert_count(), "waiting": services.waiting_count()}


@register.inclusion_tag("crisis/_help.html")
def crisis_help_in(region: str) -> dict[str, Any]:
    """Crisis help for where someone not yet a client said they live (a refused minor)."""
    return {"help": resources_in(region.partition("-")[0])}
