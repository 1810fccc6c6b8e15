"""The audit trail in people's words: a label for every action, no internal names, one event per
action, and the codes still in the export."""

from __future__ import annotations

import ast
import csv
import io
import re
from pathlib import Path

from django.test import Client

import rapport
from rapport.accounts.models import Role, User
from rapport.audit.models import AuditEvent
from rapport.audit.services import Action, record
from tests.conftest import make_user, signed_in
from tests.helpers import totp_code

ACTIVATE_TOTP = "/accounts/2fa/totp/activate/"
PACKAGE = Path(rapport.__file__).parent


def _recorded_codes() -> dict[str, str]:
    """Every action code passed to the audit service anywhere in rapport/, with where: the
    ``Action`` constants and literal strings given to ``record(...)``."""
    codes = {
        value: f"Action.{name}"
        for name, value in vars(Action).items()
        if name.isupper() and isinstance(value, str)
    }
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name != "record":
                continue
            first = node.args[0]
            where = f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                codes[first.value] = where
            elif (
                isinstance(first, ast.Attribute)
                and isinstance(first.value, ast.Name)
                and first.value.id == "Action"
            ):
                codes[getattr(Action, first.attr)] = where
    return codes


def test_every_recorded_action_code_has_a_label() -> None:
    codes = _recorded_codes()
    assert Action.MFA_ADDED in codes and len(codes) > 40
    from rapport.audit.labels import ACTION_LABELS

    missing = {code: where for code, where in codes.items() if code not in ACTION_LABELS}
    assert not missing, f"add a label to rapport/audit/labels.py for: {missing}"


def test_an_unknown_code_gets_a_readable_label() -> None:
    from rapport.audit.labels import action_label

    assert action_label(Action.MFA_ADDED) == "Added an authenticator app"
    assert action_label("visit.recording_started") == "Visit: recording started"
    assert action_label("oddity") == "Oddity"


def test_signing_out_names_the_account_not_an_internal_object(admin: User) -> None:
    browser = signed_in(admin)
    assert browser.post("/accounts/logout/").status_code == 302
    signed_out = AuditEvent.objects.get(action=Action.SIGN_OUT)
    assert (signed_out.object_type, signed_out.object_id) == ("User", str(admin.pk))

    page = signed_in(admin).get("/practice/audit/").content.decode()
    assert "Signed out" in page
    assert "SimpleLazyObject" not in page
    assert "auth.sign_out" not in page


def test_the_trail_shows_labels_for_events_recorded_before_the_fix(admin: User) -> None:
    # Events already in the chain keep what they hold: the page must still read well.
    legacy = record(Action.SIGN_OUT, actor=admin)
    AuditEvent.objects.filter(pk=legacy.pk).update(
        object_type="SimpleLazyObject", object_id=str(admin.pk)
    )
    page = signed_in(admin).get("/practice/audit/").content.decode()
    assert "SimpleLazyObject" not in page
    assert re.search(r"Signed out\s*<span class=\"hint\">Account " + str(admin.pk), page), page


def test_enrolling_an_authenticator_app_is_one_event(transactional_db: None) -> None:
    # allauth records authenticators after commit: a real transaction, not a test savepoint.
    therapist = make_user("new.therapist@example.test", Role.THERAPIST, "Nia New", mfa=False)
    browser: Client = signed_in(therapist)
    form = browser.get(ACTIVATE_TOTP).context["form"]
    response = browser.post(ACTIVATE_TOTP, {"code": totp_code(form.secret)})
    assert response.status_code == 302
    added = AuditEvent.objects.filter(action=Action.MFA_ADDED, actor=therapist)
    assert [event.detail["kind"] for event in added] == ["totp"]


def test_the_export_keeps_the_code_beside_the_label(admin: User, client_a: User) -> None:
    record(Action.MFA_ADDED, actor=admin, obj=admin, kind="totp")
    response = signed_in(admin).get("/practice/audit/export.csv")
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    rows = list(csv.DictReader(io.StringIO(body)))
    [row] = [row for row in rows if row["action"] == Action.MFA_ADDED]
    assert row["what"] == "Added an authenticator app"
    assert row["object_type"] == "User"


def test_the_admin_home_lists_recent_events_in_words(admin: User) -> None:
    record(Action.MFA_ADDED, actor=admin, obj=admin, kind="totp")
    page = signed_in(admin).get("/").content.decode()
    assert "Added an authenticator app" in page
    assert "mfa.authenticator_added" not in page and "auth.sign_in" not in page
