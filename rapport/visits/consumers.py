"""The session room's signaling socket (protocol: docs/protocol.md).

The server relays offers, answers and ICE candidates between the two browsers and never carries
media. Every message is size-checked, rate-limited, validated against its schema and authorised
for the sender's role and state before anything happens; state changes go through
``rapport.visits.services`` in a transaction with the visit row locked.
"""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import timedelta
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils import timezone

from rapport.core import metrics, realtime
from rapport.core.sockets import (
    SESSION_ENDED,
    FrameError,
    HandlerGuard,
    SessionToucher,
    live_groups,
    read_frame,
    refuse_unless_signed_in,
    session_alive,
)
from rapport.lib.ratelimit import Bucket
from rapport.lib.turn import ice_servers
from rapport.safety.forms import (
    SafetyPlanForm,
    field_limit,
    form_problems,
    initial_from,
    plan_content,
)
from rapport.safety.services import save_version
from rapport.visits import services
from rapport.visits.access import access_checkin, access_visit
from rapport.visits.models import EventKind, Visit
from rapport.visits.quality import OWN, PEER, LinkQuality
from rapport.visits.schema import SchemaError, validate
from rapport.visits.services import CLIENT, THERAPIST

# Close codes (docs/protocol.md); 4001 (SESSION_ENDED) is shared by every socket.
NOT_FOUND = 4404
REPLACED = 4409
VISIT_ENDED = 4410
TOO_MANY = 4429

BUCKET_SIZE = 200.0
BUCKET_RATE = 50.0
CHAT_BUCKET_SIZE = 10.0
CHAT_RATE = 5.0
# Each save of the safety plan stores a version: a few in a row, then one a second.
PLAN_SAVE_BUCKET_SIZE = 5.0
PLAN_SAVE_RATE = 1.0
REFUSALS_BEFORE_CLOSE = 100

# Which sender may send what. "admitted": the sender is in the room (a waiting client is not).
ANYONE = {"ping"}
ADMITTED = {
    "sdp",
    "ice",
    "modality",
    "media",
    "quality",
    "reconnect",
    "signaling_outage",
    "chat",
    "plan_edit",
    "plan_save",
}
THERAPIST_ONLY = {"admit", "wait_message", "end"}
RELAYED = {"sdp", "ice"}

RECONNECT_EVENTS = {
    "started": EventKind.RECONNECTING,
    "completed": EventKind.RECONNECTED,
    "failed": EventKind.RECONNECT_FAILED,
}


class VisitConsumer(HandlerGuard, AsyncWebsocketConsumer):  # type: ignore[misc]
    visit: Visit
    role: str
    state: str
    group: str

    async def connect(self) -> None:
        self.groups_joined: list[str] = []
        if await refuse_unless_signed_in(self):
            return
        self.user = user = self.scope["user"]
        self.connection = secrets.token_hex(8)
        self.bucket = Bucket(BUCKET_SIZE, BUCKET_RATE)
        self.chat_bucket = Bucket(CHAT_BUCKET_SIZE, CHAT_RATE)
        self.plan_save_bucket = Bucket(PLAN_SAVE_BUCKET_SIZE, PLAN_SAVE_RATE)
        self.refusals = 0
        self.ended = False
        self.peer_state = "away"
        self.peer_connection = ""
        self.last_quality = "unknown"
        self.link = LinkQuality(settings.RAPPORT_QUALITY_POLICY)
        self.session_toucher = SessionToucher()
        visit_uid = self.scope["url_route"]["kwargs"]["visit_id"]
        visit = await database_sync_to_async(self._find)(visit_uid, user)
        if visit is None:
            await self._close_at_once(NOT_FOUND)
            return
        if visit.is_ended:
            await self._close_at_once(VISIT_ENDED)
            return
        try:
            joined = await database_sync_to_async(services.connect)(
                visit.pk, user, self.channel_name, self.connection
            )
        except PermissionDenied:
            await self._close_at_once(NOT_FOUND)
            return
        except ValidationError:
            await self._close_at_once(VISIT_ENDED)
            return
        self.visit, self.role, self.state = joined.visit, joined.role, joined.state
        # Only a socket that took over from an earlier one of the same person can have been
        # down before: it may report that outage once (``signaling_outage``).
        self.outage_reportable = joined.returned or bool(joined.replaced_channel)
        self.connected_at = timezone.now()
        self.modality = self.visit.modality
        self.group = services.visit_group(self.visit)
        self.groups_joined = [self.group, *live_groups(self.scope)]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        if joined.replaced_channel and joined.replaced_channel != self.channel_name:
            await realtime.send_now(joined.replaced_channel, {"type": "visit.replaced"})
        await self.send_json(await database_sync_to_async(self._welcome)())
        await self._announce(ready=joined.both_in)

    async def _close_at_once(self, code: int) -> None:
        """Accept, then close with ``code``: a refused handshake reaches the client as HTTP 403
        with no code at all, and a signed-in person's page must learn that this room is gone
        (or never was theirs) to stop coming back."""
        await self.accept()
        await self.close(code=code)

    def _find(self, visit_uid: uuid.UUID, user: Any) -> Visit | None:
        """The visit through the same check as its pages: unknown and foreign ids alike close
        with 4404."""
        try:
            visit, _role = access_visit(user, visit_uid)
        except Http404:
            return None
        return visit

    def _welcome(self) -> dict[str, Any]:
        visit, _role = access_visit(self.user, self.visit.uid)
        self.visit = visit
        peer_role = CLIENT if self.role == THERAPIST else THERAPIST
        peer = services.presence_of(visit, peer_role)
        self.peer_state, self.peer_connection = peer.state, peer.connection
        checkin = access_checkin(self.user, visit, self.role)
        return {
            "type": "welcome",
            "you": {"role": self.role, "state": self.state},
            "peer": {
                "present": peer.present,
                "state": peer.state,
                "name": self._name(peer_role),
                "connection": peer.connection or None,
            },
            "visit": str(visit.uid),
            "modality": visit.modality,
            "modalities": services.allowed_modalities(visit),
            "ice_servers": ice_servers(self.user.pk),
            "ice_transport_policy": settings.RAPPORT_ICE_TRANSPORT_POLICY,
            "quality": settings.RAPPORT_QUALITY_POLICY,
            "rejoin_grace_seconds": settings.RAPPORT_VISIT_REJOIN_GRACE_SECONDS,
            "chat": [self._chat_json(m) for m in services.chat_history(visit)],
            "checkin": checkin.as_dict() if checkin is not None else None,
            "connection": self.connection,
        }

    def _name(self, role: str) -> str:
        person = self.visit.therapist if role == THERAPIST else self.visit.client
        return str(person.full_name)

    def _chat_json(self, message: Any) -> dict[str, Any]:
        role = THERAPIST if message.sender_id == self.visit.therapist_id else CLIENT
        return {
            "type": "chat",
            "id": str(message.client_uid),
            "from": role,
            "name": self._name(role),
            "text": message.body,
            "at": message.created_at.isoformat(),
        }

    async def _announce(self, *, ready: bool) -> None:
        """Tell the room where this socket stands; start the call when both are in."""
        await realtime.publish_now(
            self.group,
            {
                "type": "visit.presence",
                "role": self.role,
                "present": True,
                "state": self.state,
                "connection": self.connection,
            },
        )
        if ready:
            await self._send_ready()

    async def _send_ready(self) -> None:
        visit, _role = await database_sync_to_async(access_visit)(self.user, self.visit.uid)
        await realtime.publish_now(
            self.group,
            {
                "type": "visit.ready",
                THERAPIST: visit.therapist_connection,
                CLIENT: visit.client_connection,
            },
        )

    async def disconnect(self, code: int) -> None:
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        if not hasattr(self, "visit"):
            return
        visit = await database_sync_to_async(services.disconnect)(
            self.visit.pk, self.user, self.channel_name
        )
        if visit is None or visit.is_ended:
            return
        peer_view = services.presence_of(visit, self.role)
        await realtime.publish_now(
            self.group,
            {
                "type": "visit.presence",
                "role": self.role,
                "present": False,
                "state": peer_view.state,
                "connection": "",
            },
        )

    # --- Incoming --------------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.ended:
            return
        if not self.bucket.take():
            await self._refuse("rate limit: slow down", None)
            return
        try:
            message = read_frame(text_data, bytes_data)
        except FrameError as unreadable:
            await self._refuse(str(unreadable), None)
            return
        try:
            kind, fields = validate(message)
        except SchemaError as exc:
            ref = message.get("type") if isinstance(message, dict) else None
            await self._refuse(str(exc), ref if isinstance(ref, str) else None)
            return
        if not session_alive(self.scope):
            await self.close(code=SESSION_ENDED)
            return
        refusal = self._authorise(kind)
        if refusal:
            await self._refuse(refusal, kind)
            return
        if kind == "chat" and not self.chat_bucket.take():
            await self._refuse("rate limit: slow down", kind)
            return
        if kind == "plan_save" and not self.plan_save_bucket.take():
            await self._refuse("rate limit: slow down", kind)
            return
        await self.session_toucher.touch(self.scope)  # time in the room is activity
        try:
            await getattr(self, f"on_{kind}")(fields)
        except PermissionDenied:
            await self._refuse("not allowed now", kind)
        except ValidationError as exc:
            await self._refuse(" ".join(exc.messages), kind)

    def _authorise(self, kind: str) -> str:
        if kind in ANYONE:
            return ""
        if kind in THERAPIST_ONLY:
            return "" if self.role == THERAPIST else "only the therapist can do that"
        if self.state != "admitted":
            return "you are in the waiting room"
        if kind in RELAYED and self.peer_state != "admitted":
            return "the other person is not in the room"
        return ""

    async def _refuse(self, text: str, ref: str | None) -> None:
        self.refusals += 1
        await self.send_json({"type": "error", "error": text, "ref": ref})
        if self.refusals > REFUSALS_BEFORE_CLOSE:
            await self.close(code=TOO_MANY)

    async def on_ping(self, fields: dict[str, Any]) -> None:
        await self.send_json({"type": "pong", "id": fields.get("id")})

    async def on_admit(self, fields: dict[str, Any]) -> None:
        await database_sync_to_async(services.admit)(self.visit.pk, self.user)
        await realtime.publish_now(self.group, {"type": "visit.admitted"})
        await self._send_ready()

    async def on_wait_message(self, fields: dict[str, Any]) -> None:
        await database_sync_to_async(services.wait_message)(self.visit.pk, self.user)
        await self._to_peer(
            {"type": "wait_message", "text": fields["text"], "at": _now_iso()}, relay=False
        )

    async def on_sdp(self, fields: dict[str, Any]) -> None:
        await self._to_peer({"type": "sdp", "description": fields["description"]})

    async def on_ice(self, fields: dict[str, Any]) -> None:
        await self._to_peer({"type": "ice", "candidate": fields["candidate"]})

    async def on_media(self, fields: dict[str, Any]) -> None:
        await self._to_peer({"type": "peer_media", **fields})

    async def on_quality(self, fields: dict[str, Any]) -> None:
        level = fields["level"]
        self.link.report(OWN, fields)
        await self._to_peer({"type": "peer_quality", **fields})
        if level == self.last_quality or level in ("fair", "unknown"):
            return
        previous, self.last_quality = self.last_quality, level
        if level == "poor":
            await database_sync_to_async(services.note)(
                self.visit.pk, self.user, EventKind.QUALITY_POOR, detail=_figures(fields)
            )
        elif previous == "poor":
            await database_sync_to_async(services.note)(
                self.visit.pk, self.user, EventKind.QUALITY_RECOVERED, detail=_figures(fields)
            )

    async def on_reconnect(self, fields: dict[str, Any]) -> None:
        metrics.call_recovery(fields["phase"])
        await database_sync_to_async(services.note)(
            self.visit.pk,
            self.user,
            RECONNECT_EVENTS[fields["phase"]],
            reason=fields["cause"],
            detail=_outage(fields),
            seconds=None if fields.get("lost_ms") is None else fields["lost_ms"] / 1000,
        )

    async def on_signaling_outage(self, fields: dict[str, Any]) -> None:
        if not self.outage_reportable:
            raise ValidationError("This socket has no earlier outage to report.")
        self.outage_reportable = False
        # The outage ended when this socket connected; the page measured how long it lasted.
        ended = self.connected_at
        started = ended - timedelta(milliseconds=fields["down_ms"])
        await database_sync_to_async(services.signaling_outage)(
            self.visit.pk, self.user, started=started, ended=ended
        )

    async def on_modality(self, fields: dict[str, Any]) -> None:
        detail = ""
        if fields["reason"] == "connection":
            # Only the figures this socket was sent can make it "because of the connection".
            found = self.link.connection_detail(self.modality, fields["modality"])
            if found is None:
                raise ValidationError("The connection figures do not call for this switch.")
            detail = found
        await database_sync_to_async(services.switch_modality)(
            self.visit.pk, self.user, fields["modality"], reason=fields["reason"], detail=detail
        )
        await realtime.publish_now(
            self.group,
            {
                "type": "visit.relay",
                "to": None,
                "message": {
                    "type": "modality",
                    "modality": fields["modality"],
                    "by": self.role,
                    "reason": fields["reason"],
                    "detail": detail,
                },
            },
        )

    async def on_chat(self, fields: dict[str, Any]) -> None:
        message, created = await database_sync_to_async(services.store_chat)(
            self.visit.pk, self.user, fields["id"], fields["text"]
        )
        if created:
            await realtime.publish_now(
                self.group,
                {"type": "visit.relay", "to": None, "message": self._chat_json(message)},
            )
        await self.send_json({"type": "chat_ack", "id": str(fields["id"])})

    async def on_plan_edit(self, fields: dict[str, Any]) -> None:
        limit = field_limit(fields["field"])
        if len(fields["value"]) > limit:
            raise ValidationError(f"{fields['field']} takes at most {limit} characters")
        await self._to_peer(
            {"type": "plan_edit", "field": fields["field"], "value": fields["value"]},
            relay=False,
        )

    async def on_plan_save(self, fields: dict[str, Any]) -> None:
        version = await database_sync_to_async(self._save_plan)(fields["plan"])
        await realtime.publish_now(
            self.group,
            {
                "type": "visit.relay",
                "to": None,
                "message": {
                    "type": "plan_saved",
                    "number": version.number,
                    "by": self.role,
                    "name": self._name(self.role),
                    "plan": initial_from(version),
                },
            },
        )

    def _save_plan(self, values: dict[str, str]) -> Any:
        """A new version of the client's safety plan, written by both in this session."""
        visit, _role = access_visit(self.user, self.visit.uid)
        form = SafetyPlanForm(data=values)
        if not form.is_valid():
            raise ValidationError(form_problems(form))
        return save_version(
            self.user, visit.client, plan_content(form.cleaned_data), visit_uid=visit.uid
        )

    async def on_end(self, fields: dict[str, Any]) -> None:
        # The service broadcasts "visit.ended" to the room after commit.
        await database_sync_to_async(services.end)(self.visit.pk, self.user)

    async def _to_peer(self, message: dict[str, Any], *, relay: bool = True) -> None:
        peer = CLIENT if self.role == THERAPIST else THERAPIST
        await realtime.publish_now(
            self.group, {"type": "visit.relay", "to": peer, "message": message}
        )

    # --- From the room's group -------------------------------------------------------------

    async def visit_relay(self, event: dict[str, Any]) -> None:
        if event["to"] not in (None, self.role):
            return
        message = event["message"]
        if message["type"] == "peer_quality":
            self.link.report(PEER, message)
        elif message["type"] == "modality":
            self.modality = message["modality"]
        await self.send_json(message)

    async def visit_presence(self, event: dict[str, Any]) -> None:
        if event["role"] == self.role:
            return
        self.peer_state = event["state"]
        self.peer_connection = event["connection"]
        message: dict[str, Any] = {
            "type": "peer",
            "present": event["present"],
            "state": event["state"],
            "name": self._name(event["role"]),
            "connection": event["connection"] or None,
        }
        if self.role == THERAPIST and event["present"] and event["state"] == "waiting":
            checkin = await database_sync_to_async(services.current_checkin)(self.visit)
            message["checkin"] = checkin.as_dict() if checkin is not None else None
        await self.send_json(message)

    async def visit_checkin(self, event: dict[str, Any]) -> None:
        if self.role == THERAPIST:
            await self.send_json(
                {
                    "type": "peer",
                    "present": self.peer_state not in ("away", "reconnecting"),
                    "state": self.peer_state,
                    "name": self._name(CLIENT),
                    "connection": self.peer_connection or None,
                    "checkin": event["checkin"],
                }
            )

    async def visit_admitted(self, event: dict[str, Any]) -> None:
        if self.role == CLIENT:
            self.state = "admitted"
            await self.send_json({"type": "admitted"})
        else:
            self.peer_state = "admitted"
            await self.send_json(
                {
                    "type": "peer",
                    "present": True,
                    "state": "admitted",
                    "name": self._name(CLIENT),
                    "connection": self.peer_connection or None,
                }
            )

    async def visit_ready(self, event: dict[str, Any]) -> None:
        peer = CLIENT if self.role == THERAPIST else THERAPIST
        if event[self.role] != self.connection or not event[peer]:
            return  # an older socket of mine, or the peer already left again
        self.state, self.peer_state = "admitted", "admitted"
        self.peer_connection = event[peer]
        await self.send_json(
            {"type": "ready", "polite": self.role == CLIENT, "peer_connection": event[peer]}
        )

    async def visit_ended(self, event: dict[str, Any]) -> None:
        self.ended = True
        await self.send_json({"type": "ended", "by": event["by"], "at": event["at"]})
        await self.close(code=VISIT_ENDED)

    async def visit_replaced(self, event: dict[str, Any]) -> None:
        self.ended = True
        await self.send_json({"type": "replaced"})
        await self.close(code=REPLACED)

    async def user_event(self, event: dict[str, Any]) -> None:
        """Per-user events (alerts, messages) are for the events socket, not the room."""

    async def inbox_event(self, event: dict[str, Any]) -> None:
        """Messaging frames are for the messages socket (room chat has its own)."""

    async def session_ended(self, event: dict[str, Any]) -> None:
        self.ended = True
        await self.send_json({"type": "session.ended"})
        await self.close(code=SESSION_ENDED)

    async def send_json(self, message: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(message))


def _now_iso() -> str:
    return timezone.now().isoformat()


def _figures(fields: dict[str, Any]) -> str:
    """The numbers behind a quality change, for the timeline ("rtt 420 ms, loss 12 %")."""
    parts = []
    if fields.get("rtt_ms") is not None:
        parts.append(f"rtt {round(fields['rtt_ms'])} ms")
    if fields.get("loss") is not None:
        parts.append(f"loss {round(fields['loss'] * 100)} %")
    if fields.get("jitter_ms") is not None:
        parts.append(f"jitter {round(fields['jitter_ms'])} ms")
    if fields.get("bitrate_kbps") is not None:
        parts.append(f"{round(fields['bitrate_kbps'])} kbit/s")
    return ", ".join(parts)


def _outage(fields: dict[str, Any]) -> str:
    """A media loss's figures, for the timeline ("no media for 33.4 s, 3 ICE restarts")."""
    parts = []
    if fields.get("lost_ms") is not None:
        parts.append(f"no media for {fields['lost_ms'] / 1000:.1f} s")
    if fields.get("ice_restarts") is not None:
        restarts = round(fields["ice_restarts"])
        parts.append(f"{restarts} ICE restart{'' if restarts == 1 else 's'}")
    return ", ".join(parts)
