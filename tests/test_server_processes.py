"""``rapport serve --workers 2`` (``rapport.lib.server_processes``): connections split evenly over
the processes, a dead process is replaced, a taken port is a clear error, SIGTERM stops them all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.mail import free_port
from tests.test_cli import RAPPORT, _env, _ok, _rapport

HOST = "127.0.0.1"
CONNECTIONS = 20


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split()]


def _server_processes(pid: int) -> list[int]:
    """The server processes: the children of ``pid`` that are not multiprocessing's helper (the
    resource tracker holds no socket pair to the parent)."""
    return [child for child in _children(pid) if "resource_tracker" not in _command(child)]


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _answers(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=5) as connection:
            return _healthz(connection).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def _socket_inodes(port: int, state: str) -> set[str]:
    """Inodes of the TCP sockets with local ``port`` in ``state`` (01 established, 0A listen)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == state:
            inodes.add(fields[9])
    return inodes


def _inodes_of(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def _wait_until_closed(port: int) -> None:
    """Until the server holds no connection on ``port`` (established or closing)."""
    _wait_for_connections(port, 0)


def _wait_for_connections(port: int, count: int) -> None:
    """Until the server holds ``count`` connections on ``port`` (established or closing)."""
    deadline = time.monotonic() + 10
    while len(_socket_inodes(port, state="01") | _socket_inodes(port, state="08")) != count:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.05)  # the closing ones' notices cross the socket pair


def _websocket_upgrade(connection: socket.socket, port: int) -> bytes:
    """Open a WebSocket (no session: the server accepts, then closes it for want of a person)."""
    connection.sendall(
        (
            f"GET /ws/events/ HTTP/1.1\r\nHost: {HOST}:{port}\r\nOrigin: http://{HOST}:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        ).encode()
    )
    return connection.recv(65536)


def _healthz(connection: socket.socket) -> bytes:
    connection.sendall(f"GET /healthz HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
    return connection.recv(65536)


@contextmanager
def _serving(tmp_path: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    key = _ok(_rapport(_env(tmp_path), "keys", "generate")).stdout.strip()
    env = _env(
        tmp_path,
        RAPPORT_ENV="production",
        RAPPORT_SECRET_KEY="s" * 64,
        RAPPORT_ENCRYPTION_KEYS=key,
        RAPPORT_HTTPS="false",
    )
    _ok(_rapport(env, "manage", "migrate", "--no-input", "-v0"))
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [RAPPORT, "serve", "--workers", "2", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        deadline = time.monotonic() + 60
        while len(_server_processes(server.pid)) < 2 or not _answers(port):
            assert server.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        yield server
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=40)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def test_connections_spread_over_the_processes_and_a_dead_one_is_replaced(
    tmp_path: Path,
) -> None:
    port = free_port()
    with _serving(tmp_path, port) as server:
        processes = _server_processes(server.pid)
        assert len(processes) == 2
        # Connections opened together: with uvicorn's one shared socket, the first process
        # awake took nearly all of them (20/0 and 19/1 were common); with a socket per process
        # (SO_REUSEPORT) the kernel's hash still gave 3/17. Three rounds in a row.
        for round_number in range(3):
            if round_number == 1:
                # WebSockets count while open too, and their closing is told as well. Two
                # opened while one process holds two more connections than the other go to
                # the other; had their closing not been told, the next split would be 11/9.
                held = [socket.create_connection((HOST, port)) for _ in range(4)]  # A B A B
                for connection in held:
                    assert _healthz(connection).startswith(b"HTTP/1.1 200")
                held[1].close()
                held[3].close()
                _wait_for_connections(port, 2)
                for _ in range(2):
                    with socket.create_connection((HOST, port)) as websocket:
                        assert b" 403 " in _websocket_upgrade(websocket, port)  # no session
                held[0].close()
                held[2].close()
            _wait_until_closed(port)  # every process has told the parent of its closed ones
            connections = [socket.create_connection((HOST, port)) for _ in range(CONNECTIONS)]
            try:
                for connection in connections:
                    assert _healthz(connection).startswith(b"HTTP/1.1 200")
                established = {child: _inodes_of(child) for child in processes}
                shares = {
                    child: len(inodes & _socket_inodes(port, state="01"))
                    for child, inodes in established.items()
                }
                print("connections per process", shares)
                assert sorted(shares.values()) == [CONNECTIONS // 2, CONNECTIONS // 2], shares
            finally:
                for connection in connections:
                    connection.close()

        os.kill(processes[0], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while True:
            now_serving = _server_processes(server.pid)
            if len(now_serving) == 2 and processes[0] not in now_serving:
                break
            assert time.monotonic() < deadline, now_serving
            time.sleep(0.2)
        for _ in range(10):  # both answer, the new one included
            with socket.create_connection((HOST, port)) as connection:
                assert _healthz(connection).startswith(b"HTTP/1.1 200")

        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=40) == 0
        for child in now_serving:
            assert not Path(f"/proc/{child}").exists() or "Z" in _state(child)


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        key = _ok(_rapport(_env(tmp_path), "keys", "generate")).stdout.strip()
        env = _env(
            tmp_path,
            RAPPORT_ENV="production",
            RAPPORT_SECRET_KEY="s" * 64,
            RAPPORT_ENCRYPTION_KEYS=key,
            RAPPORT_HTTPS="false",
        )
        result = subprocess.run(
            [RAPPORT, "serve", "--workers", "2", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Address already in use" in result.stderr
