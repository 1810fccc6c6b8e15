"""Spanish, as a Spanish-speaking person meets it: the pages they open say ``lang="es"`` and are
written in Spanish, and the emails they receive are in their language whoever's request or
task wrote them (an English-speaking therapist books; the client reads Spanish)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone, translation

from rapport.accounts.models import Role, User
from rapport.asgi import application
from rapport.care.models import CareRelationship
from rapport.core.views import server_error
from rapport.messaging.access import conversation_for
from rapport.scheduling.booking import BookingRequest, book_appointment
from rapport.scheduling.models import SessionType
from tests.conftest import signed_in
from tests.mail import Inbox, body_of, text_of
from tests.sockets import run_async, socket_headers
from tests.worker import run_task_worker


def speaks_spanish(*people: User) -> None:
    User.objects.filter(pk__in=[p.pk for p in people]).update(language="es")
    for person in people:
        person.refresh_from_db()


def page(user: User, url: str) -> str:
    response = signed_in(user).get(url)
    assert response.status_code == 200, url
    assert response["Content-Language"] == user.language
    return response.content.decode()


def lang_of(html: str) -> str:
    found = re.search(r'<html lang="([^"]*)"', html)
    assert found is not None
    return found.group(1)


def heading(html: str) -> str:
    found = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S)
    assert found is not None
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


# --- Pages ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_page_leaves_the_thread_in_the_language_it_found(client_a: User) -> None:
    """A web thread serves one person after another: the language of one request must not stay
    active after it (nor leak into the code a test runs next)."""
    speaks_spanish(client_a)
    with translation.override("en"):
        assert lang_of(page(client_a, reverse("home"))) == "es"
        assert translation.get_language() == "en"
    translation.deactivate()
    assert lang_of(page(client_a, reverse("home"))) == "es"
    assert translation.get_language() == "en"


@pytest.mark.django_db
def test_the_client_home_page_and_its_navigation_are_in_spanish(
    client_a: User, client_b: User
) -> None:
    speaks_spanish(client_a)
    html = page(client_a, reverse("home"))
    assert lang_of(html) == "es"
    nav = html.split("<nav", 1)[1].split("</nav>", 1)[0]
    for word in ("Inicio", "Mensajes", "Sesiones", "Cuenta", "Cerrar sesión"):
        assert word in nav, word
    assert "Sign out" not in html and "Skip to main content" not in html
    assert "Saltar al contenido principal" in html
    assert heading(html) == f"Hola, {client_a.full_name}"
    # The same page for an English-speaking client stays English.
    english = page(client_b, reverse("home"))
    assert lang_of(english) == "en"
    assert "Sign out" in english and "Cerrar sesión" not in english


@pytest.mark.django_db
def test_the_therapist_home_and_schedule_are_in_spanish(therapist_x: User) -> None:
    speaks_spanish(therapist_x)
    home = page(therapist_x, reverse("home"))
    assert lang_of(home) == "es"
    assert "Esperando ahora" in home and "Sesiones de hoy" in home
    schedule = page(therapist_x, reverse("schedule"))
    assert "Semana anterior" in schedule and "Semana siguiente" in schedule
    assert "Previous week" not in schedule


@pytest.mark.django_db
def test_the_booking_page_is_in_spanish(client_a: User, therapist_x: User) -> None:
    speaks_spanish(client_a)
    SessionType.objects.create(therapist=therapist_x, name="Sesión individual", minutes=50)
    html = page(client_a, reverse("book"))
    assert lang_of(html) == "es"
    assert heading(html) == "Reservar una sesión"
    assert "¿Qué tipo de sesión?" in html
    assert "Ver horarios disponibles" in html
    assert "Book a session" not in html


@pytest.mark.django_db
def test_the_conversation_page_is_in_spanish(client_a: User, therapist_x: User) -> None:
    speaks_spanish(client_a)
    relationship = CareRelationship.objects.get(client=client_a, therapist=therapist_x)
    chat = conversation_for(relationship)
    html = page(client_a, reverse("conversation", args=[chat.uid]))
    assert lang_of(html) == "es"
    assert heading(html) == f"Mensajes con {therapist_x.full_name}"
    assert "Los mensajes no son para emergencias." in html
    assert "Enviar" in html
    # A refused form answers in Spanish too (a message left empty).
    refused = signed_in(client_a).post(
        reverse("conversation", args=[chat.uid]), {"id": "not-a-uuid", "text": "hola"}
    )
    assert "El formulario estaba incompleto; envíelo de nuevo." in refused.content.decode()


@pytest.mark.django_db
def test_who_saw_my_record_and_account_pages_are_in_spanish(client_a: User) -> None:
    speaks_spanish(client_a)
    record = page(client_a, reverse("my_record_access"))
    assert heading(record) == "Quién vio o modificó su expediente"
    account = page(client_a, reverse("account_settings"))
    assert "Guardar preferencias" in account
    assert "Autenticación de dos factores y llaves de acceso" in account


@pytest.mark.django_db
def test_the_not_found_and_server_error_pages_are_in_spanish(client_a: User) -> None:
    speaks_spanish(client_a)
    missing = signed_in(client_a).get("/no-such-page/")
    assert missing.status_code == 404
    html = missing.content.decode()
    assert lang_of(html) == "es" and heading(html) == "Página no encontrada"
    request = RequestFactory().get("/somewhere/")
    with translation.override("es"):
        try:
            raise ValueError("a bug")
        except ValueError:
            error = server_error(request).content.decode()
    assert lang_of(error) == "es"
    assert heading(error) == "Algo salió mal de nuestro lado"


# --- Emails --------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_spanish_speaking_clients_booking_confirmation_is_in_spanish(
    smtp: Inbox, therapist_x: User, client_a: User
) -> None:
    speaks_spanish(client_a)
    session_type = SessionType.objects.create(therapist=therapist_x, name="Individual", minutes=50)
    at = (timezone.now() + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    # Booked by the English-speaking therapist, written by the worker: neither speaks Spanish.
    with translation.override("en"):
        book_appointment(therapist_x, BookingRequest(client_a, session_type, "video", at))
    run_task_worker()
    mail = {str(message["To"]): message for message in smtp.take()}
    to_client, to_therapist = mail[client_a.email], mail[therapist_x.email]
    assert str(to_client["Subject"]).startswith("Sesión reservada: ")
    body = body_of(to_client)
    assert body.startswith(f"Hola, {client_a.full_name}:")
    assert f"Su sesión con {therapist_x.full_name} está reservada." in body
    assert "Cuándo:" in body and "Videollamada" in body
    weekdays = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")
    assert any(day in body.lower() for day in weekdays)
    assert "Your session" not in body and "Hello" not in body
    # The therapist's copy stays in English.
    assert str(to_therapist["Subject"]).startswith("Session booked: ")


@pytest.mark.django_db(transaction=True)
def test_an_invitation_reaching_a_spanish_account_is_in_spanish(
    admin: User, therapist_x: User, client_b: User, smtp: Inbox
) -> None:
    speaks_spanish(client_b)
    browser = signed_in(therapist_x)  # English
    response = browser.post(
        "/invitations/", {"full_name": "Bo", "email": client_b.email, "role": Role.CLIENT}
    )
    assert response.status_code == 302
    run_task_worker()
    mail = {str(message["To"]): text_of(message) for message in smtp.take()}
    assert "Usted ya tiene una cuenta" in mail[client_b.email]
    assert "Inicie sesión como siempre:" in mail[client_b.email]
    assert "An invitation went to an existing account" in mail[admin.email]


@pytest.mark.django_db(transaction=True)
def test_a_password_reset_asked_from_an_english_browser_is_in_the_account_language(
    client_a: User, smtp: Inbox
) -> None:
    speaks_spanish(client_a)
    anonymous = Client(HTTP_ACCEPT_LANGUAGE="en")
    response = anonymous.post(reverse("account_reset_password"), {"email": client_a.email})
    assert response.status_code == 302
    run_task_worker()
    [message] = smtp.take()
    text = text_of(message)
    assert "contraseña" in text.lower()
    assert "password reset" not in text.lower()


@pytest.mark.django_db(transaction=True)
def test_the_message_socket_refuses_in_the_senders_language(
    client_a: User, therapist_x: User
) -> None:
    speaks_spanish(client_a)
    relationship = CareRelationship.objects.get(client=client_a, therapist=therapist_x)
    chat = str(conversation_for(relationship).uid)
    browser = signed_in(client_a)

    refusals: list[dict[str, Any]] = []

    async def body() -> None:
        socket = WebsocketCommunicator(
            application, "/ws/messages/", headers=socket_headers(browser, b"http://127.0.0.1")
        )
        connected, code = await socket.connect(timeout=5)
        assert connected, code
        while True:
            frame: dict[str, Any] = await socket.receive_json_from(timeout=5)
            if frame["type"] == "welcome":
                break
        await socket.send_json_to(
            {"type": "send", "conversation": chat, "id": str(uuid.uuid4()), "text": "  "}
        )
        while True:
            frame = await socket.receive_json_from(timeout=5)
            if frame["type"] == "error":
                refusals.append(frame)
                await socket.disconnect()
                return

    run_async(body)
    assert [r["error"] for r in refusals] == ["Primero escriba un mensaje."]
