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
    answers = country_stated.send(sender=User, client=client)
    stated = [a for _receiver, a in answers if isinstance(a, StatedCountry) and a.country]
    return max(stated, key=lambda s: s.at, default=None)
