"""WebSocket routes. Each consumer authorises every message through ``rapport.care.access``."""

from typing import Any

from django.urls import path

from rapport.home.consumers import EventsConsumer
from rapport.messaging.consumers import MessagesConsumer
from rapport.visits.consumers import VisitConsumer

websocket_urlpatterns: list[Any] = [
    path("ws/events/", EventsConsumer.as_asgi()),
    path("ws/visits/<uuid:visit_id>/", VisitConsumer.as_asgi()),
    path("ws/messages/", MessagesConsumer.as_asgi()),
]
