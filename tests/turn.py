"""A real coturn TURN server on loopback for tests: ``turn_server()`` and the ``turn`` fixture.

coturn runs with ``use-auth-secret``, so the credentials Rapport hands out
(``rapport.lib.turn.ice_servers``) are checked exactly as in production. Everything it writes
(configuration, log, pid file, user database) stays in the given folder; it relays only to
127.0.0.1 (``allow-loopback-peers``, which production must never set). No Django import here.
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import shutil
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HOST = "127.0.0.1"
REALM = "rapport.test"
STARTUP_SECONDS = 20.0
# Relay ports come from below Linux's ephemeral range (32768-60999), where other processes'
# outgoing sockets land; each server takes a random block so parallel test runs rarely share.
RELAY_BLOCK = 200
RELAY_FLOOR, RELAY_CEILING = 20000, 32000
STUN_MAGIC_COOKIE = 0x2112A442
STUN_BINDING_REQUEST, STUN_BINDING_SUCCESS = 0x0001, 0x0101


class TurnServerError(RuntimeError):
    """coturn is missing, or did not come up."""


class _PortTaken(TurnServerError):
    """Another process got the chosen port first: try another."""


@dataclass
class TurnServer:
    """A running coturn: the URLs to hand to browsers, its shared secret, port and process."""

    urls: list[str]
    secret: str
    port: int
    process: subprocess.Popen[bytes]
    realm: str = REALM
    relay_ports: range = field(default_factory=lambda: range(0))
    log_path: Path = Path()

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no coturn log)"
        return "\n".join(text.splitlines()[-lines:])


def _free_port() -> int:
    """A port free on loopback for both UDP and TCP (coturn listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((HOST, 0))
            port: int = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((HOST, port))
                except OSError:
                    continue
                return port
    raise TurnServerError("no free port on 127.0.0.1 for coturn")


def _config(directory: Path, port: int, relay_ports: range, secret: str) -> str:
    return "\n".join(
        [
            f"listening-ip={HOST}",
            f"listening-port={port}",
            f"relay-ip={HOST}",
            f"min-port={relay_ports.start}",
            f"max-port={relay_ports.stop - 1}",
            "allow-loopback-peers",  # tests only: the peers are on this machine
            "no-tls",
            "no-dtls",
            "use-auth-secret",
            f"static-auth-secret={secret}",
            f"realm={REALM}",
            "no-cli",
            "no-software-attribute",
            "fingerprint",
            f"log-file={directory / 'turnserver.log'}",
            "simple-log",
            f"pidfile={directory / 'turnserver.pid'}",
            f"userdb={directory / 'turndb'}",
            "",
        ]
    )


def stun_binding_answers(port: int, timeout: float = 0.5) -> bool:
    """True when a STUN Binding request to ``127.0.0.1:port`` (UDP) gets its success answer."""
    transaction = secrets.token_bytes(12)
    request = struct.pack("!HHI", STUN_BINDING_REQUEST, 0, STUN_MAGIC_COOKIE) + transaction
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.settimeout(timeout)
        try:
            probe.sendto(request, (HOST, port))
            answer = probe.recv(2048)
        except OSError:  # timed out, or "connection refused" from an ICMP port unreachable
            return False
    return (
        len(answer) >= 20
        and struct.unpack("!H", answer[:2])[0] == STUN_BINDING_SUCCESS
        and answer[8:20] == transaction
    )


def _udp_socket_inodes(port: int) -> set[str]:
    """Inodes of the UDP sockets that receive on ``127.0.0.1:port`` (from /proc/net/udp)."""
    local = {f"0100007F:{port:04X}", f"00000000:{port:04X}"}
    inodes = set()
    with open("/proc/net/udp", encoding="ascii") as table:
        next(table)
        for line in table:
            fields = line.split()
            if fields[1] in local:
                inodes.add(fields[9])
    return inodes


def _process_socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    return inodes


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def _start(directory: Path) -> TurnServer:
    executable = shutil.which("turnserver")
    if executable is None:
        raise TurnServerError(
            "coturn's turnserver is not installed: run scripts/install-system-deps "
            "(Debian: apt-get install coturn)"
        )
    port = _free_port()
    first = random.randrange(RELAY_FLOOR, RELAY_CEILING - RELAY_BLOCK)
    relay_ports = range(first, first + RELAY_BLOCK)
    secret = secrets.token_urlsafe(32)
    config = directory / "turnserver.conf"
    config.write_text(_config(directory, port, relay_ports, secret), encoding="utf-8")
    config.chmod(0o600)
    log_path = directory / "turnserver.log"
    log_path.unlink(missing_ok=True)  # a new log for each attempt
    with (directory / "turnserver.out").open("ab") as output:
        process = subprocess.Popen(
            [executable, "-c", str(config)],
            cwd=directory,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = TurnServer(
        urls=[f"turn:{HOST}:{port}?transport=udp", f"turn:{HOST}:{port}?transport=tcp"],
        secret=secret,
        port=port,
        process=process,
        relay_ports=relay_ports,
        log_path=log_path,
    )
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise TurnServerError(
                f"turnserver exited with {process.returncode}:\n{server.log_tail()}"
            )
        if "Cannot bind" in server.log_tail():
            _stop(process)
            raise _PortTaken(f"port {port} was taken before coturn bound it")
        if stun_binding_answers(port):
            # Someone answered: make sure it is this coturn, not another process on the port.
            if _udp_socket_inodes(port) - _process_socket_inodes(process.pid):
                _stop(process)
                raise _PortTaken(f"UDP port {port} is shared with another process")
            return server
        time.sleep(0.1)
    _stop(process)
    raise TurnServerError(
        f"turnserver did not answer STUN on {HOST}:{port} after {STARTUP_SECONDS:.0f}s:\n"
        f"{server.log_tail()}"
    )


@contextlib.contextmanager
def turn_server(tmp_dir: Path) -> Iterator[TurnServer]:
    """Run coturn on loopback (files in ``tmp_dir``) until the block ends."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    for attempt in range(3):
        try:
            server = _start(tmp_dir)
            break
        except _PortTaken:
            if attempt == 2:
                raise
    try:
        yield server
    finally:
        _stop(server.process)


@pytest.fixture(scope="session")
def turn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TurnServer]:
    """A coturn on loopback for the whole test session. A missing coturn fails, never skips."""
    try:
        with turn_server(tmp_path_factory.mktemp("coturn")) as server:
            yield server
    except TurnServerError as exc:
        pytest.fail(str(exc))
