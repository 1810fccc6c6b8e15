"""Instrument definitions and scoring: every built-in instrument against its published rules.

Item wording and codes are checked against the published texts (a paraphrased item is no longer
the validated instrument); scores at every band boundary on both sides; missing answers; risk
items; subscales and the PCL-5 provisional diagnosis; reliable change on both sides of each
threshold; and every reason a definition file is refused.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

import pytest

from rapport.measures.definition_files import (
    INSTRUMENTS_DIR,
    builtin_definition,
    builtin_definitions,
    load_definition,
)
from rapport.measures.definitions import Definition, DefinitionError
from rapport.measures.scoring import Score, ScoringError, classify_change, score

BUILTIN_KEYS = ["gad2", "gad7", "k10", "pcl5", "phq2", "phq4", "phq9", "rapport-feedback"]
VALIDATED_KEYS = [key for key in BUILTIN_KEYS if key != "rapport-feedback"]
BANDED_KEYS = [key for key in BUILTIN_KEYS if builtin_definition(key).bands]

PHQ9_TEXTS = [
    "Little interest or pleasure in doing things",
    "Feeling down, depressed, or hopeless",
    "Trouble falling or staying asleep, or sleeping too much",
    "Feeling tired or having little energy",
    "Poor appetite or overeating",
    "Feeling bad about yourself — or that you are a failure or have let yourself or your family"
    " down",
    "Trouble concentrating on things, such as reading the newspaper or watching television",
    "Moving or speaking so slowly that other people could have noticed? Or the opposite — being so"
    " fidgety or restless that you have been moving around a lot more than usual",
    "Thoughts that you would be better off dead or of hurting yourself in some way",
]
PHQ9_LOINC = [
    "44250-9",
    "44255-8",
    "44259-0",
    "44254-1",
    "44251-7",
    "44258-2",
    "44252-5",
    "44253-3",
    "44260-8",
]
GAD7_TEXTS = [
    "Feeling nervous, anxious, or on edge",
    "Not being able to stop or control worrying",
    "Worrying too much about different things",
    "Trouble relaxing",
    "Being so restless that it is hard to sit still",
    "Becoming easily annoyed or irritable",
    "Feeling afraid, as if something awful might happen",
]
GAD7_LOINC = ["69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7"]
FREQUENCY = [
    (0, "Not at all", "LA6568-5"),
    (1, "Several days", "LA6569-3"),
    (2, "More than half the days", "LA6570-1"),
    (3, "Nearly every day", "LA6571-9"),
]
K10_TEXTS = [
    "tired out for no good reason?",
    "nervous?",
    "so nervous that nothing could calm you down?",
    "hopeless?",
    "restless or fidgety?",
    "so restless you could not sit still?",
    "depressed?",
    "that everything was an effort?",
    "so sad that nothing could cheer you up?",
    "worthless?",
]
PCL5_TEXTS = [
    "Repeated, disturbing, and unwanted memories of the stressful experience?",
    "Repeated, disturbing dreams of the stressful experience?",
    "Suddenly feeling or acting as if the stressful experience were actually happening again (as"
    " if you were actually back there reliving it)?",
    "Feeling very upset when something reminded you of the stressful experience?",
    "Having strong physical reactions when something reminded you of the stressful experience"
    " (for example, heart pounding, trouble breathing, sweating)?",
    "Avoiding memories, thoughts, or feelings related to the stressful experience?",
    "Avoiding external reminders of the stressful experience (for example, people, places,"
    " conversations, activities, objects, or situations)?",
    "Trouble remembering important parts of the stressful experience?",
    "Having strong negative beliefs about yourself, other people, or the world (for example,"
    " having thoughts such as: I am bad, there is something seriously wrong with me, no one can be"
    " trusted, the world is completely dangerous)?",
    "Blaming yourself or someone else for the stressful experience or what happened after it?",
    "Having strong negative feelings such as fear, horror, anger, guilt, or shame?",
    "Loss of interest in activities that you used to enjoy?",
    "Feeling distant or cut off from other people?",
    "Trouble experiencing positive feelings (for example, being unable to feel happiness or have"
    " loving feelings for people close to you)?",
    "Irritable behavior, angry outbursts, or acting aggressively?",
    "Taking too many risks or doing things that could cause you harm?",
    "Being “superalert” or watchful or on guard?",
    "Feeling jumpy or easily startled?",
    "Having difficulty concentrating?",
    "Trouble falling or staying asleep?",
]


def all_at(definition: Definition, which: str) -> dict[str, int | None]:
    """Every scored item at its lowest (``"min"``) or highest (``"max"``) answer."""
    return {
        item.key: item.min_value if which == "min" else item.max_value
        for item in definition.scored_items
    }


def answers_for_total(definition: Definition, total: int) -> dict[str, int | None]:
    """Answers (no reverse-scored items) whose scored total is exactly ``total``."""
    assert not definition.scoring.reverse
    answers = all_at(definition, "min")
    remaining = total - definition.range_min
    for item in definition.scored_items:
        step = min(remaining, item.max_value - item.min_value)
        answers[item.key] = item.min_value + step
        remaining -= step
    assert remaining == 0
    return answers


def by_key(values: list[int]) -> dict[str, int | None]:
    return {str(number): value for number, value in enumerate(values, start=1)}


# --- The built-in files -------------------------------------------------------------------------


def test_every_builtin_file_loads_and_keys_match_file_names() -> None:
    definitions = builtin_definitions()
    assert [d.key for d in definitions] == BUILTIN_KEYS
    assert sorted(p.stem for p in INSTRUMENTS_DIR.glob("*.json")) == BUILTIN_KEYS
    for definition in definitions:
        assert definition.validated is (definition.key != "rapport-feedback")
        assert definition.licence and definition.copyright
        assert definition.version == "1"


@pytest.mark.parametrize("key", BUILTIN_KEYS)
def test_definition_round_trips_through_its_json(key: str) -> None:
    definition = builtin_definition(key)
    data = definition.to_json()
    assert data == json.loads((INSTRUMENTS_DIR / f"{key}.json").read_text(encoding="utf-8"))
    assert load_definition(data) == definition
    data["name"] = "changed"  # a copy: the loaded definition is unaffected
    assert definition.to_json()["name"] != "changed"


def test_unknown_builtin_key() -> None:
    with pytest.raises(KeyError):
        builtin_definition("srs")


def test_phq9_is_verbatim_with_loinc_codes() -> None:
    phq9 = builtin_definition("phq9")
    assert phq9.stem == (
        "Over the last 2 weeks, how often have you been bothered by any of the following problems?"
    )
    assert (phq9.loinc_panel, phq9.loinc_total) == ("44249-1", "44261-6")
    scored = phq9.scored_items
    assert [item.text for item in scored] == PHQ9_TEXTS
    assert [item.loinc for item in scored] == PHQ9_LOINC
    for item in scored:
        assert [(o.value, o.label, o.loinc) for o in item.options] == FREQUENCY
    difficulty = phq9.item("10")
    assert not difficulty.scored and not difficulty.required
    assert difficulty.loinc == "69722-7"
    assert difficulty.text.startswith("If you checked off any problems, how difficult")
    assert [o.label for o in difficulty.options] == [
        "Not difficult at all",
        "Somewhat difficult",
        "Very difficult",
        "Extremely difficult",
    ]
    assert [item.key for item in phq9.risk_items] == ["9"]
    assert phq9.item("9").risk_at_or_above == 1
    assert "no permission is required" in phq9.licence


def test_gad7_is_verbatim_with_loinc_codes() -> None:
    gad7 = builtin_definition("gad7")
    assert gad7.stem == (
        "Over the last 2 weeks, how often have you been bothered by the following problems?"
    )
    assert (gad7.loinc_panel, gad7.loinc_total) == ("69737-5", "70274-6")
    assert [item.text for item in gad7.items] == GAD7_TEXTS
    assert [item.loinc for item in gad7.items] == GAD7_LOINC
    for item in gad7.items:
        assert [(o.value, o.label, o.loinc) for o in item.options] == FREQUENCY
    assert gad7.risk_items == ()


def test_brief_screeners_reuse_the_parent_items_by_code() -> None:
    phq2, gad2, phq4 = (builtin_definition(k) for k in ("phq2", "gad2", "phq4"))
    assert [(i.text, i.loinc) for i in phq2.items] == list(
        zip(PHQ9_TEXTS[:2], PHQ9_LOINC[:2], strict=True)
    )
    assert [(i.text, i.loinc) for i in gad2.items] == list(
        zip(GAD7_TEXTS[:2], GAD7_LOINC[:2], strict=True)
    )
    assert (phq2.loinc_panel, phq2.loinc_total) == ("55757-9", "55758-7")
    assert phq4.loinc_total == "70272-0"
    # PHQ-4 keys are its own; its subscales are found by LOINC code, not by position.
    anxiety = {phq4.item(k).loinc for k in phq4.subscale("anxiety").items}
    depression = {phq4.item(k).loinc for k in phq4.subscale("depression").items}
    assert anxiety == set(GAD7_LOINC[:2])
    assert depression == set(PHQ9_LOINC[:2])
    assert {i.text for i in phq4.items} == set(GAD7_TEXTS[:2]) | set(PHQ9_TEXTS[:2])


def test_k10_is_verbatim_scored_one_to_five() -> None:
    k10 = builtin_definition("k10")
    assert k10.stem == "During the last 30 days, about how often did you feel …"
    assert [item.text for item in k10.items] == K10_TEXTS
    assert [(o.value, o.label) for o in k10.items[0].options] == [
        (1, "None of the time"),
        (2, "A little of the time"),
        (3, "Some of the time"),
        (4, "Most of the time"),
        (5, "All of the time"),
    ]
    assert (k10.range_min, k10.range_max) == (10, 50)
    assert k10.risk_items == ()
    assert k10.copyright == "© World Health Organization 2003"
    assert "Kessler" in (k10.citation or "")


def test_pcl5_is_verbatim_with_clusters() -> None:
    pcl5 = builtin_definition("pcl5")
    assert pcl5.stem == "In the past month, how much were you bothered by:"
    assert [item.text for item in pcl5.items] == PCL5_TEXTS
    assert [o.label for o in pcl5.items[0].options] == [
        "Not at all",
        "A little bit",
        "Moderately",
        "Quite a bit",
        "Extremely",
    ]
    clusters = {s.key: s.items for s in pcl5.subscales}
    assert clusters == {
        "B": ("1", "2", "3", "4", "5"),
        "C": ("6", "7"),
        "D": ("8", "9", "10", "11", "12", "13", "14"),
        "E": ("15", "16", "17", "18", "19", "20"),
    }
    assert pcl5.diagnostic_rule is not None
    assert pcl5.diagnostic_rule.item_counts_at_or_above == 2
    assert dict(pcl5.diagnostic_rule.clusters) == {"B": 1, "C": 1, "D": 2, "E": 2}
    assert "public domain" in pcl5.licence


def test_feedback_form_is_labelled_as_not_validated() -> None:
    feedback = builtin_definition("rapport-feedback")
    assert not feedback.validated
    assert feedback.copyright == "Rapport"
    assert feedback.licence == "Rapport's own feedback form; not a validated instrument"
    assert [(i.key, i.text) for i in feedback.items] == [
        ("heard", "How heard and understood did you feel today?"),
        ("goals", "Did we work on what you wanted to work on?"),
        ("approach", "How well did today's approach suit you?"),
        ("overall", "Overall, how was today's session?"),
        ("technology", "How well did the technology work?"),
    ]
    for item in feedback.items:
        assert item.values == (0, 1, 2, 3, 4)
        assert all(option.label for option in item.options)
    assert not feedback.higher_is_worse
    assert (feedback.bands, feedback.caseness, feedback.reliable_change) == ((), None, None)
    assert feedback.risk_items == ()


@pytest.mark.parametrize(
    ("key", "points", "source_mentions"),
    [
        ("phq9", 6, ["NHS Talking Therapies"]),
        ("gad7", 4, ["NHS Talking Therapies", "Jacobson", "6 points"]),
        ("phq2", 3, ["estimate"]),
        ("gad2", 3, ["estimate"]),
        ("phq4", 4, ["estimate"]),
        ("k10", 10, ["estimate", "Jacobson"]),
        ("pcl5", 10, ["National Center for PTSD", "5\u201310", "10\u201320"]),
    ],
)
def test_reliable_change_thresholds_name_their_source(
    key: str, points: int, source_mentions: list[str]
) -> None:
    reliable = builtin_definition(key).reliable_change
    assert reliable is not None
    assert reliable.points == points
    for phrase in source_mentions:
        assert phrase in reliable.source


# --- Totals and bands ---------------------------------------------------------------------------


@pytest.mark.parametrize("key", BUILTIN_KEYS)
def test_all_minimum_and_all_maximum(key: str) -> None:
    definition = builtin_definition(key)
    low = score(definition, all_at(definition, "min"))
    high = score(definition, all_at(definition, "max"))
    assert (low.total, high.total) == (definition.range_min, definition.range_max)
    assert low.complete and high.complete and not low.prorated and not high.prorated
    if definition.bands:
        assert (low.band, high.band) == (definition.bands[0].label, definition.bands[-1].label)
    else:
        assert low.band is None and high.band is None
    if definition.caseness is not None:
        assert (low.caseness, high.caseness) == (False, True)
    else:
        assert low.caseness is None and high.caseness is None
    assert low.risk_items == []
    assert high.risk_items == [item.key for item in definition.risk_items]


EXPECTED_BANDS = {
    "phq9": [
        (0, 4, "Minimal"),
        (5, 9, "Mild"),
        (10, 14, "Moderate"),
        (15, 19, "Moderately severe"),
        (20, 27, "Severe"),
    ],
    "gad7": [(0, 4, "Minimal"), (5, 9, "Mild"), (10, 14, "Moderate"), (15, 21, "Severe")],
    "phq4": [(0, 2, "Normal"), (3, 5, "Mild"), (6, 8, "Moderate"), (9, 12, "Severe")],
    "k10": [(10, 15, "Low"), (16, 21, "Moderate"), (22, 29, "High"), (30, 50, "Very high")],
    "phq2": [(0, 2, "Below cut-off"), (3, 6, "Positive screen")],
    "gad2": [(0, 2, "Below cut-off"), (3, 6, "Positive screen")],
    "pcl5": [(0, 32, "Below the probable-PTSD cut-off"), (33, 80, "Probable PTSD")],
}


@pytest.mark.parametrize("key", BANDED_KEYS)
def test_bands_are_the_published_ones(key: str) -> None:
    bands = builtin_definition(key).bands
    assert [(b.min, b.max, b.label) for b in bands] == EXPECTED_BANDS[key]


BOUNDARIES = [
    (key, total, label)
    for key, bands in EXPECTED_BANDS.items()
    for low, high, label in bands
    for total in sorted({low, high})
]


@pytest.mark.parametrize(("key", "total", "label"), BOUNDARIES)
def test_every_band_boundary_on_both_sides(key: str, total: int, label: str) -> None:
    definition = builtin_definition(key)
    result = score(definition, answers_for_total(definition, total))
    assert result.total == total
    assert result.band == label


@pytest.mark.parametrize(
    ("key", "cut_off"),
    [("phq9", 10), ("gad7", 8), ("phq2", 3), ("gad2", 3), ("k10", 22), ("pcl5", 33)],
)
def test_caseness_on_both_sides_of_the_cut_off(key: str, cut_off: int) -> None:
    definition = builtin_definition(key)
    assert definition.caseness is not None and definition.caseness.at_or_above == cut_off
    assert score(definition, answers_for_total(definition, cut_off - 1)).caseness is False
    assert score(definition, answers_for_total(definition, cut_off)).caseness is True


def test_phq4_and_feedback_have_no_total_caseness() -> None:
    for key in ("phq4", "rapport-feedback"):
        definition = builtin_definition(key)
        assert score(definition, all_at(definition, "max")).caseness is None


# --- Risk items ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("answer", "positive"), [(0, False), (1, True), (2, True), (3, True)])
def test_phq9_item_9_at_or_above_one_is_a_risk(answer: int, positive: bool) -> None:
    phq9 = builtin_definition("phq9")
    answers = all_at(phq9, "min") | {"9": answer}
    result = score(phq9, answers)
    assert result.risk_items == (["9"] if positive else [])
    assert result.risk_positive is positive
    assert result.risk_unanswered == []


def test_risk_is_about_item_9_not_the_total() -> None:
    phq9 = builtin_definition("phq9")
    severe_without_item_9 = by_key([3, 3, 3, 3, 3, 3, 3, 3, 0])
    assert score(phq9, severe_without_item_9).risk_items == []
    mild_with_item_9 = by_key([0, 0, 0, 0, 0, 0, 0, 0, 1])
    result = score(phq9, mild_with_item_9)
    assert (result.total, result.band, result.risk_items) == (1, "Minimal", ["9"])


def test_a_skipped_item_9_is_never_read_as_no_risk() -> None:
    phq9 = builtin_definition("phq9")
    skipped = by_key([1, 1, 1, 1, 1, 1, 1, 1, 0]) | {"9": None}
    # Risk items must be answered: no total is prorated around a skipped safety question.
    with pytest.raises(ScoringError, match="item 9 needs an answer"):
        score(phq9, skipped)
    draft = score(phq9, skipped, allow_incomplete=True)
    assert draft.risk_items == []
    assert draft.risk_unanswered == ["9"]
    assert not draft.complete


def test_instruments_without_risk_items_report_none() -> None:
    for key in ("gad7", "k10", "pcl5", "phq4", "rapport-feedback"):
        definition = builtin_definition(key)
        result = score(definition, all_at(definition, "max"))
        assert result.risk_items == [] and result.risk_unanswered == []


# --- Unscored items -----------------------------------------------------------------------------


def test_phq9_difficulty_item_is_optional_and_unscored() -> None:
    phq9 = builtin_definition("phq9")
    answers = all_at(phq9, "min")
    assert score(phq9, answers).total == 0
    assert score(phq9, answers | {"10": 3}).total == 0
    assert score(phq9, answers | {"10": None}).complete
    with pytest.raises(ScoringError, match="item 10"):
        score(phq9, answers | {"10": 4})


def test_a_required_unscored_item_must_be_answered() -> None:
    data = small_definition()
    data["items"].append({"key": "note", "text": "Context", "options": "scale", "scored": False})
    definition = load_definition(data)
    with pytest.raises(ScoringError, match="note needs an answer"):
        score(definition, {"a": 1, "b": 1, "c": 1})
    assert score(definition, {"a": 1, "b": 2, "c": 1, "note": 0}).total == 3
    draft = score(definition, {"a": 1, "b": 2, "c": 1}, allow_incomplete=True)
    assert draft.total == 3 and not draft.complete and draft.missing == []


# --- Bad answers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "answers", "message"),
    [
        ("phq9", {"11": 0}, "has no item 11"),
        ("gad7", {"q1": 0}, "has no item q1"),
        ("phq9", {"1": 4}, "item 1: 4 is not one of its answers"),
        ("phq9", {"1": -1}, "is not one of its answers"),
        ("phq9", {"1": True}, "is not one of its answers"),
        ("phq9", {"1": "1"}, "is not one of its answers"),
        ("phq9", {"1": 1.0}, "is not one of its answers"),
        ("k10", {"1": 0}, r"\(1, 2, 3, 4, 5\)"),
        ("k10", {"1": 6}, "is not one of its answers"),
        ("pcl5", {"1": 5}, "is not one of its answers"),
        ("rapport-feedback", {"heard": 5}, "is not one of its answers"),
    ],
)
def test_unknown_items_and_values_outside_the_options_are_refused(
    key: str, answers: Mapping[str, Any], message: str
) -> None:
    definition = builtin_definition(key)
    full = all_at(definition, "min") | dict(answers)
    with pytest.raises(ScoringError, match=message):
        score(definition, full)
    with pytest.raises(ScoringError, match=message):
        score(definition, full, allow_incomplete=True)


# --- Missing answers ----------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["gad7", "phq2", "gad2", "phq4", "k10", "pcl5", "rapport-feedback"])
def test_instruments_that_refuse_any_missing_answer(key: str) -> None:
    definition = builtin_definition(key)
    assert definition.scoring.missing_method == "refuse"
    first = definition.scoring.items[0]
    for answers in (
        all_at(definition, "min") | {first: None},
        {k: v for k, v in all_at(definition, "min").items() if k != first},
    ):
        with pytest.raises(ScoringError, match=f"every item needs an answer; unanswered: {first}"):
            score(definition, answers)
        draft = score(definition, answers, allow_incomplete=True)
        assert draft.total is None and draft.band is None and draft.caseness is None
        assert not draft.complete and draft.missing == [first]


def test_phq9_prorates_one_or_two_missing_answers() -> None:
    phq9 = builtin_definition("phq9")
    assert (phq9.scoring.missing_method, phq9.scoring.missing_allowed) == ("prorate", 2)
    # 8 answered summing to 10: 10 x 9 / 8 = 11.25 -> 11.
    one_missing = by_key([2, 2, 2, 1, 1, 1, 1, 0, 0]) | {"8": None}
    result = score(phq9, one_missing)
    assert (result.total, result.band, result.caseness) == (11, "Moderate", True)
    assert result.prorated and not result.complete and result.missing == ["8"]
    # Halves round up: 8 answered summing to 4 -> 4.5 -> 5.
    half = by_key([1, 1, 1, 1, 0, 0, 0, 0, 0])
    del half["5"]
    assert score(phq9, half).total == 5
    # Two missing: 7 answered summing to 21 (all 3s) -> 27.
    two_missing = by_key([3] * 9) | {"1": None, "2": None}
    assert score(phq9, two_missing).total == 27


def test_phq9_with_three_missing_answers_is_refused() -> None:
    phq9 = builtin_definition("phq9")
    answers = by_key([1] * 9) | {"1": None, "4": None, "7": None}
    with pytest.raises(ScoringError, match=r"3 items are unanswered \(1, 4, 7\); at most 2"):
        score(phq9, answers)
    draft = score(phq9, answers, allow_incomplete=True)
    assert draft.total is None and draft.missing == ["1", "4", "7"] and not draft.prorated


def test_an_empty_draft_scores_to_nothing() -> None:
    phq9 = builtin_definition("phq9")
    draft = score(phq9, {}, allow_incomplete=True)
    assert draft == Score(
        total=None,
        band=None,
        complete=False,
        missing=[str(n) for n in range(1, 10)],
        risk_unanswered=["9"],
    )


# --- Subscales and the PCL-5 provisional diagnosis ----------------------------------------------


@pytest.mark.parametrize(
    ("answers", "subscales", "positive", "total", "band"),
    [
        ([0, 0, 0, 0], {"anxiety": 0, "depression": 0}, {"anxiety": False, "depression": False}, 0,
         "Normal"),
        ([2, 1, 1, 1], {"anxiety": 3, "depression": 2}, {"anxiety": True, "depression": False}, 5,
         "Mild"),
        ([1, 1, 3, 0], {"anxiety": 2, "depression": 3}, {"anxiety": False, "depression": True}, 5,
         "Mild"),
        ([3, 3, 3, 3], {"anxiety": 6, "depression": 6}, {"anxiety": True, "depression": True}, 12,
         "Severe"),
    ],
)  # fmt: skip
def test_phq4_subscales(
    answers: list[int],
    subscales: dict[str, int],
    positive: dict[str, bool],
    total: int,
    band: str,
) -> None:
    result = score(builtin_definition("phq4"), by_key(answers))
    assert result.subscales == subscales
    assert result.subscale_positive == positive
    assert (result.total, result.band) == (total, band)


def pcl5_answers(b: int, c: int, d: int, e: int, value: int = 2) -> dict[str, int | None]:
    """PCL-5 answers with the first ``b``/``c``/``d``/``e`` items of each cluster at ``value``."""
    answers: dict[str, int | None] = {str(n): 0 for n in range(1, 21)}
    for start, count in ((1, b), (6, c), (8, d), (15, e)):
        for n in range(start, start + count):
            answers[str(n)] = value
    return answers


def test_pcl5_cluster_scores() -> None:
    result = score(builtin_definition("pcl5"), by_key(list(range(5)) * 4))
    # items 1-20 answered 0,1,2,3,4,0,1,...: B = 0+1+2+3+4, C = 0+1, D = 2+3+4+0+1+2+3, E = 4+0+...
    assert result.subscales == {"B": 10, "C": 1, "D": 15, "E": 14}
    assert result.subscale_positive == {}
    assert result.total == 40


@pytest.mark.parametrize(
    ("clusters", "value", "diagnosis"),
    [
        ((1, 1, 2, 2), 2, True),
        ((5, 2, 7, 6), 4, True),
        ((0, 1, 2, 2), 2, False),
        ((1, 0, 2, 2), 2, False),
        ((1, 1, 1, 2), 2, False),
        ((1, 1, 2, 1), 2, False),
        ((5, 2, 7, 6), 1, False),  # "A little bit" never counts as a symptom
    ],
)
def test_pcl5_provisional_diagnosis(
    clusters: tuple[int, int, int, int], value: int, diagnosis: bool
) -> None:
    result = score(builtin_definition("pcl5"), pcl5_answers(*clusters, value=value))
    assert result.diagnosis is diagnosis


def test_pcl5_diagnosis_and_severity_cut_off_are_independent() -> None:
    pcl5 = builtin_definition("pcl5")
    minimal = score(pcl5, pcl5_answers(1, 1, 2, 2))
    assert minimal.diagnosis is True and minimal.total == 12 and minimal.caseness is False
    spread = score(pcl5, {str(n): 1 for n in range(1, 21)} | {"1": 3, "2": 3, "3": 3, "4": 3})
    assert spread.total == 28 and spread.diagnosis is False


def test_no_diagnosis_without_a_rule() -> None:
    for key in ("phq9", "gad7", "k10", "phq4"):
        definition = builtin_definition(key)
        assert score(definition, all_at(definition, "max")).diagnosis is None


# --- Reverse scoring (no built-in has it: a small test definition) ------------------------------


def small_definition(**changes: Any) -> dict[str, Any]:
    """A valid definition: three 0-3 items, ``b`` reverse scored, one subscale, a risk item."""
    data: dict[str, Any] = {
        "format": 1,
        "key": "test-scale",
        "version": "1",
        "name": "Test scale",
        "short_name": "TS",
        "construct": "testing",
        "validated": True,
        "copyright": "Nobody",
        "licence": "For tests only.",
        "citation": None,
        "loinc": None,
        "stem": "How often?",
        "option_sets": {
            "scale": [
                {"value": 0, "label": "Never"},
                {"value": 1, "label": "Sometimes"},
                {"value": 2, "label": "Often"},
                {"value": 3, "label": "Always"},
            ]
        },
        "items": [
            {"key": "a", "text": "Item a", "options": "scale", "risk": {"at_or_above": 3}},
            {"key": "b", "text": "Item b (reversed)", "options": "scale"},
            {"key": "c", "text": "Item c", "options": "scale"},
        ],
        "scoring": {
            "method": "sum",
            "items": ["a", "b", "c"],
            "reverse": ["b"],
            "missing": {"allowed": 1, "method": "prorate"},
        },
        "range": {"min": 0, "max": 9},
        "higher_is_worse": True,
        "bands": [{"min": 0, "max": 4, "label": "Low"}, {"min": 5, "max": 9, "label": "High"}],
        "caseness": {"at_or_above": 5, "source": "Test"},
        "reliable_change": {"points": 3, "source": "Test"},
        "subscales": [
            {"key": "ab", "name": "A and B", "items": ["a", "b"], "positive_at_or_above": 4}
        ],
        "diagnostic_rule": None,
    }
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("answers", "total", "ab", "band", "risk"),
    [
        ({"a": 0, "b": 3, "c": 0}, 0, 0, "Low", []),
        ({"a": 0, "b": 0, "c": 0}, 3, 3, "Low", []),
        ({"a": 3, "b": 0, "c": 3}, 9, 6, "High", ["a"]),
        ({"a": 3, "b": 3, "c": 3}, 6, 3, "High", ["a"]),
        ({"a": 1, "b": 2, "c": 2}, 4, 2, "Low", []),
    ],
)
def test_reverse_scored_items(
    answers: dict[str, int | None], total: int, ab: int, band: str, risk: list[str]
) -> None:
    result = score(load_definition(small_definition()), answers)
    assert result.total == total
    assert result.subscales == {"ab": ab}
    assert result.subscale_positive == {"ab": ab >= 4}
    assert result.band == band
    assert result.risk_items == risk  # risk reads the answer as given, not the reversed value


def test_prorating_uses_reversed_values_and_skips_incomplete_subscales() -> None:
    definition = load_definition(small_definition())
    result = score(definition, {"a": 1, "b": 0})  # scored 1 + 3 = 4 over 2 items -> 6
    assert (result.total, result.prorated, result.missing) == (6, True, ["c"])
    assert result.subscales == {"ab": 4}
    with pytest.raises(ScoringError, match="item a needs an answer"):
        score(definition, {"b": 0, "c": 1})  # "a" is the risk item
    partial = score(definition, {"b": 0, "c": 1}, allow_incomplete=True)
    assert partial.subscales == {} and partial.subscale_positive == {}
    assert partial.risk_unanswered == ["a"]


def test_higher_is_better_instruments_classify_change_the_other_way() -> None:
    definition = load_definition(small_definition(higher_is_worse=False, caseness=None))
    assert classify_change(definition, 2, 5).kind == "improvement"
    assert classify_change(definition, 5, 2).kind == "deterioration"
    assert classify_change(definition, 5, 3).kind == "no_reliable_change"
    assert classify_change(definition, 5, 3).recovered is None


# --- Reliable change ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "baseline", "current", "kind", "recovered"),
    [
        ("phq9", 15, 9, "improvement", True),
        ("phq9", 15, 10, "no_reliable_change", False),
        ("phq9", 9, 3, "improvement", False),  # not a case at baseline: not "recovered"
        ("phq9", 20, 14, "improvement", False),  # still a case
        ("phq9", 9, 15, "deterioration", False),
        ("phq9", 9, 14, "no_reliable_change", False),
        ("phq9", 12, 12, "no_reliable_change", False),
        ("gad7", 12, 8, "improvement", False),
        ("gad7", 12, 7, "improvement", True),
        ("gad7", 12, 9, "no_reliable_change", False),
        ("gad7", 5, 9, "deterioration", False),
        ("gad7", 5, 8, "no_reliable_change", False),
        ("phq2", 5, 2, "improvement", True),
        ("phq2", 5, 3, "no_reliable_change", False),
        ("phq2", 1, 4, "deterioration", False),
        ("gad2", 6, 3, "improvement", False),
        ("gad2", 6, 4, "no_reliable_change", False),
        ("gad2", 0, 3, "deterioration", False),
        ("phq4", 10, 6, "improvement", None),
        ("phq4", 10, 7, "no_reliable_change", None),
        ("phq4", 2, 6, "deterioration", None),
        ("k10", 32, 22, "improvement", False),
        ("k10", 32, 21, "improvement", True),
        ("k10", 32, 23, "no_reliable_change", False),
        ("k10", 15, 25, "deterioration", False),
        ("k10", 15, 24, "no_reliable_change", False),
        ("pcl5", 45, 35, "improvement", False),
        ("pcl5", 45, 32, "improvement", True),
        ("pcl5", 45, 36, "no_reliable_change", False),
        ("pcl5", 20, 30, "deterioration", False),
        ("pcl5", 20, 29, "no_reliable_change", False),
    ],
)
def test_reliable_change_on_both_sides_of_the_threshold(
    key: str, baseline: int, current: int, kind: str, recovered: bool | None
) -> None:
    definition = builtin_definition(key)
    change = classify_change(definition, baseline, current)
    assert definition.reliable_change is not None
    assert change.kind == kind
    assert change.delta == current - baseline
    assert change.recovered is recovered
    assert change.threshold == definition.reliable_change.points
    assert change.source == definition.reliable_change.source
    assert change.to_json()["kind"] == kind


def test_reliable_change_needs_a_threshold_and_totals_in_range() -> None:
    with pytest.raises(ScoringError, match="no reliable-change threshold"):
        classify_change(builtin_definition("rapport-feedback"), 10, 20)
    phq9 = builtin_definition("phq9")
    with pytest.raises(ScoringError, match="current total 28 is outside 0 to 27"):
        classify_change(phq9, 10, 28)
    with pytest.raises(ScoringError, match="baseline total 9 is outside 10 to 50"):
        classify_change(builtin_definition("k10"), 9, 20)


# --- Storing a score ----------------------------------------------------------------------------


@pytest.mark.parametrize("key", BUILTIN_KEYS)
def test_score_json_round_trip(key: str) -> None:
    definition = builtin_definition(key)
    result = score(definition, all_at(definition, "max"))
    stored = json.loads(json.dumps(result.to_json()))
    assert Score.from_json(stored) == result


def test_score_json_round_trip_of_a_prorated_pcl5_like_result() -> None:
    pcl5 = score(builtin_definition("pcl5"), pcl5_answers(1, 1, 2, 2))
    assert Score.from_json(json.loads(json.dumps(pcl5.to_json()))) == pcl5
    prorated = score(builtin_definition("phq9"), by_key([1] * 9) | {"3": None})
    data = prorated.to_json()
    assert data["prorated"] is True and data["missing"] == ["3"]
    assert data["risk_unanswered"] == []
    assert Score.from_json(data) == prorated


# --- Refused definitions ------------------------------------------------------------------------


def test_the_small_definition_is_valid() -> None:
    definition = load_definition(small_definition())
    assert definition.scoring.reverse == ("b",)
    assert definition.item("a").risk_at_or_above == 3


def mutate(path: str, value: Any) -> dict[str, Any]:
    """``small_definition`` with the field at a dotted path set (``...DELETE`` removes it)."""
    data = copy.deepcopy(small_definition())
    target: Any = data
    *parents, last = path.split(".")
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if isinstance(target, list):
        target[int(last)] = value
    elif value is ...:
        del target[last]
    else:
        target[last] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        ("format", 2, "format must be 1"),
        ("key", "Test Scale", "key must be a slug"),
        ("key", None, "key must be a slug"),
        ("version", "", "version must be non-empty text"),
        ("short_name", "x" * 41, "short_name must be at most 40 characters"),
        ("validated", "yes", "validated must be true or false"),
        ("licence", ..., "missing field 'licence'"),
        ("scoring_rules", {}, "unknown field 'scoring_rules'"),
        ("loinc", {"panel": "44249"}, "loinc.panel must be a LOINC code"),
        ("loinc", {"panel": "44249-1", "code": "x"}, "loinc: unknown field 'code'"),
        ("option_sets", {}, "option_sets must be an object naming at least one set"),
        ("option_sets.scale.0", {"value": 1, "label": "Never"}, "repeats a value"),
        ("option_sets.scale.0", {"value": 0, "label": "Often"}, "repeats a label"),
        ("option_sets.scale.0", {"value": 0.5, "label": "Never"}, "value must be a whole number"),
        ("option_sets.scale.0", {"value": False, "label": "Never"}, "must be a whole number"),
        ("option_sets.scale.0", {"value": 0, "label": "Never", "loinc": "6568-5"},
         "must be a LOINC answer code"),
        ("option_sets.scale.0", {"value": 0, "label": "Never", "weight": 1},
         "unknown field 'weight'"),
        ("items", [], "items must be a non-empty list"),
        ("items.1", {"key": "a", "text": "Again", "options": "scale"},
         "item key 'a' is used more than once"),
        ("items.1", {"key": "b c", "text": "B", "options": "scale"}, "key must be 1 to 40"),
        ("items.1", {"key": "b", "text": " ", "options": "scale"}, "text must be non-empty"),
        ("items.1", {"key": "b", "text": "B", "options": "scales"}, "unknown option set 'scales'"),
        ("items.1", {"key": "b", "text": "B", "options": "scale", "required": False},
         "a scored item cannot be optional"),
        ("items.1", {"key": "b", "text": "B", "options": "scale", "hint": "x"},
         "unknown field 'hint'"),
        ("items.0", {"key": "a", "text": "A", "options": "scale", "risk": {"at_or_above": 4}},
         "risk threshold 4 must lie above the lowest"),
        ("items.0", {"key": "a", "text": "A", "options": "scale", "risk": {"at_or_above": 0}},
         "risk threshold 0 must lie above the lowest"),
        ("items.0", {"key": "a", "text": "A", "options": "scale", "risk": {"above": 1}},
         "missing field 'at_or_above'"),
        ("items.2", {"key": "c", "text": "C", "options": "scale", "scored": False},
         "item 'c' is marked unscored but listed in scoring.items"),
        ("scoring.items", ["a", "b"], "item 'c' is scored but missing from scoring.items"),
        ("scoring.items", ["a", "b", "c", "d"], "scoring.items names unknown item 'd'"),
        ("scoring.items", ["a", "b", "c", "c"], "scoring.items names an item more than once"),
        ("scoring.method", "mean", 'scoring.method must be "sum"'),
        ("scoring.reverse", ["z"], "scoring.reverse names unknown item 'z'"),
        ("scoring.missing", {"allowed": 1, "method": "refuse"},
         'allowed must be 0 when the method is "refuse"'),
        ("scoring.missing", {"allowed": 0, "method": "prorate"}, "at least 1 and fewer"),
        ("scoring.missing", {"allowed": 3, "method": "prorate"}, "at least 1 and fewer"),
        ("scoring.missing", {"allowed": 1, "method": "impute"}, 'must be "refuse" or "prorate"'),
        ("scoring.missing", {"allowed": -1, "method": "refuse"}, "must be at least 0"),
        ("range", {"min": 0, "max": 10}, "range 0 to 10 does not match the scored items"),
        ("range", {"min": 1, "max": 9}, "does not match the scored items' answers (0 to 9)"),
        ("bands", [{"min": 0, "max": 3, "label": "Low"}, {"min": 5, "max": 9, "label": "High"}],
         "bands leave a gap: 4 to 4 is in no band"),
        ("bands", [{"min": 0, "max": 5, "label": "Low"}, {"min": 5, "max": 9, "label": "High"}],
         "bands overlap or are out of order at 'High'"),
        ("bands", [{"min": 0, "max": 4, "label": "Low"}, {"min": 5, "max": 8, "label": "High"}],
         "bands leave a gap: 9 to 9 is in no band"),
        ("bands", [{"min": 0, "max": 4, "label": "Low"}, {"min": 5, "max": 10, "label": "High"}],
         "bands must stay within the range 0 to 9"),
        ("bands", [{"min": 1, "max": 4, "label": "Low"}, {"min": 5, "max": 9, "label": "High"}],
         "bands leave a gap: 0 to 0 is in no band"),
        ("bands", [{"min": 5, "max": 9, "label": "High"}, {"min": 0, "max": 4, "label": "Low"}],
         "bands leave a gap: 0 to 4"),
        ("bands", [{"min": 0, "max": 4, "label": "Low"}, {"min": 5, "max": 9, "label": "Low"}],
         "bands repeat a label"),
        ("bands", [{"min": 4, "max": 0, "label": "Low"}], "band 'Low' has min above max"),
        ("bands", None, "bands must be a list"),
        ("caseness", {"at_or_above": 10, "source": "Test"}, "caseness.at_or_above must lie"),
        ("caseness", {"at_or_above": 0, "source": "Test"}, "caseness.at_or_above must lie"),
        ("caseness", {"at_or_above": 5}, "caseness: missing field 'source'"),
        ("higher_is_worse", False, "caseness needs higher_is_worse: true"),
        ("reliable_change", {"points": 0, "source": "Test"}, "points must be at least 1"),
        ("reliable_change", {"points": 10, "source": "Test"}, "larger than the whole range"),
        ("reliable_change", {"points": 3, "source": ""}, "source must be non-empty text"),
        ("subscales", [{"key": "x", "name": "X", "items": ["q"]}], "names unknown item 'q'"),
        ("subscales", [{"key": "x", "name": "X", "items": []}], "must name at least one item"),
        ("subscales", [{"key": "x", "name": "X", "items": ["a"], "positive_at_or_above": 4}],
         "positive_at_or_above must lie within its range (1 to 3)"),
        ("subscales", [{"key": "x", "name": "X", "items": ["a"]},
                       {"key": "x", "name": "Y", "items": ["b"]}],
         "subscale key 'x' is used more than once"),
        ("diagnostic_rule", {"item_counts_at_or_above": 2, "clusters": {"zz": 1}},
         "cluster 'zz' is not a subscale"),
        ("diagnostic_rule", {"item_counts_at_or_above": 2, "clusters": {"ab": 3}},
         "needs more items than the subscale has"),
        ("diagnostic_rule", {"item_counts_at_or_above": 9, "clusters": {"ab": 1}},
         "must lie within the answers of item 'a'"),
        ("diagnostic_rule", {"item_counts_at_or_above": 2, "clusters": {}},
         "clusters must name at least one subscale"),
    ],
)  # fmt: skip
def test_definition_problems_are_explained(path: str, value: Any, problem: str) -> None:
    with pytest.raises(DefinitionError) as raised:
        load_definition(mutate(path, value))
    assert any(problem in message for message in raised.value.problems), raised.value.problems
    assert problem in str(raised.value)


def test_a_subscale_of_unscored_items_is_refused() -> None:
    data = small_definition()
    data["items"].append({"key": "n", "text": "N", "options": "scale", "scored": False})
    data["subscales"] = [{"key": "x", "name": "X", "items": ["n"]}]
    with pytest.raises(DefinitionError, match="subscale 'x' includes unscored item 'n'"):
        load_definition(data)


def test_reverse_must_name_scored_items() -> None:
    data = small_definition()
    data["items"].append({"key": "n", "text": "N", "options": "scale", "scored": False})
    data["scoring"]["reverse"] = ["n"]
    with pytest.raises(DefinitionError, match="'n', which is not a scored item"):
        load_definition(data)


def test_every_problem_is_listed_at_once() -> None:
    data = small_definition(format=3, licence="", bands=[{"min": 0, "max": 3, "label": "Low"}])
    data["items"][2]["options"] = "nope"
    data["typo"] = True
    with pytest.raises(DefinitionError) as raised:
        load_definition(data)
    problems = raised.value.problems
    assert "format must be 1" in problems
    assert "licence must be non-empty text" in problems
    assert "The definition: unknown field 'typo'" in problems
    assert "item 'c' uses unknown option set 'nope'" in problems
    assert len(problems) >= 4


@pytest.mark.parametrize("data", [[], "phq9", None, 3])
def test_a_definition_must_be_an_object(data: Any) -> None:
    with pytest.raises(DefinitionError, match="The definition must be an object"):
        load_definition(data)


def test_a_builtin_with_a_wrong_range_would_be_refused() -> None:
    data = builtin_definition("k10").to_json()
    data["range"] = {"min": 0, "max": 40}  # the US 0-4 scoring, with 1-5 answers
    with pytest.raises(DefinitionError, match=r"range 0 to 40 does not match .* \(10 to 50\)"):
        load_definition(data)
