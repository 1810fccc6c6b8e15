"""Note templates in the reader's language: the shipped templates' words are in the catalog and
a Spanish-speaking therapist writes under Spanish headings."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import reverse
from django.utils import translation

from rapport.accounts.models import User
from rapport.notes import services
from rapport.notes.note_templates import shipped
from rapport.notes.words import SHIPPED_WORDS
from tests.conftest import signed_in
from tests.notes_data import ended_session

ACRONYMS = {"SOAP", "DAP", "BIRP"}  # the same in Spanish


@pytest.fixture(autouse=True)
def _english_after(db: None) -> Iterator[None]:
    """A Spanish page leaves Spanish active in this thread (the preferences middleware does not
    restore the language after a response): restore English for the tests that follow."""
    yield
    translation.activate("en")


def text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_every_shipped_template_word_is_in_the_spanish_catalog() -> None:
    words = set()
    for template in shipped().values():
        words.update({template.name, template.description} - ACRONYMS)
        for section in template.sections:
            words.update(w for w in (section.label, section.help) if w)
    assert words == set(SHIPPED_WORDS)
    with translation.override("es"):
        same = {word for word in words if translation.gettext(word) == word}
    assert same == {"Plan"}  # the same word in Spanish


def test_a_spanish_therapist_writes_under_spanish_headings(
    therapist_x: User, client_a: User
) -> None:
    therapist_x.language = "es"
    therapist_x.save(update_fields=["language"])
    note, _created = services.start_for_visit(therapist_x, ended_session(therapist_x, client_a))
    page = text(signed_in(therapist_x).get(reverse("note", args=[note.pk])))
    assert "Subjetivo" in page and "Evaluación" in page
    assert "Lo que refirió el cliente" in page
    assert ">Subjective<" not in page
