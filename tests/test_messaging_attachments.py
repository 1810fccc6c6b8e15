"""Message attachments: allowed types read from the content, limits, encryption on disk, and who
may open them (the two participants only, the unsent file its uploader only)."""

from __future__ import annotations

import io
import os
import stat
import struct
import time
import uuid
import zipfile
import zlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from rapport.accounts.models import Practice, User
from rapport.audit.models import AuditEvent
from rapport.audit.services import Action
from rapport.care.models import CareRelationship
from rapport.core.encryption import key_ring, reset_key_ring, rotate_keys
from rapport.home.forms import PracticeForm
from rapport.lib.crypto import DecryptionError, KeyRing, generate_key
from rapport.messaging import attachments
from rapport.messaging.access import conversation_for
from rapport.messaging.models import Attachment, Conversation, Message
from tests.conftest import signed_in

SECRET = b"client-secret-marker-7f3a"
MiB = 1024 * 1024


# --- Real, small files of each kind --------------------------------------------------------------


def pdf() -> bytes:
    return b"%PDF-1.4\n% " + SECRET + b"\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def sized_pdf(size: int) -> bytes:
    head = b"%PDF-1.4\n% " + SECRET + b"\n"
    return head + b" " * (size - len(head))


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"tEXt", b"Comment\x00" + SECRET)
        + chunk(b"IDAT", pixels)
        + chunk(b"IEND", b"")
    )


def jpeg() -> bytes:
    comment = b"\xff\xfe" + struct.pack(">H", len(SECRET) + 2) + SECRET
    return (
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
        + comment
        + (b"\xff\xd9")
    )


def zipped(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        for name, data in entries.items():
            package.writestr(name, data)
    return buffer.getvalue()


def docx(**extra: bytes) -> bytes:
    return zipped(
        {
            "[Content_Types].xml": b"<Types/>",
            "_rels/.rels": b"<Relationships/>",
            "word/document.xml": b"<w:document>" + SECRET + b"</w:document>",
            **extra,
        }
    )


def xlsx() -> bytes:
    return zipped({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"})


def odt() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        package.writestr("content.xml", b"<office:document-content/>")
    return buffer.getvalue()


def old_word(macros: bool = False) -> bytes:
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + b"\xec\xa5\xc1\x00" + bytes(100)
    return ole + ("_VBA_PROJECT".encode("utf-16-le") if macros else b"") + bytes(100)


WINDOWS_EXE = b"MZ\x90\x00\x03" + bytes(55) + struct.pack("<I", 64) + b"PE\x00\x00" + bytes(200)
ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(200)
REFUSED_TYPE = "Only PDF, images (JPEG, PNG, GIF, WebP, HEIC) and office documents"


# --- Fixtures and helpers ------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _attachments_dir(settings: Any, tmp_path: Path) -> Path:
    folder = tmp_path / "attachments"
    settings.RAPPORT_ATTACHMENTS_DIR = folder
    return folder


@pytest.fixture
def conversation(therapist_x: User, client_a: User) -> Conversation:
    return conversation_for(CareRelationship.objects.get(therapist=therapist_x, client=client_a))


def upload_url(conversation: Conversation) -> str:
    return reverse("attachment_upload", kwargs={"conversation_id": conversation.uid})


def upload(browser: Client, conversation: Conversation, name: str, data: bytes) -> Any:
    return browser.post(upload_url(conversation), {"file": SimpleUploadedFile(name, data)})


def send(attachment: Attachment, sender: Any) -> Message:
    """Sends the attachment with a message (as the messaging service will)."""
    seq = Message.objects.filter(conversation=attachment.conversation).count() + 1
    return Message.objects.create(
        conversation=attachment.conversation,
        seq=seq,
        sender=sender,
        client_uid=uuid.uuid4(),
        attachment=attachment,
    )


def stored_files(folder: Path) -> list[Path]:
    return sorted(folder.iterdir()) if folder.exists() else []


def set_limit(megabytes: int) -> None:
    Practice.objects.update_or_create(id=1, defaults={"message_attachment_limit_mb": megabytes})


# --- Which files may be attached -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        ("letter.pdf", pdf(), "application/pdf"),
        ("scan.png", png(), "image/png"),
        ("photo.jpeg", jpeg(), "image/jpeg"),
        (
            "worksheet.docx",
            docx(),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
    ],
)
def test_allowed_files_are_accepted(
    client_a: User, conversation: Conversation, name: str, data: bytes, content_type: str
) -> None:
    response = upload(signed_in(client_a), conversation, name, data)
    assert response.status_code == 201, response.content
    attachment = Attachment.objects.get()
    assert response.json() == {
        "id": str(attachment.uid),
        "name": name,
        "size": len(data),
        "type": content_type,
        "url": f"/messages/files/{attachment.uid}/",
    }
    assert attachment.conversation == conversation
    assert attachment.uploaded_by == client_a
    assert attachment.content_type == content_type


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b"GIF89a" + bytes(20), "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 " + bytes(20), "image/webp"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(20), "image/heic"),
        (xlsx(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (odt(), "application/vnd.oasis.opendocument.text"),
        (old_word(), "application/msword"),
    ],
)
def test_other_images_and_office_formats_are_recognised(data: bytes, content_type: str) -> None:
    assert attachments.sniff(data) == content_type


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("report.pdf", WINDOWS_EXE, REFUSED_TYPE),
        ("holiday.png", ELF, REFUSED_TYPE),
        ("notes.docx", zipped({"notes.txt": b"plain zip"}), REFUSED_TYPE),
        ("invoice.docx", zipped({"[Content_Types].xml": b"<Types/>", "a.exe": WINDOWS_EXE}), ""),
        ("macro.docx", docx(**{"word/vbaProject.bin": b"vba"}), "Documents with macros"),
        ("macro.doc", old_word(macros=True), "Documents with macros"),
        ("page.html", b"<html><script>alert(1)</script></html>", REFUSED_TYPE),
        ("drawing.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", REFUSED_TYPE),
        ("letter.rtf", b"{\\rtf1\\ansi hello}", REFUSED_TYPE),
        ("empty.pdf", b"", "This file is empty."),
    ],
)
def test_refused_files_leave_nothing_behind(
    client_a: User,
    conversation: Conversation,
    _attachments_dir: Path,
    name: str,
    data: bytes,
    message: str,
) -> None:
    response = upload(signed_in(client_a), conversation, name, data)
    assert response.status_code == 400
    assert response.json()["error"].startswith(message or REFUSED_TYPE)
    assert not Attachment.objects.exists()
    assert stored_files(_attachments_dir) == []
    assert not AuditEvent.objects.filter(action=Action.MESSAGE_ATTACHMENT_UPLOADED).exists()


def test_the_refusal_names_what_may_be_attached(client_a: User, conversation: Conversation) -> None:
    response = upload(signed_in(client_a), conversation, "report.pdf", WINDOWS_EXE)
    assert response.json() == {
        "error": "Only PDF, images (JPEG, PNG, GIF, WebP, HEIC) and office documents (Word, "
        "Excel, PowerPoint, OpenDocument) can be attached."
    }


def test_a_request_without_a_file_is_refused(client_a: User, conversation: Conversation) -> None:
    response = signed_in(client_a).post(upload_url(conversation), {"other": "x"})
    assert response.status_code == 400
    assert response.json() == {"error": "Choose a file to attach."}


# --- Size limit ----------------------------------------------------------------------------------


def test_the_practice_limit_is_exact(
    client_a: User, conversation: Conversation, _attachments_dir: Path
) -> None:
    set_limit(1)
    browser = signed_in(client_a)
    assert upload(browser, conversation, "a.pdf", sized_pdf(MiB)).status_code == 201
    response = upload(browser, conversation, "b.pdf", sized_pdf(MiB + 1))
    assert response.status_code == 400
    assert response.json() == {"error": "This file is 1.1 MB; the limit is 1 MB."}
    assert Attachment.objects.count() == 1
    assert len(stored_files(_attachments_dir)) == 1


def test_a_clearly_oversized_request_is_refused_before_it_is_read(
    client_a: User, conversation: Conversation, _attachments_dir: Path
) -> None:
    set_limit(1)
    response = upload(signed_in(client_a), conversation, "big.pdf", sized_pdf(int(2.3 * MiB)))
    assert response.status_code == 400
    assert response.json()["error"].endswith("MB; the limit is 1 MB.")
    assert response.json()["error"].startswith("This file is 2.")
    assert stored_files(_attachments_dir) == []


def test_the_default_limit_takes_a_20_mb_file(client_a: User, conversation: Conversation) -> None:
    data = sized_pdf(20 * MiB)
    response = upload(signed_in(client_a), conversation, "scan.pdf", data)
    assert response.status_code == 201, response.content
    attachment, content = attachments.open_attachment(client_a, response.json()["id"])
    assert content == data
    assert attachment.size == 20 * MiB


def test_the_domain_checks_the_limit_too(client_a: User, conversation: Conversation) -> None:
    set_limit(1)
    with pytest.raises(ValidationError, match=r"This file is 1\.1 MB; the limit is 1 MB\."):
        attachments.store_attachment(
            client_a, conversation.uid, SimpleUploadedFile("x.pdf", sized_pdf(MiB + 1))
        )


# --- Names ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "content_type", "kept"),
    [
        ("../../etc/passwd", "application/pdf", "passwd.pdf"),
        ("C:\\Users\\alice\\Letter.PDF", "application/pdf", "Letter.pdf"),
        ("photo.JPG", "image/jpeg", "photo.jpg"),
        ("notes.html", "image/png", "notes.html.png"),
        ("invoice\u202efdp.exe", "application/pdf", "invoicefdp.exe.pdf"),
        ("tab\there\x00.pdf", "application/pdf", "tabhere.pdf"),
        ("...", "application/pdf", "attachment.pdf"),
        ("", "image/png", "attachment.png"),
        ("Résumé Zoë.docx", attachments.WORD, "Résumé Zoë.docx"),
        ("a" * 300 + ".pdf", "application/pdf", "a" * 116 + ".pdf"),
    ],
)
def test_names_are_cleaned(given: str, content_type: str, kept: str) -> None:
    assert attachments.clean_name(given, content_type) == kept


# --- Encrypted at rest ---------------------------------------------------------------------------


def test_the_file_on_disk_is_encrypted_and_private(
    client_a: User, conversation: Conversation, _attachments_dir: Path
) -> None:
    response = upload(signed_in(client_a), conversation, "Secret plan.pdf", pdf())
    attachment = Attachment.objects.get(uid=response.json()["id"])
    (path,) = stored_files(_attachments_dir)
    assert path.name == attachment.stored_as
    assert "Secret" not in path.name
    blob = path.read_bytes()
    assert SECRET not in blob
    assert b"%PDF" not in blob
    assert blob.startswith(f"enc1${key_ring().current_id}$".encode())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(_attachments_dir.stat().st_mode) == 0o700
    # Without the key, or bound to another attachment, it does not open.
    with pytest.raises(DecryptionError):
        KeyRing.from_strings([generate_key()]).decrypt_bytes(blob, f"messaging.attachment.{uid()}")
    with pytest.raises(DecryptionError, match="integrity"):
        key_ring().decrypt_bytes(blob, f"messaging.attachment.{uid()}")
    assert key_ring().decrypt_bytes(blob, f"messaging.attachment.{attachment.uid}") == pdf()


def uid() -> uuid.UUID:
    return uuid.uuid4()


def test_a_damaged_file_is_not_served(
    client_a: User, conversation: Conversation, _attachments_dir: Path
) -> None:
    response = upload(signed_in(client_a), conversation, "letter.pdf", pdf())
    (path,) = stored_files(_attachments_dir)
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 0x01
    path.write_bytes(bytes(blob))
    with pytest.raises(DecryptionError, match="integrity"):
        attachments.open_attachment(client_a, response.json()["id"])


def test_a_failed_database_write_removes_the_file(
    client_a: User, conversation: Conversation, _attachments_dir: Path, monkeypatch: Any
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(attachments, "record", broken)
    with pytest.raises(RuntimeError):
        attachments.store_attachment(
            client_a, conversation.uid, SimpleUploadedFile("letter.pdf", pdf())
        )
    assert not Attachment.objects.exists()
    assert stored_files(_attachments_dir) == []


def test_older_keys_still_open_files_and_rotation_rewrites_them(
    client_a: User, conversation: Conversation, settings: Any, _attachments_dir: Path
) -> None:
    old, new = settings.RAPPORT_ENCRYPTION_KEYS[0], generate_key()
    attachment = attachments.store_attachment(
        client_a, conversation.uid, SimpleUploadedFile("letter.pdf", pdf())
    )
    try:
        settings.RAPPORT_ENCRYPTION_KEYS = [new, old]
        reset_key_ring()
        assert attachments.open_attachment(client_a, attachment.uid)[1] == pdf()
        assert attachments.rotate_attachment_keys() == 1
        assert attachments.rotate_attachment_keys() == 0
        rotate_keys()  # the attachment's row (its name) too
        settings.RAPPORT_ENCRYPTION_KEYS = [new]
        reset_key_ring()
        assert attachments.open_attachment(client_a, attachment.uid)[1] == pdf()
    finally:
        reset_key_ring()


# --- Who may open an attachment ------------------------------------------------------------------


@pytest.fixture
def sent(client_a: User, conversation: Conversation) -> Attachment:
    """A PDF client_a uploaded and sent to therapist_x."""
    attachment = attachments.store_attachment(
        client_a, conversation.uid, SimpleUploadedFile("Zoë's letter.pdf", pdf())
    )
    send(attachment, client_a)
    return attachment


def file_url(attachment: Attachment) -> str:
    return reverse("attachment", kwargs={"attachment_id": attachment.uid})


@pytest.mark.parametrize("persona", ["client_a", "therapist_x"])
def test_both_participants_download_it_as_an_attachment(
    personas: dict[str, Any], sent: Attachment, persona: str
) -> None:
    response = signed_in(personas[persona]).get(file_url(sent))
    assert response.status_code == 200
    assert response.content == pdf()
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        "attachment; filename*=utf-8''Zo%C3%AB%27s%20letter.pdf"
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    opened = AuditEvent.objects.get(action=Action.MESSAGE_ATTACHMENT_OPENED)
    assert opened.actor == personas[persona]
    assert opened.client == personas["client_a"]
    assert opened.object_id == str(sent.pk)


def test_a_plain_name_is_quoted(client_a: User, conversation: Conversation) -> None:
    attachment = attachments.store_attachment(
        client_a, conversation.uid, SimpleUploadedFile("letter.pdf", pdf())
    )
    response = signed_in(client_a).get(file_url(attachment))
    assert response["Content-Disposition"] == 'attachment; filename="letter.pdf"'


@pytest.mark.parametrize("persona", ["client_b", "therapist_y", "admin"])
def test_everyone_else_gets_a_404(personas: dict[str, Any], sent: Attachment, persona: str) -> None:
    assert signed_in(personas[persona]).get(file_url(sent)).status_code == 404
    assert not AuditEvent.objects.filter(action=Action.MESSAGE_ATTACHMENT_OPENED).exists()


def test_anonymous_is_sent_to_sign_in(sent: Attachment) -> None:
    response = Client().get(file_url(sent))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert b"%PDF" not in response.content


def test_an_unknown_attachment_is_a_404(client_a: User) -> None:
    assert signed_in(client_a).get(f"/messages/files/{uid()}/").status_code == 404


def test_ending_care_closes_the_attachments(
    client_a: User, therapist_x: User, sent: Attachment
) -> None:
    therapist = signed_in(therapist_x)
    relationship = CareRelationship.objects.get(therapist=therapist_x, client=client_a)
    assert therapist.post(f"/practice/relationships/{relationship.pk}/end/").status_code == 302
    assert therapist.get(file_url(sent)).status_code == 404
    assert signed_in(client_a).get(file_url(sent)).status_code == 404


def test_an_unsent_attachment_is_its_uploaders_only(
    client_a: User, therapist_x: User, conversation: Conversation
) -> None:
    uploader, therapist = signed_in(client_a), signed_in(therapist_x)
    url = upload(uploader, conversation, "draft.pdf", pdf()).json()["url"]
    assert uploader.get(url).status_code == 200
    assert therapist.get(url).status_code == 404
    send(Attachment.objects.get(), client_a)
    assert therapist.get(url).status_code == 200


def test_download_takes_get_only(client_a: User, sent: Attachment) -> None:
    assert signed_in(client_a).post(file_url(sent)).status_code == 405


# --- Who may upload ------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["client_b", "therapist_y", "admin"])
def test_outsiders_cannot_upload(
    personas: dict[str, Any], conversation: Conversation, _attachments_dir: Path, persona: str
) -> None:
    response = upload(signed_in(personas[persona]), conversation, "letter.pdf", pdf())
    assert response.status_code == 404
    assert not Attachment.objects.exists()
    assert stored_files(_attachments_dir) == []


def test_anonymous_upload_is_sent_to_sign_in(conversation: Conversation) -> None:
    response = upload(Client(), conversation, "letter.pdf", pdf())
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not Attachment.objects.exists()


def test_upload_takes_post_only(client_a: User, conversation: Conversation) -> None:
    assert signed_in(client_a).get(upload_url(conversation)).status_code == 405


def test_upload_checks_the_csrf_token(client_a: User, conversation: Conversation) -> None:
    browser = signed_in(client_a)
    browser.handler.enforce_csrf_checks = True
    assert upload(browser, conversation, "letter.pdf", pdf()).status_code == 403
    assert not Attachment.objects.exists()
    browser.get("/")  # the page sets the CSRF cookie
    token = browser.cookies["rapport_csrf"].value
    response = browser.post(
        upload_url(conversation),
        {"file": SimpleUploadedFile("letter.pdf", pdf())},
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 201


def test_the_upload_is_audited_without_its_name(client_a: User, conversation: Conversation) -> None:
    upload(signed_in(client_a), conversation, "Divorce papers.pdf", pdf())
    event = AuditEvent.objects.get(action=Action.MESSAGE_ATTACHMENT_UPLOADED)
    assert event.actor == client_a
    assert event.client == client_a
    assert event.detail == {
        "conversation": str(conversation.uid),
        "content_type": "application/pdf",
        "size": len(pdf()),
    }
    assert "Divorce" not in str(event.detail)


# --- Sending and housekeeping --------------------------------------------------------------------


def test_an_attachment_goes_out_with_one_message_of_its_uploader(
    client_a: User, therapist_x: User, conversation: Conversation
) -> None:
    attachment = attachments.store_attachment(
        client_a, conversation.uid, SimpleUploadedFile("letter.pdf", pdf())
    )
    with pytest.raises(ValidationError, match="no longer available"):
        attachments.unsent_attachment(therapist_x, conversation, attachment.uid)
    with pytest.raises(ValidationError, match="no longer available"):
        attachments.unsent_attachment(client_a, conversation, "not-a-uuid")
    assert attachments.unsent_attachment(client_a, conversation, attachment.uid) == attachment
    send(attachment, client_a)
    with pytest.raises(ValidationError, match="already sent"):
        attachments.unsent_attachment(client_a, conversation, attachment.uid)


def test_abandoned_uploads_and_stray_files_are_removed(
    client_a: User, conversation: Conversation, sent: Attachment, _attachments_dir: Path
) -> None:
    fresh = attachments.store_attachment(
        client_a, conversation.uid, SimpleUploadedFile("fresh.pdf", pdf())
    )
    old = attachments.store_attachment(
        client_a, conversation.uid, SimpleUploadedFile("old.pdf", pdf())
    )
    Attachment.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    Attachment.objects.filter(pk=sent.pk).update(created_at=timezone.now() - timedelta(days=2))
    stray = _attachments_dir / "leftover"
    stray.write_bytes(b"enc1$x$y")
    two_days_ago = time.time() - 2 * 86400
    os.utime(stray, (two_days_ago, two_days_ago))
    assert attachments.remove_abandoned_attachments() == 2
    assert set(Attachment.objects.values_list("pk", flat=True)) == {sent.pk, fresh.pk}
    assert {p.name for p in stored_files(_attachments_dir)} == {sent.stored_as, fresh.stored_as}


def practice_form(**changes: str) -> dict[str, str]:
    """What the Practice settings form posts as it stands, with ``changes``."""
    form = PracticeForm(instance=Practice.get())
    data: dict[str, str] = {}
    for name in form.fields:
        value = form[name].value()
        if value is True:
            data[name] = "on"
        elif value not in (None, False):
            data[name] = str(value)
    return {**data, **changes}


def test_the_admin_sets_the_limit_on_the_practice_settings_page(
    admin: User, client_a: User, conversation: Conversation, _attachments_dir: Path
) -> None:
    browser = signed_in(admin)
    page = browser.get("/practice/settings/").content.decode()
    assert 'name="message_attachment_limit_mb"' in page
    assert 'value="20"' in page
    for bad, error in (
        ("0", "Ensure this value is greater than or equal to 1."),
        ("101", "Ensure this value is less than or equal to 100."),
        ("2.5", "Enter a whole number."),
        ("", "This field is required."),
    ):
        response = browser.post(
            "/practice/settings/", practice_form(message_attachment_limit_mb=bad)
        )
        assert response.status_code == 200, bad
        assert error in response.content.decode(), bad
        assert Practice.get().message_attachment_limit_mb == 20

    response = browser.post("/practice/settings/", practice_form(message_attachment_limit_mb="1"))
    assert response.status_code == 302
    assert Practice.get().message_attachment_limit_mb == 1
    [changed] = AuditEvent.objects.filter(action=Action.PRACTICE_SETTINGS_CHANGED)
    assert changed.detail["fields"] == ["message_attachment_limit_mb"]
    upload_response = upload(signed_in(client_a), conversation, "b.pdf", sized_pdf(MiB + 1))
    assert upload_response.json() == {"error": "This file is 1.1 MB; the limit is 1 MB."}
