"""What erasing a client's record removes, and removing it.

Every row that points at the client's account, and every row that points at one of those, and
so on, belongs to the record: it is found by walking the foreign keys back from the account
(``gather``), so a model added later is erased without a change here. Two kinds of row are kept:
audit events (redacted instead, so the chain still verifies: ``rapport.audit.services``) and
erasures themselves. The account row stays as a pseudonymous stand-in those two point at.

The rows are deleted in one transaction with raw DELETEs, children before parents; the
database's deferred foreign keys check at commit that nothing dangles, so an erasure that missed
a row fails whole. Signed notes are deleted under the notes app's ``erasing`` marker, the one
DELETE their triggers let through. Attachment files are overwritten and removed after commit.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from allauth.account.models import EmailAddress
from django.apps import apps
from django.contrib.sessions.models import Session
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.text import capfirst

from rapport.accounts.models import Invitation, User
from rapport.audit.models import AuditEvent
from rapport.audit.services import redact_events
from rapport.care.models import ClientProfile
from rapport.messaging.attachments import attachments_dir
from rapport.messaging.models import Attachment
from rapport.notes.models import erasing
from rapport.records.models import Erasure

CHUNK = 500
Key = int | str  # a primary key
# Kept: the trail is redacted in place; an erasure is the record that one happened.
KEPT: set[type[models.Model]] = {AuditEvent, Erasure}


@dataclass
class Plan:
    """The rows and files an erasure removes (a dry run shows it; ``destroy`` carries it out)."""

    client: User
    rows: dict[type[models.Model], set[Key]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)
    audit_events: int = 0

    def counts(self) -> dict[str, int]:
        """Rows by kind ("Message": 12), then sign-in sessions and files."""
        counts = {
            model._meta.label: len(pks)
            for model, pks in sorted(self.rows.items(), key=lambda item: item[0]._meta.label)
        }
        counts["Signed-in sessions"] = len(self.sessions)
        counts["Attachment files"] = len(self.files)
        return counts


def kind_in_words(kind: str) -> str:
    """A count's kind for the admin: "Messages (messaging.Message)"; other kinds as they are."""
    try:
        model = apps.get_model(kind)
    except (LookupError, ValueError):
        return kind
    return f"{capfirst(model._meta.verbose_name_plural)} ({kind})"


def _chunks(values: Iterable[Key]) -> Iterator[list[Key]]:
    batch: list[Key] = []
    for value in values:
        batch.append(value)
        if len(batch) == CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


Rows = dict[type[models.Model], set[Key]]


def _add(rows: Rows, model: type[models.Model], pks: set[Key]) -> set[Key]:
    new = pks - rows.get(model, set())
    if new:
        rows.setdefault(model, set()).update(new)
    return new


def identifiers(client: User) -> set[str]:
    """What names the client in text: every email address they had, their names."""
    found = {client.email, client.full_name}
    found.update(EmailAddress.objects.filter(user=client).values_list("email", flat=True))
    profile = ClientProfile.objects.filter(client=client).first()
    if profile is not None:
        found.add(profile.preferred_name)
    return {value for value in found if value and value.strip()}


def _sessions_of(client: User) -> list[str]:
    keys = []
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if str(session.get_decoded().get("_auth_user_id", "")) == str(client.pk):
            keys.append(session.session_key)
    return keys


def _pointers() -> dict[type[models.Model], list[tuple[type[models.Model], str]]]:
    """For each model, the (model, foreign key name) pairs that point at it, hidden reverse
    relations (``related_name="+"``) and many-to-many tables included; kept models left out."""
    pointers: dict[type[models.Model], list[tuple[type[models.Model], str]]] = {}
    for model in apps.get_models(include_auto_created=True):
        if model in KEPT:
            continue
        for key in model._meta.concrete_fields:
            target = key.related_model
            if key.is_relation and isinstance(target, type):
                pointers.setdefault(target, []).append((model, key.name))
    return pointers


def gather(client: User) -> Plan:
    """Every row of the client's record, found by walking foreign keys back from the account."""
    plan = Plan(client=client)
    rows = plan.rows
    emails = {e.casefold() for e in identifiers(client) if "@" in e}
    invitations: set[Key] = {
        pk
        for pk, email in Invitation.objects.values_list("pk", "email")
        if email.casefold() in emails
    }
    pending: list[tuple[type[models.Model], set[Key]]] = [(User, {client.pk})]
    if invitations:
        _add(rows, Invitation, invitations)
        pending.append((Invitation, invitations))
    pointers = _pointers()
    while pending:
        model, pks = pending.pop()
        for related, name in pointers.get(model, []):
            found: set[Key] = set()
            for batch in _chunks(pks):
                parents = model._base_manager.filter(pk__in=batch)
                found.update(
                    related._base_manager.filter(**{f"{name}__in": parents}).values_list(
                        "pk", flat=True
                    )
                )
            new = _add(rows, related, found)
            if new:
                pending.append((related, new))
    rows.pop(User, None)  # the account stays, as the pseudonymous stand-in
    attachments = rows.get(Attachment, set())
    for batch in _chunks(attachments):
        plan.files.extend(
            Attachment.objects.filter(pk__in=batch).values_list("stored_as", flat=True)
        )
    plan.sessions = _sessions_of(client)
    plan.audit_events = AuditEvent.objects.filter(client=client).count()
    return plan


def _points_at(model: type[models.Model], target: type[models.Model]) -> bool:
    return any(f.is_relation and f.related_model is target for f in model._meta.concrete_fields)


def _deletion_order(models_: Iterable[type[models.Model]]) -> list[type[models.Model]]:
    """Children before parents (the notes triggers look a deleted addendum's note up)."""
    remaining = set(models_)
    order: list[type[models.Model]] = []
    while remaining:
        leaves = [
            model
            for model in remaining
            if not any(other is not model and _points_at(other, model) for other in remaining)
        ]
        # A cycle between two models: either order holds, the foreign keys are checked at commit.
        batch = sorted(leaves or remaining, key=lambda m: m._meta.label)[: None if leaves else 1]
        order.extend(batch)
        remaining.difference_update(batch)
    return order


def _delete(model: type[models.Model], pks: set[Key]) -> None:
    quote = connection.ops.quote_name
    table, key = quote(model._meta.db_table), quote(str(model._meta.pk.column))
    with connection.cursor() as cursor:
        for batch in _chunks(sorted(pks, key=str)):
            marks = ", ".join(["%s"] * len(batch))
            cursor.execute(f"DELETE FROM {table} WHERE {key} IN ({marks})", batch)  # noqa: S608


def pseudonym() -> str:
    return f"erased-{secrets.token_hex(6)}"


def destroy(plan: Plan, label: str) -> dict[str, int]:
    """Remove the record in ``plan`` inside the caller's transaction; the account becomes the
    stand-in ``label``. Returns what went, by kind. Files are shredded by ``shred`` after commit."""
    client = plan.client
    names = identifiers(client)
    with transaction.atomic(), erasing(client.pk):
        for model in _deletion_order(plan.rows):
            _delete(model, plan.rows[model])
        Session.objects.filter(session_key__in=plan.sessions).delete()
        client.email = f"{label}@erased.invalid"
        client.full_name = label
        client.set_unusable_password()
        client.is_active = False
        client.last_login = None
        client.time_zone = "UTC"
        client.session_generation += 1
        client.save()
        redacted = redact_events(client, names, label)
    counts = plan.counts()
    counts["Audit events redacted"] = redacted
    return counts


def shred(stored_as: Iterable[str]) -> list[str]:
    """Overwrite each encrypted attachment file with zeros, then remove it; returns the names
    that are gone. (On copy-on-write file systems and SSDs the overwrite may not reach the old
    blocks: the file was encrypted, so what stays there is ciphertext.)"""
    gone = []
    folder = attachments_dir()
    for name in stored_as:
        path = Path(folder / name)
        if path.exists():
            size = path.stat().st_size
            with path.open("r+b") as out:
                out.write(b"\0" * size)
                out.flush()
                os.fsync(out.fileno())
            path.unlink()
        gone.append(name)
    return gone


def forget_sqlite_history() -> None:
    """After an erasure on SQLite: fold the write-ahead log into the file and empty it, so its
    older frames (which held the erased rows) are gone too. (Deleted cells are zeroed in the
    file itself: the connection runs with ``secure_delete``, rapport/settings.py.)"""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
