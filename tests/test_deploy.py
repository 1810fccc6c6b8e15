"""The files in ``deploy/`` that docs/deployment.md tells operators to install: systemd units and
timers (``systemd-analyze verify``), compose.yaml (parsed), the Dockerfile and the Caddyfiles
(structure). Every ``rapport`` command they run must be one the CLI accepts, every Django command
one that exists, every health check a route that exists."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import get_commands
from django.urls import resolve

from rapport.cli import build_parser

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
SYSTEMD = DEPLOY / "systemd"
RAPPORT_IN_UNITS = "/srv/rapport/venv/bin/rapport"
SETTINGS = (Path(__file__).resolve().parent.parent / "rapport" / "settings.py").read_text()


def check_rapport_command(argv: list[str]) -> None:
    """``argv`` (after ``rapport``) is a command the CLI accepts; ``manage`` names one of
    Django's commands whose options it takes."""
    assert argv, "an empty rapport command"
    if argv[0] == "manage":
        name = argv[1]
        assert name in get_commands(), f"rapport manage {name}: no such command"
        from django.core.management import load_command_class

        command = load_command_class(get_commands()[name], name)
        command.create_parser("rapport manage", name).parse_args(argv[2:])
        return
    try:
        build_parser().parse_args(argv)
    except SystemExit as refused:
        raise AssertionError(f"rapport {shlex.join(argv)} is refused by the CLI") from refused


def unit_entries(path: Path) -> list[tuple[str, str, str]]:
    """(section, key, value) of a unit file, repeated keys kept (ExecStart in a oneshot)."""
    entries, section = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        entries.append((section, key.strip(), value.strip()))
    return entries


# --- systemd -------------------------------------------------------------------------------------


def test_units_run_real_rapport_commands(db: None) -> None:
    commands = []
    for unit in SYSTEMD.glob("*.service"):
        for _section, key, value in unit_entries(unit):
            if key == "ExecStart":
                argv = shlex.split(value)
                assert argv[0] == RAPPORT_IN_UNITS, unit.name
                check_rapport_command(argv[1:])
                commands.append(shlex.join(argv[1:]))
            if key == "User":
                assert value == "rapport", f"{unit.name} must not run as {value}"
        entries = unit_entries(unit)
        assert ("Service", "UMask", "0077") in entries, unit.name
        assert ("Service", "NoNewPrivileges", "true") in entries, unit.name
    # What the issue asks the timers to do: sessions, task results, audit checkpoints, backups.
    assert {
        "manage clearsessions",
        "manage prune_db_task_results --min-age-days 14",
        "audit verify",
        "backup /var/backups/rapport --keep 14",
        "serve --workers 4",
        "worker",
    } <= set(commands)


def test_every_timer_starts_a_unit_that_exists() -> None:
    timers = list(SYSTEMD.glob("*.timer"))
    assert {t.stem for t in timers} == {"rapport-maintenance", "rapport-backup"}
    for timer in timers:
        entries = unit_entries(timer)
        assert (SYSTEMD / f"{timer.stem}.service").exists()
        assert ("Timer", "Persistent", "true") in entries
        assert ("Install", "WantedBy", "timers.target") in entries
        (calendar,) = [value for _s, key, value in entries if key == "OnCalendar"]
        if shutil.which("systemd-analyze"):
            subprocess.run(
                ["systemd-analyze", "calendar", calendar], check=True, capture_output=True
            )


def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (the structural tests above still ran)")
    # The units name the installed command; verify them against this checkout's.
    rapport = str(Path(sys.executable).with_name("rapport"))
    names = []
    for unit in SYSTEMD.iterdir():
        name = unit.name.replace("@.service", "@1.service")
        (tmp_path / name).write_text(unit.read_text().replace(RAPPORT_IN_UNITS, rapport))
        names.append(f"./{name}")
    done = subprocess.run(
        [analyze, "verify", "--man=no", *sorted(names)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # Unknown keys and bad values are only warnings: none may appear.
    assert done.stderr.strip() == "", done.stderr


# --- compose.yaml and the image ------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def test_compose_has_the_services_with_pinned_images(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"postgres", "redis", "coturn", "server", "worker", "migrate", "caddy"} <= set(services)
    for name, service in services.items():
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin {image}"
    for name in ("server", "worker", "migrate"):
        assert services[name]["build"]["dockerfile"] == "deploy/Dockerfile"
        assert (DEPLOY / services[name]["build"]["context"] / "deploy" / "Dockerfile").exists()
        assert services[name]["env_file"] == "rapport.env"
        assert (DEPLOY / "rapport.env.example").exists()


def test_compose_commands_are_real_and_ordered(compose: dict[str, Any], db: None) -> None:
    services = compose["services"]
    for name in ("server", "worker", "migrate"):
        command = services[name]["command"]
        assert command[0] == "rapport", name
        check_rapport_command(command[1:])
    assert services["server"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    assert services["worker"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["caddy"]["depends_on"]["server"]["condition"] == "service_healthy"
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"][0] == "CMD"


def test_compose_server_health_is_the_readiness_route(compose: dict[str, Any]) -> None:
    test = compose["services"]["server"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    code = test[3]
    compile(code, "healthcheck", "exec")  # valid Python
    (url,) = re.findall(r'"(http://127\.0\.0\.1:8000/[^"]*)"', code)
    assert resolve(url.removeprefix("http://127.0.0.1:8000")).url_name == "readyz"
    assert "RAPPORT_ALLOWED_HOSTS" in code  # the Host header must be one Django allows


def test_compose_and_env_example_name_only_real_settings(compose: dict[str, Any]) -> None:
    names = set(compose["x-rapport"]["environment"])
    for line in (DEPLOY / "rapport.env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            names.add(line.partition("=")[0])
    for name in names:
        assert f'"{name}"' in SETTINGS, f"{name} is not read by rapport/settings.py"
    for secret in (
        "RAPPORT_SECRET_KEY",
        "RAPPORT_ENCRYPTION_KEYS",
        "RAPPORT_AUDIT_KEY",
        "RAPPORT_VAPID_PRIVATE_KEY",
    ):
        assert f"{secret}=\n" in (DEPLOY / "rapport.env.example").read_text()  # left empty


def test_dockerfile_runs_rapport_unprivileged(db: None) -> None:
    lines = [
        line.strip()
        for line in (DEPLOY / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    instructions = [line.split()[0] for line in lines if line.split()[0].isupper()]
    assert instructions[0] == "FROM" and re.match(r"FROM python:3\.1[2-9]-", lines[0])
    assert "USER" in instructions
    (user,) = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert user == "rapport"
    (cmd,) = [line for line in lines if line.startswith("CMD ")]
    argv = yaml.safe_load(cmd.removeprefix("CMD "))  # a JSON array
    assert argv[0] == "rapport"
    check_rapport_command(argv[1:])
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    assert {".venv", "node_modules", "var", ".git"} <= set(ignored)


# --- Caddy ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Caddyfile", "Caddyfile.compose"])
def test_caddyfiles_proxy_to_the_server_and_keep_tokens_out_of_logs(name: str) -> None:
    text = (DEPLOY / name).read_text()
    assert text.count("{") == text.count("}"), "unbalanced braces"
    assert re.search(r"reverse_proxy (127\.0\.0\.1|server):8000", text)
    assert "@invite path /invite/*" in text and "log_skip @invite" in text
    assert "@probes path /healthz /readyz" in text and "respond @probes 404" in text
    for route in ("/healthz", "/readyz"):
        assert resolve(route).url_name == route.strip("/")
