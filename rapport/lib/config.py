"""Typed readers for configuration held in the environment.

Every secret can also come from a file named by ``<NAME>_FILE`` (Docker/Kubernetes secrets), so a
secret never has to live in a process listing or a unit file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


class ConfigError(ValueError):
    """A configuration variable holds a value Rapport cannot use."""


def env_str(name: str, default: str = "") -> str:
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        return Path(file_name).read_text(encoding="utf-8").strip()
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = env_str(name)
    if raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = env_str(name)
    if raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from exc


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = env_str(name)
    if raw == "":
        return list(default or [])
    return [part.strip() for part in raw.split(",") if part.strip()]


# Files Rapport creates are its own account's alone (the data folder holds the database, keys
# and live session data): the `rapport` command sets this umask before anything else.
PRIVATE_UMASK = 0o077


def private_folder(path: Path) -> Path:
    """``path``, created 0700 if it does not exist yet (an existing folder is left as the
    operator set it; ``rapport check`` reports one that others may read)."""
    if not path.exists():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.chmod(0o700)  # mkdir's mode passes through the umask
    return path


def private_file(path: Path) -> Path:
    """``path``, created empty and 0600 if it does not exist yet."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path
    try:
        os.fchmod(descriptor, 0o600)
    finally:
        os.close(descriptor)
    return path


def read_or_create_secret(path: Path, make: Callable[[], str]) -> str:
    """Return the secret stored at ``path``, generating it on first use (demo mode only)."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    private_folder(path.parent)
    value = make()
    # Created with owner-only permissions before the secret is written.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return value
