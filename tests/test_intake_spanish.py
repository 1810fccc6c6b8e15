"""Intake forms in Spanish: the built-in forms carry their own Spanish wording, a Spanish client
fills in the Spanish form, the submission records the language it was shown in (the consent
given among it), and a translation that misses a field is refused."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import reverse
from django.utils import translation

from rapport.accounts.models import User
from rapport.intake.catalogue import builtin_definitions
from rapport.intake.definitions import DefinitionError, load_definition
from rapport.intake.models import IntakeSubmission
from tests.conftest import signed_in
from tests.intake_data import adult_answers, as_post, send_form


@pytest.fixture(autouse=True)
def _english_after(db: None) -> Iterator[None]:
    """A Spanish page leaves Spanish active in this thread (the preferences middleware does not
    restore the language after a response): restore English for the tests that follow."""
    yield
    translation.activate("en")


def text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_every_built_in_form_has_a_complete_spanish_wording() -> None:
    for definition, _data in builtin_definitions():
        spanish = definition.in_language("es")
        assert spanish.language == "es"
        english = {item.key: item for item in definition.fields}
        for item in spanish.fields:
            assert item.label and item.label != english[item.key].label
            assert [c.value for c in item.choices] == [c.value for c in english[item.key].choices]


def test_a_spanish_client_fills_in_the_spanish_form_and_its_language_is_kept(
    therapist_x: User, client_a: User
) -> None:
    client_a.language = "es"
    client_a.save(update_fields=["language"])
    intake = send_form(therapist_x, client_a)
    url = reverse("intake_fill", kwargs={"intake_id": intake.pk})
    browser = signed_in(client_a)
    page = text(browser.get(url))
    assert '<h1 lang="es">Admisión para adultos</h1>' in page
    assert "¿Qué lo(a) trae a terapia en este momento?" in page
    assert "Unas semanas" in page
    assert "Acepto recibir terapia por video" in page
    assert "What brings you to therapy now?" not in page

    sent = browser.post(url, {"action": "submit", **as_post(adult_answers(risk=False))})
    assert sent.status_code == 302
    submission = IntakeSubmission.objects.get(intake=intake)
    assert submission.language == "es"
    assert submission.answer_values()["how_long"] == "months"

    # The therapist reads the wording the client answered, and in which language.
    detail = text(
        signed_in(therapist_x).get(
            reverse("intake_detail", kwargs={"submission_id": submission.pk})
        )
    )
    assert '<dd id="form-language">Spanish</dd>' in detail
    assert "Unos meses" in detail


def test_an_english_client_keeps_the_english_form(therapist_x: User, client_a: User) -> None:
    intake = send_form(therapist_x, client_a)
    url = reverse("intake_fill", kwargs={"intake_id": intake.pk})
    browser = signed_in(client_a)
    assert "What brings you to therapy now?" in text(browser.get(url))
    browser.post(url, {"action": "submit", **as_post(adult_answers(risk=False))})
    assert IntakeSubmission.objects.get(intake=intake).language == "en"


def test_a_translation_must_word_every_field() -> None:
    _definition, data = next(d for d in builtin_definitions() if d[0].key == "adult")
    data = json.loads(json.dumps(data))
    spanish = data["translations"]["es"]
    del spanish["fields"]["goals"]
    del spanish["fields"]["how_long"]["choices"]["weeks"]
    spanish["sections"] = spanish["sections"][:-1]
    with pytest.raises(DefinitionError) as error:
        load_definition(data)
    problems = " ".join(error.value.problems)
    assert "“fields” must word every field" in problems
    assert "“sections” must give one title per section" in problems
