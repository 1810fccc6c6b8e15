"""Measures test data: built-in instrument rows and histories of scored responses.

Plain functions rather than fixtures, so the FHIR export tests and ``bench/progress_page.py``
build the same records. Responses are scored by ``rapport.measures.scoring`` and stored as the
submit service stores them, without its side effects (tasks, alerts, emails).
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from rapport.accounts.models import User
from rapport.measures.definition_files import builtin_definitions, load_definition
from rapport.measures.definitions import Definition
from rapport.measures.models import Instrument, Response
from rapport.measures.scoring import score


def builtin(key: str) -> Definition:
    for definition in builtin_definitions():
        if definition.key == key:
            return definition
    raise KeyError(f"no built-in instrument {key!r}")


def instrument_row(definition: Definition) -> Instrument:
    """The Instrument row of ``definition`` (made here unless migrations already made it)."""
    instrument, _created = Instrument.objects.get_or_create(
        key=definition.key,
        version=definition.version,
        defaults={
            "name": definition.name,
            "short_name": definition.short_name,
            "definition": definition.to_json(),
            "builtin": True,
        },
    )
    return instrument


def builtin_instrument(key: str) -> Instrument:
    return instrument_row(builtin(key))


def response(
    client: User,
    instrument: Instrument,
    answers: Mapping[str, int | None],
    *,
    at: datetime,
    by: User | None = None,
    corrects: Response | None = None,
    save: bool = True,
) -> Response:
    """A submitted response, scored as the instrument defines (``save=False``: unsaved)."""
    result = score(load_definition(instrument.definition), answers)
    row = Response(
        client=client,
        instrument=instrument,
        answers=json.dumps(dict(answers)),
        result=json.dumps(result.to_json()),
        submitted_at=at,
        submitted_by=by or client,
        corrects=corrects,
    )
    if save:
        row.save()
    return row


def answers_near(definition: Definition, share: float, rng: random.Random) -> dict[str, int]:
    """Answers to every required item, each near ``share`` (0 = lowest, 1 = highest) of its
    range; optional items unanswered. Risk items stay at their lowest, so no alert is implied."""
    answers: dict[str, int] = {}
    for item in definition.items:
        if not item.required:
            continue
        values = sorted(item.values)
        if item.risk_at_or_above is not None:
            answers[item.key] = values[0]
            continue
        place = round(share * (len(values) - 1) + rng.uniform(-0.6, 0.6))
        answers[item.key] = values[max(0, min(len(values) - 1, place))]
    return answers


def history(
    client: User,
    instruments: Sequence[Instrument],
    count: int,
    *,
    start: datetime,
    every: timedelta = timedelta(days=7),
    seed: int = 5,
) -> list[Response]:
    """``count`` responses per instrument, one every ``every`` from ``start``: a course of
    therapy that starts severe and slowly improves, with noise. Saved in one bulk insert."""
    rng = random.Random(seed)
    rows = []
    for instrument in instruments:
        definition = load_definition(instrument.definition)
        for n in range(count):
            share = max(0.05, 0.85 - 0.7 * n / max(1, count - 1))
            rows.append(
                response(
                    client,
                    instrument,
                    answers_near(definition, share, rng),
                    at=start + n * every,
                    save=False,
                )
            )
    return Response.objects.bulk_create(rows)
