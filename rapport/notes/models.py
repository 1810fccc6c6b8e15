"""Notes of a client's care: progress notes and psychotherapy notes, their addenda, co-signatures
and releases, the practice's own note templates, and who supervises whom.

A signed note never changes. Everything that happens to a note after it is signed (an addendum,
a supervisor's co-signature, the author's release of a psychotherapy note) is a row of its own,
and the database refuses UPDATE and DELETE of a signed note and of those rows (triggers made in
migrations 0002 and 0003), so the rule holds whatever code runs. Key rotation (``Reencryption``)
and a client's erasure (``Erasing``) each open one narrow door, inside their own transaction.

What is clinical (the sections' text, the client's stated location, who attended, the measure
results pulled in) is encrypted at rest; the facts a practice counts (dates, times, minutes per
modality, template, status, who signed) stay queryable.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from rapport.core.encryption import EncryptedTextField
from rapport.visits.models import Visit


class Reencryption(models.Model):
    """A row here, inside key rotation's transaction only, lets the triggers pass an UPDATE of
    a signed row (the same text under the new key). Never a DELETE."""

    started_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"re-encryption {self.pk}"


class Erasing(models.Model):
    """A row here, inside an erasure's transaction only, lets the triggers pass the DELETE of
    that client's signed notes and what hangs from them. Never an UPDATE."""

    client_id = models.BigIntegerField()

    def __str__(self) -> str:
        return f"erasing {self.client_id}"


@contextmanager
def erasing(client_id: int) -> Iterator[None]:
    """Inside: this client's signed notes, addenda, co-signatures and releases may be deleted
    (the erasure's own transaction; docs/security.md, "Erasure")."""
    with transaction.atomic():
        marker = Erasing.objects.create(client_id=client_id)
        yield
        marker.delete()


def rewrite_encrypted(model: Any, pk: Any, attname: str, plain: str) -> None:
    """How key rotation rewrites a row the database guards: the same text under the new key,
    with the marker the triggers let through, in one transaction."""
    with transaction.atomic():
        marker = Reencryption.objects.create()
        model._default_manager.filter(pk=pk).update(**{attname: plain})
        marker.delete()


class NoteKind(models.TextChoices):
    PROGRESS = "progress", _("Progress note")
    PSYCHOTHERAPY = "psychotherapy", _("Psychotherapy note")


class NoteContact(models.TextChoices):
    """What the note is about when it has no visit."""

    SESSION = "session", _("Session")
    PHONE = "phone", _("Phone call")
    NO_SHOW = "no_show", _("No-show")
    OTHER = "other", _("Other contact")


class NoteStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SIGNED = "signed", _("Signed")


class NoteTemplate(models.Model):
    """A note template a practice added (the shipped ones live in ``definitions/``). Each version
    is its own row; notes keep the labels they were written with, so old versions stay readable."""

    key = models.SlugField(max_length=40)
    version = models.PositiveIntegerField()
    name = models.CharField(max_length=80)
    definition = models.TextField()  # the JSON as loaded and checked (not clinical)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["key", "version"], name="one_note_template_version")
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class Note(models.Model):
    client = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="notes_about"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="notes_written"
    )
    visit = models.ForeignKey(
        Visit, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=NoteKind.choices, default=NoteKind.PROGRESS)
    contact = models.CharField(
        max_length=10, choices=NoteContact.choices, default=NoteContact.SESSION
    )
    template_key = models.SlugField(max_length=40)
    template_version = models.PositiveIntegerField()
    # {"sections": [{"key", "label", "required", "text"}, ...]} as JSON.
    content = EncryptedTextField(default="")
    # The measure results pulled in, as JSON (frozen with the note when it is signed).
    measures = EncryptedTextField(blank=True, default="")
    date_of_service = models.DateField()
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    minutes_video = models.DecimalField(max_digits=5, decimal_places=1, default=0)
    minutes_audio = models.DecimalField(max_digits=5, decimal_places=1, default=0)
    minutes_text = models.DecimalField(max_digits=5, decimal_places=1, default=0)
    client_location = EncryptedTextField(blank=True, default="")
    attendees = EncryptedTextField(blank=True, default="")
    status = models.CharField(max_length=8, choices=NoteStatus.choices, default=NoteStatus.DRAFT)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    signed_at = models.DateTimeField(null=True, blank=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-date_of_service", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["visit", "author", "kind"],
                condition=Q(visit__isnull=False),
                name="one_note_of_a_kind_per_visit_and_author",
            ),
            models.CheckConstraint(
                condition=Q(status="draft", signed_at__isnull=True)
                | Q(status="signed", signed_at__isnull=False, signed_by__isnull=False),
                name="signed_note_has_signer",
            ),
        ]
        indexes = [models.Index(fields=["author", "status", "created_at"])]

    def __str__(self) -> str:
        return f"note {self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("note", args=[self.pk])

    rewrite_encrypted = classmethod(rewrite_encrypted)

    @property
    def is_signed(self) -> bool:
        return self.status == NoteStatus.SIGNED

    @property
    def is_psychotherapy(self) -> bool:
        return self.kind == NoteKind.PSYCHOTHERAPY


class Addendum(models.Model):
    """A correction or addition to a signed note: signed and timestamped when written."""

    note = models.ForeignKey(Note, on_delete=models.PROTECT, related_name="addenda")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = EncryptedTextField()
    signed_at = models.DateTimeField(default=timezone.now)

    rewrite_encrypted = classmethod(rewrite_encrypted)

    class Meta:
        ordering = ["signed_at", "pk"]

    def __str__(self) -> str:
        return f"addendum {self.pk} to note {self.note_id}"


class CoSignature(models.Model):
    """A supervisor's co-signature of a supervisee's signed note."""

    note = models.OneToOneField(Note, on_delete=models.PROTECT, related_name="cosignature")
    supervisor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    signed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"co-signature of note {self.note_id}"


class Release(models.Model):
    """The author's release of a psychotherapy note into the record (exports, record requests)."""

    note = models.OneToOneField(Note, on_delete=models.PROTECT, related_name="release")
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    released_at = models.DateTimeField(default=timezone.now)
    reason = EncryptedTextField()

    rewrite_encrypted = classmethod(rewrite_encrypted)

    def __str__(self) -> str:
        return f"release of note {self.note_id}"


class Supervision(models.Model):
    """A therapist whose notes another therapist co-signs, from a date until it ends."""

    supervisee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="supervisions"
    )
    supervisor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="supervising"
    )
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["supervisee"],
                condition=Q(ended_at__isnull=True),
                name="one_current_supervisor",
            ),
            models.CheckConstraint(
                condition=~Q(supervisee=models.F("supervisor")), name="no_self_supervision"
            ),
        ]

    def __str__(self) -> str:
        return f"supervision {self.pk}"
