"""Billing in Spanish: a therapist whose language is Spanish reads a billing line, and its form's
errors, in Spanish under ``<html lang="es">``; the shipped catalog is complete and compiled."""

from __future__ import annotations

import gettext
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import translation

from rapport.accounts.models import User
from rapport.billing import services
from rapport.billing.models import LineStatus
from tests.billing_data import billing_line
from tests.conftest import signed_in
from tests.test_billing import session

CATALOG = Path(__file__).parent.parent / "rapport/billing/locale/es/LC_MESSAGES"


@pytest.fixture(autouse=True)
def _default_language_afterwards() -> Iterator[None]:
    """The account middleware activates the person's language for the rest of the thread: put
    the default back, so that the tests run after these do not propose lines in Spanish."""
    yield
    translation.deactivate()


def spanish(user: User) -> User:
    user.language = "es"
    user.save(update_fields=["language"])
    return user


def test_a_spanish_speaking_therapist_reads_the_billing_line_in_spanish(
    therapist_x: User, client_a: User
) -> None:
    line = billing_line(client_a, therapist_x)
    page = signed_in(spanish(therapist_x)).get(reverse("billing_line", args=[line.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert '<html lang="es"' in html
    assert "<h1>Línea de facturación: Alice Client, 2 de marzo de 2026</h1>" in html
    assert '<dd id="line-status">Propuesta</dd>' in html
    for words in ("Lugar de servicio", "Modificadores", "Confirmar o editar", "Tarifa por unidad"):
        assert words in html, words
    assert "Billing line:" not in html
    assert "Place of service" not in html


def test_the_line_forms_errors_are_in_spanish_and_change_nothing(
    therapist_x: User, client_a: User
) -> None:
    line = billing_line(client_a, therapist_x)
    response = signed_in(spanish(therapist_x)).post(
        reverse("billing_line", args=[line.pk]),
        {
            "cpt_code": "9083",
            "modifiers": "95",
            "place_of_service": "10",
            "units": "1",
            "fee": "140.00",
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert '<html lang="es"' in html
    assert "Escriba un código de procedimiento de cinco caracteres, como 90834." in html
    line.refresh_from_db()
    assert (line.status, line.cpt_code) == (LineStatus.PROPOSED, "90834")


def test_the_stored_proposal_note_is_in_the_rendering_therapists_language(
    therapist_x: User, client_a: User
) -> None:
    visit = session(spanish(therapist_x), client_a, video=45)
    with translation.override("en"):  # as when an English-speaking client ends the session
        line = services.propose_session_line(visit.pk)
    assert line is not None
    assert line.proposal_note == (
        "45 minutos cara a cara. Audio y video durante al menos el 50% de los minutos cara a "
        "cara. El cliente indicó que estaba en su casa. 90834 no está en la tabla de tarifas: "
        "escriba la tarifa."
    )


def test_the_spanish_catalog_is_complete_and_compiled() -> None:
    po = (CATALOG / "django.po").read_text(encoding="utf-8")
    assert "#, fuzzy" not in po
    # An entry left untranslated ends with an empty msgstr and a blank line (or the file's end).
    assert not re.search(r'msgstr ""\n(\n|$)', po.split("\n\n", 1)[1])
    entries = len(re.findall(r"^msgid ", po, flags=re.MULTILINE)) - 1  # minus the header
    with (CATALOG / "django.mo").open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    # A plural entry compiles to one key per form: (msgid, 0), (msgid, 1).
    translated = {
        k if isinstance(k, str) else k[0]
        for k, v in compiled._catalog.items()  # type: ignore[attr-defined]
        if k and v
    }
    assert entries > 200
    assert len(translated) == entries  # a .po edited without compilemessages fails here
