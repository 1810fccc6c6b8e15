"""Call setup: from "both people are in the room" to a picture on both screens, on loopback.

Two Chromium contexts with fake cameras and microphones hold a real Rapport call through a real
demo server (uvicorn, the session room, its signaling socket), again and again. One therapist
and one client sign in once; each call is a new visit: the therapist starts it and waits in the
room, the client checks in and waits, the therapist admits them, the call runs, the therapist
ends it. Both pages have their camera and microphone open before the call starts (the room opens
them in the waiting room), as a person's would.

What is timed, from the room's read-only hook ``window.rapportRoom.timings()`` (epoch ms, from
``performance.timeOrigin + performance.now()``, so comparable across the two pages):

* start: the later of the two moments the ``ready`` message reached a page (both admitted and
  connected: the server tells both to build their peer connection);
* end: the later of the two first *decoded* remote video frames
  (``video.requestVideoFrameCallback`` on the remote ``<video>``);
* setup = end - start: offer/answer, ICE, DTLS, the first key frame, decoding, on both sides.

The baseline, measured in the same run and interleaved with the Rapport calls: a minimal page
pair (``BASELINE_PAGE``) served with its WebSocket relay by this script, doing the same
getUserMedia, one offer/answer and trickle ICE with no Rapport at all, timed the same way. It is
the floor on this machine. Exits 1 when Rapport's median is over the budget.

    .venv/bin/python bench/call_setup.py              # 10 calls of each; CALLS=20 for more
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import statistics
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in {None, ""}:  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.sync_api import Browser, Page, sync_playwright
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from tests.browser.conftest import CHROMIUM
from tests.browser.media import ALLOW_DEVICES, MEDIA_ARGS
from tests.browser.people import Pair, new_pair
from tests.browser.server import DemoServer, demo_server, free_port

BUDGET_MS = 500.0
CALLS = int(os.environ.get("CALLS", "10"))
TIMEOUT_MS = 30_000

# --- The baseline: two bare pages and a relay ---------------------------------------------------

BASELINE_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>baseline call</title></head>
<body><video id="remote" muted autoplay playsinline></video><script type="module">
const timings = {ready: null, firstFrame: null};
let waiting = false;
window.baseline = {timings: () => ({...timings}), pc: () => pc, waiting: () => waiting};
const stream = await navigator.mediaDevices.getUserMedia({audio: true, video: true});
const ws = new WebSocket(`ws://${location.host}/ws${location.pathname}`);
const send = (m) => ws.send(JSON.stringify(m));
let pc = null;
let chain = Promise.resolve();
ws.onopen = () => {
  send({type: "hello"});
  waiting = true;
};
ws.onmessage = ({data}) => {
  const m = JSON.parse(data);
  chain = chain.then(() => handle(m)).catch((e) => console.error(e));
};
async function handle(m) {
  if (m.type === "ready") {
    timings.ready = performance.timeOrigin + performance.now();
    pc = new RTCPeerConnection({iceServers: []});
    pc.onicecandidate = ({candidate}) => send({type: "ice", candidate});
    pc.ontrack = ({track}) => {
      if (track.kind !== "video") return;
      const video = document.getElementById("remote");
      video.srcObject = new MediaStream([track]);
      video.requestVideoFrameCallback(() => {
        timings.firstFrame ??= performance.timeOrigin + performance.now();
      });
    };
    for (const track of stream.getTracks()) pc.addTrack(track, stream);
    if (!m.polite) {
      await pc.setLocalDescription();
      send({type: "sdp", description: pc.localDescription});
    }
  } else if (m.type === "sdp") {
    await pc.setRemoteDescription(m.description);
    if (m.description.type === "offer") {
      await pc.setLocalDescription();
      send({type: "sdp", description: pc.localDescription});
    }
  } else if (m.type === "ice") {
    await pc.addIceCandidate(m.candidate ?? undefined);
  }
}
</script></body></html>
"""


class Relay:
    """HTTP for the page and a WebSocket relay: two sockets per room; ``admit`` sends both
    ``ready``, then every message goes to the other socket."""

    def __init__(
        self, page: str = BASELINE_PAGE, host: str = "127.0.0.1", *, keepalive: bool = True
    ) -> None:
        self.page, self.host, self.keepalive = page, host, keepalive
        self.port = free_port(host)
        self.rooms: dict[str, list[ServerConnection]] = {}
        self.loop = asyncio.new_event_loop()
        self.started = threading.Event()
        self.stopping: asyncio.Future[None] | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _page(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path.startswith("/ws/"):
            return None
        body = self.page.encode()
        headers = Headers({"Content-Type": "text/html; charset=utf-8"})
        headers["Content-Length"] = str(len(body))
        return Response(200, "OK", headers, body)

    async def _serve(self, connection: ServerConnection) -> None:
        room = self.rooms.setdefault(connection.request.path if connection.request else "", [])
        room.append(connection)
        async for raw in connection:
            message = json.loads(raw)
            if message["type"] == "hello":
                continue
            for peer in room:
                if peer is not connection:
                    await peer.send(raw)

    def admit(self, room: str) -> None:
        """Both pages are in, with their camera on: start the call, like Rapport's `ready`."""

        async def ready() -> None:
            for polite, peer in enumerate(self.rooms[room]):
                await peer.send(json.dumps({"type": "ready", "polite": bool(polite)}))

        asyncio.run_coroutine_threadsafe(ready(), self.loop).result(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def main() -> None:
            server: Server
            # keepalive=False: no pings, so that a network blackout does not close the socket.
            pings: dict[str, Any] = {} if self.keepalive else {"ping_interval": None}
            async with serve(
                self._serve,
                self.host,
                self.port,
                process_request=self._page,
                compression=None,
                **pings,
            ) as server:
                self.stopping = self.loop.create_future()
                self.started.set()
                await self.stopping
                server.close()

        self.loop.run_until_complete(main())

    def __enter__(self) -> Relay:
        self.thread.start()
        self.started.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.stopping is not None:
            self.loop.call_soon_threadsafe(self.stopping.set_result, None)
        self.thread.join(10)


# --- Measuring -----------------------------------------------------------------------------------


@dataclass
class Sample:
    setup_ms: float
    ready_gap_ms: float  # between the two pages' `ready`: the server's fan-out


@dataclass
class Series:
    name: str
    samples: list[Sample] = field(default_factory=list)

    def figures(self) -> dict[str, float]:
        values = sorted(s.setup_ms for s in self.samples)
        p95_index = max(0, round(0.95 * len(values) + 0.5) - 1)
        return {
            "median": statistics.median(values),
            "p95": values[min(p95_index, len(values) - 1)],
            "max": values[-1],
            "min": values[0],
        }


def setup_time(timings: list[dict[str, Any]]) -> Sample:
    readies = [t["ready"] for t in timings]
    frames = [t["firstFrame"] for t in timings]
    return Sample(max(frames) - max(readies), abs(readies[0] - readies[1]))


FIRST_FRAME = "(hook) => window[hook] && window[hook].timings().firstFrame !== null"


def baseline_call(pages: list[Page], relay: Relay, number: int) -> Sample:
    for page in pages:
        page.goto(f"http://localhost:{relay.port}/call-{number}")
    for page in pages:  # camera and microphone on, socket open: in the "room"
        page.wait_for_function("() => window.baseline && window.baseline.waiting()")
    relay.admit(f"/ws/call-{number}")
    for page in pages:
        page.wait_for_function(FIRST_FRAME, arg="baseline", timeout=TIMEOUT_MS)
    return setup_time([page.evaluate("window.baseline.timings()") for page in pages])


@dataclass
class People:
    therapist: Page
    client: Page
    pair: Pair
    base: str


def sign_in(page: Page, base: str, pair: Pair, email: str) -> None:
    """``email`` signed in already: the session the pair was made with (tests/sessions.py)."""
    name, value = pair.sessions[email].split("=", 1)
    page.context.add_cookies([{"name": name, "value": value, "url": base}])


def rapport_call(people: People) -> Sample:
    therapist, client, base = people.therapist, people.client, people.base
    therapist.goto(f"{base}/clients/{people.pair.client_id}/")
    with therapist.expect_navigation():
        therapist.get_by_role("button", name="Start a session").click()
    found = re.search(r"/visits/([0-9a-f-]{36})/check/", therapist.url)
    assert found, therapist.url
    room = f"{base}/visits/{found.group(1)}/"
    therapist.goto(room)
    client.goto(f"{room}check-in/")
    client.get_by_label("Where are you right now?").fill("At home")
    client.get_by_label("A phone number to call you back").fill("+44 117 496 0123")
    client.get_by_label("Emergency contact").fill("Lee Park, +44 117 496 0999")
    client.get_by_label("These details are right for this session").check()
    with client.expect_navigation():
        client.get_by_role("button", name="Continue to the waiting room").click()
    # Both pages hold their camera and microphone before the therapist lets the client in.
    for page in (therapist, client):
        page.wait_for_function(
            "() => document.getElementById('self-video').srcObject !== null", timeout=TIMEOUT_MS
        )
    admit = therapist.get_by_role("button", name=re.compile("^Admit "))
    admit.wait_for(state="visible", timeout=TIMEOUT_MS)
    admit.click()
    for page in (therapist, client):
        page.wait_for_function(FIRST_FRAME, arg="rapportRoom", timeout=TIMEOUT_MS)
    sample = setup_time(
        [page.evaluate("window.rapportRoom.timings()") for page in (therapist, client)]
    )
    therapist.get_by_role("button", name="End session").click()
    therapist.get_by_role("button", name="Yes, end the session").click()
    client.get_by_role("heading", name="The session has ended").wait_for(timeout=TIMEOUT_MS)
    return sample


@contextlib.contextmanager
def media_browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=[*MEDIA_ARGS, ALLOW_DEVICES]
        )
        try:
            yield browser
        finally:
            browser.close()


def measure(server: DemoServer, calls: int) -> tuple[Series, Series]:
    rapport, baseline = Series("Rapport room"), Series("baseline page pair")
    base = server.browser_url.rstrip("/")
    pair = new_pair(server)
    with media_browser() as browser, Relay() as relay:
        contexts = [browser.new_context() for _ in range(4)]
        for context in contexts:
            context.set_default_timeout(TIMEOUT_MS)
        people = People(contexts[0].new_page(), contexts[1].new_page(), pair, base)
        sign_in(people.therapist, base, pair, pair.therapist)
        sign_in(people.client, base, pair, pair.client)
        # One call of each to warm up (first codec and device start-up), not counted.
        pages = [context.new_page() for context in contexts[2:]]
        baseline_call(pages, relay, 0)
        rapport_call(people)
        for number in range(1, calls + 1):
            baseline.samples.append(baseline_call(pages, relay, number))
            rapport.samples.append(rapport_call(people))
            print(
                f"  call {number:>2}: Rapport {rapport.samples[-1].setup_ms:6.0f} ms, "
                f"baseline {baseline.samples[-1].setup_ms:6.0f} ms",
                flush=True,
            )
        for context in contexts:
            context.close()
    return rapport, baseline


def report(series: tuple[Series, ...]) -> str:
    header = f"{'':<22} {'calls':>5} {'median':>8} {'p95':>8} {'max':>8} {'min':>8}"
    lines = [
        "Call setup on loopback: both in the room (`ready` on both pages) -> first decoded",
        f"remote video frame on both pages. Budget: median <= {BUDGET_MS:.0f} ms.",
        header,
        "-" * len(header),
    ]
    for s in series:
        f = s.figures()
        lines.append(
            f"{s.name:<22} {len(s.samples):>5} {f['median']:>6.0f}ms {f['p95']:>6.0f}ms "
            f"{f['max']:>6.0f}ms {f['min']:>6.0f}ms"
        )
    gaps = [x.ready_gap_ms for x in series[0].samples]
    lines.append(f"(Rapport: the two `ready` messages arrived at most {max(gaps):.0f} ms apart)")
    return "\n".join(lines)


def main() -> int:
    parent = os.environ.get("RAPPORT_DATA_DIR") or None
    if parent:
        Path(parent).mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="rapport-call-setup-", dir=parent) as data_dir,
        demo_server(Path(data_dir), database_suffix="_bench_calls") as server,
    ):
        rapport, baseline = measure(server, CALLS)
    print(report((rapport, baseline)))
    median = rapport.figures()["median"]
    if median > BUDGET_MS:
        print(f"\nOVER BUDGET: median call setup {median:.0f} ms (budget {BUDGET_MS:.0f} ms)")
        return 1
    print(
        f"\nOK: median call setup {median:.0f} ms, {BUDGET_MS - median:.0f} ms under the "
        f"{BUDGET_MS:.0f} ms budget (baseline median {baseline.figures()['median']:.0f} ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
