"""Which crisis resources a client sees.

The country comes from where the client said they were at their last safety check-in, else
from their profile. The client sees that country's emergency numbers and crisis lines (lines
that serve one region of it are marked with the region). When no country is known, or the
practice lists nothing for it, the client sees the practice's own crisis text instead: a number
for another country would not help them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rapport.accounts.models import Practice, User
from rapport.care.models import ClientProfile
from rapport.core.countries import country_name
from rapport.crisis.models import CrisisResource, Kind
from rapport.crisis.signals import last_stated_country


class KnownFrom:
    CHECK_IN = "check-in"
    PROFILE = "profile"
    NOWHERE = ""


@dataclass(frozen=True)
class CrisisHelp:
    country: str  # "" when not known
    known_from: str  # a KnownFrom value
    emergency: list[CrisisResource] = field(default_factory=list)
    lines: list[CrisisResource] = field(default_factory=list)
    # The practice's own words, shown only when no listed resource fits the client.
    practice_text: str = ""

    @property
    def country_name(self) -> str:
        return country_name(self.country)

    @property
    def resources(self) -> list[CrisisResource]:
        return [*self.emergency, *self.lines]


def client_country(client: User) -> tuple[str, str]:
    """The client's country and where it is known from: last check-in, then profile."""
    stated = last_stated_country(client)
    if stated is not None:
        return stated.country, KnownFrom.CHECK_IN
    profile = ClientProfile.objects.filter(client=client).values_list("country", flat=True).first()
    if profile:
        return profile, KnownFrom.PROFILE
    return "", KnownFrom.NOWHERE


def resources_for(client: User) -> CrisisHelp:
    """The crisis help to show ``client`` (already reached through an accessor), or to show
    their therapist on their behalf."""
    country, known_from = client_country(client)
    return resources_in(country, known_from)


def resources_in(country: str, known_from: str = KnownFrom.PROFILE) -> CrisisHelp:
    """The crisis help of ``country`` (the practice's own text when it lists none there), e.g.
    for someone who is not a client yet and said where they live."""
    listed = list(CrisisResource.objects.filter(country=country)) if country else []
    if not listed:
        return CrisisHelp(country, known_from, practice_text=Practice.get().crisis_resources)
    return CrisisHelp(
        country,
        known_from,
        emergency=[r for r in listed if r.kind == Kind.EMERGENCY],
        lines=[r for r in listed if r.kind == Kind.CRISIS_LINE],
    )
