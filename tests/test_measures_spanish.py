"""Questionnaires in Spanish: only validated translations are shown (word for word), an
instrument without one says so and stays in English, and scoring never depends on the language."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import reverse
from django.utils import translation

from rapport.accounts.models import User
from rapport.core import realtime
from rapport.measures.assignments import assign
from rapport.measures.definition_files import (
    builtin_definition,
    builtin_definitions,
    load_definition,
)
from rapport.measures.definitions import DefinitionError
from rapport.measures.fhir import questionnaire_response
from rapport.measures.instruments import definition_of
from rapport.measures.models import Instrument, MeasureTask, Response, TaskStatus
from rapport.measures.scoring import score
from rapport.measures.words import BUILTIN_WORDS
from tests.conftest import signed_in

# The official Spanish (USA) PHQ-9 of the PHQ screeners (Pfizer), word for word.
PHQ9_ES_STEM = (
    "Durante las últimas 2 semanas, ¿qué tan seguido ha tenido molestias debido a los "
    "siguientes problemas?"
)
PHQ9_ES_ITEMS = [
    "Poco interés o placer en hacer cosas",
    "Se ha sentido decaído(a), deprimido(a) o sin esperanzas",
    "Ha tenido dificultad para quedarse o permanecer dormido(a), o ha dormido demasiado",
    "Se ha sentido cansado(a) o con poca energía",
    "Sin apetito o ha comido en exceso",
    "Se ha sentido mal con usted mismo(a) – o que es un fracaso o que ha quedado mal con "  # noqa: RUF001 (the form's own dash)
    "usted mismo(a) o con su familia",
    "Ha tenido dificultad para concentrarse en ciertas actividades, tales como leer el "
    "periódico o ver la televisión",
    "¿Se ha movido o hablado tan lento que otras personas podrían haberlo notado? o lo "
    "contrario – muy inquieto(a) o agitado(a) que ha estado moviéndose mucho más de lo normal",  # noqa: RUF001
    "Pensamientos de que estaría mejor muerto(a) o de lastimarse de alguna manera",
    "Si marcó cualquiera de los problemas, ¿qué tanta dificultad le han dado estos problemas "
    "para hacer su trabajo, encargarse de las tareas del hogar, o llevarse bien con otras "
    "personas?",
]
PHQ9_ES_OPTIONS = [
    "Ningún día",
    "Varios días",
    "Más de la mitad de los días",
    "Casi todos los días",
]
PHQ9_ES_DIFFICULTY = [
    "No ha sido difícil",
    "Un poco difícil",
    "Muy difícil",
    "Extremadamente difícil",
]
ENGLISH_ONLY = "Este cuestionario solo está disponible en inglés"


@pytest.fixture(autouse=True)
def _no_live_events(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(realtime, "deliver", lambda events: None)


@pytest.fixture(autouse=True)
def _english_after(db: None) -> Iterator[None]:
    """A Spanish page leaves Spanish active in this thread (the preferences middleware does not
    restore the language after a response): restore English for the tests that follow."""
    yield
    translation.activate("en")


def speaks_spanish(user: User) -> User:
    user.language = "es"
    user.save(update_fields=["language"])
    return user


def task_for(client: User, therapist: User, key: str) -> MeasureTask:
    instrument = Instrument.objects.get(key=key, builtin=True)
    assign(therapist, client, instrument, "once")
    return MeasureTask.objects.get(client=client, instrument=instrument, status=TaskStatus.OPEN)


def text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_a_spanish_client_reads_the_official_spanish_phq9_word_for_word(
    client_a: User, therapist_x: User
) -> None:
    task = task_for(speaks_spanish(client_a), therapist_x, "phq9")
    page = text(signed_in(client_a).get(reverse("measure_task", args=[task.pk])))

    assert '<html lang="es"' in page
    assert f'<p class="stem" id="stem" lang="es">{PHQ9_ES_STEM}</p>' in page
    for item in PHQ9_ES_ITEMS:
        assert f'<span class="qtext" lang="es">{item}</span>' in page
    for label in PHQ9_ES_OPTIONS + PHQ9_ES_DIFFICULTY:
        assert f'<span lang="es">{label}</span>' in page
    assert "Little interest or pleasure" not in page
    assert ENGLISH_ONLY not in page
    assert "No se requiere permiso para reproducir, traducir, presentar o distribuir." in page


def test_the_spanish_answers_score_as_the_english_ones_and_keep_their_language(
    client_a: User, therapist_x: User
) -> None:
    values = {"1": 2, "2": 3, "3": 1, "4": 0, "5": 2, "6": 1, "7": 0, "8": 1, "9": 0, "10": 2}
    task = task_for(speaks_spanish(client_a), therapist_x, "phq9")
    posted = signed_in(client_a).post(
        reverse("measure_task", args=[task.pk]),
        {"action": "submit", **{f"q-{k}": str(v) for k, v in values.items()}},
    )
    assert posted.status_code == 302
    saved = Response.objects.get(task=task)
    english = builtin_definition("phq9")
    assert saved.language == "es"
    assert saved.answer_values() == values
    assert saved.result_data() == score(english, values).to_json()
    assert saved.result_data()["total"] == 10

    # The therapist (reading English) sees what the client read, and in which language.
    page = text(signed_in(therapist_x).get(reverse("measure_result", args=[saved.pk])))
    assert 'id="answered-in">Answered in Spanish.' in page
    assert "phqscreeners.com" in page
    assert f'<span lang="es">{PHQ9_ES_ITEMS[1]}</span>' in page
    assert '<td lang="es">Casi todos los días</td>' in page

    # The export says which language the client answered in, with the text they read.
    definition = definition_of(saved.instrument)
    resource = questionnaire_response(
        saved, definition, logical_id="r", amended=False, patient_url="Patient/p"
    )
    assert resource["language"] == "es"
    assert resource["item"][0]["text"] == PHQ9_ES_ITEMS[0]
    assert resource["item"][0]["answer"][0]["valueCoding"]["code"] == "LA6570-1"


def test_an_english_client_still_reads_english_and_saves_english(
    client_a: User, therapist_x: User
) -> None:
    task = task_for(client_a, therapist_x, "phq9")
    page = text(signed_in(client_a).get(reverse("measure_task", args=[task.pk])))
    assert '<span class="qtext" lang="en">Little interest or pleasure in doing things</span>' in (
        page
    )
    assert 'id="english-only"' not in page
    signed_in(client_a).post(
        reverse("measure_task", args=[task.pk]),
        {"action": "submit", **{f"q-{n}": "0" for n in range(1, 10)}},
    )
    assert Response.objects.get(task=task).language == "en"


@pytest.mark.parametrize("key", ["k10", "pcl5", "phq4"])
def test_without_a_cited_spanish_version_it_says_english_only_and_marks_the_english(
    client_a: User, therapist_x: User, key: str
) -> None:
    task = task_for(speaks_spanish(client_a), therapist_x, key)
    page = text(signed_in(client_a).get(reverse("measure_task", args=[task.pk])))
    english = builtin_definition(key)
    assert '<p class="notice" id="english-only">' + ENGLISH_ONLY in page
    assert f'<h1 lang="en">{english.name}</h1>' in page
    first = english.items[0]
    assert f'<span class="qtext" lang="en">{first.text}</span>' in page
    assert f'<span lang="en">{first.options[0].label}</span>' in page
    # The page around it is Spanish.
    assert "Enviar mis respuestas" in page


def test_k10_in_spanish_scores_and_saves_as_english(client_a: User, therapist_x: User) -> None:
    task = task_for(speaks_spanish(client_a), therapist_x, "k10")
    values = {str(n): 3 for n in range(1, 11)}
    signed_in(client_a).post(
        reverse("measure_task", args=[task.pk]),
        {"action": "submit", **{f"q-{k}": str(v) for k, v in values.items()}},
    )
    saved = Response.objects.get(task=task)
    assert saved.language == "en"
    assert saved.result_data()["total"] == 30


def test_translations_ship_only_where_a_source_is_cited() -> None:
    assert set(builtin_definition("phq9").translations) == {"es"}
    assert set(builtin_definition("phq2").translations) == {"es"}
    assert set(builtin_definition("gad7").translations) == {"es"}
    assert set(builtin_definition("gad2").translations) == {"es"}
    for key in ("k10", "pcl5", "phq4"):
        assert builtin_definition(key).translations == {}
    for key in ("phq9", "phq2", "gad7", "gad2"):
        assert "phqscreeners.com" in builtin_definition(key).translations["es"].source
    # Rapport's own form is not validated: its own Spanish wording is allowed, and says so.
    feedback = builtin_definition("rapport-feedback")
    assert not feedback.validated
    assert "Rapport's own Spanish wording" in feedback.translations["es"].source
    # PHQ-2 and GAD-2 are the first two items of the PHQ-9 and GAD-7, word for word.
    phq9, phq2 = builtin_definition("phq9"), builtin_definition("phq2")
    gad7, gad2 = builtin_definition("gad7"), builtin_definition("gad2")
    for short, full in ((phq2, phq9), (gad2, gad7)):
        for key in ("1", "2"):
            assert short.translations["es"].items[key] == full.translations["es"].items[key]
    with translation.override("es"):
        assert phq9.language_for("es") == "es"
        assert phq9.language_for("es-MX") == "es"
        assert builtin_definition("k10").language_for("es") == "en"


def test_a_translation_must_cover_every_item_and_option() -> None:
    data = json.loads(json.dumps(builtin_definition("phq2").data))
    spanish = data["translations"]["es"]
    del spanish["items"]["2"]
    spanish["options"]["frequency"] = spanish["options"]["frequency"][:3]
    data["translations"]["xx-1"] = {}
    with pytest.raises(DefinitionError) as error:
        load_definition(data)
    problems = "\n".join(error.value.problems)
    assert "translations.es.items must give the text of every item" in problems
    assert "translations.es.options.frequency must list one label per option" in problems
    assert "translations.xx-1: the key must be a two-letter language code" in problems


def test_every_built_in_band_construct_and_subscale_label_is_in_the_catalog() -> None:
    labels = set()
    for definition in builtin_definitions():
        labels.add(definition.construct)
        labels.update(band.label for band in definition.bands)
        labels.update(band.client_label for band in definition.bands if band.client_label)
        labels.update(subscale.name for subscale in definition.subscales)
    assert labels == set(BUILTIN_WORDS)
    with translation.override("es"):
        untranslated = [label for label in labels if translation.gettext(label) == label]
    assert untranslated == ["Normal"]  # the same word in Spanish


def test_a_spanish_client_reads_their_result_in_spanish(client_a: User, therapist_x: User) -> None:
    task = task_for(speaks_spanish(client_a), therapist_x, "phq9")
    values = {"1": 2, "2": 2, "3": 2, "4": 2, "5": 2, "6": 1, "7": 1, "8": 0, "9": 0}
    signed_in(client_a).post(
        reverse("measure_task", args=[task.pk]),
        {"action": "submit", **{f"q-{k}": str(v) for k, v in values.items()}},
    )
    saved = Response.objects.get(task=task)
    page = text(signed_in(client_a).get(reverse("measure_result", args=[saved.pk])))
    assert "Su puntuación: 12 de 27 — Moderada" in page
    assert "Este cuestionario pregunta sobre depresión." in page
