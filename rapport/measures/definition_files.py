"""Reading instrument definition files (the JSON format in ``instruments/README.md``).

``load_definition`` checks a whole file and reports every problem at once, so a practice
importing a licensed instrument can fix its file in one go. Unknown fields are refused: a typo
must never silently change how answers are scored. ``builtin_definitions`` reads the files that
ship with Rapport (all free to reproduce; see each file's ``licence``).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from rapport.measures.definitions import (
    Band,
    Caseness,
    Definition,
    DefinitionError,
    DiagnosticRule,
    Item,
    Option,
    ReliableChange,
    Scoring,
    Subscale,
    Translation,
)

FORMAT = 1
INSTRUMENTS_DIR = Path(__file__).resolve().parent / "instruments"

KEY_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")  # fits Instrument.key (SlugField, 40)
ITEM_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
LOINC_RE = re.compile(r"^\d{1,7}-\d$")
LOINC_ANSWER_RE = re.compile(r"^LA\d{1,7}-\d$")
LANGUAGE_RE = re.compile(r"^[a-z]{2}$")


_TOP_FIELDS = {
    "format": True,
    "key": True,
    "version": True,
    "name": True,
    "short_name": True,
    "construct": True,
    "validated": True,
    "copyright": True,
    "licence": True,
    "citation": False,
    "loinc": False,
    "stem": True,
    "option_sets": True,
    "items": True,
    "scoring": True,
    "range": True,
    "higher_is_worse": True,
    "bands": True,
    "caseness": False,
    "reliable_change": False,
    "subscales": False,
    "diagnostic_rule": False,
    "translations": False,
}


class _Checker:
    """Collects problems instead of stopping at the first one."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, message: str) -> None:
        self.problems.append(message)

    def fields(
        self, where: str, obj: object, required: set[str], optional: Collection[str] = ()
    ) -> dict[str, Any] | None:
        if not isinstance(obj, dict):
            self.problem(f"{where} must be an object")
            return None
        for name in sorted(set(obj) - required - set(optional)):
            self.problem(f"{where}: unknown field {name!r}")
        for name in sorted(required - set(obj)):
            self.problem(f"{where}: missing field {name!r}")
        return obj

    def text(
        self, where: str, value: object, *, max_length: int | None = None, blank: bool = False
    ) -> str | None:
        if not isinstance(value, str) or (not blank and not value.strip()):
            self.problem(f"{where} must be {'text' if blank else 'non-empty text'}")
            return None
        if max_length is not None and len(value) > max_length:
            self.problem(f"{where} must be at most {max_length} characters")
            return None
        return value

    def optional_text(self, where: str, value: object) -> str | None:
        return None if value is None else self.text(where, value)

    def integer(self, where: str, value: object, *, minimum: int | None = None) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(f"{where} must be a whole number")
            return None
        if minimum is not None and value < minimum:
            self.problem(f"{where} must be at least {minimum}")
            return None
        return value

    def boolean(self, where: str, value: object) -> bool | None:
        if not isinstance(value, bool):
            self.problem(f"{where} must be true or false")
            return None
        return value

    def pattern(self, where: str, value: object, regex: re.Pattern[str], what: str) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not regex.match(value):
            self.problem(f"{where} must be {what}")
            return None
        return value

    def key_list(
        self, where: str, value: object, known: Mapping[str, object], *, allow_empty: bool = True
    ) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
            self.problem(f"{where} must be a list of item keys")
            return ()
        if not value and not allow_empty:
            self.problem(f"{where} must name at least one item")
        if len(set(value)) != len(value):
            self.problem(f"{where} names an item more than once")
        for key in value:
            if key not in known:
                self.problem(f"{where} names unknown item {key!r}")
        return tuple(k for k in value if k in known)


def load_definition(data: Mapping[str, Any]) -> Definition:
    """Validate ``data`` (a parsed definition file); ``DefinitionError`` lists every problem."""
    check = _Checker()
    top = check.fields(
        "The definition",
        dict(data) if isinstance(data, Mapping) else data,
        {name for name, needed in _TOP_FIELDS.items() if needed},
        {name for name, needed in _TOP_FIELDS.items() if not needed},
    )
    if top is None:
        raise DefinitionError(check.problems)

    if "format" in top and top["format"] != FORMAT:
        check.problem(f"format must be {FORMAT}")
    key = check.pattern("key", top.get("key"), KEY_RE, "a slug of lower-case letters, digits, -")
    if "key" in top and top["key"] is None:
        check.problem("key must be a slug of lower-case letters, digits, -")
    version = check.text("version", top.get("version"), max_length=20)
    name = check.text("name", top.get("name"), max_length=200)
    short_name = check.text("short_name", top.get("short_name"), max_length=40)
    construct = check.text("construct", top.get("construct"))
    validated = check.boolean("validated", top.get("validated"))
    copyright_ = check.text("copyright", top.get("copyright"))
    licence = check.text("licence", top.get("licence"))
    citation = check.optional_text("citation", top.get("citation"))
    stem = check.text("stem", top.get("stem"), blank=True)
    higher_is_worse = check.boolean("higher_is_worse", top.get("higher_is_worse"))

    loinc_panel = loinc_total = None
    loinc = top.get("loinc")
    if loinc is not None:
        codes = check.fields("loinc", loinc, set(), {"panel", "total"})
        if codes is not None:
            loinc_panel = check.pattern("loinc.panel", codes.get("panel"), LOINC_RE, "a LOINC code")
            loinc_total = check.pattern("loinc.total", codes.get("total"), LOINC_RE, "a LOINC code")

    option_sets = _option_sets(check, top.get("option_sets"))
    items = _items(check, top.get("items"), option_sets)
    by_key = {item.key: item for item in items}
    scoring = _scoring(check, top.get("scoring"), by_key)
    range_min, range_max = _range(check, top.get("range"), scoring, by_key)
    bands = _bands(check, top.get("bands"), range_min, range_max)
    caseness = _caseness(check, top.get("caseness"), range_min, range_max)
    if caseness is not None and higher_is_worse is False:
        check.problem("caseness needs higher_is_worse: true (a case is at or above the cut-off)")
    reliable_change = _reliable_change(check, top.get("reliable_change"), range_min, range_max)
    subscales = _subscales(check, top.get("subscales", []), scoring, by_key)
    diagnostic_rule = _diagnostic_rule(check, top.get("diagnostic_rule"), subscales, by_key)
    translations = _translations(check, top.get("translations", {}), option_sets, items)

    if check.problems:
        raise DefinitionError(check.problems)
    assert key is not None and version is not None and name is not None  # noqa: S101
    assert short_name is not None and construct is not None and validated is not None  # noqa: S101
    assert copyright_ is not None and licence is not None and stem is not None  # noqa: S101
    assert higher_is_worse is not None and scoring is not None  # noqa: S101
    assert range_min is not None and range_max is not None  # noqa: S101
    return Definition(
        key=key,
        version=version,
        name=name,
        short_name=short_name,
        construct=construct,
        validated=validated,
        copyright=copyright_,
        licence=licence,
        citation=citation,
        loinc_panel=loinc_panel,
        loinc_total=loinc_total,
        stem=stem,
        items=tuple(items),
        scoring=scoring,
        range_min=range_min,
        range_max=range_max,
        higher_is_worse=higher_is_worse,
        bands=bands,
        caseness=caseness,
        reliable_change=reliable_change,
        subscales=subscales,
        diagnostic_rule=diagnostic_rule,
        data=json.loads(json.dumps(dict(top))),
        translations=translations,
    )


def _translations(
    check: _Checker,
    value: object,
    option_sets: Mapping[str, tuple[Option, ...]],
    items: list[Item],
) -> dict[str, Translation]:
    """Published translations: every item and every option label, and where they come from."""
    if not isinstance(value, dict):
        check.problem("translations must be an object keyed by language code")
        return {}
    translations = {}
    for language, body in value.items():
        where = f"translations.{language}"
        if not LANGUAGE_RE.match(language) or language == "en":
            check.problem(f"{where}: the key must be a two-letter language code other than en")
            continue
        fields = check.fields(
            where, body, {"source", "name", "stem", "copyright", "items", "options"}
        )
        if fields is None or set(fields) != {
            "source",
            "name",
            "stem",
            "copyright",
            "items",
            "options",
        }:
            continue
        texts = {
            name: check.text(f"{where}.{name}", fields[name], blank=name == "stem")
            for name in ("source", "name", "stem", "copyright")
        }
        item_texts = fields["items"]
        if not isinstance(item_texts, dict) or set(item_texts) != {i.key for i in items}:
            check.problem(f"{where}.items must give the text of every item, by key")
            item_texts = {}
        for key, text in item_texts.items():
            check.text(f"{where}.items.{key}", text)
        labels = fields["options"]
        if not isinstance(labels, dict) or set(labels) != set(option_sets):
            check.problem(f"{where}.options must give the labels of every option set")
            labels = {}
        for set_name, set_labels in labels.items():
            if (
                not isinstance(set_labels, list)
                or len(set_labels) != len(option_sets[set_name])
                or not all(isinstance(label, str) and label.strip() for label in set_labels)
                or len(set(set_labels)) != len(set_labels)
            ):
                check.problem(
                    f"{where}.options.{set_name} must list one label per option, in order, "
                    "each different"
                )
        if None not in texts.values() and item_texts and labels:
            translations[language] = Translation(
                language=language,
                source=str(texts["source"]),
                name=str(texts["name"]),
                stem=str(texts["stem"]),
                copyright=str(texts["copyright"]),
                items=dict(item_texts),
                options={name: tuple(labels[name]) for name in labels},
            )
    return translations


def _option_sets(check: _Checker, value: object) -> dict[str, tuple[Option, ...]]:
    if not isinstance(value, dict) or not value:
        check.problem("option_sets must be an object naming at least one set of options")
        return {}
    sets: dict[str, tuple[Option, ...]] = {}
    for set_name, options in value.items():
        where = f"option set {set_name!r}"
        if not isinstance(options, list) or not options:
            check.problem(f"{where} must be a non-empty list of options")
            continue
        parsed: list[Option] = []
        for index, raw in enumerate(options, start=1):
            option = check.fields(f"{where} option {index}", raw, {"value", "label"}, {"loinc"})
            if option is None:
                continue
            number = check.integer(f"{where} option {index} value", option.get("value"))
            label = check.text(f"{where} option {index} label", option.get("label"))
            code = check.pattern(
                f"{where} option {index} loinc",
                option.get("loinc"),
                LOINC_ANSWER_RE,
                "a LOINC answer code (LA…)",
            )
            if number is not None and label is not None:
                parsed.append(Option(number, label, code))
        values = [option.value for option in parsed]
        if len(set(values)) != len(values):
            check.problem(f"{where} repeats a value")
        labels = [option.label for option in parsed]
        if len(set(labels)) != len(labels):
            check.problem(f"{where} repeats a label")
        if len(parsed) == len(options):
            sets[set_name] = tuple(parsed)
    return sets


def _items(
    check: _Checker, value: object, option_sets: Mapping[str, tuple[Option, ...]]
) -> list[Item]:
    if not isinstance(value, list) or not value:
        check.problem("items must be a non-empty list")
        return []
    items: list[Item] = []
    seen: set[str] = set()
    for index, raw in enumerate(value, start=1):
        where = f"item {index}"
        item = check.fields(
            where, raw, {"key", "text", "options"}, {"loinc", "scored", "required", "risk"}
        )
        if item is None:
            continue
        key = item.get("key")
        if isinstance(key, str) and ITEM_KEY_RE.match(key):
            where = f"item {key!r}"
            if key in seen:
                check.problem(f"item key {key!r} is used more than once")
            seen.add(key)
        else:
            check.problem(f"{where} key must be 1 to 40 letters, digits, _ or -")
            key = None
        text = check.text(f"{where} text", item.get("text"))
        set_name = item.get("options")
        options = option_sets.get(set_name) if isinstance(set_name, str) else None
        if options is None and set_name not in (None, *option_sets):
            check.problem(f"{where} uses unknown option set {set_name!r}")
        code = check.pattern(f"{where} loinc", item.get("loinc"), LOINC_RE, "a LOINC code")
        scored = check.boolean(f"{where} scored", item.get("scored", True))
        required = check.boolean(f"{where} required", item.get("required", True))
        if scored and required is False:
            check.problem(
                f"{where}: a scored item cannot be optional (scoring.missing says how many "
                "answers may be missing)"
            )
        risk_at: int | None = None
        if item.get("risk") is not None:
            risk = check.fields(f"{where} risk", item["risk"], {"at_or_above"})
            if risk is not None:
                risk_at = check.integer(f"{where} risk threshold", risk.get("at_or_above"))
                if risk_at is not None and options is not None:
                    values = [option.value for option in options]
                    if not min(values) < risk_at <= max(values):
                        check.problem(
                            f"{where} risk threshold {risk_at} must lie above the lowest and "
                            f"at or below the highest answer value ({min(values)} to {max(values)})"
                        )
        if key is not None and text is not None and options is not None:
            assert isinstance(set_name, str)  # noqa: S101
            items.append(
                Item(
                    key=key,
                    text=text,
                    option_set=set_name,
                    options=options,
                    loinc=code,
                    scored=bool(scored),
                    required=bool(required),
                    risk_at_or_above=risk_at,
                )
            )
    return items


def _scoring(check: _Checker, value: object, by_key: Mapping[str, Item]) -> Scoring | None:
    scoring = check.fields("scoring", value, {"method", "items", "missing"}, {"reverse"})
    if scoring is None:
        return None
    if "method" in scoring and scoring["method"] != "sum":
        check.problem('scoring.method must be "sum"')
    keys = check.key_list("scoring.items", scoring.get("items"), by_key, allow_empty=False)
    reverse = check.key_list("scoring.reverse", scoring.get("reverse", []), by_key)
    for key in reverse:
        if key not in keys:
            check.problem(f"scoring.reverse names {key!r}, which is not a scored item")
    for key in keys:
        if not by_key[key].scored:
            check.problem(f"item {key!r} is marked unscored but listed in scoring.items")
    for key, item in by_key.items():
        if item.scored and key not in keys:
            check.problem(
                f"item {key!r} is scored but missing from scoring.items (or mark it "
                '"scored": false)'
            )
    allowed, method = 0, "refuse"
    missing = check.fields("scoring.missing", scoring.get("missing"), {"allowed", "method"})
    if missing is not None:
        allowed = check.integer("scoring.missing.allowed", missing.get("allowed"), minimum=0) or 0
        method = str(missing.get("method"))
        if method not in ("refuse", "prorate"):
            check.problem('scoring.missing.method must be "refuse" or "prorate"')
        elif method == "refuse" and allowed != 0:
            check.problem('scoring.missing.allowed must be 0 when the method is "refuse"')
        elif method == "prorate" and not 0 < allowed < len(keys):
            check.problem(
                "scoring.missing.allowed must be at least 1 and fewer than the scored items "
                'when the method is "prorate"'
            )
    if not keys or method not in ("refuse", "prorate"):
        return None
    return Scoring(
        method="sum",
        items=keys,
        reverse=reverse,
        missing_allowed=allowed,
        missing_method="prorate" if method == "prorate" else "refuse",
    )


def _range(
    check: _Checker, value: object, scoring: Scoring | None, by_key: Mapping[str, Item]
) -> tuple[int | None, int | None]:
    bounds = check.fields("range", value, {"min", "max"})
    if bounds is None:
        return None, None
    low = check.integer("range.min", bounds.get("min"))
    high = check.integer("range.max", bounds.get("max"))
    if low is None or high is None:
        return None, None
    if scoring is not None:
        expected_low = sum(by_key[key].min_value for key in scoring.items)
        expected_high = sum(by_key[key].max_value for key in scoring.items)
        if (low, high) != (expected_low, expected_high):
            check.problem(
                f"range {low} to {high} does not match the scored items' answers "
                f"({expected_low} to {expected_high})"
            )
    if low >= high:
        check.problem("range.min must be below range.max")
        return None, None
    return low, high


def _bands(check: _Checker, value: object, low: int | None, high: int | None) -> tuple[Band, ...]:
    if not isinstance(value, list):
        check.problem("bands must be a list (empty when the instrument has no bands)")
        return ()
    bands: list[Band] = []
    for index, raw in enumerate(value, start=1):
        fields = check.fields(f"band {index}", raw, {"min", "max", "label"}, ["client_label"])
        if fields is None:
            continue
        band_low = check.integer(f"band {index} min", fields.get("min"))
        band_high = check.integer(f"band {index} max", fields.get("max"))
        label = check.text(f"band {index} label", fields.get("label"))
        client_label = check.optional_text(f"band {index} client_label", fields.get("client_label"))
        if band_low is None or band_high is None or label is None:
            continue
        if band_low > band_high:
            check.problem(f"band {label!r} has min above max")
            continue
        bands.append(Band(band_low, band_high, label, client_label or ""))
    if len(bands) != len(value) or not bands or low is None or high is None:
        return tuple(bands)
    labels = [band.label for band in bands]
    if len(set(labels)) != len(labels):
        check.problem("bands repeat a label")
    expected = low
    for band in bands:
        if band.min > expected:
            check.problem(f"bands leave a gap: {expected} to {band.min - 1} is in no band")
        elif band.min < expected:
            check.problem(f"bands overlap or are out of order at {band.label!r}")
        expected = max(expected, band.max + 1)
    if bands[0].min < low or expected - 1 > high:
        check.problem(f"bands must stay within the range {low} to {high}")
    elif expected - 1 < high:
        check.problem(f"bands leave a gap: {expected} to {high} is in no band")
    return tuple(bands)


def _caseness(check: _Checker, value: object, low: int | None, high: int | None) -> Caseness | None:
    if value is None:
        return None
    caseness = check.fields("caseness", value, {"at_or_above", "source"})
    if caseness is None:
        return None
    threshold = check.integer("caseness.at_or_above", caseness.get("at_or_above"))
    source = check.text("caseness.source", caseness.get("source"))
    if threshold is None or source is None:
        return None
    if low is not None and high is not None and not low < threshold <= high:
        check.problem(f"caseness.at_or_above must lie within the range ({low + 1} to {high})")
    return Caseness(threshold, source)


def _reliable_change(
    check: _Checker, value: object, low: int | None, high: int | None
) -> ReliableChange | None:
    if value is None:
        return None
    change = check.fields("reliable_change", value, {"points", "source"})
    if change is None:
        return None
    points = check.integer("reliable_change.points", change.get("points"), minimum=1)
    source = check.text("reliable_change.source", change.get("source"))
    if points is None or source is None:
        return None
    if low is not None and high is not None and points > high - low:
        check.problem("reliable_change.points is larger than the whole range")
    return ReliableChange(points, source)


def _subscales(
    check: _Checker, value: object, scoring: Scoring | None, by_key: Mapping[str, Item]
) -> tuple[Subscale, ...]:
    if not isinstance(value, list):
        check.problem("subscales must be a list")
        return ()
    scored = set(scoring.items) if scoring is not None else set(by_key)
    subscales: list[Subscale] = []
    for index, raw in enumerate(value, start=1):
        subscale = check.fields(
            f"subscale {index}", raw, {"key", "name", "items"}, {"positive_at_or_above"}
        )
        if subscale is None:
            continue
        key = check.text(f"subscale {index} key", subscale.get("key"), max_length=40)
        name = check.text(f"subscale {index} name", subscale.get("name"))
        where = f"subscale {key!r}" if key else f"subscale {index}"
        keys = check.key_list(f"{where} items", subscale.get("items"), by_key, allow_empty=False)
        for item_key in keys:
            if item_key not in scored:
                check.problem(f"{where} includes unscored item {item_key!r}")
        positive = subscale.get("positive_at_or_above")
        if positive is not None:
            positive = check.integer(f"{where} positive_at_or_above", positive)
            if positive is not None and keys and all(k in by_key for k in keys):
                low = sum(by_key[k].min_value for k in keys)
                high = sum(by_key[k].max_value for k in keys)
                if not low < positive <= high:
                    check.problem(
                        f"{where} positive_at_or_above must lie within its range "
                        f"({low + 1} to {high})"
                    )
        if key is not None and name is not None and keys:
            if any(existing.key == key for existing in subscales):
                check.problem(f"subscale key {key!r} is used more than once")
            subscales.append(Subscale(key, name, keys, positive))
    return tuple(subscales)


def _diagnostic_rule(
    check: _Checker,
    value: object,
    subscales: tuple[Subscale, ...],
    by_key: Mapping[str, Item],
) -> DiagnosticRule | None:
    if value is None:
        return None
    rule = check.fields("diagnostic_rule", value, {"item_counts_at_or_above", "clusters"})
    if rule is None:
        return None
    threshold = check.integer(
        "diagnostic_rule.item_counts_at_or_above", rule.get("item_counts_at_or_above")
    )
    clusters = rule.get("clusters")
    if not isinstance(clusters, dict) or not clusters:
        check.problem("diagnostic_rule.clusters must name at least one subscale")
        return None
    known = {subscale.key: subscale for subscale in subscales}
    needed: list[tuple[str, int]] = []
    for key, count in clusters.items():
        where = f"diagnostic_rule cluster {key!r}"
        number = check.integer(f"{where} count", count, minimum=1)
        if key not in known:
            check.problem(f"{where} is not a subscale")
            continue
        if number is None:
            continue
        if number > len(known[key].items):
            check.problem(f"{where} needs more items than the subscale has")
        if threshold is not None:
            for item_key in known[key].items:
                item = by_key[item_key]
                if not item.min_value < threshold <= item.max_value:
                    check.problem(
                        f"diagnostic_rule.item_counts_at_or_above must lie within the answers "
                        f"of item {item_key!r}"
                    )
                    break
        needed.append((key, number))
    if threshold is None or len(needed) != len(clusters):
        return None
    return DiagnosticRule(threshold, tuple(needed))


# --- Built-in instruments ----------------------------------------------------------------------


@functools.cache
def _builtin() -> tuple[Definition, ...]:
    definitions = []
    for path in sorted(INSTRUMENTS_DIR.glob("*.json")):
        try:
            definitions.append(load_definition(json.loads(path.read_text(encoding="utf-8"))))
        except DefinitionError as error:
            raise DefinitionError(
                [f"{path.name}: {problem}" for problem in error.problems]
            ) from None
    return tuple(definitions)


def builtin_definitions() -> list[Definition]:
    """Every instrument that ships with Rapport, in file-name order."""
    return list(_builtin())


def builtin_definition(key: str) -> Definition:
    """The built-in instrument with this key (``KeyError`` if there is none)."""
    for definition in _builtin():
        if definition.key == key:
            return definition
    raise KeyError(key)
