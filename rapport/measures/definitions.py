"""Instrument definitions as frozen objects: items and their answers, scoring, bands, caseness,
reliable change, subscales. ``definition_files`` reads them from the JSON format in
``instruments/README.md``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

MissingMethod = Literal["refuse", "prorate"]


class DefinitionError(ValueError):
    """A definition file that cannot be used; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("Invalid instrument definition:\n- " + "\n- ".join(problems))


@dataclass(frozen=True)
class Option:
    value: int
    label: str
    loinc: str | None = None


@dataclass(frozen=True)
class Item:
    key: str
    text: str
    option_set: str
    options: tuple[Option, ...]
    loinc: str | None = None
    scored: bool = True
    # Only unscored items may be optional; missing scored items follow ``Scoring.missing_*``.
    required: bool = True
    # An answer at or above this value needs a clinician's attention the same day.
    risk_at_or_above: int | None = None

    @property
    def values(self) -> tuple[int, ...]:
        return tuple(option.value for option in self.options)

    @property
    def min_value(self) -> int:
        return min(self.values)

    @property
    def max_value(self) -> int:
        return max(self.values)

    def option(self, value: int) -> Option | None:
        return next((option for option in self.options if option.value == value), None)


@dataclass(frozen=True)
class Scoring:
    method: Literal["sum"]
    items: tuple[str, ...]
    reverse: tuple[str, ...]
    missing_allowed: int
    missing_method: MissingMethod


@dataclass(frozen=True)
class Band:
    min: int
    max: int
    label: str
    # What a client reads instead of ``label`` when the label is a clinician's word, such as a
    # screening result or a probable diagnosis ("Probable PTSD"); blank: the label itself.
    client_label: str = ""

    @property
    def for_client(self) -> str:
        return self.client_label or self.label

    def contains(self, total: int) -> bool:
        return self.min <= total <= self.max


@dataclass(frozen=True)
class Caseness:
    at_or_above: int
    source: str


@dataclass(frozen=True)
class ReliableChange:
    points: int
    source: str


@dataclass(frozen=True)
class Subscale:
    key: str
    name: str
    items: tuple[str, ...]
    positive_at_or_above: int | None = None


@dataclass(frozen=True)
class DiagnosticRule:
    """A provisional diagnosis: enough items counted (at or above a value) in every cluster."""

    item_counts_at_or_above: int
    clusters: tuple[tuple[str, int], ...]  # (subscale key, items needed), in file order


@dataclass(frozen=True)
class Translation:
    """A published, validated translation of an instrument's wording (never one of our own:
    a paraphrased item is no longer the validated instrument). Scoring does not change."""

    language: str  # "es"
    source: str  # who published it, where, which version
    name: str
    stem: str
    copyright: str
    items: Mapping[str, str]  # item key -> text
    options: Mapping[str, tuple[str, ...]]  # option set -> labels, in the set's order


# The language an instrument's own wording is in (the translations are into other languages).
SOURCE_LANGUAGE = "en"


@dataclass(frozen=True)
class Definition:
    key: str
    version: str
    name: str
    short_name: str
    construct: str
    validated: bool
    copyright: str
    licence: str
    citation: str | None
    loinc_panel: str | None
    loinc_total: str | None
    stem: str
    items: tuple[Item, ...]
    scoring: Scoring
    range_min: int
    range_max: int
    higher_is_worse: bool
    bands: tuple[Band, ...]
    caseness: Caseness | None
    reliable_change: ReliableChange | None
    subscales: tuple[Subscale, ...]
    diagnostic_rule: DiagnosticRule | None
    # The file as loaded (what ``Instrument.definition`` stores and exports use).
    data: Mapping[str, Any] = field(compare=False, repr=False, hash=False)
    translations: Mapping[str, Translation] = field(
        default_factory=dict, compare=False, repr=False, hash=False
    )
    # The language of the wording above: the source language, or a translation's.
    language: str = SOURCE_LANGUAGE

    def language_for(self, language: str) -> str:
        """The language someone reading ``language`` is shown this instrument in: theirs when a
        validated translation exists, else the instrument's own (English)."""
        base = language.split("-")[0].lower()
        return base if base in self.translations else SOURCE_LANGUAGE

    def in_language(self, language: str) -> Definition:
        """This definition with the wording of its ``language`` translation (itself when there
        is none). Keys, values and scoring stay the same, so answers score identically."""
        translation = self.translations.get(language)
        if translation is None:
            return self
        items = tuple(
            replace(
                item,
                text=translation.items[item.key],
                options=tuple(
                    replace(option, label=label)
                    for option, label in zip(
                        item.options, translation.options[item.option_set], strict=True
                    )
                ),
            )
            for item in self.items
        )
        return replace(
            self,
            name=translation.name,
            stem=translation.stem,
            copyright=translation.copyright,
            items=items,
            language=language,
        )

    def item(self, key: str) -> Item:
        for item in self.items:
            if item.key == key:
                return item
        raise KeyError(key)

    @property
    def scored_items(self) -> tuple[Item, ...]:
        return tuple(self.item(key) for key in self.scoring.items)

    @property
    def risk_items(self) -> tuple[Item, ...]:
        return tuple(item for item in self.items if item.risk_at_or_above is not None)

    def band_for(self, total: int) -> Band | None:
        return next((band for band in self.bands if band.contains(total)), None)

    def subscale(self, key: str) -> Subscale:
        for subscale in self.subscales:
            if subscale.key == key:
                return subscale
        raise KeyError(key)

    def to_json(self) -> dict[str, Any]:
        return json.loads(json.dumps(self.data))  # type: ignore[no-any-return]
