"""Bad networks on purpose: each person's browser in its own network namespace, the server behind
a router namespace, and packet faults on the client's link made with the kernel's ``tc``.

Topology (one ``/22`` of 198.18.0.0/15, the range set aside for benchmarking networks, RFC 2544)::

    host namespace: the demo server on .0.1 ──veth── router namespace (.0.2, .1.1, .2.1)
    therapist namespace (.1.2) ──veth── router ──veth── client namespace (.2.2)

The router forwards between its three links and has no other route, and the browsers'
namespaces know only the harness's own ``/22``: nothing a test does can leave the machine, and a
mistyped address fails with "network unreachable" instead of going out. A fault is a ``clsact``
qdisc on the client's veth with a classic-BPF ``tc`` filter on both directions (netem and the
``gact`` action are not in every kernel): it drops a share of the UDP packets (media) or every
IPv4 packet (a blackout); removing the filters lifts it at once.

Browsers run inside a namespace through a wrapper that Playwright launches as the Chromium
executable (``ip netns exec <namespace> chromium ...``). They reach the server by its address in
the harness's range, which Chromium is told to treat as a secure origin (camera and microphone
need one). Needs root and ``ip``/``tc`` (iproute2, in ``scripts/install-system-deps``).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.browser.conftest import CHROMIUM

RANGE = ipaddress.IPv4Network("198.18.0.0/15")
PREFIX = "rnf"  # namespaces rnf-<pid>-<tag>-{r,t,c}; links rnf<tag>{h,t,c}
SIDES = ("therapist", "client")

# Classic BPF (tc's "bytecode" syntax: count, then "code jt jf k" per instruction). The packet
# starts at its Ethernet header in both directions (cls_bpf pushes the MAC header on ingress).
RET_PASS = 0xFFFFFFFF  # TC_ACT_UNSPEC: carry on
RET_DROP = 2  # TC_ACT_SHOT
RANDOM = 0xFFFFF038  # SKF_AD_OFF + SKF_AD_RANDOM: "ld rand"


def drop_program(percent: int, *, udp_only: bool) -> str:
    """A filter that drops ``percent`` % of the IPv4 packets (of the UDP ones only, with
    ``udp_only``) at random and lets everything else (ARP, the rest) through."""
    if not 0 < percent <= 100:
        raise ValueError(f"a loss of {percent} % is not a fault")
    ops: list[tuple[int, int, int, int]] = [
        (0x28, 0, 0, 12),  # ldh [12]           EtherType
        (0x15, 0, 0, 0x0800),  # jeq #IPv4 ... else pass (jf patched below)
    ]
    if udp_only:
        ops += [(0x30, 0, 0, 23), (0x15, 0, 0, 17)]  # ldb [23] IP protocol; jeq #UDP
    if percent < 100:
        ops += [
            (0x20, 0, 0, RANDOM),  # ld rand
            (0x94, 0, 0, 100),  # mod #100
            (0x35, 0, 1, percent),  # jge #percent: pass, else drop
        ]
    else:
        ops += [(0x05, 0, 0, 1)]  # ja: to drop
    ops += [(0x06, 0, 0, RET_PASS), (0x06, 0, 0, RET_DROP)]
    passing = len(ops) - 2
    # Every "not this kind of packet" test jumps to the pass instruction.
    for index, (code, jt, _jf, k) in enumerate(ops):
        if code == 0x15:
            ops[index] = (code, jt, passing - index - 1, k)
    return ",".join([str(len(ops)), *(f"{c} {jt} {jf} {k}" for c, jt, jf, k in ops)])


def _run(*args: str) -> str:
    result = subprocess.run(args, capture_output=True, text=True, check=False, timeout=30)
    if result.returncode != 0:
        raise NetworkError(f"{' '.join(args)} failed ({result.returncode}): {result.stderr}")
    return result.stdout


class NetworkError(RuntimeError):
    pass


def missing_tools() -> str:
    """Why the harness cannot run here, or ""."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None:
            return f"`{tool}` is missing: run scripts/install-system-deps"
    return ""


def remove_stale() -> None:
    """Namespaces left by a harness whose process is gone (a killed test run)."""
    for line in _run("ip", "netns", "list").splitlines():
        name = line.split()[0] if line.split() else ""
        parts = name.split("-")
        if len(parts) != 4 or parts[0] != PREFIX or not parts[1].isdigit():
            continue
        if not Path(f"/proc/{parts[1]}").exists():
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


def _used_networks() -> list[ipaddress.IPv4Network]:
    """The IPv4 destinations the host already routes (a block overlapping one is not free)."""
    routes = json.loads(_run("ip", "-4", "-j", "route", "show", "table", "all"))
    used = []
    for route in routes:
        dst = route.get("dst", "")
        with contextlib.suppress(ValueError):
            used.append(ipaddress.IPv4Network(dst, strict=False))
    return used


class FaultNetwork:
    """The three namespaces, their links, and the fault on the client's link."""

    def __init__(self) -> None:
        self.tag = f"{os.getpid() % 100000}{len(_instances)}"
        _instances.append(self)
        used = _used_networks()
        blocks = list(RANGE.subnets(new_prefix=22))
        start = os.getpid() % len(blocks)
        free = [
            blocks[(start + i) % len(blocks)]
            for i in range(len(blocks))
            if not any(blocks[(start + i) % len(blocks)].overlaps(u) for u in used)
        ]
        if not free:
            raise NetworkError("no free /22 in 198.18.0.0/15")
        self.block = free[0]
        subnets = list(self.block.subnets(new_prefix=24))
        self.links = {"host": subnets[0], "therapist": subnets[1], "client": subnets[2]}
        self.namespaces = {
            side: f"{PREFIX}-{os.getpid()}-{len(_instances)}-{side[0]}"
            for side in ("router", *SIDES)
        }
        self.devices = {side: f"{PREFIX}{self.tag}{side[0]}"[:15] for side in ("host", *SIDES)}
        self.folder = Path(tempfile.mkdtemp(prefix="rapport-netfault-"))
        self.faulted = False
        self.made = False

    def address(self, link: str, host: int) -> str:
        return str(self.links[link][host])

    @property
    def server_host(self) -> str:
        return self.address("host", 1)

    def check_address(self, url_host: str) -> None:
        """Refuse any address outside this harness's own block (it would leave the machine)."""
        if ipaddress.ip_address(url_host) not in self.block:
            raise NetworkError(f"{url_host} is outside the test network {self.block}")

    def create(self) -> None:
        router = self.namespaces["router"]
        for namespace in self.namespaces.values():
            _run("ip", "netns", "add", namespace)
        self.made = True
        for name in self.namespaces.values():
            _run("ip", "-n", name, "link", "set", "lo", "up")
        # The host's end towards the router.
        host_dev, router_host_dev = self.devices["host"], f"{self.devices['host']}r"
        _run("ip", "link", "add", host_dev, "type", "veth", "peer", "name", router_host_dev)
        _run("ip", "link", "set", router_host_dev, "netns", router)
        _run("ip", "addr", "add", f"{self.address('host', 1)}/24", "dev", host_dev)
        _run("ip", "link", "set", host_dev, "up")
        _run(
            "ip",
            "-n",
            router,
            "addr",
            "add",
            f"{self.address('host', 2)}/24",
            "dev",
            router_host_dev,
        )
        _run("ip", "-n", router, "link", "set", router_host_dev, "up")
        _run("ip", "route", "add", str(self.block), "via", self.address("host", 2), "dev", host_dev)
        for side in SIDES:
            dev, router_dev, namespace = (
                self.devices[side],
                f"{self.devices[side]}r",
                self.namespaces[side],
            )
            _run(
                "ip",
                "link",
                "add",
                dev,
                "netns",
                namespace,
                "type",
                "veth",
                "peer",
                "name",
                router_dev,
                "netns",
                router,
            )
            _run(
                "ip", "-n", router, "addr", "add", f"{self.address(side, 1)}/24", "dev", router_dev
            )
            _run("ip", "-n", router, "link", "set", router_dev, "up")
            _run("ip", "-n", namespace, "addr", "add", f"{self.address(side, 2)}/24", "dev", dev)
            _run("ip", "-n", namespace, "link", "set", dev, "up")
            _run(
                "ip", "-n", namespace, "route", "add", str(self.block), "via", self.address(side, 1)
            )
        _run("ip", "netns", "exec", router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        _run("ip", "-n", self.namespaces["client"], "link", "show", self.devices["client"])
        _run(
            "ip",
            "netns",
            "exec",
            self.namespaces["client"],
            "tc",
            "qdisc",
            "add",
            "dev",
            self.devices["client"],
            "clsact",
        )

    def chromium(self, side: str) -> Path:
        """An executable that starts Chromium inside ``side``'s namespace."""
        wrapper = self.folder / f"chromium-{side}"
        wrapper.write_text(
            f'#!/bin/sh\nexec ip netns exec {self.namespaces[side]} {CHROMIUM} "$@"\n',
            encoding="utf-8",
        )
        wrapper.chmod(0o755)
        return wrapper

    def _tc(self, *args: str) -> None:
        _run("ip", "netns", "exec", self.namespaces["client"], "tc", *args)

    def fault(self, percent: int, *, udp_only: bool = True) -> None:
        """Drop ``percent`` % of the client's packets both ways (``udp_only``: media only;
        otherwise every IPv4 packet, signaling included)."""
        self.lift()
        program = drop_program(percent, udp_only=udp_only)
        for direction in ("ingress", "egress"):
            self._tc(
                "filter",
                "add",
                "dev",
                self.devices["client"],
                direction,
                "bpf",
                "da",
                "bytecode",
                program,
            )
        self.faulted = True

    def blackout(self) -> None:
        self.fault(100, udp_only=False)

    def lift(self) -> None:
        if not self.faulted:
            return
        for direction in ("ingress", "egress"):
            self._tc("filter", "del", "dev", self.devices["client"], direction)
        self.faulted = False

    def close(self) -> None:
        if self.made:
            for namespace in self.namespaces.values():
                subprocess.run(["ip", "netns", "del", namespace], capture_output=True, check=False)
            # The host's end goes with its peer, but not always at once.
            subprocess.run(
                ["ip", "link", "del", self.devices["host"]], capture_output=True, check=False
            )
            self.made = False
        shutil.rmtree(self.folder, ignore_errors=True)


_instances: list[FaultNetwork] = []


@contextlib.contextmanager
def fault_network() -> Iterator[FaultNetwork]:
    problem = missing_tools()
    if problem:
        raise NetworkError(problem)
    remove_stale()
    network = FaultNetwork()
    try:
        network.create()
        yield network
    finally:
        network.close()
