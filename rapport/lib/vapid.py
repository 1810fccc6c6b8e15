"""VAPID keys for Web Push (RFC 8292): the practice's P-256 key pair that push services check.

The private key is written as the base64url of its 32-byte scalar (the form ``rapport keys vapid``
prints and ``RAPPORT_VAPID_PRIVATE_KEY`` holds); the public key, which browsers receive as the
``applicationServerKey`` of a subscription, is derived from it and never configured apart.
"""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from rapport.lib.config import ConfigError


class VapidKeyError(ConfigError):
    """A VAPID private key that is not the base64url of a P-256 scalar."""


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def generate_vapid_key() -> str:
    """A new private key, as base64url of its 32 bytes."""
    key = ec.generate_private_key(ec.SECP256R1())
    return _b64url(key.private_numbers().private_value.to_bytes(32, "big"))


def load_vapid_key(text: str) -> ec.EllipticCurvePrivateKey:
    try:
        raw = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except ValueError as exc:
        raise VapidKeyError("RAPPORT_VAPID_PRIVATE_KEY is not base64url") from exc
    if len(raw) != 32:
        raise VapidKeyError("RAPPORT_VAPID_PRIVATE_KEY must be 32 bytes (rapport keys vapid)")
    try:
        return ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
    except ValueError as exc:
        raise VapidKeyError("RAPPORT_VAPID_PRIVATE_KEY is not a P-256 private key") from exc


def vapid_public_key(private: str) -> str:
    """The public key browsers subscribe with: base64url of the uncompressed point (65 bytes)."""
    point = (
        load_vapid_key(private)
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return _b64url(point)
