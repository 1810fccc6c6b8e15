"""A client's measures as a FHIR R4 Bundle: what other clinical systems can import.

The bundle (type ``collection``) holds one Patient, a Questionnaire for every instrument version
the client answered, one QuestionnaireResponse per response and one Observation per total score
(category ``survey``, ``derivedFrom`` its response). Codes are LOINC where LOINC has them; where it
has none, Rapport's own code systems under ``CANONICAL_BASE`` (see docs/fhir.md).

A correction in Rapport is a new response pointing at the one it corrects; in FHIR it is the same
resource amended. So a chain of corrections exports as one QuestionnaireResponse (and one
Observation) with the latest answers, the id of the first response and status ``amended``.

Identifiers are opaque (an HMAC of the row's key under the site secret), stable from one export
to the next, and reveal neither the client's name nor how many rows the practice holds. The
Patient carries a name only when the client exports their own data.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone

from rapport.accounts.models import User
from rapport.core.record import CANONICAL_BASE as CANONICAL_BASE
from rapport.core.record import UCUM, fhir_id
from rapport.measures.definition_files import load_definition
from rapport.measures.definitions import Definition, Item, Option
from rapport.measures.models import Instrument, Response

# One code per instrument total (and per subscale, "<key>.<subscale>") that LOINC does not cover.
SCORE_SYSTEM = f"{CANONICAL_BASE}/CodeSystem/instrument-score"
# Rapport's instruments themselves, for a Questionnaire with no LOINC panel.
INSTRUMENT_SYSTEM = f"{CANONICAL_BASE}/CodeSystem/instrument"
LOINC = "http://loinc.org"
# A total scaled up from the answered items because some were left unanswered (docs/fhir.md).
PRORATED_TOTAL = f"{CANONICAL_BASE}/StructureDefinition/prorated-total"
ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
# The media type of R4 JSON (FHIR's "fhirVersion" parameter names the major.minor release).
MEDIA_TYPE = "application/fhir+json; fhirVersion=4.0"

Resource = dict[str, Any]


def answer_system(instrument_key: str, option_set: str) -> str:
    """The code system of one option set's answers, for options that have no LOINC answer."""
    return f"{CANONICAL_BASE}/CodeSystem/{instrument_key}-{option_set}"


def questionnaire_url(definition: Definition) -> str:
    return f"{CANONICAL_BASE}/Questionnaire/{definition.key}"


# One id scheme for every app's resources, so references resolve across a record Bundle.
opaque_id = fhir_id


@dataclass(frozen=True)
class Entry:
    full_url: str
    resource: Resource


def _entry(resource: Resource) -> Entry:
    return Entry(f"urn:uuid:{resource['id']}", resource)


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _computable_name(short_name: str) -> str:
    """``PHQ-9`` → ``PHQ9``: Questionnaire.name must look like a programming identifier."""
    words = re.findall(r"[A-Za-z0-9]+", short_name)
    name = "".join(word[:1].upper() + word[1:] for word in words) or "Instrument"
    return name if name[0].isalpha() else f"Q{name}"


def _coding(system: str, code: str, display: str = "") -> Resource:
    coding: Resource = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return coding


def _option_coding(instrument_key: str, item: Item, option: Option) -> Resource:
    if option.loinc:
        return _coding(LOINC, option.loinc, option.label)
    return _coding(answer_system(instrument_key, item.option_set), str(option.value), option.label)


def questionnaire(instrument: Instrument, definition: Definition) -> Resource:
    """The instrument version as a Questionnaire: verbatim items, codes and answer weights."""
    if definition.loinc_panel:
        code = _coding(LOINC, definition.loinc_panel, definition.name)
    else:
        code = _coding(INSTRUMENT_SYSTEM, definition.key, definition.name)
    items: list[Resource] = [{"linkId": "stem", "type": "display", "text": definition.stem}]
    # Where the instrument tolerates missing answers, no single question is required.
    refuses_missing = definition.scoring.missing_allowed == 0
    for item in definition.items:
        answer_options = []
        for option in item.options:
            coding = _option_coding(definition.key, item, option)
            coding["extension"] = [{"url": ORDINAL_VALUE, "valueDecimal": option.value}]
            answer_options.append({"valueCoding": coding})
        question: Resource = {"linkId": item.key}
        if item.loinc:
            question["code"] = [_coding(LOINC, item.loinc)]
        question.update(
            text=item.text,
            type="choice",
            required=item.required and (refuses_missing or not item.scored),
            answerOption=answer_options,
        )
        items.append(question)
    notes = [
        text for text in (definition.copyright, definition.licence, definition.citation) if text
    ]
    resource: Resource = {
        "resourceType": "Questionnaire",
        "id": opaque_id("questionnaire", f"{definition.key}|{definition.version}"),
        "url": questionnaire_url(definition),
        "version": definition.version,
        "name": _computable_name(definition.short_name),
        "title": definition.name,
        "status": "active" if instrument.is_active else "retired",
        "subjectType": ["Patient"],
        "code": [code],
        "item": items,
    }
    if not definition.validated:
        resource["description"] = "Rapport's own form. It is not a validated instrument."
    if notes:
        resource["copyright"] = "\n\n".join(notes)
    return resource


def patient(client: User, *, named: bool) -> Resource:
    resource: Resource = {"resourceType": "Patient", "id": opaque_id("patient", client.pk)}
    if named and client.full_name:
        resource["name"] = [{"text": client.full_name}]
    return resource


def questionnaire_response(
    response: Response, definition: Definition, *, logical_id: str, amended: bool, patient_url: str
) -> Resource:
    """One submitted form. Unanswered items are left out (FHIR has no "no answer" value)."""
    answers = response.answer_values()
    # The item text the client read (a validated translation, or English); codes stay English.
    shown = definition.in_language(response.language)
    items = []
    for item, shown_item in zip(definition.items, shown.items, strict=True):
        value = answers.get(item.key)
        if value is None:
            continue
        option = item.option(value)
        if option is None:  # answers were checked against this very version when submitted
            raise ValueError(f"response {response.pk}: {value!r} is not an answer to {item.key}")
        items.append(
            {
                "linkId": item.key,
                "text": shown_item.text,
                "answer": [{"valueCoding": _option_coding(definition.key, item, option)}],
            }
        )
    resource: Resource = {
        "resourceType": "QuestionnaireResponse",
        "id": logical_id,
        "language": response.language,
        "questionnaire": f"{questionnaire_url(definition)}|{definition.version}",
        "status": "amended" if amended else "completed",
        "subject": {"reference": patient_url},
        "authored": _instant(response.submitted_at),
        "item": items,
    }
    if response.submitted_by_id == response.client_id:
        resource["source"] = {"reference": patient_url}
    return resource


def _score_code(loinc_code: str | None, key: str, label: str) -> Resource:
    coding = _coding(LOINC, loinc_code, label) if loinc_code else _coding(SCORE_SYSTEM, key, label)
    return {"coding": [coding], "text": label}


def prorated_note(missing: int) -> str:
    return (
        f"Prorated total: {missing} scored item(s) unanswered; the total is the mean of the "
        "answered items times the number of items, rounded half up. It is not the raw sum."
    )


def _score(value: int) -> Resource:
    return {"value": value, "unit": "{score}", "system": UCUM, "code": "{score}"}


def score_observation(
    response: Response,
    definition: Definition,
    *,
    logical_id: str,
    amended: bool,
    patient_url: str,
    response_url: str,
) -> Resource | None:
    """The total as an Observation, or None when the response has no total (too few answers)."""
    result = response.result_data()
    total = result.get("total")
    if total is None:
        return None
    resource: Resource = {
        "resourceType": "Observation",
        "id": opaque_id("observation", logical_id),
        "status": "amended" if amended else "final",
        "category": [
            {"coding": [_coding(OBSERVATION_CATEGORY, "survey", "Survey")], "text": "Survey"}
        ],
        "code": _score_code(
            definition.loinc_total, definition.key, f"{definition.short_name} total score"
        ),
        "subject": {"reference": patient_url},
        "effectiveDateTime": _instant(response.submitted_at),
        "valueQuantity": _score(int(total)),
        "derivedFrom": [{"reference": response_url}],
    }
    if result.get("band"):
        resource["interpretation"] = [{"text": str(result["band"])}]
    if result.get("prorated"):
        # Not the raw sum: say so in a flag a system can read and a note a person can.
        missing = len(result.get("missing") or [])
        resource["extension"] = [{"url": PRORATED_TOTAL, "valueBoolean": True}]
        resource["note"] = [{"text": prorated_note(missing)}]
    components = []
    for subscale in definition.subscales:
        value = (result.get("subscales") or {}).get(subscale.key)
        if value is None:  # only fully answered subscales are scored
            continue
        label = f"{definition.short_name} {subscale.name} subscale score"
        components.append(
            {
                "code": _score_code(None, f"{definition.key}.{subscale.key}", label),
                "valueQuantity": _score(int(value)),
            }
        )
    if components:
        resource["component"] = components
    return resource


def current_versions(responses: Iterable[Response]) -> list[tuple[Response, Response, bool]]:
    """(first response, latest version, amended?) for every chain of corrections, in order.

    ``responses`` must hold whole chains; the latest correction (by submission) wins.
    """
    by_pk = {r.pk: r for r in responses}

    def first_of(response: Response) -> Response:
        seen = set()
        while response.corrects_id is not None and response.corrects_id in by_pk:
            if response.pk in seen:
                break
            seen.add(response.pk)
            response = by_pk[response.corrects_id]
        return response

    latest: dict[int, Response] = {}
    roots: dict[int, Response] = {}
    for response in by_pk.values():
        root = first_of(response)
        roots[root.pk] = root
        best = latest.get(root.pk)
        if best is None or (response.submitted_at, response.pk) > (best.submitted_at, best.pk):
            latest[root.pk] = response
    chains = [(roots[pk], latest[pk], latest[pk].pk != pk) for pk in roots]
    return sorted(chains, key=lambda chain: (chain[0].submitted_at, chain[0].pk))


def client_entries(client: User, *, patient_url: str) -> list[Entry]:
    """The Questionnaires, QuestionnaireResponses and Observations of ``client`` (no Patient):
    what the measures bundle and the whole-record bundle both hold. Two queries."""
    responses = list(
        Response.objects.filter(client=client).select_related("instrument").order_by("pk")
    )
    used: dict[int, tuple[Instrument, Definition]] = {}
    forms: list[Entry] = []
    for first, latest, amended in current_versions(responses):
        if latest.instrument_id not in used:
            used[latest.instrument_id] = (
                latest.instrument,
                load_definition(latest.instrument.definition),
            )
        definition = used[latest.instrument_id][1]
        logical_id = opaque_id("response", first.pk)
        form = _entry(
            questionnaire_response(
                latest,
                definition,
                logical_id=logical_id,
                amended=amended,
                patient_url=patient_url,
            )
        )
        forms.append(form)
        observation = score_observation(
            latest,
            definition,
            logical_id=logical_id,
            amended=amended,
            patient_url=patient_url,
            response_url=form.full_url,
        )
        if observation is not None:
            forms.append(_entry(observation))
    questionnaires = [
        _entry(questionnaire(instrument, definition))
        for instrument, definition in sorted(
            used.values(), key=lambda pair: (pair[1].key, pair[1].version)
        )
    ]
    return [*questionnaires, *forms]


def client_bundle(client: User, *, named: bool = False, now: datetime | None = None) -> Resource:
    """Every response of ``client`` as a FHIR R4 collection Bundle (a JSON-ready dict).

    ``named``: put the client's name on the Patient (only when they export their own data).
    The caller has checked access: this reads without asking.
    """
    person = _entry(patient(client, named=named))
    entries = [person, *client_entries(client, patient_url=person.full_url)]
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "collection",
        "timestamp": _instant(now or timezone.now()),
        "entry": [{"fullUrl": e.full_url, "resource": e.resource} for e in entries],
    }
