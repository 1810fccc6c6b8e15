"""The server's side of the quality policy (docs/protocol.md, "Quality policy"): whether the call
quality reported in a room justifies a switch "because of the connection", and in what words.

The pages judge their own samples (``static/visits/quality.js``) and the therapist's page asks
for the step down; the server records that reason only when the figures it was sent agree, by
the same thresholds, and writes the detail itself. A browser never writes the timeline's words.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

OWN, PEER = "own", "peer"
STRENGTH = {"text": 0, "audio": 1, "video": 2}


def _percent(fraction: float) -> str:
    return f"{round(fraction * 100)} %"


def poor_figures(figures: dict[str, Any], policy: dict[str, Any], modality: str) -> list[str]:
    """The figures past the ``poor`` thresholds, in words ("loss 12 %"), as quality.js says them."""
    poor = policy["poor"]
    found = []
    if figures.get("loss") is not None and figures["loss"] >= poor["loss"]:
        found.append(f"loss {_percent(figures['loss'])}")
    if figures.get("rtt_ms") is not None and figures["rtt_ms"] >= poor["rtt_ms"]:
        found.append(f"round trip {round(figures['rtt_ms'])} ms")
    if figures.get("jitter_ms") is not None and figures["jitter_ms"] >= poor["jitter_ms"]:
        found.append(f"jitter {round(figures['jitter_ms'])} ms")
    bitrate = figures.get("bitrate_kbps")
    if modality == "video" and bitrate is not None and bitrate < poor["video_kbps"]:
        found.append(f"bandwidth {round(bitrate)} kbit/s")
    return found


def audio_poor_figures(figures: dict[str, Any], policy: dict[str, Any], side: str) -> list[str]:
    """Too weak even for audio: past ``audio_poor``, or (in one's own sample) no sound arriving."""
    limit = policy["audio_poor"]
    found = []
    if figures.get("loss") is not None and figures["loss"] >= limit["loss"]:
        found.append(f"loss {_percent(figures['loss'])}")
    if figures.get("rtt_ms") is not None and figures["rtt_ms"] >= limit["rtt_ms"]:
        found.append(f"round trip {round(figures['rtt_ms'])} ms")
    if side == OWN and figures.get("audio_packets") == 0:
        found.append("no sound arriving")
    return found


def _since(started: float | None, now: float) -> float:
    return now if started is None else started


class LinkQuality:
    """What one room socket was told about the link: its own page's latest sample and the peer's,
    and since when they have been poor. Samples older than one and a half sampling periods are
    stale: each page sends one per period, and an older one may describe a fault that has ended."""

    def __init__(self, policy: dict[str, Any], clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self.clock = clock
        self.samples: dict[str, tuple[float, dict[str, Any]]] = {}
        self.poor_since: float | None = None  # too weak for video
        self.audio_poor_since: float | None = None  # too weak for audio

    def report(self, side: str, figures: dict[str, Any]) -> None:
        now = self.clock()
        self.samples[side] = (now, figures)
        poor, audio_poor = self._poor(now)
        self.poor_since = _since(self.poor_since, now) if poor else None
        self.audio_poor_since = _since(self.audio_poor_since, now) if audio_poor else None

    def _fresh(self, now: float) -> list[tuple[str, dict[str, Any]]]:
        stale = 1.5 * float(self.policy["sample_seconds"])
        return [(side, f) for side, (at, f) in self.samples.items() if now - at <= stale]

    def _poor(self, now: float) -> tuple[list[str], list[str]]:
        fresh = self._fresh(now)
        poor = [words for _side, f in fresh for words in poor_figures(f, self.policy, "video")]
        audio_poor = [
            words for side, f in fresh for words in audio_poor_figures(f, self.policy, side)
        ]
        return poor, audio_poor

    def connection_detail(self, current: str, target: str) -> str | None:
        """The timeline's words for a step down from ``current`` to ``target`` forced by the
        connection ("loss 15 % for 12 s"), or None when the figures do not call for it: not a
        step down, not poor now, or not poor for as long as the policy waits (less one sampling
        period for the figures' way through the network)."""
        if STRENGTH.get(target, 2) >= STRENGTH.get(current, 0):
            return None
        now = self.clock()
        poor, audio_poor = self._poor(now)
        if target == "text":
            found, since, wait = audio_poor, self.audio_poor_since, "text_after_seconds"
        else:
            found, since, wait = poor, self.poor_since, "audio_only_after_seconds"
        slack = float(self.policy["sample_seconds"])
        if not found or since is None or now - since < float(self.policy[wait]) - slack:
            return None
        return f"{found[0]} for {round(now - since)} s"
