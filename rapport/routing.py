"""WebSocket routes. Each consumer authorises every message through ``rapport.care.access``;
each is counted while open (``rapport_websockets_open``)."""

from typing import Any

from django.urls import path

from rapport.core.metrics import CountedSocket
from rapport.home.consumers import EventsConsumer
from rapport.messaging.consumers import MessagesConsumer
from rapport.visits.consumers import VisitConsumer

websocket_urlpatterns: list[Any] = [
    path("ws/events/", CountedSocket("events", EventsConsumer.as_asgi())),
    path("ws/visits/<uuid:visit_id>/", CountedSocket("visit", VisitConsumer.as_asgi())),
    path("ws/messages/", CountedSocket("messages", MessagesConsumer.as_asgi())),
]
