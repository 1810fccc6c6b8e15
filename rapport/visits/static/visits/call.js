// The peer connection: local media for the modality, "perfect negotiation" (the client is
// polite), device and screen switches with RTCRtpSender.replaceTrack, ICE restarts, recovery
// from a failed signaling step, a dead call noticed from its inbound packets, stats. Signaling
// goes through `send`; what the page shows is left to the `events` callbacks.

import { preferredDevice, saveDevice } from "./devices.js";
import { summarise } from "./quality.js";

const DISCONNECTED_GRACE_MS = 3000;
const POLITE_HOLD_MS = 1000;
const STUCK_MS = 10_000;
const MAX_RECOVERIES = 3; // failed signaling steps in a row before the page asks for a reload
// A call whose inbound media packets stop for MEDIA_SILENCE_MS is dead whatever ICE says (ICE
// takes up to 30 s to call a pair failed). The impolite side then restarts ICE at once and again
// every RESTART_EVERY_MS until media is back; an offer unanswered for OFFER_LOST_MS was lost
// on the way (the other side's socket was dead) and is made afresh.
const MEDIA_CHECK_MS = 250;
const MEDIA_SILENCE_MS = 3000;
const RESTART_EVERY_MS = 2500;
const OFFER_LOST_MS = 4000;
const LOWERED = { scaleResolutionDownBy: 2, maxFramerate: 15, maxBitrate: 250_000 };

const wants = (modality) => ({ audio: modality !== "text", video: modality === "video" });

export class Call {
  constructor({ config, send, media, events }) {
    this.config = config;
    this.send = send;
    this.media = media; // {remoteVideo, remoteAudio, selfVideo}
    this.events = events;
    this.polite = config.role === "client";
    this.modality = config.modality;
    this.iceServers = config.ice_servers;
    this.tracks = { audio: null, video: null };
    this.screen = null;
    this.muted = false;
    this.cameraOff = false;
    this.lowered = false;
    this.pc = null;
    this.key = null;
    this.previous = null;
    this.path = null;
    this.shownVideo = null;
    this.firstFrameAt = null;
    this.disconnectedTimer = null;
    this.recovering = false;
    this.failures = 0;
    this.inbound = { packets: 0, at: 0 };
    this.lost = null; // {since, restarts}: while no media arrives
    this.mediaTimer = null;
  }

  // --- Local media ---------------------------------------------------------------------------

  // Serialised: a modality switch and a new connection may both ask for devices at once.
  ensureMedia(modality = this.modality) {
    this.mediaQueue = (this.mediaQueue || Promise.resolve()).then(() => this.acquire(modality));
    return this.mediaQueue;
  }

  async acquire(modality) {
    const need = wants(modality);
    for (const kind of ["audio", "video"]) {
      if (!need[kind] && this.tracks[kind]) {
        this.tracks[kind].stop();
        this.tracks[kind] = null;
      }
    }
    const missing = ["audio", "video"].filter((kind) => need[kind] && !this.tracks[kind]);
    if (!missing.length) return;
    const constraints = {};
    for (const kind of missing) constraints[kind] = preferredDevice(`${kind}input`);
    let stream = null;
    try {
      stream = await navigator.mediaDevices.getUserMedia(constraints);
    } catch (error) {
      this.events.mediaFailed(error);
      if (missing.length === 2) {
        // No camera (or it is busy): carry on with the microphone alone.
        stream = await navigator.mediaDevices.getUserMedia({ audio: constraints.audio }).catch(() => null);
      }
    }
    if (!stream) return;
    for (const track of stream.getTracks()) {
      if (wants(this.modality)[track.kind]) this.useTrack(track);
      else track.stop(); // the modality moved on while the browser was asking
    }
    this.events.devicesChanged();
  }

  useTrack(track) {
    const kind = track.kind;
    if (this.tracks[kind] && this.tracks[kind] !== track) this.tracks[kind].stop();
    this.tracks[kind] = track;
    track.enabled = kind === "audio" ? !this.muted : !this.cameraOff;
    if (kind === "video") this.showSelf();
  }

  showSelf() {
    const track = this.screen || this.tracks.video;
    this.media.selfVideo.srcObject = track ? new MediaStream([track]) : null;
  }

  stopMedia() {
    for (const kind of ["audio", "video"]) {
      this.tracks[kind]?.stop();
      this.tracks[kind] = null;
    }
    this.screen?.stop();
    this.screen = null;
    this.showSelf();
  }

  setMuted(muted) {
    this.muted = muted;
    if (this.tracks.audio) this.tracks.audio.enabled = !muted;
  }

  setCameraOff(off) {
    this.cameraOff = off;
    if (this.tracks.video) this.tracks.video.enabled = !off;
  }

  async switchDevice(kind, id) {
    saveDevice(kind, id);
    if (kind === "audiooutput") {
      if (this.media.remoteAudio.setSinkId) await this.media.remoteAudio.setSinkId(id);
      return;
    }
    const type = kind === "audioinput" ? "audio" : "video";
    if (!wants(this.modality)[type]) return; // used next time this kind is on
    const stream = await navigator.mediaDevices.getUserMedia({
      [type]: id ? { deviceId: { exact: id } } : true,
    });
    const [track] = stream.getTracks();
    this.useTrack(track);
    if (type === "audio" || !this.screen) await this.setSending(type, track);
  }

  // The other camera: by facing mode where the browser knows it (a phone's front and back),
  // otherwise the next camera in the list. The new camera is sent before the old one is let go;
  // a phone that cannot open two cameras at once gets the old one closed first.
  async flipCamera() {
    const current = this.tracks.video;
    if (!current || !wants(this.modality).video) return;
    const settings = current.getSettings();
    let constraint;
    if (settings.facingMode === "user" || settings.facingMode === "environment") {
      constraint = { facingMode: { exact: settings.facingMode === "user" ? "environment" : "user" } };
    } else {
      const cameras = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === "videoinput");
      const index = cameras.findIndex((d) => d.deviceId === settings.deviceId);
      const next = cameras[(index + 1) % cameras.length];
      if (!next || next.deviceId === settings.deviceId) return;
      constraint = { deviceId: { exact: next.deviceId } };
    }
    let stream = await navigator.mediaDevices.getUserMedia({ video: constraint }).catch(() => null);
    if (!stream) {
      current.stop();
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: constraint });
      } catch (error) {
        // The other camera would not open: back to this one.
        const again = await navigator.mediaDevices.getUserMedia({ video: { deviceId: settings.deviceId } }).catch(() => null);
        if (again) await this.useVideo(again.getVideoTracks()[0]);
        throw error;
      }
    }
    const [track] = stream.getVideoTracks();
    saveDevice("videoinput", track.getSettings().deviceId);
    await this.useVideo(track);
  }

  // Send `track` first, then stop the camera it replaces.
  async useVideo(track) {
    const old = this.tracks.video;
    this.tracks.video = track;
    if (!this.screen) await this.setSending("video", track);
    this.useTrack(track);
    if (old && old !== track) old.stop();
  }

  // A phone may end a hidden page's camera or microphone: open them again and send them in the
  // same transceivers (replaceTrack, no renegotiation).
  async replaceEndedTracks() {
    for (const kind of ["audio", "video"]) {
      if (this.tracks[kind]?.readyState === "ended") this.tracks[kind] = null;
    }
    await this.ensureMedia();
    await this.syncSenders();
  }

  async shareScreen() {
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    const [track] = stream.getVideoTracks();
    this.screen = track;
    track.addEventListener("ended", () => this.stopSharing());
    await this.setSending("video", track);
    this.showSelf();
    this.events.mediaState();
  }

  async stopSharing() {
    if (!this.screen) return;
    const track = this.screen;
    this.screen = null;
    track.stop();
    if (this.pc) await this.setSending("video", wants(this.modality).video ? this.tracks.video : null);
    this.showSelf();
    this.events.mediaState();
  }

  // --- Modality --------------------------------------------------------------------------------

  async setModality(modality) {
    this.modality = modality;
    if (modality !== "video") await this.stopSharing();
    await this.ensureMedia(modality);
    await this.syncSenders();
    if (modality === "video") await this.lowerVideo(false);
  }

  async syncSenders() {
    if (!this.pc) return;
    const need = wants(this.modality);
    await this.setSending("audio", need.audio ? this.tracks.audio : null);
    await this.setSending("video", need.video ? this.screen || this.tracks.video : null);
  }

  // Send `track` as our `kind` (or stop sending it) on one transceiver per kind, so switching
  // back and forth reuses the same m-line instead of adding new ones.
  async setSending(kind, track) {
    const pc = this.pc;
    if (!pc || pc.signalingState === "closed") return;
    const transceiver = pc
      .getTransceivers()
      .find((t) => !t.stopped && t.receiver.track.kind === kind && t.mid !== null)
      ?? pc.getTransceivers().find((t) => !t.stopped && t.receiver.track.kind === kind);
    if (!track) {
      if (!transceiver) return;
      await transceiver.sender.replaceTrack(null);
      if (transceiver.direction === "sendrecv") transceiver.direction = "recvonly";
      else if (transceiver.direction === "sendonly") transceiver.direction = "inactive";
      return;
    }
    if (!transceiver) {
      pc.addTrack(track, new MediaStream([track]));
      return;
    }
    await transceiver.sender.replaceTrack(track);
    if (transceiver.direction === "recvonly") transceiver.direction = "sendrecv";
    else if (transceiver.direction === "inactive") transceiver.direction = "sendonly";
  }

  videoSender() {
    return this.pc?.getTransceivers().find((t) => !t.stopped && t.receiver.track.kind === "video" && t.sender.track)?.sender;
  }

  // Half resolution, at most 15 fps and 250 kbit/s while the connection is weak.
  async lowerVideo(lower) {
    this.lowered = lower;
    const sender = this.videoSender();
    if (!sender) return;
    const params = sender.getParameters();
    if (!params.encodings?.length) return;
    for (const encoding of params.encodings) {
      for (const [name, value] of Object.entries(LOWERED)) {
        if (lower) encoding[name] = value;
        else delete encoding[name];
      }
      if (!lower) encoding.scaleResolutionDownBy = 1;
    }
    await sender.setParameters(params);
  }

  // --- The peer connection ---------------------------------------------------------------------

  // `key` names the pair of sockets this connection belongs to: a new pair, a new connection.
  async start(key, polite) {
    if (this.pc && this.key === key) return;
    this.close();
    this.key = key;
    this.polite = polite;
    await this.ensureMedia();
    const pc = new RTCPeerConnection({
      iceServers: this.iceServers,
      iceTransportPolicy: this.config.ice_transport_policy || "all",
    });
    this.pc = pc;
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.previous = null;
    this.path = null;
    this.stuckSince = null;
    this.shownVideo = null;
    this.firstFrameAt = null;
    this.recovering = false;
    this.failures = 0;
    this.media.remoteVideo.srcObject = null;
    this.media.remoteAudio.srcObject = null;
    pc.onnegotiationneeded = () => this.negotiationNeeded(pc);
    pc.onicecandidate = ({ candidate }) => {
      if (this.pc === pc) this.send({ type: "ice", candidate: candidate ? candidate.toJSON() : null });
    };
    pc.ontrack = ({ track }) => this.remoteTrack(pc, track);
    pc.oniceconnectionstatechange = () => this.iceChanged(pc);
    pc.onsignalingstatechange = () => {
      if (pc.signalingState === "have-local-offer") this.offeredAt = performance.now();
    };
    this.inbound = { packets: 0, at: performance.now() };
    this.mediaTimer = setInterval(() => this.checkMedia(pc), MEDIA_CHECK_MS);
    await this.syncSenders();
    if (this.lowered) await this.lowerVideo(true);
    this.events.started(pc);
  }

  close() {
    clearTimeout(this.disconnectedTimer);
    clearTimeout(this.holdTimer);
    clearInterval(this.mediaTimer);
    if (this.pc) {
      this.pc.onnegotiationneeded = this.pc.onicecandidate = this.pc.ontrack = null;
      this.pc.oniceconnectionstatechange = this.pc.onsignalingstatechange = null;
      this.pc.close();
    }
    this.pc = null;
    this.key = null;
    this.path = null;
  }

  // The impolite side offers at once. The polite side waits a moment first: the other side's
  // offer for the same change (a new connection, a modality switch) is usually on its way, and
  // answering it avoids an offer collision and its rollback.
  negotiationNeeded(pc) {
    if (!this.polite) {
      this.offer(pc);
      return;
    }
    clearTimeout(this.holdTimer);
    this.holdTimer = setTimeout(() => this.heldOffer(pc), POLITE_HOLD_MS);
  }

  heldOffer(pc) {
    if (this.pc !== pc) return;
    // While recovering, the other side's fresh offer is on its way: wait for it.
    if (pc.signalingState !== "stable" || this.recovering) {
      this.holdTimer = setTimeout(() => this.heldOffer(pc), POLITE_HOLD_MS);
      return;
    }
    // Answering the other side's offer usually covered the change already.
    const sends = (direction) => direction === "sendrecv" || direction === "sendonly";
    const pending = pc.getTransceivers().some(
      (t) => !t.stopped && (t.mid === null || sends(t.direction) !== sends(t.currentDirection)),
    );
    if (pending) this.offer(pc);
  }

  // A connection whose descriptions are set but whose ICE never gets going is restarted.
  watchdog() {
    const pc = this.pc;
    if (!pc || this.polite) return;
    const connected = ["connected", "completed"].includes(pc.iceConnectionState);
    if (connected || pc.signalingState !== "stable" || !pc.remoteDescription) {
      this.stuckSince = null;
      return;
    }
    this.stuckSince ??= performance.now();
    if (performance.now() - this.stuckSince > STUCK_MS) {
      this.stuckSince = null;
      this.events.iceTrouble();
      this.restartIce();
    }
  }

  async offer(pc) {
    try {
      this.makingOffer = true;
      await pc.setLocalDescription();
      if (this.pc === pc) this.sendDescription(pc);
    } catch (error) {
      await this.failed(pc, "offer", error);
    } finally {
      this.makingOffer = false;
    }
  }

  sendDescription(pc) {
    this.send({ type: "sdp", description: { type: pc.localDescription.type, sdp: pc.localDescription.sdp } });
  }

  // Call these strictly in order (the page keeps one promise chain for signaling).
  async description(description) {
    const pc = this.pc;
    if (!pc) return;
    if (description.type === "rollback") {
      // The other side could not use our last description: offer afresh (the impolite side
      // offers; the polite side waits for that offer).
      if (!this.polite) await this.renegotiate(pc);
      return;
    }
    const collision = description.type === "offer" && (this.makingOffer || pc.signalingState !== "stable");
    this.ignoreOffer = !this.polite && collision;
    if (this.ignoreOffer) return;
    try {
      await pc.setRemoteDescription(description);
      if (description.type === "offer") {
        await pc.setLocalDescription();
        this.sendDescription(pc);
      }
    } catch (error) {
      await this.failed(pc, description.type, error);
      return;
    }
    this.failures = 0;
    this.checkRecovered(pc);
  }

  // A signaling step the browser refused (a malformed or out-of-turn description, an offer it
  // could not make) leaves the call stuck half-way: tell the person, go back to a stable state
  // and negotiate again with an ICE restart. The impolite side makes the new offer; the polite
  // side asks it to with a `rollback` description.
  async failed(pc, step, error) {
    if (this.pc !== pc || pc.signalingState === "closed") return;
    console.warn(`signaling: the ${step} failed`, error);
    this.failures += 1;
    const givingUp = this.failures > MAX_RECOVERIES;
    this.recovering = !givingUp;
    this.events.signalingFailed(givingUp);
    if (givingUp) return;
    if (this.polite) {
      await this.rollback(pc);
      this.send({ type: "sdp", description: { type: "rollback" } });
    } else {
      await this.renegotiate(pc);
    }
  }

  // Back to "stable" and one fresh offer with new ICE credentials. restartIce() comes before the
  // rollback has finished, so that the offer negotiationneeded then asks for is that one, not an
  // offer without the restart first.
  async renegotiate(pc) {
    if (this.pc !== pc) return;
    const rolledBack = this.rollback(pc);
    pc.restartIce();
    await rolledBack;
  }

  rollback(pc) {
    const rollback = { type: "rollback" };
    let done = Promise.resolve();
    if (pc.signalingState === "have-local-offer") done = pc.setLocalDescription(rollback);
    else if (pc.signalingState === "have-remote-offer") done = pc.setRemoteDescription(rollback);
    return done.catch((error) => console.warn("signaling: the rollback failed", error));
  }

  // Recovered once negotiation is back to stable and ICE is connected again.
  checkRecovered(pc) {
    if (!this.recovering || this.pc !== pc || pc.signalingState !== "stable") return;
    if (!["connected", "completed"].includes(pc.iceConnectionState)) return;
    this.recovering = false;
    this.events.signalingRecovered();
  }

  // A refused candidate is not a failed step: ICE carries on with the others, and if none
  // works the connection fails and restarts (iceChanged).
  async candidate(candidate) {
    if (!this.pc) return;
    try {
      await this.pc.addIceCandidate(candidate ?? undefined);
    } catch (error) {
      if (!this.ignoreOffer) console.debug("candidate refused", error);
    }
  }

  remoteTrack(pc, track) {
    if (this.pc !== pc) return;
    if (track.kind === "audio") {
      this.media.remoteAudio.srcObject = new MediaStream([track]);
      this.events.playAudio();
      return;
    }
    const show = () => {
      if (this.pc !== pc || this.shownVideo === track) return;
      this.shownVideo = track;
      const video = this.media.remoteVideo;
      video.srcObject = new MediaStream([track]);
      if (video.requestVideoFrameCallback) {
        video.requestVideoFrameCallback(() => {
          if (this.pc === pc && this.firstFrameAt === null) {
            this.firstFrameAt = performance.timeOrigin + performance.now();
            this.events.firstFrame();
          }
        });
      }
    };
    // A transceiver can be switched back on later: show whichever video track carries frames.
    track.addEventListener("unmute", show);
    if (!this.shownVideo || !track.muted) show();
  }

  iceChanged(pc) {
    if (this.pc !== pc) return;
    const state = pc.iceConnectionState;
    clearTimeout(this.disconnectedTimer);
    if (state === "connected" || state === "completed") {
      this.events.iceConnected();
      this.checkRecovered(pc);
    } else if (state === "failed") {
      this.events.iceTrouble();
      this.restartIce();
    } else if (state === "disconnected") {
      this.disconnectedTimer = setTimeout(() => {
        if (this.pc === pc && pc.iceConnectionState === "disconnected") {
          this.events.iceTrouble();
          this.restartIce();
        }
      }, DISCONNECTED_GRACE_MS);
    }
  }

  // Fresh TURN credentials come with every `welcome`: the next ICE restart uses them (coturn
  // refuses new allocations once a credential has expired).
  useIceServers(servers) {
    this.iceServers = servers;
    if (!this.pc) return;
    try {
      this.pc.setConfiguration({ ...this.pc.getConfiguration(), iceServers: servers });
    } catch (error) {
      console.warn("could not update the ICE servers", error);
    }
  }

  // Only the impolite side restarts ICE (its new offer carries fresh credentials).
  restartIce() {
    if (this.pc && !this.polite && this.events.peerHere()) this.pc.restartIce();
  }

  // --- A dead call -----------------------------------------------------------------------------

  // Media is expected while a transceiver receives and this connection has had some (a peer
  // without camera or microphone sends none, and silence from them is not a dead call).
  expectingMedia(pc) {
    if (this.modality === "text") return false;
    return pc.getTransceivers().some((t) => !t.stopped && ["sendrecv", "recvonly"].includes(t.currentDirection));
  }

  async checkMedia(pc) {
    if (this.pc !== pc || this.checking) return;
    this.checking = true;
    let packets = 0;
    try {
      (await pc.getStats()).forEach((s) => {
        if (s.type === "inbound-rtp") packets += s.packetsReceived || 0;
      });
    } catch {
      return;
    } finally {
      this.checking = false;
    }
    if (this.pc !== pc) return;
    const now = performance.now();
    if (packets > this.inbound.packets) {
      this.inbound = { packets, at: now };
      if (this.lost) {
        const lost = this.lost;
        this.lost = null;
        this.events.mediaBack({ lostMs: Math.round(now - lost.since), restarts: lost.restarts });
      }
      return;
    }
    if (this.lost) {
      this.keepRestarting(pc, now);
      return;
    }
    if (this.inbound.packets > 0 && now - this.inbound.at >= MEDIA_SILENCE_MS && this.expectingMedia(pc)) {
      this.lost = { since: this.inbound.at, restarts: 0, restartedAt: -Infinity };
      this.events.mediaLost();
      this.keepRestarting(pc, now);
    }
  }

  keepRestarting(pc, now) {
    const lost = this.lost;
    if (this.polite || !this.events.peerHere() || now - lost.restartedAt < RESTART_EVERY_MS) return;
    if (pc.signalingState === "have-local-offer") {
      if (now - (this.offeredAt ?? now) < OFFER_LOST_MS) return;
      lost.restartedAt = now;
      lost.restarts += 1;
      this.renegotiate(pc);
    } else if (pc.signalingState === "stable") {
      lost.restartedAt = now;
      lost.restarts += 1;
      pc.restartIce();
    }
  }

  // --- Stats -----------------------------------------------------------------------------------

  async sample() {
    const pc = this.pc;
    if (!pc || pc.connectionState === "closed") return null;
    const report = await pc.getStats();
    if (this.pc !== pc) return null;
    const sample = summarise(report, this.previous);
    this.previous = sample;
    this.path = sample.connected ? (sample.relay ? "relay" : "direct") : null;
    return sample;
  }
}
