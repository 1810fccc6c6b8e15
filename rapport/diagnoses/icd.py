"""The ICD-10-CM code set (``simple-icd-10-cm``, CDC/NCHS, public domain): checking a code and
searching the billable ones by code or words, the practice's frequent codes first.

The search index (every billable code with its description, folded for matching) is built once
per process, on first use (about half a second once the package is loaded; the package
itself takes a few seconds to import, so it is loaded on first use too, not when a process
starts: pages that never search or check a code never pay for it).
"""

from __future__ import annotations

import heapq
import importlib
import re
import warnings
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from types import ModuleType

# Shipped list of codes (or code prefixes: "F32" stands for every billable F32.x) a mental-health
# practice uses most; a practice admin edits it (``FrequentCode``). Order is the order shown.
DEFAULT_FREQUENT = (
    "F32",  # major depressive disorder, single episode
    "F33",  # major depressive disorder, recurrent
    "F34.1",  # dysthymic disorder
    "F41.1",  # generalized anxiety disorder
    "F41.0",  # panic disorder
    "F41.9",
    "F43.10",  # post-traumatic stress disorder
    "F43.11",
    "F43.12",
    "F43.0",  # acute stress reaction
    "F43.2",  # adjustment disorders
    "F42",  # obsessive-compulsive disorder
    "F40",  # phobic anxiety disorders
    "F60.3",  # borderline personality disorder
    "F90",  # attention-deficit hyperactivity disorders
    "F50",  # eating disorders
    "F10.10",  # alcohol abuse, uncomplicated
    "F31",  # bipolar disorder
    "Z63.0",  # problems in relationship with spouse or partner
    "Z63.4",  # disappearance and death of family member (bereavement)
    "Z56",  # problems related to employment
    "Z59",  # problems related to housing and economic circumstances
    "Z60",  # problems related to social environment
    "Z62",  # problems related to upbringing
    "Z65",  # problems related to other psychosocial circumstances
    "Z71.89",  # other specified counseling
)

_CODE_LIKE = re.compile(r"^[A-Za-z]\d[0-9A-Za-z]?(\.?[0-9A-Za-z]{0,4})?$")


@cache
def _icd() -> ModuleType:
    with warnings.catch_warnings():
        # The package reads its data with importlib.resources' legacy API (DeprecationWarning).
        warnings.simplefilter("ignore", DeprecationWarning)
        return importlib.import_module("simple_icd_10_cm")


@dataclass(frozen=True)
class Code:
    code: str  # with its dot: "F41.1"
    description: str


@dataclass(frozen=True)
class _Entry:
    code: str
    bare: str  # without the dot, upper case: "F411"
    description: str
    folded: str  # the description in lower case, for word matching


def normalise(text: str) -> str:
    """A code as typed ("f4110", " F43.10 ") in ICD-10-CM's printed form ("F43.10")."""
    bare = text.strip().upper().replace(".", "").replace(" ", "")
    return f"{bare[:3]}.{bare[3:]}" if len(bare) > 3 else bare


def billable(code: str) -> Code | None:
    """The billable (leaf) code ``code`` with its description, or None: unknown, a chapter, a
    block, or a category with subdivisions (which a claim cannot carry)."""
    cm, code = _icd(), normalise(code)
    if not code or not cm.is_valid_item(code) or not cm.is_leaf(code):
        return None
    if not (cm.is_category(code) or cm.is_subcategory(code)):
        return None
    return Code(code, str(cm.get_description(code)))


def is_code(text: str) -> bool:
    """Whether ``text`` names an ICD-10-CM code or category (billable or not)."""
    cm, code = _icd(), normalise(text)
    if not code or not cm.is_valid_item(code):
        return False
    return bool(cm.is_category(code) or cm.is_subcategory(code))


@dataclass(frozen=True)
class _Index:
    entries: tuple[_Entry, ...]
    # Every folded description, one per line, and where each starts: a word is looked up in
    # this one string (a C-speed search) rather than in 74,000 strings one by one.
    text: str
    starts: tuple[int, ...]
    # The entries in the order of their bare codes, for prefix lookups by bisection.
    by_code: tuple[_Entry, ...]
    codes: tuple[str, ...]

    def starting_with(self, prefix: str) -> list[_Entry]:
        first = bisect_left(self.codes, prefix)
        last = bisect_left(self.codes, prefix + "\x7f")
        return list(self.by_code[first:last])

    def containing(self, word: str) -> list[_Entry]:
        found: dict[int, None] = {}
        at = self.text.find(word)
        while at != -1:
            index = bisect_right(self.starts, at) - 1
            found[index] = None
            at = self.text.find(
                word, self.starts[index + 1] if index + 1 < len(self.starts) else len(self.text)
            )
        return [self.entries[i] for i in found]


@cache
def _index() -> _Index:
    cm, entries = _icd(), []
    for code in cm.get_all_codes(with_dots=True):
        if cm.is_leaf(code) and (cm.is_category(code) or cm.is_subcategory(code)):
            description = str(cm.get_description(code))
            entries.append(_Entry(code, code.replace(".", ""), description, description.casefold()))
    starts, at = [], 0
    for entry in entries:
        starts.append(at)
        at += len(entry.folded) + 1
    text = "\n".join(e.folded for e in entries)
    by_code = tuple(sorted(entries, key=lambda e: e.bare))
    return _Index(tuple(entries), text, tuple(starts), by_code, tuple(e.bare for e in by_code))


def warm() -> None:
    """Build the index now (the worker and the first search would otherwise pay for it)."""
    _index()


def search(
    query: str, *, frequent: Sequence[str] = DEFAULT_FREQUENT, limit: int = 25
) -> list[Code]:
    """Billable codes matching ``query`` (a code or its start, or words each found in the
    description, "generalized anx"): the practice's frequent codes first in their order, then
    other mental-health (F) and social-circumstance (Z) codes, then the rest, each by code."""
    query = " ".join(query.split())
    if not query:
        return []
    if _CODE_LIKE.match(query):
        bare = query.upper().replace(".", "")
        matches = _index().starting_with(bare)
    else:
        words = sorted(query.casefold().split(), key=len, reverse=True)
        matches = [e for e in _index().containing(words[0]) if all(w in e.folded for w in words)]
    ranks = _frequent_ranks(tuple(frequent))

    def order(entry: _Entry) -> tuple[int, int, str]:
        position = ranks.get(entry.bare)
        if position is not None:
            return (0, position, entry.bare)
        return (1 if entry.code[0] in "FZ" else 2, 0, entry.bare)

    return [Code(e.code, e.description) for e in heapq.nsmallest(limit, matches, key=order)]


@lru_cache(maxsize=8)
def _frequent_ranks(frequent: tuple[str, ...]) -> dict[str, int]:
    """Each billable code a frequent entry covers (bare), with the entry's position: the first
    entry that covers it wins. Worked out once per list."""
    ranks: dict[str, int] = {}
    for position, prefix in enumerate(p.replace(".", "").upper() for p in frequent):
        for entry in _index().starting_with(prefix):
            ranks.setdefault(entry.bare, position)
    return ranks
