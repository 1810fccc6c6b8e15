"""Authenticated encryption of text at rest with a rotating key ring.

A stored value looks like ``enc1$<key id>$<base64(nonce || ciphertext+tag)>``. The key id names the
key that wrote it, so after a rotation old rows still decrypt with the older keys until
``rapport keys rotate`` re-encrypts them with the first (current) key. Each value is bound to
the place it is stored in (associated data), so ciphertext copied to another column won't decrypt.

Files (message attachments) use the same keys in a binary form,
``enc1$<key id>$<nonce><ciphertext+tag>``, bound the same way to a context such as the file's id.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "enc1"
BYTES_PREFIX = PREFIX.encode("ascii")
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16


class KeyRingError(ValueError):
    """The configured keys are unusable."""


class DecryptionError(ValueError):
    """A stored value cannot be decrypted with any configured key."""


def generate_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def key_id(raw_key: bytes) -> str:
    return hashlib.sha256(raw_key).hexdigest()[:8]


@dataclass(frozen=True)
class KeyRing:
    """Keys in priority order: the first encrypts, all of them decrypt."""

    keys: tuple[bytes, ...]

    @classmethod
    def from_strings(cls, encoded: list[str]) -> KeyRing:
        if not encoded:
            raise KeyRingError("no encryption key is configured")
        keys = []
        for position, item in enumerate(encoded, start=1):
            try:
                raw = base64.b64decode(item.encode("ascii"), altchars=b"-_", validate=True)
            except (binascii.Error, UnicodeEncodeError) as exc:
                raise KeyRingError(f"encryption key #{position} is not valid base64") from exc
            if len(raw) != KEY_BYTES:
                raise KeyRingError(
                    f"encryption key #{position} must decode to {KEY_BYTES} bytes, not {len(raw)}"
                )
            keys.append(raw)
        return cls(tuple(keys))

    @property
    def current_id(self) -> str:
        return key_id(self.keys[0])

    def encrypt(self, plaintext: str, context: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.keys[0]).encrypt(nonce, plaintext.encode("utf-8"), context.encode())
        body = base64.urlsafe_b64encode(nonce + sealed).decode("ascii")
        return f"{PREFIX}${self.current_id}${body}"

    def decrypt(self, token: str, context: str) -> str:
        try:
            prefix, kid, body = token.split("$", 2)
        except ValueError as exc:
            raise DecryptionError("value is not in the encrypted format") from exc
        if prefix != PREFIX:
            raise DecryptionError("value is not in the encrypted format")
        try:
            blob = base64.urlsafe_b64decode(body.encode("ascii"))
        except (binascii.Error, UnicodeEncodeError) as exc:
            raise DecryptionError("encrypted value is damaged") from exc
        if len(blob) < NONCE_BYTES + TAG_BYTES:
            raise DecryptionError("encrypted value is damaged")
        for raw in self.keys:
            if key_id(raw) != kid:
                continue
            try:
                data = AESGCM(raw).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode())
            except InvalidTag as exc:
                raise DecryptionError("encrypted value failed its integrity check") from exc
            return data.decode("utf-8")
        raise DecryptionError(f"no configured key has id {kid}; was a key removed too early?")

    def encrypt_bytes(self, data: bytes, context: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.keys[0]).encrypt(nonce, data, context.encode())
        return b"$".join((BYTES_PREFIX, self.current_id.encode("ascii"), nonce + sealed))

    def decrypt_bytes(self, blob: bytes, context: str) -> bytes:
        parts = blob.split(b"$", 2)
        if len(parts) != 3 or parts[0] != BYTES_PREFIX:
            raise DecryptionError("data is not in the encrypted format")
        kid, body = parts[1].decode("ascii", errors="replace"), parts[2]
        if len(body) < NONCE_BYTES + TAG_BYTES:
            raise DecryptionError("encrypted data is damaged")
        for raw in self.keys:
            if key_id(raw) != kid:
                continue
            try:
                return AESGCM(raw).decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:], context.encode())
            except InvalidTag as exc:
                raise DecryptionError("encrypted data failed its integrity check") from exc
        raise DecryptionError(f"no configured key has id {kid}; was a key removed too early?")

    @staticmethod
    def key_id_of_bytes(blob: bytes) -> str | None:
        parts = blob[:64].split(b"$", 2)
        if len(parts) != 3 or parts[0] != BYTES_PREFIX:
            return None
        return parts[1].decode("ascii", errors="replace")

    @staticmethod
    def key_id_of(token: str) -> str | None:
        parts = token.split("$", 2)
        return parts[1] if len(parts) == 3 and parts[0] == PREFIX else None
