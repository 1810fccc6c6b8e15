"""Encryption at rest: nothing readable on disk, key rotation, column binding, the crypto core."""

from __future__ import annotations

import base64
import re
import secrets
import subprocess
from collections.abc import Iterator
from datetime import date, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import FieldError
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from rapport.accounts.models import User
from rapport.core.encryption import encrypted_fields, key_ring, reset_key_ring
from rapport.lib.crypto import DecryptionError, KeyRing, KeyRingError, generate_key, key_id
from tests.conftest import make_user, signed_in, signed_in_through_the_form, totp_secret
from tests.helpers import totp_code


@pytest.fixture(autouse=True)
def _fresh_key_ring() -> Iterator[None]:
    reset_key_ring()
    yield
    reset_key_ring()


def _key_id(encoded: str) -> str:
    return key_id(base64.urlsafe_b64decode(encoded))


def _raw_values() -> list[tuple[str, Any, str]]:
    """(label, pk, stored token) of every encrypted column value in the database."""
    found = []
    with connection.cursor() as cursor:
        for model, field in encrypted_fields():
            pk = model._meta.pk
            assert pk is not None
            cursor.execute(
                f"SELECT {pk.column}, {field.column} FROM {model._meta.db_table}"  # noqa: S608
            )
            for row_pk, token in cursor.fetchall():
                if token is None:  # an empty nullable field (a date not known) holds nothing
                    continue
                found.append((f"{model._meta.label}.{field.name}", row_pk, token))
    return found


# --- No plaintext at rest ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_record_contents_never_reach_the_disk_in_plaintext(
    client_a: User, therapist_x: User, tmp_path: Path
) -> None:
    canary = f"canary{secrets.token_hex(8)}"
    # preferred_name is not encrypted: it proves the scan below really sees stored text.
    visible = f"visible{secrets.token_hex(8)}"
    browser = signed_in(therapist_x)
    response = browser.post(
        f"/clients/{client_a.pk}/edit/",
        {
            "preferred_name": visible,
            "phone": f"+1 555 {canary}",
            "emergency_contact": f"Bea (sister) {canary}",
            "intake_notes": f"Presenting concern: {canary}",
        },
    )
    assert response.status_code == 302
    page = browser.get(f"/clients/{client_a.pk}/").content.decode()
    assert page.count(canary) >= 3, "the app no longer shows what was saved"

    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        # Reading the files outside SQLite drops this process's locks on them: no connection
        # may stay open meanwhile (see tests/test_erasure.py, ``files_holding``).
        connection.close()
        database = Path(connection.settings_dict["NAME"])
        files = [
            path
            for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm"))
            if path.exists()
        ]
        assert database in files
        stored = b"".join(path.read_bytes() for path in files)
    else:
        settings_dict = connection.settings_dict
        dump = tmp_path / "dump.sql"
        subprocess.run(
            [
                "pg_dump",
                "--host",
                settings_dict["HOST"] or "127.0.0.1",
                "--port",
                str(settings_dict["PORT"] or 5432),
                "--username",
                "postgres",
                "--no-password",
                "--file",
                str(dump),
                settings_dict["NAME"],
            ],
            check=True,
            timeout=120,
        )
        stored = dump.read_bytes()
    assert visible.encode() in stored, "the scan does not see the stored data"
    assert b"enc1$" in stored
    assert canary.encode() not in stored


# --- Key rotation --------------------------------------------------------------------------------


def test_rotation_moves_every_value_to_the_new_key(db: Any) -> None:
    from allauth.mfa.models import Authenticator
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
    from allauth.mfa.totp.internal.auth import TOTP

    from rapport.audit.models import AuditEvent
    from rapport.care.models import ClientProfile, EmergencyAccess

    old = settings.RAPPORT_ENCRYPTION_KEYS[0]
    new = generate_key()
    values: dict[str, Any] = {
        "phone": "+44 20 7946 0018",
        "emergency_contact": "Sam (partner) 07700 900123",
        "intake_notes": "Sleep problems since March; no risk indicators.",
        "date_of_birth": date(1961, 11, 3),
        "postal_address": "7 Mill Lane\nYork YO1 7HH",
    }

    with override_settings(RAPPORT_ENCRYPTION_KEYS=[old]):
        reset_key_ring()
        client = make_user("rotating.client@example.test", "client", "Rita Rotation")
        therapist = make_user("rotating.therapist@example.test", "therapist", "Tom Rotation")
        admin = make_user("rotating.admin@example.test", "admin", "Ann Rotation")
        profile = ClientProfile.objects.create(client=client, **values)
        EmergencyAccess.objects.create(
            admin=admin,
            client=client,
            reason="Client unreachable after a risk disclosure",
            expires_at=timezone.now() + timedelta(hours=1),
        )
        recovery = RecoveryCodes.activate(therapist)
        codes_before = recovery.generate_codes()
        tokens = _raw_values()
        assert tokens
        assert {KeyRing.key_id_of(token) for _, _, token in tokens} == {_key_id(old)}

    with override_settings(RAPPORT_ENCRYPTION_KEYS=[new, old]):
        reset_key_ring()
        # Before rotation, values written with the old key still read.
        assert {
            name: getattr(ClientProfile.objects.get(pk=profile.pk), name) for name in values
        } == values
        out = StringIO()
        call_command("rotate_keys", stdout=out)
        assert f"now use key {_key_id(new)}" in out.getvalue()
        # Two TOTP secrets (therapist, admin) and one recovery-code seed.
        assert "mfa.Authenticator.data: 3 re-encrypted" in out.getvalue()

        rotated = _raw_values()
        assert len(rotated) == len(tokens)
        assert {KeyRing.key_id_of(token) for _, _, token in rotated} == {_key_id(new)}
        for kind in (Authenticator.Type.TOTP, Authenticator.Type.RECOVERY_CODES):
            data = Authenticator.objects.get(user=therapist, type=kind).data
            for field in ("secret", "seed"):
                if field in data:
                    assert KeyRing.key_id_of(data[field]) == _key_id(new)
        event = AuditEvent.objects.get(action="security.keys_rotated")
        assert event.detail == {"key": _key_id(new), "values": len(tokens) + 3}
        # Running it again has nothing left to do.
        again = StringIO()
        call_command("rotate_keys", stdout=again)
        assert "Done: 0 values" in again.getvalue()

    with override_settings(RAPPORT_ENCRYPTION_KEYS=[new]):
        reset_key_ring()
        fresh = ClientProfile.objects.get(pk=profile.pk)
        assert {name: getattr(fresh, name) for name in values} == values
        grant = EmergencyAccess.objects.get(client=client)
        assert grant.reason == "Client unreachable after a risk disclosure"
        totp = TOTP(Authenticator.objects.get(user=therapist, type=Authenticator.Type.TOTP))
        assert totp.validate_code(totp_code(totp_secret(therapist)))
        recovery_after = RecoveryCodes(
            Authenticator.objects.get(user=therapist, type=Authenticator.Type.RECOVERY_CODES)
        )
        assert recovery_after.generate_codes() == codes_before

    with override_settings(RAPPORT_ENCRYPTION_KEYS=[old]):
        reset_key_ring()
        with pytest.raises(DecryptionError, match="no configured key"):
            ClientProfile.objects.get(pk=profile.pk)
        with pytest.raises(DecryptionError):
            EmergencyAccess.objects.get(client=client)


def test_rotating_authenticator_secrets_keeps_totp_working(db: Any) -> None:
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP

    from rapport.accounts.adapter import rotate_authenticator_secrets

    old = settings.RAPPORT_ENCRYPTION_KEYS[0]
    new = generate_key()
    with override_settings(RAPPORT_ENCRYPTION_KEYS=[old]):
        reset_key_ring()
        therapist = make_user("totp.rotation@example.test", "therapist", "Theo Totp")
    with override_settings(RAPPORT_ENCRYPTION_KEYS=[new, old]):
        reset_key_ring()
        assert rotate_authenticator_secrets() == 1
        assert rotate_authenticator_secrets() == 0
    with override_settings(RAPPORT_ENCRYPTION_KEYS=[new]):
        reset_key_ring()
        authenticator = Authenticator.objects.get(user=therapist, type=Authenticator.Type.TOTP)
        assert KeyRing.key_id_of(authenticator.data["secret"]) == _key_id(new)
        wrong = f"{(int(totp_code(totp_secret(therapist))) + 1) % 10**6:06d}"
        assert not TOTP(authenticator).validate_code(wrong)
        # The real sign-in (password, then a TOTP code) still works with the rotated secret.
        browser = signed_in_through_the_form(therapist)
        assert browser.get("/clients/").status_code == 200


# --- Values are bound to their column


def test_ciphertext_moved_to_another_column_does_not_decrypt(client_a: User) -> None:
    from rapport.care.models import ClientProfile

    profile = ClientProfile.objects.create(
        client=client_a, phone="+1 555 0100", intake_notes="original notes"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone FROM care_clientprofile WHERE id = %s", [profile.pk])
        (phone_token,) = cursor.fetchone()
        # Same key, valid token: only the column it now sits in is different.
        assert key_ring().decrypt(phone_token, "care.clientprofile.phone") == "+1 555 0100"
        cursor.execute(
            "UPDATE care_clientprofile SET intake_notes = %s WHERE id = %s",
            [phone_token, profile.pk],
        )
    with pytest.raises(DecryptionError, match="integrity"):
        ClientProfile.objects.get(pk=profile.pk)
    with pytest.raises(DecryptionError):
        key_ring().decrypt(phone_token, "mfa.authenticator")


def test_encrypted_fields_refuse_content_lookups(client_a: User) -> None:
    from rapport.care.models import ClientProfile

    ClientProfile.objects.create(client=client_a, intake_notes="findable?")
    assert ClientProfile.objects.filter(intake_notes__isnull=False).count() == 1
    with pytest.raises(FieldError, match="Unsupported lookup 'exact'"):
        list(ClientProfile.objects.filter(intake_notes="findable?"))


# --- rapport.lib.crypto


def test_round_trip_and_key_ids() -> None:
    first, second = generate_key(), generate_key()
    ring = KeyRing.from_strings([first, second])
    token = ring.encrypt("héllo wörld ✓", "ctx")
    assert token.startswith(f"enc1${_key_id(first)}$")
    assert KeyRing.key_id_of(token) == ring.current_id == _key_id(first)
    assert ring.decrypt(token, "ctx") == "héllo wörld ✓"
    assert ring.encrypt("same", "ctx") != ring.encrypt("same", "ctx")  # random nonces
    older = KeyRing.from_strings([second]).encrypt("from before", "ctx")
    assert ring.decrypt(older, "ctx") == "from before"
    assert KeyRing.key_id_of("plain text") is None
    assert KeyRing.key_id_of("enc2$abc$def") is None


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ([], "no encryption key"),
        (["%%%%not base64%%%%"], "not valid base64"),
        (["clé-non-ascii"], "not valid base64"),
        ([base64.urlsafe_b64encode(b"short").decode()], "must decode to 32 bytes, not 5"),
        ([generate_key(), base64.urlsafe_b64encode(bytes(64)).decode()], r"key #2 .* not 64"),
    ],
)
def test_unusable_keys_are_refused(keys: list[str], message: str) -> None:
    with pytest.raises(KeyRingError, match=message):
        KeyRing.from_strings(keys)


def test_tampered_or_foreign_ciphertext_fails() -> None:
    ring = KeyRing.from_strings([generate_key()])
    token = ring.encrypt("secret", "ctx")
    prefix, kid, body = token.split("$")
    blob = bytearray(base64.urlsafe_b64decode(body))
    blob[-1] ^= 0x01
    flipped = f"{prefix}${kid}${base64.urlsafe_b64encode(bytes(blob)).decode()}"
    with pytest.raises(DecryptionError, match="integrity"):
        ring.decrypt(flipped, "ctx")
    nonce_changed = bytearray(base64.urlsafe_b64decode(body))
    nonce_changed[0] ^= 0x80
    moved_nonce = base64.urlsafe_b64encode(bytes(nonce_changed)).decode()
    with pytest.raises(DecryptionError):
        ring.decrypt(f"{prefix}${kid}${moved_nonce}", "ctx")
    with pytest.raises(DecryptionError, match="integrity"):
        ring.decrypt(token, "other ctx")
    with pytest.raises(DecryptionError, match="no configured key"):
        KeyRing.from_strings([generate_key()]).decrypt(token, "ctx")
    for broken in ("secret", "enc1$only-two", f"enc9${kid}${body}", f"{prefix}${kid}$@@@@"):
        with pytest.raises(DecryptionError):
            ring.decrypt(broken, "ctx")
    with pytest.raises(DecryptionError):
        ring.decrypt(f"{prefix}${kid}$" + base64.urlsafe_b64encode(b"tiny").decode(), "ctx")


# --- rapport.lib.crypto: files


def test_bytes_round_trip_with_the_key_id_in_the_header() -> None:
    first, second = generate_key(), generate_key()
    ring = KeyRing.from_strings([first, second])
    data = bytes(range(256)) * 4 + b"$$ dollar signs do not confuse the header $$"
    blob = ring.encrypt_bytes(data, "messaging.attachment.1")
    assert blob.startswith(f"enc1${_key_id(first)}$".encode())
    assert KeyRing.key_id_of_bytes(blob) == ring.current_id
    assert ring.decrypt_bytes(blob, "messaging.attachment.1") == data
    assert ring.encrypt_bytes(data, "ctx") != ring.encrypt_bytes(data, "ctx")  # random nonces
    assert ring.decrypt_bytes(ring.encrypt_bytes(b"", "ctx"), "ctx") == b""
    # Written before a rotation: the older key still opens it.
    older = KeyRing.from_strings([second]).encrypt_bytes(b"from before", "ctx")
    assert ring.decrypt_bytes(older, "ctx") == b"from before"
    assert KeyRing.key_id_of_bytes(older) == _key_id(second)
    assert KeyRing.key_id_of_bytes(b"%PDF-1.4") is None
    # The text API is unchanged and the two do not mix.
    assert ring.decrypt(ring.encrypt("text", "ctx"), "ctx") == "text"
    with pytest.raises(DecryptionError):
        ring.decrypt_bytes(ring.encrypt("text", "ctx").encode(), "ctx")


def test_tampered_moved_or_foreign_bytes_fail() -> None:
    ring = KeyRing.from_strings([generate_key()])
    blob = ring.encrypt_bytes(b"a scanned letter", "messaging.attachment.1")
    flipped = bytearray(blob)
    flipped[-1] ^= 0x01
    with pytest.raises(DecryptionError, match="integrity"):
        ring.decrypt_bytes(bytes(flipped), "messaging.attachment.1")
    with pytest.raises(DecryptionError, match="integrity"):
        ring.decrypt_bytes(blob, "messaging.attachment.2")
    with pytest.raises(DecryptionError, match="no configured key"):
        KeyRing.from_strings([generate_key()]).decrypt_bytes(blob, "messaging.attachment.1")
    for broken in (b"", b"plain file", b"enc1$only-two", b"enc9$abcdef12$" + bytes(40), blob[:20]):
        with pytest.raises(DecryptionError):
            ring.decrypt_bytes(broken, "messaging.attachment.1")


def test_the_architecture_names_every_encrypted_field() -> None:
    """docs/architecture.md ("Encryption at rest") lists exactly the encrypted columns."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "architecture.md").read_text()
    section = text.split("## Encryption at rest", 1)[1].split("How it works:", 1)[0]
    documented = set()
    for line in section.splitlines():
        names = re.findall(r"`([A-Za-z_.]+)`", line)
        if not (line.startswith("- ") and names and "." in names[0]):
            continue
        model = ""
        for name in names:  # `Model.field`, then more fields of it, or the next `Model.field`
            if "." in name:
                model, name = name.split(".")
            documented.add((model, name))
    actual = {(model.__name__, field.name) for model, field in encrypted_fields()}
    assert documented == actual


# --- Clinical facts about risk -------------------------------------------------------------------


def test_a_risk_answer_and_its_alert_leave_no_plaintext_in_their_columns(
    therapist_x: User, client_a: User
) -> None:
    import json

    from rapport.audit.models import AuditEvent
    from rapport.measures.answers import submit
    from rapport.measures.assignments import assign, due_tasks
    from rapport.measures.models import Instrument, SafetyAlert

    phq9 = Instrument.objects.get(key="phq9", builtin=True)
    assign(therapist_x, client_a, phq9, "once")
    [task] = due_tasks(client_a)
    response = submit(task, client_a, {**{str(n): 1 for n in range(1, 9)}, "9": 2, "10": 1})
    alert = SafetyAlert.objects.get()
    # The app still reads both facts.
    assert response.risk_positive and alert.kind == "risk" and alert.is_open

    with connection.cursor() as cursor:
        columns = {
            column.name: index
            for index, column in enumerate(
                connection.introspection.get_table_description(cursor, "measures_response")
            )
        }
        cursor.execute("SELECT * FROM measures_response WHERE id = %s", [response.pk])
        row = cursor.fetchone()
        cursor.execute("SELECT kind FROM measures_safetyalert WHERE id = %s", [alert.pk])
        (kind,) = cursor.fetchone()
    # No plain "risk answer: yes" column: the fact lives in the encrypted result only.
    assert "risk_positive" not in columns
    for name in ("answers", "result"):
        assert str(row[columns[name]]).startswith("enc1$")
    assert kind.startswith("enc1$") and "risk" not in kind
    # Nor does the audit trail, which admins read without break glass, say it.
    details = json.dumps(list(AuditEvent.objects.values_list("detail", flat=True)))
    assert "risk" not in details, details


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_the_kinds_of_existing_alerts(
    therapist_x: User, client_a: User
) -> None:
    from rapport.measures.answers import submit
    from rapport.measures.assignments import assign, due_tasks
    from rapport.measures.models import Instrument, SafetyAlert

    assign(therapist_x, client_a, Instrument.objects.get(key="phq9", builtin=True), "once")
    [task] = due_tasks(client_a)
    submit(task, client_a, {**{str(n): 0 for n in range(1, 9)}, "9": 1, "10": 0})
    alert_id = SafetyAlert.objects.get().pk

    def raw(sql: str, *params: Any) -> Any:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()

    kind_of = "SELECT kind FROM measures_safetyalert WHERE id = %s"

    try:
        # Back to before: rows as they were stored then, the kind in plain text.
        call_command("migrate", "measures", "0003", verbosity=0)
        assert raw(kind_of, alert_id) == ("risk",)
        assert raw("SELECT risk_positive FROM measures_response") in {(True,), (1,)}
    finally:
        # Every app, not measures alone: going back also unapplied the apps that depend on it.
        call_command("migrate", verbosity=0)
    (kind,) = raw(kind_of, alert_id)
    assert kind.startswith("enc1$")
    assert SafetyAlert.objects.get(pk=alert_id).kind == "risk"
