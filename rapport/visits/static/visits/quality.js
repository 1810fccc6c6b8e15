// Call quality: one sample from getStats() every few seconds, judged by the practice's policy
// (config.quality, docs/protocol.md "Quality policy"). No DOM here.
import { gettext, interpolate } from "../rapport/i18n.js";


const RANK = { text: 0, audio: 1, video: 2 };
export const stronger = (a, b) => RANK[a] > RANK[b];

// One sample from a stats report and the previous sample's counters (for per-sample deltas).
// Only streams flowing now count: a sender stopped by a switch to audio or text keeps its last
// `remote-inbound-rtp` figures in the report for good, and a loss figure frozen there kept the
// call "poor" long after the network recovered. A remote report counts when its stream sent
// packets since the previous sample and a new receiver report about it arrived meanwhile.
export function summarise(report, previous) {
  const stats = new Map();
  report.forEach((s) => stats.set(s.id, s));
  let pair = null;
  for (const s of stats.values()) {
    if (s.type === "transport" && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
  }
  if (!pair) {
    for (const s of stats.values()) {
      if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") pair = s;
    }
  }
  const counters = { audioReceived: 0, audioLost: 0, videoReceived: 0, videoLost: 0, framesDecoded: 0 };
  let jitter = null;
  let fps = null;
  let remoteLoss = null;
  let remoteRtt = null;
  const sent = {}; // outbound-rtp id → packetsSent
  const reports = {}; // remote-inbound-rtp id → receiver reports seen
  const grew = (table, id, value) => !previous || value > (previous[table]?.[id] ?? 0);
  for (const s of stats.values()) {
    if (s.type === "outbound-rtp") sent[s.id] = s.packetsSent || 0;
  }
  for (const s of stats.values()) {
    if (s.type === "inbound-rtp") {
      const kind = s.kind || s.mediaType;
      counters[`${kind}Received`] += s.packetsReceived || 0;
      counters[`${kind}Lost`] += Math.max(0, s.packetsLost || 0);
      if (kind === "audio" && typeof s.jitter === "number") jitter = Math.max(jitter ?? 0, s.jitter * 1000);
      if (kind === "video") {
        counters.framesDecoded += s.framesDecoded || 0;
        if (typeof s.framesPerSecond === "number") fps = s.framesPerSecond;
      }
    } else if (s.type === "remote-inbound-rtp") {
      const seen = s.roundTripTimeMeasurements ?? s.reportsReceived;
      reports[s.id] = seen ?? 0;
      const sending = s.localId in sent && grew("sent", s.localId, sent[s.localId]);
      const fresh = seen === undefined || grew("reports", s.id, seen);
      if (!sending || !fresh) continue;
      if (typeof s.fractionLost === "number") remoteLoss = Math.max(remoteLoss ?? 0, s.fractionLost);
      if (typeof s.roundTripTime === "number") remoteRtt = s.roundTripTime * 1000;
    }
  }
  const delta = (key) => (previous ? Math.max(0, counters[key] - previous.counters[key]) : counters[key]);
  // The loss of what arrives here, over this sample, the worse of audio and video (video hides
  // much of its loss by retransmission; audio shows it). The other direction is the peer's own
  // figure (peer_quality), measured the same way; the receiver reports about our streams come
  // seconds late (every ~5 s for audio) and would describe a fault already over, so they count
  // only when nothing arrives here to measure.
  let loss = null;
  for (const kind of ["audio", "video"]) {
    const received = delta(`${kind}Received`);
    const lost = delta(`${kind}Lost`);
    if (received + lost > 0) loss = Math.max(loss ?? 0, lost / (received + lost));
  }
  if (loss === null && remoteLoss !== null) loss = remoteLoss;
  let rtt = typeof pair?.currentRoundTripTime === "number" ? pair.currentRoundTripTime * 1000 : null;
  if (rtt === null) rtt = remoteRtt;
  const local = pair ? stats.get(pair.localCandidateId) : null;
  const remote = pair ? stats.get(pair.remoteCandidateId) : null;
  const bitrate = typeof pair?.availableOutgoingBitrate === "number" ? pair.availableOutgoingBitrate / 1000 : null;
  return {
    connected: Boolean(pair),
    relay: Boolean(pair) && (local?.candidateType === "relay" || remote?.candidateType === "relay"),
    rtt_ms: rtt,
    loss,
    jitter_ms: jitter,
    bitrate_kbps: bitrate,
    fps,
    audioPackets: delta("audioReceived"),
    framesDecoded: counters.framesDecoded,
    counters,
    sent,
    reports,
  };
}

const percent = (fraction) => `${Math.round(fraction * 100)} %`;
const figure = (text, value) => interpolate(text, { value });

// The figures past a threshold, in words for the notice and the timeline ("loss 12 %").
export function poorFigures(figures, policy, modality) {
  const poor = policy.poor;
  const found = [];
  if (figures.loss != null && figures.loss >= poor.loss) found.push(figure(gettext("loss %(value)s"), percent(figures.loss)));
  if (figures.rtt_ms != null && figures.rtt_ms >= poor.rtt_ms) {
    found.push(figure(gettext("round trip %(value)s ms"), Math.round(figures.rtt_ms)));
  }
  if (figures.jitter_ms != null && figures.jitter_ms >= poor.jitter_ms) {
    found.push(figure(gettext("jitter %(value)s ms"), Math.round(figures.jitter_ms)));
  }
  if (modality === "video" && figures.bitrate_kbps != null && figures.bitrate_kbps < poor.video_kbps) {
    found.push(figure(gettext("bandwidth %(value)s kbit/s"), Math.round(figures.bitrate_kbps)));
  }
  return found;
}

// "loss 12 % for 9 s"
const lasting = (what, seconds) => interpolate(gettext("%(what)s for %(seconds)s s"), { what, seconds: Math.round(seconds) });

// Too weak even for audio: past `audio_poor`, or no audio arriving at all.
export function audioPoorFigures(figures, policy) {
  const limit = policy.audio_poor;
  const found = [];
  if (figures.loss != null && figures.loss >= limit.loss) found.push(figure(gettext("loss %(value)s"), percent(figures.loss)));
  if (figures.rtt_ms != null && figures.rtt_ms >= limit.rtt_ms) {
    found.push(figure(gettext("round trip %(value)s ms"), Math.round(figures.rtt_ms)));
  }
  if (figures.audioPackets === 0) found.push(gettext("no sound arriving"));
  return found;
}

export function level(sample, policy, modality) {
  if (!sample || !sample.connected) return "unknown";
  if (poorFigures(sample, policy, modality).length) return "poor";
  const half = { poor: { loss: policy.poor.loss / 2, rtt_ms: policy.poor.rtt_ms / 2, jitter_ms: policy.poor.jitter_ms / 2, video_kbps: policy.poor.video_kbps * 2 } };
  return poorFigures(sample, half, modality).length ? "fair" : "good";
}

// What goes on the wire in a `quality` message: the level and rounded figures.
export function report(sample, levelName) {
  const round = (value, digits = 0) => (value == null ? null : Number(value.toFixed(digits)));
  return {
    type: "quality",
    level: levelName,
    rtt_ms: round(sample?.rtt_ms),
    loss: sample?.loss == null ? null : Math.min(1, round(sample.loss, 3)),
    jitter_ms: round(sample?.jitter_ms),
    bitrate_kbps: round(sample?.bitrate_kbps),
    fps: round(sample?.fps),
    // "No sound arriving" counts for a step down to text (the server checks it too).
    audio_packets: sample?.audioPackets ?? null,
  };
}

// The step-down policy over time. Feed it each sample (own figures and the peer's latest);
// it answers with at most one action: "lower", "restore", "audio", "text" or "offer".
export class StepDown {
  constructor(policy) {
    this.policy = policy;
    this.poorSince = null;
    this.audioPoorSince = null;
    this.goodSince = null;
    this.lowered = false;
    this.steppedFrom = null; // the modality we stepped down from because of the connection
    this.offered = false;
  }

  modalityChanged(modality, reason, previous) {
    this.poorSince = this.audioPoorSince = this.goodSince = null;
    this.lowered = false;
    this.offered = false;
    if (reason === "connection" && stronger(previous, modality)) {
      if (!this.steppedFrom || stronger(previous, this.steppedFrom)) this.steppedFrom = previous;
    } else if (reason === "user") {
      this.steppedFrom = null;
    }
  }

  pause() {
    this.poorSince = this.audioPoorSince = this.goodSince = null;
  }

  // `own` and `peer` are figures (peer may be null, or left out once older than its latest
  // sample); `now` in seconds. Hysteresis: a link is poor from `poor.loss` on, but good again
  // only below half of it, so that a loss hovering at the threshold neither steps down nor
  // offers to step back up.
  observe(now, modality, own, peer) {
    const p = this.policy;
    const sides = [own, peer].filter(Boolean);
    const poor = sides.flatMap((s) => poorFigures(s, p, modality));
    const calm = sides.every((s) => s.loss == null || s.loss < p.poor.loss / 2);
    const good = own?.connected && poor.length === 0 && calm;
    const elapsed = (since) => (since === null ? 0 : now - since);
    if (poor.length) {
      this.goodSince = null;
      this.poorSince ??= now;
    } else {
      this.poorSince = null;
      // A sample describes the period before it: good since that period began.
      if (good) this.goodSince ??= now - (p.sample_seconds || 0);
      else this.goodSince = null;
    }
    if (modality === "video") {
      const poorFor = elapsed(this.poorSince);
      if (poor.length && poorFor >= p.audio_only_after_seconds) {
        return { action: "audio", detail: lasting(poor[0], poorFor) };
      }
      if (poor.length && poorFor >= p.lower_video_after_seconds && !this.lowered) {
        this.lowered = true;
        return { action: "lower", detail: poor[0] };
      }
      if (this.lowered && elapsed(this.goodSince) >= p.recover_after_seconds) {
        this.lowered = false;
        return { action: "restore" };
      }
    }
    if (modality === "audio") {
      const audioPoor = sides.flatMap((s) => audioPoorFigures(s, p));
      if (audioPoor.length) this.audioPoorSince ??= now;
      else this.audioPoorSince = null;
      const poorFor = elapsed(this.audioPoorSince);
      if (audioPoor.length && poorFor >= p.text_after_seconds) {
        return { action: "text", detail: lasting(audioPoor[0], poorFor) };
      }
    }
    if (this.steppedFrom && !this.offered && elapsed(this.goodSince) >= p.recover_after_seconds) {
      this.offered = true;
      return { action: "offer", modality: this.steppedFrom === "video" && modality === "text" ? "audio" : this.steppedFrom };
    }
    return null;
  }
}
