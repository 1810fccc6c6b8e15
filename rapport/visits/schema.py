"""The schema of every message a browser may send on the room socket (docs/protocol.md).

``validate`` returns the message type and its checked fields, or raises ``SchemaError`` with a
message that says what is wrong. Unknown types and unknown fields are refused.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from typing import Any

from rapport.safety.forms import field_names


class SchemaError(ValueError):
    pass


Check = Callable[[str, Any], Any]


def text(low: int, high: int) -> Check:
    def check(name: str, value: Any) -> str:
        if not isinstance(value, str) or not low <= len(value) <= high:
            raise SchemaError(f"{name} must be text of {low} to {high} characters")
        if low > 0 and not value.strip():
            raise SchemaError(f"{name} must not be blank")
        return value

    return check


def choice(*options: str) -> Check:
    def check(name: str, value: Any) -> str:
        if value not in options:
            raise SchemaError(f"{name} must be one of: {', '.join(options)}")
        return str(value)

    return check


def boolean(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise SchemaError(f"{name} must be true or false")
    return value


def number(low: float, high: float) -> Check:
    def check(name: str, value: Any) -> float | None:
        if value is None:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise SchemaError(f"{name} must be a number or null")
        if not low <= value <= high:
            raise SchemaError(f"{name} must be between {low} and {high}")
        return float(value)

    return check


def message_id(name: str, value: Any) -> uuid.UUID:
    try:
        return uuid.UUID(str(value)) if isinstance(value, str) else _bad(name)
    except ValueError:
        return _bad(name)


def _bad(name: str) -> uuid.UUID:
    raise SchemaError(f"{name} must be a UUID")


def any_json(name: str, value: Any) -> Any:
    return value


def optional_text(high: int) -> Check:
    def check(name: str, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or len(value) > high:
            raise SchemaError(f"{name} must be text of at most {high} characters or null")
        return value

    return check


def whole(low: int, high: int) -> Check:
    def check(name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise SchemaError(f"{name} must be a whole number from {low} to {high}")
        return value

    return check


def optional_int(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 64:
        raise SchemaError(f"{name} must be a small whole number or null")
    return value


def obj(required: dict[str, Check], optional: dict[str, Check] | None = None) -> Check:
    optional = optional or {}

    def check(name: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise SchemaError(f"{name} must be an object")
        return fields(value, required, optional, prefix=f"{name}.")

    return check


def nullable(inner: Check) -> Check:
    def check(name: str, value: Any) -> Any:
        return None if value is None else inner(name, value)

    return check


def fields(
    value: dict[str, Any],
    required: dict[str, Check],
    optional: dict[str, Check],
    prefix: str = "",
) -> dict[str, Any]:
    unknown = set(value) - set(required) - set(optional)
    if unknown:
        raise SchemaError(f"unknown field {prefix}{sorted(unknown)[0]}")
    checked = {}
    for key, check in required.items():
        if key not in value:
            raise SchemaError(f"{prefix}{key} is required")
        checked[key] = check(prefix + key, value[key])
    for key, check in optional.items():
        if key in value:
            checked[key] = check(prefix + key, value[key])
    return checked


FIGURES = {
    "rtt_ms": number(0, 600_000),
    "loss": number(0, 1),
    "jitter_ms": number(0, 600_000),
    "bitrate_kbps": number(0, 10_000_000),
    "fps": number(0, 1000),
    "audio_packets": number(0, 1_000_000_000),  # audio packets received in the sample
}
MODALITY = choice("video", "audio", "text")
CANDIDATE = obj(
    {
        "candidate": text(0, 1000),
        "sdpMid": optional_text(64),
        "sdpMLineIndex": optional_int,
    },
    {"usernameFragment": optional_text(256)},
)


def plan_field(name: str, value: Any) -> str:
    """The name of one of the safety plan's fields (``rapport.safety.forms``)."""
    if not isinstance(value, str) or value not in PLAN_FIELDS:
        raise SchemaError(f"{name} must name a field of the safety plan")
    return value


def plan_values(name: str, value: Any) -> dict[str, str]:
    """The whole safety plan: known field names to text within each field's limit."""
    if not isinstance(value, dict):
        raise SchemaError(f"{name} must be an object")
    for key, text_value in value.items():
        if key not in PLAN_FIELDS:
            raise SchemaError(f"unknown field {name}.{key}")
        if not isinstance(text_value, str):
            raise SchemaError(f"{name}.{key} must be text")
    return dict(value)


PLAN_FIELDS = field_names()

# type → (required fields, optional fields)
MESSAGES: dict[str, tuple[dict[str, Check], dict[str, Check]]] = {
    "ping": ({}, {"id": any_json}),
    "admit": ({}, {}),
    "wait_message": ({"text": text(1, 280)}, {}),
    "sdp": (
        {
            "description": obj(
                {"type": choice("offer", "answer", "rollback")}, {"sdp": text(0, 60_000)}
            )
        },
        {},
    ),
    "ice": ({"candidate": nullable(CANDIDATE)}, {}),
    # No words from the browser: the server writes why (rapport.visits.quality).
    "modality": ({"modality": MODALITY, "reason": choice("user", "connection")}, {}),
    "media": ({"audio": boolean, "video": boolean, "screen": boolean}, {}),
    "quality": ({"level": choice("good", "fair", "poor", "unknown")}, FIGURES),
    "reconnect": (
        {
            "phase": choice("started", "completed", "failed"),
            "cause": choice(
                "ice_failed", "network_change", "socket_dropped", "page_reload", "media_lost"
            ),
        },
        # A completed media loss: how long no media arrived, and the ICE restarts it took.
        {"lost_ms": number(0, 86_400_000), "ice_restarts": number(0, 100_000)},
    ),
    # This page's room socket was down for ``down_ms`` while its peer connection kept carrying
    # media (sent once, by a socket that took over from an earlier one).
    "signaling_outage": ({"down_ms": whole(1, 86_400_000)}, {}),
    "chat": ({"id": message_id, "text": text(1, 4000)}, {}),
    # The safety plan written together: one field as typed (relayed, not stored), and saving.
    # Each text's own limit is checked by the plan's form (``rapport.safety.forms``).
    "plan_edit": ({"field": plan_field, "value": text(0, 2000)}, {}),
    "plan_save": ({"plan": plan_values}, {}),
    "end": ({}, {}),
}


def validate(message: Any) -> tuple[str, dict[str, Any]]:
    if not isinstance(message, dict):
        raise SchemaError("a message must be a JSON object")
    kind = message.get("type")
    if not isinstance(kind, str) or kind not in MESSAGES:
        raise SchemaError("unknown message type")
    required, optional = MESSAGES[kind]
    body = {key: value for key, value in message.items() if key != "type"}
    return kind, fields(body, required, optional)
