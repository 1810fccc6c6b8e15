"""``rapport serve --workers N``: uvicorn in N processes, each with a listening socket of its own.

uvicorn's own ``--workers`` binds one socket in the parent and shares it: every process accepts
from the same queue, and the first one awake takes everything waiting. Connections that arrive
together (a reverse proxy opening its keep-alive pool, a burst of people signing in) then pile
onto one process while the others idle: of 20 kept-alive connections to two processes, splits of
20/0 and 19/1 were common (``bench/practice_scale.py``), which halves throughput and doubles
latency. Here every process binds its own socket with ``SO_REUSEPORT``, and the kernel hands each
new connection to one of them by a hash of its addresses, so every process gets its share.

The parent only supervises: it starts the processes, starts a new one when one dies (not when
one fails to start), and on SIGTERM or SIGINT asks each to finish its requests and waits for it.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import threading
import time
from multiprocessing.process import BaseProcess
from typing import Any

logger = logging.getLogger("uvicorn.error")

STARTUP_FAILURE = 3  # uvicorn's exit status when a server cannot start (e.g. port in use)
STOP_WAIT_S = 30.0  # how long a process may take to finish its requests when asked to stop
RESTART_DELAY_S = 1.0  # pause before replacing a process that died (a crash loop stays cheap)


def reuse_port_socket(host: str, port: int, backlog: int) -> socket.socket:
    """A listening TCP socket that shares ``host:port`` with the other server processes."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    return sock


def check_port_free(host: str, port: int) -> None:
    """Fail now, with the reason, when another program holds the port (every process would)."""
    with reuse_port_socket(host, port, backlog=1):
        pass


def _serve(config_kwargs: dict[str, Any]) -> None:
    """One server process: its own socket, then uvicorn until asked to stop."""
    import uvicorn

    config = uvicorn.Config(**config_kwargs)
    try:
        sock = reuse_port_socket(config.host, config.port, config.backlog)
    except OSError as exc:
        logger.error("cannot listen on %s:%s: %s", config.host, config.port, exc)
        raise SystemExit(STARTUP_FAILURE) from exc
    uvicorn.Server(config).run(sockets=[sock])


class Supervisor:
    """Keep ``workers`` server processes running until a stop signal."""

    def __init__(self, config_kwargs: dict[str, Any], workers: int) -> None:
        self.config_kwargs = config_kwargs
        self.workers = workers
        self.context = multiprocessing.get_context("spawn")
        self.stopping = threading.Event()

    def _start(self) -> BaseProcess:
        process = self.context.Process(target=_serve, args=(self.config_kwargs,))
        process.start()
        logger.info("Started server process [%s]", process.pid)
        return process

    def run(self) -> int:
        previous = {
            signum: signal.signal(signum, self._on_signal)
            for signum in (signal.SIGINT, signal.SIGTERM)
        }
        processes = [self._start() for _ in range(self.workers)]
        status = 0
        try:
            while not self.stopping.wait(0.5):
                for index, process in enumerate(processes):
                    if process.is_alive():
                        continue
                    if process.exitcode == STARTUP_FAILURE:
                        logger.error("A server process could not start; stopping.")
                        self.stopping.set()
                        status = 1
                        break
                    logger.warning(
                        "Server process [%s] exited (%s); starting another.",
                        process.pid,
                        process.exitcode,
                    )
                    time.sleep(RESTART_DELAY_S)
                    processes[index] = self._start()
        finally:
            self._stop_all(processes)
            for stop_signal, handler in previous.items():
                signal.signal(stop_signal, handler)
        return status

    def _on_signal(self, _signum: int, _frame: object) -> None:
        self.stopping.set()

    @staticmethod
    def _stop_all(processes: list[BaseProcess]) -> None:
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes open requests, then exits
        deadline = time.monotonic() + STOP_WAIT_S
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                logger.warning("Server process [%s] did not stop in time; killed.", process.pid)
                process.kill()
                process.join()


def serve(config_kwargs: dict[str, Any], workers: int) -> int:
    """Run ``workers`` processes of uvicorn with ``config_kwargs`` (``uvicorn.Config``'s); the
    exit status: 0 after a stop signal, 1 when a process could not start."""
    host, port = config_kwargs["host"], config_kwargs["port"]
    try:
        check_port_free(host, port)
    except OSError as exc:
        logger.error("cannot listen on %s:%s: %s", host, port, exc)
        return 1
    logger.info("Rapport listening on %s:%s with %d server processes", host, port, workers)
    return Supervisor(config_kwargs, workers).run()
