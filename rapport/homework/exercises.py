"""The library of exercises a therapist assigns as homework, defined as data.

Each exercise has a title, short instructions in plain words and its fields. Fields are either
asked once, or in repeating rows (one row per situation, day or step) where the exercise is a
list by nature. A field is one of four kinds: words, a number from 0 to 100, a time or a date.
A free task has the therapist's own title and instructions and one answer in words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

TEXT = "text"
SCORE = "score"  # a whole number from 0 to 100
TIME = "time"
DATE = "date"
KINDS = {TEXT, SCORE, TIME, DATE}

FREE_TASK = "free"


@dataclass(frozen=True)
class Field:
    key: str
    label: StrOrPromise
    kind: str = TEXT
    help: StrOrPromise = ""
    long: bool = False  # words: a few lines rather than one


@dataclass(frozen=True)
class Exercise:
    key: str
    title: StrOrPromise
    instructions: StrOrPromise
    fields: tuple[Field, ...] = ()
    rows: tuple[Field, ...] = ()  # the fields of each repeating row
    row_name: StrOrPromise = ""  # what one row is ("Situation", "Day")
    max_rows: int = 0


def _exercises() -> dict[str, Exercise]:
    found = [
        Exercise(
            key="thought_record",
            title=_("Thought record"),
            instructions=_(
                "When your mood drops, write down what happened, what went through your mind "
                "and how strongly you believed it. Then look at the evidence and try a more "
                "balanced thought."
            ),
            fields=(
                Field("situation", _("What happened? Where, when, with whom?"), long=True),
                Field("feelings", _("What did you feel?")),
                Field("feelings_strength", _("How strong was the feeling (0 to 100)?"), SCORE),
                Field("thought", _("What went through your mind?"), long=True),
                Field("belief", _("How much did you believe it (0 to 100)?"), SCORE),
                Field("for", _("What supports the thought?"), long=True),
                Field("against", _("What does not support it?"), long=True),
                Field("balanced", _("A more balanced thought"), long=True),
                Field("feelings_after", _("How strong is the feeling now (0 to 100)?"), SCORE),
            ),
        ),
        Exercise(
            key="activation_schedule",
            title=_("Activity schedule"),
            instructions=_(
                "Plan a few activities for the coming days, then note how much you enjoyed "
                "each one and how much you felt you achieved."
            ),
            rows=(
                Field("day", _("Day"), DATE),
                Field("at", _("Time"), TIME),
                Field("activity", _("Activity")),
                Field("enjoyment", _("Enjoyment (0 to 100)"), SCORE),
                Field("achievement", _("Achievement (0 to 100)"), SCORE),
            ),
            row_name=_("Activity"),
            max_rows=14,
        ),
        Exercise(
            key="exposure_hierarchy",
            title=_("Exposure ladder"),
            instructions=_(
                "List situations you avoid, from the easiest to the hardest, and rate how "
                "distressing each one would be. We will climb the ladder one step at a time."
            ),
            fields=(Field("goal", _("What would you like to be able to do?"), long=True),),
            rows=(
                Field("situation", _("Situation")),
                Field("distress", _("Expected distress (0 to 100)"), SCORE),
            ),
            row_name=_("Step"),
            max_rows=10,
        ),
        Exercise(
            key="values_worksheet",
            title=_("Values worksheet"),
            instructions=_(
                "For each part of life that matters to you, write what kind of person you want "
                "to be in it, how closely you lived that this week, and one small step."
            ),
            rows=(
                Field("area", _("Part of life (family, work, health, friends ...)")),
                Field("matters", _("What matters to me here"), long=True),
                Field("lived", _("How closely I lived it this week (0 to 100)"), SCORE),
                Field("step", _("One small step")),
            ),
            row_name=_("Part of life"),
            max_rows=8,
        ),
        Exercise(
            key="sleep_diary",
            title=_("Sleep diary"),
            instructions=_(
                "Each morning, fill in one row about the night before. Guesses are fine: "
                "do not check the clock at night."
            ),
            rows=(
                Field("night_of", _("Night of"), DATE),
                Field("bedtime", _("Went to bed"), TIME),
                Field("asleep", _("Fell asleep"), TIME),
                Field("woke", _("Woke up"), TIME),
                Field("quality", _("Sleep quality (0 to 100)"), SCORE),
                Field("notes", _("Anything else (naps, caffeine, alcohol)")),
            ),
            row_name=_("Night"),
            max_rows=14,
        ),
        Exercise(
            key=FREE_TASK,
            title=_("Free task"),
            instructions="",  # the therapist writes them
            fields=(Field("answer", _("Your answer"), long=True),),
        ),
    ]
    return {exercise.key: exercise for exercise in found}


LIBRARY = _exercises()


def exercise_for(key: str) -> Exercise | None:
    return LIBRARY.get(key)


def choices() -> list[tuple[str, StrOrPromise]]:
    return [(exercise.key, exercise.title) for exercise in LIBRARY.values()]
