"""The installable app (issue 20): the manifest is valid and its icons are the PNGs it says;
the service worker is served from the root with the right headers and a version made from what
it keeps; the offline page holds no script and no one's data; every page links the manifest and
the iPhone's icon; the VAPID key is made and read like the other keys."""

from __future__ import annotations

import json
import re
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse

from rapport.accounts.models import User
from rapport.core import shell
from rapport.lib.config import ConfigError
from rapport.lib.vapid import generate_vapid_key, load_vapid_key, vapid_public_key
from tests.conftest import signed_in

pytestmark = pytest.mark.django_db


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def static_bytes(url: str) -> bytes:
    assert url.startswith("/static/")
    found = finders.find(url.removeprefix("/static/"))
    assert found, url
    return Path(str(found)).read_bytes()


def test_the_manifest_is_valid_and_its_icons_are_the_pngs_it_declares() -> None:
    response = Client().get(reverse("web_manifest"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    manifest: dict[str, Any] = json.loads(response.content)
    assert manifest["name"] and 0 < len(manifest["short_name"]) <= 12
    assert manifest["start_url"] == "/" and manifest["scope"] == "/"
    assert manifest["display"] == "standalone" and manifest["lang"] == "en"
    for colour in (manifest["theme_color"], manifest["background_color"]):
        assert re.fullmatch(r"#[0-9a-f]{6}", colour)
    purposes: dict[str, set[int]] = {}
    for icon in manifest["icons"]:
        assert icon["type"] == "image/png"
        width, height = png_size(static_bytes(icon["src"]))
        assert icon["sizes"] == f"{width}x{height}" and width == height
        purposes.setdefault(icon["purpose"], set()).add(width)
    # Android's install needs 192 and 512; maskable ones fill its shapes.
    assert purposes == {"any": {192, 512}, "maskable": {192, 512}}
    assert png_size(static_bytes(f"/static/{shell.APPLE_TOUCH_ICON}")) == (180, 180)


def test_the_icons_are_made_by_the_script_in_the_repository(tmp_path: Path) -> None:
    script = Path(__file__).resolve().parent.parent / "scripts" / "make-icons"
    copy = tmp_path / "scripts" / "make-icons"
    copy.parent.mkdir()
    copy.write_text(script.read_text())
    subprocess.run([sys.executable, str(copy)], check=True, capture_output=True)
    made = tmp_path / "rapport/core/static/rapport/icons"
    for path in made.iterdir():
        assert path.read_bytes() == static_bytes(f"/static/rapport/icons/{path.name}"), path.name


def test_the_service_worker_is_served_from_the_root_with_its_version(client_a: User) -> None:
    for browser in (Client(), signed_in(client_a)):
        response = browser.get("/sw.js")
        assert response.status_code == 200
        assert response["Content-Type"] == "text/javascript; charset=utf-8"
        assert response["Service-Worker-Allowed"] == "/"
        assert "no-cache" in response["Cache-Control"]
        assert "Content-Security-Policy" in response
        source = response.content.decode()
        assert "__" not in source.replace("__proto__", "")  # every placeholder filled
        assert f'const VERSION = "{shell.shell_version()}"' in source
        shell_list = json.loads(re.search(r"const SHELL = (\[.*?\]);", source)[1])  # type: ignore[index]
        assert shell_list[0] == reverse("offline")
        for url in shell_list:
            if url.startswith("/static/"):
                assert static_bytes(url)
            else:
                assert Client().get(url).status_code == 200


def test_a_change_to_what_the_worker_keeps_changes_its_version(
    tmp_path: Path, monkeypatch: Any
) -> None:
    before = shell.shell_version()
    changed = tmp_path / "app-sw.js"
    changed.write_text(shell.WORKER.read_text() + "\n// changed\n")
    monkeypatch.setattr(shell, "WORKER", changed)
    shell.shell_version.cache_clear()
    try:
        assert shell.shell_version() != before
    finally:
        monkeypatch.undo()
        shell.shell_version.cache_clear()
    assert shell.shell_version() == before


def test_the_offline_page_is_the_same_for_everyone_and_runs_no_script(
    client_a: User, therapist_x: User
) -> None:
    anonymous = Client().get(reverse("offline"))
    page = anonymous.content.decode()
    assert anonymous.status_code == 200
    assert "You are offline" in page and "<script" not in page
    assert reverse("my_safety_plan") in page
    signed = signed_in(client_a).get(reverse("offline")).content.decode()
    assert client_a.full_name not in signed and client_a.email not in signed
    assert signed.replace("\n", "") == page.replace("\n", "")


def test_every_page_links_the_manifest_and_the_iphone_icon(client_a: User) -> None:
    for browser, url in ((Client(), "account_login"), (signed_in(client_a), "account_settings")):
        response = browser.get(reverse(url))
        assert response.status_code == 200
        text = response.content.decode()
        assert f'<link rel="manifest" href="{reverse("web_manifest")}">' in text
        assert (
            'rel="apple-touch-icon" href="/static/rapport/icons/apple-touch-icon-180.png"' in text
        )
        assert 'name="apple-mobile-web-app-capable" content="yes"' in text
        assert f'data-app-worker="{reverse("service_worker")}"' in text


def test_the_vapid_key_is_made_and_read_like_the_other_keys(settings: Any) -> None:
    key = generate_vapid_key()
    assert len(key) == 43
    assert len(vapid_public_key(key)) == 87  # 65 bytes, base64url
    # Demo mode made one in the data folder; its public key is the one pages hand to browsers.
    stored = (Path(settings.DATA_DIR) / "vapid_private_key").read_text().strip()
    assert stored == settings.RAPPORT_VAPID_PRIVATE_KEY
    assert vapid_public_key(stored) == settings.RAPPORT_VAPID_PUBLIC_KEY
    for bad in ("not base64!", "AAAA", "A" * 43):
        with pytest.raises(ConfigError):
            load_vapid_key(bad)
    printed = subprocess.run(
        [sys.executable, "-m", "rapport.cli", "keys", "vapid"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert vapid_public_key(printed)


def test_production_reads_the_vapid_key_from_a_file(tmp_path: Path) -> None:
    key = generate_vapid_key()
    secret = tmp_path / "vapid"
    secret.write_text(key + "\n")
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'rapport.settings'; "
        "from django.conf import settings; print(settings.RAPPORT_VAPID_PUBLIC_KEY)"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "RAPPORT_ENV": "production",
        "RAPPORT_DATA_DIR": str(tmp_path / "data"),
        "RAPPORT_SECRET_KEY": "x" * 50,
        "RAPPORT_ENCRYPTION_KEYS": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "RAPPORT_VAPID_PRIVATE_KEY_FILE": str(secret),
    }
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == vapid_public_key(key), out.stderr
    assert not (tmp_path / "data" / "vapid_private_key").exists()
    env["RAPPORT_VAPID_PRIVATE_KEY"] = "AAAA"
    del env["RAPPORT_VAPID_PRIVATE_KEY_FILE"]
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode != 0 and "RAPPORT_VAPID_PRIVATE_KEY must be 32 bytes" in out.stderr
