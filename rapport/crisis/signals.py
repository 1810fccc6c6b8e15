"""Signals the crisis app sends to the apps above it.

``country_stated``: which country a client last said they were in. The safety check-in lives in
visits, above this app, so ``resources_for`` asks: a receiver is sent ``client`` (already reached
through an accessor) and returns a ``StatedCountry`` or ``None``. The newest answer wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.dispatch import Signal

from rapport.accounts.models import User

country_stated = Signal()


@dataclass(frozen=True)
class StatedCountry:
    country: str  # ISO 3166-1 alpha-2
    at: datetime


def last_stated_country(client: User) -> StatedCountry | None:
    newest: StatedCountry | None = None
    for _receiver, answer in country_stated.send(sender=User, client=client):
        if isinstance(answer, StatedCountry) and (newest is None or answer.at > newest.at):
            newest = answer
    return newest
