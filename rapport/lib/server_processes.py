"""``rapport serve --workers N``: uvicorn in N processes, each connection given to the least busy.

uvicorn's own ``--workers`` binds one socket in the parent and shares it: every process accepts
from the same queue, and the first one awake takes everything waiting. Connections that arrive
together (a reverse proxy opening its keep-alive pool, a burst of people signing in) then pile
onto one process while the others idle: of 20 kept-alive connections to two processes, splits of
20/0 and 19/1 were common (``bench/practice_scale.py``). A socket per process with
``SO_REUSEPORT`` was better but still left it to chance: the kernel picks a process by a hash of
the connection's addresses, and splits such as 3/17 still came up.

Here the parent alone listens. It accepts each connection and hands it (the file descriptor, over
a Unix socket pair: ``SCM_RIGHTS``) to the server process that holds the fewest open
connections; each process tells the parent when one of its connections closes. Twenty
connections opened together split 10/10. A kept-alive connection stays with its process, so this
is where the balance is made.

The parent also supervises: it starts the processes, starts a new one when one dies (not when one
fails to start), and on SIGTERM or SIGINT stops accepting, asks each process to finish its
requests and waits for it. Connections that arrive while a process starts wait in its socket
pair until it is ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import selectors
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any

import uvicorn

logger = logging.getLogger("uvicorn.error")

STARTUP_FAILURE = 3  # uvicorn's exit status when a server cannot start
STOP_WAIT_S = 30.0  # how long a process may take to finish its requests when asked to stop
RESTART_DELAY_S = 1.0  # pause before replacing a process that died (a crash loop stays cheap)
HANDED = b"+"  # parent -> process: a connection (its descriptor rides along)
CLOSED = b"-"  # process -> parent: one of my connections closed


def listening_socket(host: str, port: int, backlog: int) -> socket.socket:
    """The server's one listening TCP socket (in the parent)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


# --- In a server process -------------------------------------------------------------------------


def _serve(config_kwargs: dict[str, Any], channel: socket.socket) -> None:
    """One server process: uvicorn, serving the connections the parent hands over ``channel``."""
    HandedConnectionsServer(uvicorn.Config(**config_kwargs), channel).run()


def _counted(
    protocol_class: type[asyncio.Protocol],
    channel: socket.socket,
    upgrade: type[asyncio.Protocol] | None = None,
) -> type[Any]:
    """uvicorn's protocol, telling the parent when its connection closes. An HTTP connection
    that becomes a WebSocket changes protocol (``upgrade``, counted too) and closes as that."""

    class Counted(protocol_class):  # type: ignore[valid-type,misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if upgrade is not None:
                self.ws_protocol_class = upgrade

        def connection_lost(self, exc: Exception | None) -> None:
            super().connection_lost(exc)
            with contextlib.suppress(OSError):  # the parent is gone: nobody is counting
                channel.send(CLOSED)

    return Counted


class HandedConnectionsServer(uvicorn.Server):
    """``uvicorn.Server`` with no listening socket: its connections come over ``channel``."""

    def __init__(self, config: uvicorn.Config, channel: socket.socket) -> None:
        super().__init__(config)
        self.channel = channel

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])  # the application's start-up, no listener
        if self.should_exit:
            return
        loop = asyncio.get_running_loop()
        websocket = self.config.ws_protocol_class
        protocol_class = _counted(
            self.config.http_protocol_class,
            self.channel,
            upgrade=_counted(websocket, self.channel) if websocket is not None else None,
        )

        def protocol() -> asyncio.Protocol:
            return protocol_class(  # type: ignore[no-any-return]
                config=self.config,
                server_state=self.server_state,
                app_state=self.lifespan.state,
                _loop=loop,
            )

        self.channel.setblocking(False)
        loop.add_reader(self.channel.fileno(), self._receive, loop, protocol)

    def _receive(
        self, loop: asyncio.AbstractEventLoop, protocol: Callable[[], asyncio.Protocol]
    ) -> None:
        while True:
            try:
                message, fds, _flags, _address = socket.recv_fds(self.channel, 1, 1)
            except BlockingIOError:
                return
            if not message:  # the parent is gone: finish what is open, then stop
                loop.remove_reader(self.channel.fileno())
                self.should_exit = True
                return
            for fd in fds:
                connection = socket.socket(fileno=fd)
                loop.create_task(loop.connect_accepted_socket(protocol, connection))

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        with contextlib.suppress(ValueError, OSError):  # already removed
            asyncio.get_running_loop().remove_reader(self.channel.fileno())
        await super().shutdown(sockets)


# --- In the parent -------------------------------------------------------------------------------


@dataclass
class ServerProcess:
    process: BaseProcess
    channel: socket.socket  # the parent's end of the socket pair
    open_connections: int = 0


class Supervisor:
    """Accept connections and keep ``workers`` server processes running until a stop signal."""

    def __init__(self, config_kwargs: dict[str, Any], workers: int, listener: socket.socket):
        self.config_kwargs = config_kwargs
        self.workers = workers
        self.listener = listener
        self.context = multiprocessing.get_context("spawn")
        self.stopping = threading.Event()
        self.selector = selectors.DefaultSelector()

    def _start(self) -> ServerProcess:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        process = self.context.Process(target=_serve, args=(self.config_kwargs, theirs))
        process.start()
        theirs.close()
        ours.setblocking(False)
        server = ServerProcess(process, ours)
        self.selector.register(ours, selectors.EVENT_READ, server)
        logger.info("Started server process [%s]", process.pid)
        return server

    def _forget(self, server: ServerProcess) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(server.channel)
        server.channel.close()

    def run(self) -> int:
        previous = {
            signum: signal.signal(signum, self._on_signal)
            for signum in (signal.SIGINT, signal.SIGTERM)
        }
        servers = [self._start() for _ in range(self.workers)]
        self.selector.register(self.listener, selectors.EVENT_READ, None)
        status = 0
        try:
            while not self.stopping.is_set():
                ready = [key.data for key, _events in self.selector.select(timeout=0.5)]
                # Closed connections counted first: the counts are then as fresh as can be.
                for server in ready:
                    if server is not None:
                        self._count_closed(server)
                if None in ready:
                    self._accept(servers)
                status = self._replace_dead(servers)
        finally:
            self.selector.unregister(self.listener)
            self.listener.close()  # no new connections; the processes finish theirs
            self._stop_all(servers)
            for stop_signal, handler in previous.items():
                signal.signal(stop_signal, handler)
        return status

    def _accept(self, servers: list[ServerProcess]) -> None:
        while True:
            try:
                connection, _address = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # out of descriptors, say: log it, try again later
                logger.warning("accept failed: %s", exc)
                return
            with connection:  # the parent's copy closes; the process keeps its own
                self._hand(connection, servers)

    @staticmethod
    def _hand(connection: socket.socket, servers: list[ServerProcess]) -> None:
        """Give ``connection`` to the live process with the fewest open connections."""
        for server in sorted(servers, key=lambda s: s.open_connections):
            if server.channel.fileno() < 0:
                continue
            try:
                socket.send_fds(server.channel, [HANDED], [connection.fileno()])
            except OSError:  # that process is dying: the next one takes it
                continue
            server.open_connections += 1
            return
        logger.warning("no server process could take a connection; closed")

    def _count_closed(self, server: ServerProcess) -> None:
        while True:
            try:
                message = server.channel.recv(16)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                message = b""
            if not message:  # the process exited; _replace_dead starts another
                self._forget(server)
                return
            server.open_connections = max(0, server.open_connections - 1)

    def _replace_dead(self, servers: list[ServerProcess]) -> int:
        for index, server in enumerate(servers):
            if server.process.is_alive() or self.stopping.is_set():
                continue
            self._forget(server)
            if server.process.exitcode == STARTUP_FAILURE:
                logger.error("A server process could not start; stopping.")
                self.stopping.set()
                return 1
            logger.warning(
                "Server process [%s] exited (%s); starting another.",
                server.process.pid,
                server.process.exitcode,
            )
            time.sleep(RESTART_DELAY_S)
            servers[index] = self._start()
        return 0

    def _on_signal(self, _signum: int, _frame: object) -> None:
        self.stopping.set()

    def _stop_all(self, servers: list[ServerProcess]) -> None:
        for server in servers:
            if server.process.is_alive():
                server.process.terminate()  # SIGTERM: uvicorn finishes open requests, then exits
        deadline = time.monotonic() + STOP_WAIT_S
        for server in servers:
            server.process.join(max(0.0, deadline - time.monotonic()))
            if server.process.is_alive():
                logger.warning(
                    "Server process [%s] did not stop in time; killed.", server.process.pid
                )
                server.process.kill()
                server.process.join()
            self._forget(server)


def serve(config_kwargs: dict[str, Any], workers: int) -> int:
    """Run ``workers`` processes of uvicorn with ``config_kwargs`` (``uvicorn.Config``'s); the
    exit status: 0 after a stop signal, 1 when the port is taken or a process could not start."""
    host, port = config_kwargs["host"], config_kwargs["port"]
    try:
        listener = listening_socket(host, port, int(config_kwargs.get("backlog", 2048)))
    except OSError as exc:
        logger.error("cannot listen on %s:%s: %s", host, port, exc)
        return 1
    logger.info("Rapport listening on %s:%s with %d server processes", host, port, workers)
    return Supervisor(config_kwargs, workers, listener).run()
