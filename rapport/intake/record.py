"""Intake's part of the client's record (contract in ``rapport.core.record``): a row per
submitted intake with its answers in words, forms still open, and the FHIR Questionnaire of
each form version used with a QuestionnaireResponse per submission. Three queries whatever the
number of intakes.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _

from rapport.accounts.models import User
from rapport.core.record import WHOLE, RecordEntry, Window, fhir_id, fhir_reference
from rapport.intake import answers as a
from rapport.intake import definitions as d
from rapport.intake.catalogue import definition_of
from rapport.intake.definitions import Field, FormDefinition
from rapport.intake.models import Intake, IntakeSubmission

KINDS = {"intake"}


def _submissions(client: User) -> list[IntakeSubmission]:
    return list(
        IntakeSubmission.objects.filter(client=client)
        .select_related("form", "submitted_by")
        .order_by("submitted_at", "pk")
    )


def entries(
    client: User, *, viewer: User, export: bool = False, window: Window = WHOLE
) -> list[RecordEntry]:
    # Few rows: the whole record is read and the composer cuts it to the window.
    rows = []
    for submission in _submissions(client):
        definition = definition_of(submission.form)
        details = tuple(
            (
                f"{title} — {row.question}" + (" " + _("(risk answer)") if row.risk else ""),
                row.answer,
            )
            for title, section in a.readable(definition, submission.answer_values())
            for row in section
            if row.answer
        )
        rows.append(
            RecordEntry(
                kind="intake",
                at=submission.submitted_at,
                title=definition.name,
                summary=_("Correction of an earlier version") if submission.corrects_id else "",
                url=reverse("intake_detail", kwargs={"submission_id": submission.pk}),
                status=_("corrected") if submission.corrects_id else _("sent back"),
                details=details,
            )
        )
    if not export:
        for intake in (
            Intake.objects.filter(client=client, submitted_at=None)
            .select_related("form")
            .defer("draft", "form__definition")
        ):
            rows.append(
                RecordEntry(
                    kind="intake",
                    at=intake.sent_at,
                    title=intake.form.name,
                    status=_("draft saved") if intake.draft_saved_at else _("not started"),
                )
            )
    return rows


_TYPES = {
    d.SHORT_TEXT: "string",
    d.LONG_TEXT: "text",
    d.SINGLE_CHOICE: "choice",
    d.MULTIPLE_CHOICE: "choice",
    d.DATE: "date",
    d.YES_NO: "boolean",
    d.CONSENT: "boolean",
    d.SIGNATURE: "string",
}


def _item(item: Field) -> dict[str, Any]:
    out: dict[str, Any] = {
        "linkId": item.key,
        "text": item.label,
        "type": _TYPES[item.type],
        "required": item.required,
    }
    if item.choices:
        out["answerOption"] = [
            {"valueCoding": {"code": c.value, "display": c.label}} for c in item.choices
        ]
    if item.type == d.MULTIPLE_CHOICE:
        out["repeats"] = True
    if item.follow_up is not None:
        out["item"] = [
            {
                "linkId": item.key + a.FOLLOW_UP,
                "text": item.follow_up.label,
                "type": "text",
                "enableWhen": [{"question": item.key, "operator": "=", "answerBoolean": True}],
            }
        ]
    return out


def _questionnaire(form_pk: int, definition: FormDefinition) -> dict[str, Any]:
    return {
        "resourceType": "Questionnaire",
        "id": fhir_id("questionnaire", f"intake-{form_pk}"),
        "url": fhir_reference("questionnaire", f"intake-{form_pk}"),
        "name": definition.key,
        "title": definition.name,
        "version": definition.version,
        "status": "active",
        "subjectType": ["Patient"],
        "item": [
            {
                "linkId": f"section-{n}",
                "text": section.title,
                "type": "group",
                "item": [_item(item) for item in section.fields],
            }
            for n, section in enumerate(definition.sections, 1)
        ],
    }


def _answer(item: Field, value: Any) -> list[dict[str, Any]]:
    if value in (None, "", []):
        return []
    if item.type in (d.YES_NO, d.CONSENT):
        return [{"valueBoolean": value in (True, "yes")}]
    if item.type in (d.SINGLE_CHOICE, d.MULTIPLE_CHOICE):
        values = value if isinstance(value, list) else [value]
        return [{"valueCoding": {"code": v, "display": item.choice_label(v)}} for v in values]
    if item.type == d.DATE:
        return [{"valueDate": str(value)}]
    if item.type == d.SIGNATURE and isinstance(value, dict):
        return [{"valueString": f"{value.get('name', '')} ({value.get('date', '')})"}]
    return [{"valueString": str(value)}]


def _response(submission: IntakeSubmission, definition: FormDefinition) -> dict[str, Any]:
    values = submission.answer_values()
    groups = []
    for n, section in enumerate(definition.sections, 1):
        items = []
        for item in section.fields:
            row: dict[str, Any] = {"linkId": item.key, "text": item.label}
            answer = _answer(item, values.get(item.key))
            follow = values.get(item.key + a.FOLLOW_UP)
            if answer:
                row["answer"] = answer
                if item.follow_up is not None and follow:
                    row["answer"][0]["item"] = [
                        {
                            "linkId": item.key + a.FOLLOW_UP,
                            "text": item.follow_up.label,
                            "answer": [{"valueString": str(follow)}],
                        }
                    ]
            items.append(row)
        groups.append({"linkId": f"section-{n}", "text": section.title, "item": items})
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": fhir_id("questionnaireresponse", f"intake-{submission.pk}"),
        "questionnaire": fhir_reference("questionnaire", f"intake-{submission.form_id}"),
        "status": "amended" if submission.corrects_id else "completed",
        "subject": {"reference": fhir_reference("patient", submission.client_id)},
        "authored": submission.submitted_at.isoformat(),
        "item": groups,
    }
    if submission.submitted_by_id == submission.client_id:
        resource["author"] = {"reference": fhir_reference("patient", submission.client_id)}
    return resource


def fhir_resources(client: User, *, viewer: User, export: bool = True) -> list[dict[str, Any]]:
    submissions = _submissions(client)
    forms: dict[int, dict[str, Any]] = {}
    responses = []
    for submission in submissions:
        definition = definition_of(submission.form)
        forms.setdefault(submission.form_id, _questionnaire(submission.form_id, definition))
        responses.append(_response(submission, definition))
    return [*forms.values(), *responses]
