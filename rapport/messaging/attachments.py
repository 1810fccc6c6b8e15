"""Message attachments: which files may be sent, and keeping them encrypted on disk.

A file's type is read from its content (``filetype``), never from its name or from what the
browser claims, and the name it is downloaded under always ends in that type's extension. Files
are encrypted with the practice key ring, bound to the attachment's id, and written under a random
name in ``RAPPORT_ATTACHMENTS_DIR``. An attachment is its uploader's alone until it is sent with a
message; from then on both participants may open it, for as long as their conversation is open to
them (``access_conversation``).
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import secrets
import tempfile
import time
import unicodedata
import uuid
import zipfile
from datetime import timedelta
from pathlib import Path

import filetype
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q
from django.http import Http404, HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from rapport.accounts.models import Practice, User
from rapport.audit.services import Action, record
from rapport.core.encryption import key_ring
from rapport.lib.crypto import DecryptionError
from rapport.messaging.access import access_conversation
from rapport.messaging.models import Attachment, Conversation
from rapport.messaging.tasks import remove_abandoned

MB = 1024 * 1024
MAX_NAME_LENGTH = 120

WORD = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
EXCEL = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
POWERPOINT = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
ODF_TEXT = "application/vnd.oasis.opendocument.text"
ODF_SPREADSHEET = "application/vnd.oasis.opendocument.spreadsheet"
ODF_PRESENTATION = "application/vnd.oasis.opendocument.presentation"
OLD_WORD = "application/msword"
OLD_EXCEL = "application/vnd.ms-excel"
OLD_POWERPOINT = "application/vnd.ms-powerpoint"

# Type → the extensions a name may end in (the first is added when the name has none of them).
# Left out on purpose: RTF (a common carrier of exploits), SVG (can hold script), archives.
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "application/pdf": ("pdf",),
    "image/jpeg": ("jpg", "jpeg"),
    "image/png": ("png",),
    "image/gif": ("gif",),
    "image/webp": ("webp",),
    "image/heic": ("heic", "heif"),
    WORD: ("docx",),
    EXCEL: ("xlsx",),
    POWERPOINT: ("pptx",),
    ODF_TEXT: ("odt",),
    ODF_SPREADSHEET: ("ods",),
    ODF_PRESENTATION: ("odp",),
    OLD_WORD: ("doc",),
    OLD_EXCEL: ("xls",),
    OLD_POWERPOINT: ("ppt",),
}
# Office files that are zip packages: the folder their main part lives in.
OOXML_FOLDERS = {WORD: "word/", EXCEL: "xl/", POWERPOINT: "ppt/"}
ODF_TYPES = {ODF_TEXT, ODF_SPREADSHEET, ODF_PRESENTATION}
OLE_TYPES = {OLD_WORD, OLD_EXCEL, OLD_POWERPOINT}
# The stream every VBA project has, as the UTF-16 name in an OLE directory entry.
OLE_VBA_STREAM = "_VBA_PROJECT".encode("utf-16-le")


# How long an uploaded file waits to be sent before the worker deletes it.
UNSENT_KEPT = timedelta(days=1)


def _refused_type() -> ValidationError:
    return ValidationError(
        _(
            "Only PDF, images (JPEG, PNG, GIF, WebP, HEIC) and office documents (Word, Excel, "
            "PowerPoint, OpenDocument) can be attached."
        ),
        code="type",
    )


def _refused_macros() -> ValidationError:
    return ValidationError(
        _("Documents with macros can't be attached. Save it without macros and try again."),
        code="macros",
    )


def size_limit() -> int:
    """The largest file a message may carry, in bytes (the practice's setting)."""
    return Practice.get().message_attachment_limit_mb * MB


def check_size(size: int, limit: int) -> None:
    if size <= 0:
        raise ValidationError(_("This file is empty."), code="empty")
    if size > limit:
        # Rounded up, so a file just over the limit never reads as equal to it.
        shown = math.ceil(size * 10 / MB) / 10
        raise ValidationError(
            _("This file is %(size)s MB; the limit is %(limit)s MB."),
            code="too_large",
            params={"size": f"{shown:.1f}", "limit": limit // MB},
        )


def sniff(data: bytes) -> str:
    """The type of a file from its content; ValidationError unless it may be attached."""
    kind = filetype.guess(data)
    mime = str(kind.mime) if kind is not None else ""
    if mime not in EXTENSIONS:
        raise _refused_type()
    if mime in OOXML_FOLDERS or mime in ODF_TYPES:
        _check_office_package(data, mime)
    elif mime in OLE_TYPES and OLE_VBA_STREAM in data:
        raise _refused_macros()
    return mime


def _check_office_package(data: bytes, mime: str) -> None:
    """The first bytes look like an office file: check that the whole zip really is one."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            names = package.namelist()
            mimetype = b""
            if "mimetype" in names:
                with package.open("mimetype") as entry:
                    mimetype = entry.read(100)  # a few bytes, however large it claims to unpack
    except (zipfile.BadZipFile, KeyError, ValueError, NotImplementedError) as exc:
        raise _refused_type() from exc
    if mime in OOXML_FOLDERS:
        folder = OOXML_FOLDERS[mime]
        if "[Content_Types].xml" not in names or not any(n.startswith(folder) for n in names):
            raise _refused_type()
        if any(n.lower().endswith("vbaproject.bin") for n in names):
            raise _refused_macros()
    else:
        if mimetype != mime.encode("ascii") or "content.xml" not in names:
            raise _refused_type()
        if any(n.startswith(("Basic/", "Scripts/")) for n in names):
            raise _refused_macros()


def clean_name(name: str, mime: str) -> str:
    """A safe download name: no folders, no control or direction characters, the right extension.

    A name that does not end in an extension of the sniffed type gets one, so a picture named
    ``notes.html`` is saved as ``notes.html.png`` and opens as the picture it is.
    """
    base = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    # Categories C*: controls, and format characters such as the right-to-left override.
    base = "".join(ch for ch in base if not unicodedata.category(ch).startswith("C"))
    base = base.strip().strip(".").strip() or "attachment"
    stem, dot, extension = base.rpartition(".")
    if not dot or extension.lower() not in EXTENSIONS[mime]:
        stem, extension = base, EXTENSIONS[mime][0]
    stem = stem[: MAX_NAME_LENGTH - len(extension) - 1].rstrip(". ") or "attachment"
    return f"{stem}.{extension.lower()}"


def attachments_dir() -> Path:
    return Path(settings.RAPPORT_ATTACHMENTS_DIR)


def _context(attachment: Attachment) -> str:
    # Binds the file to its row: a file swapped onto another attachment will not decrypt.
    return f"messaging.attachment.{attachment.uid}"


def _write(stored_as: str, blob: bytes) -> Path:
    """Write ``blob`` under ``stored_as`` all at once: readers see the old file or the new one."""
    folder = attachments_dir()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = folder / stored_as
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=".incoming-")  # mode 0600
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(blob)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def store_attachment(
    user: User,
    conversation_uid: uuid.UUID | str,
    uploaded_file: UploadedFile[bytes],
    *,
    request: HttpRequest | None = None,
) -> Attachment:
    """Check, encrypt and keep a file ``user`` wants to send in a conversation (not yet sent).

    Raises Http404 for anyone outside the conversation and ValidationError, with a sentence to
    show, for a file that may not be attached. Nothing is kept when it is refused.
    """
    conversation = access_conversation(user, conversation_uid)
    limit = size_limit()
    check_size(uploaded_file.size or 0, limit)
    data = b"".join(uploaded_file.chunks())
    check_size(len(data), limit)
    mime = sniff(data)
    attachment = Attachment(
        conversation=conversation,
        uploaded_by=user,
        name=clean_name(uploaded_file.name or "", mime),
        content_type=mime,
        size=len(data),
        stored_as=secrets.token_hex(16),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    path = _write(attachment.stored_as, key_ring().encrypt_bytes(data, _context(attachment)))
    try:
        with transaction.atomic():
            attachment.save()
            record(
                Action.MESSAGE_ATTACHMENT_UPLOADED,
                actor=user,
                request=request,
                obj=attachment,
                client=conversation.relationship.client,
                conversation=str(conversation.uid),
                content_type=mime,
                size=attachment.size,
            )
            # Never sent within a day: the worker deletes it (and any older leftovers).
            remove_abandoned.using(
                run_after=timezone.now() + UNSENT_KEPT + timedelta(minutes=5)
            ).enqueue()
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return attachment


def access_attachment(user: User, attachment_uid: uuid.UUID | str) -> Attachment:
    """The attachment if ``user`` may open it now; otherwise 404.

    Sent attachments are open to both participants of their conversation, unsent ones to their
    uploader only.
    """
    try:
        uid = uuid.UUID(str(attachment_uid))
    except ValueError:
        raise Http404("No such attachment.") from None
    attachment = (
        Attachment.objects.select_related("conversation")
        .filter(Q(message__isnull=False) | Q(uploaded_by=user), uid=uid)
        # A retracted message takes its file back from both (the record keeps it).
        .exclude(message__retracted_at__isnull=False)
        .first()
    )
    if attachment is None:
        raise Http404("No such attachment.")
    attachment.conversation = access_conversation(user, attachment.conversation.uid)
    return attachment


def open_attachment(
    user: User, attachment_uid: uuid.UUID | str, *, request: HttpRequest | None = None
) -> tuple[Attachment, bytes]:
    """The attachment and its decrypted content, for a participant (recorded in the audit trail)."""
    attachment = access_attachment(user, attachment_uid)
    blob = (attachments_dir() / attachment.stored_as).read_bytes()
    data = key_ring().decrypt_bytes(blob, _context(attachment))
    if hashlib.sha256(data).hexdigest() != attachment.sha256:
        raise DecryptionError(f"attachment {attachment.uid} does not match its checksum")
    record(
        Action.MESSAGE_ATTACHMENT_OPENED,
        actor=user,
        request=request,
        obj=attachment,
        client=attachment.conversation.relationship.client,
        conversation=str(attachment.conversation.uid),
    )
    return attachment, data


def unsent_attachment(
    user: User, conversation: Conversation, attachment_uid: uuid.UUID | str
) -> Attachment:
    """The attachment ``user`` uploaded to ``conversation`` and has not sent yet, locked so that
    it goes out with one message only (call inside the transaction that stores the message)."""
    gone = ValidationError(
        _("This file was already sent or is no longer available; attach it again."),
        code="attachment",
    )
    try:
        uid = uuid.UUID(str(attachment_uid))
    except ValueError:
        raise gone from None
    attachment = (
        Attachment.objects.select_for_update(of=("self",))
        .filter(uid=uid, conversation=conversation, uploaded_by=user, message__isnull=True)
        .first()
    )
    if attachment is None:
        raise gone
    return attachment


def remove_abandoned_attachments(older_than: timedelta | None = None) -> int:
    """Delete files uploaded but never sent, and files no row points to. Returns files removed."""
    older_than = UNSENT_KEPT if older_than is None else older_than
    cutoff = timezone.now() - older_than
    removed = 0
    abandoned = Attachment.objects.filter(message__isnull=True, created_at__lt=cutoff)
    for attachment in abandoned.iterator():
        with transaction.atomic():
            deleted, _rows = Attachment.objects.filter(
                pk=attachment.pk, message__isnull=True
            ).delete()
        if deleted:
            (attachments_dir() / attachment.stored_as).unlink(missing_ok=True)
            removed += 1
    folder = attachments_dir()
    if folder.is_dir():
        known = set(Attachment.objects.values_list("stored_as", flat=True))
        for path in folder.iterdir():
            # A file younger than the cutoff may belong to an upload still being saved.
            too_new = path.stat().st_mtime > time.time() - older_than.total_seconds()
            if path.is_file() and path.name not in known and not too_new:
                path.unlink(missing_ok=True)
                removed += 1
    return removed


def rotate_attachment_keys() -> int:
    """Re-encrypt every attachment file not written with the current key. Returns files changed."""
    ring = key_ring()
    changed = 0
    for attachment in Attachment.objects.order_by("pk").iterator():
        path = attachments_dir() / attachment.stored_as
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            continue
        if ring.key_id_of_bytes(blob) == ring.current_id:
            continue
        data = ring.decrypt_bytes(blob, _context(attachment))
        _write(attachment.stored_as, ring.encrypt_bytes(data, _context(attachment)))
        changed += 1
    return changed
