// The session room (docs/protocol.md): the client's waiting room, the therapist's admit
// and safety panel, the call, the chat, the safety plan written together, the quality
// step-down and reconnects.
//
// Read-only hook for tests and support (kept in production on purpose):
//   window.rapportRoom.pc()        the current RTCPeerConnection or null
//   window.rapportRoom.state()     {you, peer, peerPresent, modality, ended, socket, path, lowered,
//                                  immersive, drawer, awake (from layout.js), peerConnections
//                                  (built by this page), keptConnections (kept across a socket
//                                  reconnect because they still carried media)}
//   window.rapportRoom.modality()  "video" | "audio" | "text"
//   window.rapportRoom.received()  types of the socket messages received, in order
//   window.rapportRoom.quality()   {own, peer}: the latest levels
//   window.rapportRoom.timings()   {ready, firstFrame}: epoch ms (performance.timeOrigin + now)
//                                  of the `ready` that built the current peer connection and of
//                                  its first decoded remote video frame

import { Call } from "./call.js";
import { Chat } from "./chat.js";
import { canChooseSpeaker, savedDevices } from "./devices.js";
import { Layout } from "./layout.js";
import { level, report, StepDown } from "./quality.js";
import { SafetyPlanPanel } from "./safety-plan.js";
import { clock, gettext, interpolate } from "../rapport/i18n.js";
import { ReconnectingSocket } from "../rapport/socket.js";

const config = JSON.parse(document.getElementById("visit-config").textContent);
const texts = document.getElementById("room-texts").dataset;
const $ = (id) => document.getElementById(id);
const fill = (template, values) => template.replace(/\{(\w+)\}/g, (_, key) => values[key] ?? "");
const now = () => performance.timeOrigin + performance.now();
const isTherapist = config.role === "therapist";
const policy = config.quality;
const REJOIN_KEY = `rapport.visit.${config.visit}`;
const RECONNECT_GIVE_UP_MS = 30_000;
const MEDIA_CHECK_MS = 500;

const state = {
  you: isTherapist ? "admitted" : "waiting",
  peer: { present: false, state: "away", name: config.peer_name, connection: null },
  connection: null,
  modality: config.modality,
  ended: false,
  stopped: null,
  socketDown: false,
  welcomed: false,
  peerMedia: { audio: true, video: true, screen: false },
  peerQuality: null,
  ownSample: null,
  ownLevel: "unknown",
  seeingVideo: false,
  switchPending: false,
  chosenModality: null,
  reconnect: null,
  reconnectTimer: null,
  reconnectDeferred: false, // a dropped socket's "reconnect" waits for the peer connection's fate
  socketDownAt: null,
  outageMs: null, // how long the room socket was down, until a `ready` says what became of the call
  polite: !isTherapist,
  peerConnections: 0,
  keptConnections: 0,
  mediaLost: false,
  lostFigures: null, // {lost_ms, ice_restarts} of the last media loss, until reported
  timings: { ready: null, firstFrame: null },
  received: [],
  cameras: 0,
  callStarted: false, // the therapist's page: the client has been in the call (full screen from then on)
};

// A modality picked on the tech check (?mode=) applies once, not again after a reload.
const MODE_KEY = `${REJOIN_KEY}.mode`;
let requestedMode = new URLSearchParams(location.search).get("mode");
if (requestedMode && sessionStorage.getItem(MODE_KEY) === requestedMode) requestedMode = null;
const rejoining = sessionStorage.getItem(REJOIN_KEY) === "in-call";

const socket = new ReconnectingSocket(config.socket_url, {
  onOpen() {},
  onMessage: receive,
  onDown() {
    state.socketDown = true;
    state.socketDownAt ??= now();
    if (state.you === "admitted" && !state.reconnect) state.reconnect = "socket_dropped";
    probeSocket(); // back within a second of the server's return, not at the backoff's next try
    render();
  },
  onFinal: stopped,
});
const send = (message) => socket.send(message);

const media = { remoteVideo: $("remote-video"), remoteAudio: $("remote-audio"), selfVideo: $("self-video") };
const call = new Call({
  config,
  send,
  media,
  events: {
    mediaFailed: (error) => notice(fill(texts.noMedia, { error: error.name || error.message })),
    devicesChanged: listDevices,
    mediaState: () => {
      sendMedia();
      renderControls();
    },
    started() {
      state.peerConnections += 1;
      state.seeingVideo = false;
      sendMedia();
      render();
    },
    firstFrame() {
      state.timings.firstFrame = call.firstFrameAt;
      state.seeingVideo = true;
      render();
    },
    playAudio,
    iceConnected() {
      sessionStorage.setItem(REJOIN_KEY, "in-call");
      finishReconnect();
      sampleQuality(); // shows the path (direct or relayed) now rather than at the next sample
    },
    iceTrouble: () => startReconnect("ice_failed"),
    // No inbound media for a few seconds: a dead call whatever ICE says. Say so on both pages,
    // and check the socket too (a blackout leaves it looking open): the ICE restart's offer and
    // answer travel on it.
    mediaLost() {
      state.mediaLost = true;
      startReconnect("media_lost");
      notice(texts.mediaLost);
      probeSocket();
      render();
    },
    mediaBack({ lostMs, restarts }) {
      state.mediaLost = false;
      state.lostFigures = { lost_ms: lostMs, ice_restarts: restarts };
      finishReconnect(state.lostFigures);
      notice(texts.signalingRecovered);
      render();
    },
    signalingFailed: (givingUp) => notice(givingUp ? texts.signalingGaveUp : texts.signalingFailed),
    signalingRecovered: () => notice(texts.signalingRecovered),
    peerHere: () => state.peer.present && state.peer.state === "admitted",
  },
});

const chat = new Chat({
  log: $("chat-log"),
  list: $("chat-list"),
  form: $("chat-form"),
  input: $("chat-text"),
  send,
  role: config.role,
  texts: { you: texts.you, sending: texts.sending },
});

const plan = new SafetyPlanPanel({
  form: $("plan-form"),
  status: $("plan-status"),
  problem: $("plan-problem"),
  send,
  texts: { saving: texts.planSaving, saved: texts.planSaved },
});

const stepDown = new StepDown(policy);

const layout = new Layout({
  room: $("room"),
  top: $("room-top"),
  bar: $("controls"),
  selfView: $("self-view"),
  drawers: {
    chat: { panel: $("chat"), toggle: $("chat-toggle"), focus: () => $("chat-text") },
    details: { panel: $("details"), toggle: $("details-toggle"), focus: () => $("h-details") },
  },
  corners: {
    "top-right": texts.cornerTopRight,
    "bottom-right": texts.cornerBottomRight,
    "bottom-left": texts.cornerBottomLeft,
    "top-left": texts.cornerTopLeft,
  },
  onResume: resume,
});

// Signaling is handled strictly in order: a candidate must not overtake its description. A
// failed signaling step is handled by the call itself (it says so and renegotiates).
let signaling = Promise.resolve();
const inOrder = (task) => {
  signaling = signaling.then(task).catch((error) => console.warn("call", error));
  return signaling;
};

// --- Messages from the server -----------------------------------------------------------------

function receive(message) {
  state.received.push(message.type);
  if (state.received.length > 1000) state.received.splice(0, 500);
  const handler = handlers[message.type];
  if (handler) handler(message);
}

const handlers = {
  welcome(m) {
    const first = !state.welcomed;
    state.welcomed = true;
    state.socketDown = false;
    state.connection = m.connection;
    state.you = m.you.state;
    setPeer(m.peer);
    call.useIceServers(m.ice_servers);
    if (m.checkin) renderCheckin(m.checkin);
    chat.history(m.chat);
    chat.resend();
    if (m.modality !== state.modality) applyModality(m.modality, null);
    if (state.socketDownAt !== null) {
      state.outageMs = Math.max(1, Math.round(now() - state.socketDownAt));
      state.socketDownAt = null;
    }
    if (first && rejoining && state.you === "admitted") state.reconnect = "page_reload";
    const peerHere = state.peer.present && state.peer.state === "admitted";
    // After a dropped socket the call may well be carrying media still: the `ready` that
    // follows decides whether it reconnects at all.
    state.reconnectDeferred = state.reconnect === "socket_dropped" && Boolean(call.pc) && peerHere;
    if (state.reconnect === "media_lost" && !state.mediaLost) {
      finishReconnect(state.lostFigures); // the media came back before this socket did
    } else if (state.reconnect && state.you === "admitted" && peerHere && !state.reconnectDeferred) {
      send({ type: "reconnect", phase: "started", cause: state.reconnect });
      armReconnectTimer();
    } else if (!state.reconnectDeferred) {
      state.reconnect = null;
    }
    if (state.you === "admitted") applyRequestedMode();
    render();
  },
  peer(m) {
    const before = state.peer.state;
    setPeer(m);
    if (isTherapist && "checkin" in m && m.checkin) renderCheckin(m.checkin);
    if (isTherapist && m.state === "waiting" && m.present && before !== "waiting") cue();
    render();
  },
  admitted() {
    state.you = "admitted";
    applyRequestedMode();
    render();
  },
  ready(m) {
    const key = `${state.connection}/${m.peer_connection}`;
    if (call.key === key && call.pc) return;
    state.polite = m.polite;
    sessionStorage.setItem(REJOIN_KEY, "in-call");
    inOrder(async () => {
      if (call.pc && call.key === key) return; // an earlier `ready` for this pair did it
      if (call.pc && (await carryingMedia(call.pc))) {
        keepConnection(key);
        return;
      }
      state.outageMs = null;
      if (state.reconnectDeferred && state.reconnect) {
        send({ type: "reconnect", phase: "started", cause: state.reconnect });
        armReconnectTimer();
      }
      state.reconnectDeferred = false;
      state.timings = { ready: now(), firstFrame: null };
      await call.start(key, m.polite);
    });
  },
  sdp: (m) =>
    inOrder(async () => {
      // An offer from a new peer connection (the other side judged ours gone): follow it.
      if (m.description.type === "offer" && peerRebuilt(call.pc, m.description.sdp)) {
        state.timings = { ready: now(), firstFrame: null };
        await call.start(`${call.key}+`, state.polite);
      }
      await call.description(m.description);
    }),
  ice: (m) => inOrder(() => call.candidate(m.candidate)),
  modality(m) {
    const previous = state.modality;
    state.switchPending = false;
    state.chosenModality = null;
    stepDown.modalityChanged(m.modality, m.reason, previous);
    applyModality(m.modality, m);
  },
  peer_media(m) {
    state.peerMedia = { audio: m.audio, video: m.video, screen: m.screen };
    render();
  },
  peer_quality(m) {
    state.peerQuality = { ...m, at: now() };
    renderQuality();
  },
  chat(m) {
    chat.received(m);
    if (m.from !== config.role) layout.messageArrived();
  },
  chat_ack: (m) => chat.acked(m.id),
  plan_edit: (m) => plan.edited(m),
  plan_saved: (m) => plan.saved(m),
  wait_message(m) {
    const list = $("wait-messages");
    if (!list) return;
    list.querySelector(".empty")?.remove();
    const item = document.createElement("li");
    const when = document.createElement("time");
    when.dateTime = m.at;
    when.textContent = clock(new Date(m.at));
    item.append(when, " ", m.text);
    list.append(item);
  },
  ended: () => stopped("ended"),
  error(m) {
    console.debug("refused by the server:", m.error, m.ref);
    if (m.ref === "modality") {
      state.switchPending = false;
      state.chosenModality = null;
      notice(m.error);
    } else if (["admit", "wait_message", "end"].includes(m.ref)) {
      notice(m.error);
    } else if (["plan_edit", "plan_save"].includes(m.ref)) {
      plan.refused(m.error);
    }
    render();
  },
};

function setPeer(peer) {
  state.peer = {
    present: Boolean(peer.present),
    state: peer.state,
    name: peer.name || config.peer_name,
    connection: peer.connection ?? null,
  };
}

function applyRequestedMode() {
  const wanted = requestedMode;
  requestedMode = null;
  if (!wanted) return;
  sessionStorage.setItem(MODE_KEY, wanted);
  if (wanted !== state.modality && config.modalities.includes(wanted)) {
    send({ type: "modality", modality: wanted, reason: "user" });
  }
}

function applyModality(modality, message) {
  const previous = state.modality;
  state.modality = modality;
  if (modality !== "video") state.seeingVideo = false;
  inOrder(() => call.setModality(modality));
  if (message && previous !== modality) {
    const parts = [texts[`switched${modality[0].toUpperCase()}${modality.slice(1)}`]];
    if (message.reason === "connection") parts.push(fill(texts.because, { detail: message.detail || "" }));
    else if (message.by !== config.role) parts.push(texts.byPeer);
    notice(parts.join(" "));
  }
  sendMedia();
  render();
}

// --- Reconnects ----------------------------------------------------------------------------------

// Media still arriving on a connected peer connection: it outlived the sockets (a signaling
// server restart, the room socket's own drop) and is kept. A peer that reloaded or crashed has
// closed its side, so nothing arrives on ours any more and both sides build a new one.
async function carryingMedia(pc) {
  if (pc.connectionState !== "connected") return false;
  const inbound = async () => {
    let packets = 0;
    (await pc.getStats()).forEach((s) => {
      if (s.type === "inbound-rtp") packets += s.packetsReceived || 0;
    });
    return packets;
  };
  const before = await inbound();
  await new Promise((resolve) => setTimeout(resolve, MEDIA_CHECK_MS));
  return call.pc === pc && pc.connectionState === "connected" && (await inbound()) > before;
}

function keepConnection(key) {
  call.key = key;
  state.keptConnections += 1;
  // The signaling was away while the call went on: the timeline says so, not "reconnected".
  if (state.outageMs) send({ type: "signaling_outage", down_ms: state.outageMs });
  state.outageMs = null;
  if (state.reconnectDeferred) state.reconnect = null;
  state.reconnectDeferred = false;
  render();
}

const fingerprint = (sdp) => /^a=fingerprint:(.+)$/m.exec(sdp || "")?.[1].trim() ?? null;

// A description whose DTLS fingerprint differs from the one in use comes from a new peer
// connection on the other side.
function peerRebuilt(pc, sdp) {
  const current = fingerprint(pc?.remoteDescription?.sdp);
  const offered = fingerprint(sdp);
  return Boolean(current && offered && current !== offered);
}

function startReconnect(cause) {
  if (state.reconnect || state.you !== "admitted" || !call.pc) return;
  if (!(state.peer.present && state.peer.state === "admitted")) return;
  state.reconnect = cause;
  send({ type: "reconnect", phase: "started", cause });
  armReconnectTimer();
  render();
}

// A dead call (media_lost) is not given up: its ICE restarts go on until the network is back,
// however long that takes, and its end is recorded then.
function armReconnectTimer() {
  clearTimeout(state.reconnectTimer);
  const cause = state.reconnect;
  if (cause === "media_lost") return;
  state.reconnectTimer = setTimeout(() => {
    if (state.reconnect === cause && !state.ended) {
      send({ type: "reconnect", phase: "failed", cause });
      state.reconnect = null;
    }
  }, RECONNECT_GIVE_UP_MS);
}

// `figures`: how long the media was lost and how many ICE restarts it took (a media loss).
function finishReconnect(figures = {}) {
  if (!state.reconnect) return;
  // A dead call is over when its media is back, not when ICE says "connected".
  if (state.reconnect === "media_lost" && state.mediaLost) return;
  clearTimeout(state.reconnectTimer);
  const message = { type: "reconnect", phase: "completed", cause: state.reconnect };
  if (state.reconnect === "media_lost") Object.assign(message, figures);
  if (send(message)) state.reconnect = null;
  render();
}

// From a media loss or a dropped socket until both the media and the socket are back (media
// often returns first, while the socket's connect is still waiting on a SYN sent into the dead
// network).
const PROBE_EVERY_MS = 1000;
let probing = false;
function probeSocket() {
  if (probing) return;
  probing = true;
  const next = () => {
    if (!(state.mediaLost || state.socketDown) || state.stopped) {
      probing = false;
      return;
    }
    socket.probe();
    setTimeout(next, PROBE_EVERY_MS);
  };
  next();
}

addEventListener("online", () => {
  if (!isTherapist || !call.pc) return;
  startReconnect("network_change");
  call.restartIce();
});
addEventListener("pagehide", () => call.close());

// Back from the background (or a phone turned sideways): what a reload would redo, without one.
// Phones pause the picture and may take the camera or microphone away from a hidden page.
function resume() {
  if (state.stopped) return;
  for (const element of [media.remoteVideo, media.remoteAudio, media.selfVideo]) {
    if (element.srcObject && element.paused) element.play().catch(() => {});
  }
  socket.retryNow();
  if (state.you !== "admitted") return;
  const lost = ["audio", "video"].filter((kind) => call.tracks[kind]?.readyState === "ended");
  if (lost.length) inOrder(() => call.replaceEndedTracks()).then(() => listDevices());
  const pc = call.pc;
  if (pc && ["failed", "disconnected"].includes(pc.iceConnectionState) && state.peer.state === "admitted") {
    startReconnect("network_change");
    call.restartIce();
  }
}

function stopped(reason) {
  if (state.stopped) return;
  state.stopped = reason;
  state.ended = reason === "ended";
  clearInterval(sampler);
  clearTimeout(state.reconnectTimer);
  call.close();
  call.stopMedia();
  socket.close();
  if (reason === "ended" || reason === "left") sessionStorage.removeItem(REJOIN_KEY);
  const heading = { ended: "h-ended", left: "h-left" }[reason] || "h-stopped";
  if (reason === "ended") $("ended-detail").textContent = texts.endedBy;
  if (heading === "h-stopped") $("stopped-detail").textContent = texts[{ replaced: "replaced", "signed-out": "signedOut" }[reason] || "gone"];
  render();
  $(heading).focus();
}

// --- Quality -------------------------------------------------------------------------------------

const sampler = setInterval(sampleQuality, policy.sample_seconds * 1000);

async function sampleQuality() {
  if (state.stopped || state.you !== "admitted" || !call.pc) return;
  call.watchdog();
  const sample = await call.sample().catch(() => null);
  state.ownSample = sample;
  state.ownLevel = level(sample, policy, state.modality);
  send(report(sample, state.ownLevel));
  renderQuality();
  renderPath();
  // Nobody to talk to, or a dead call being brought back: silence is not a weak connection,
  // and stepping down would not help.
  if (!(state.peer.present && state.peer.state === "admitted") || state.mediaLost) {
    stepDown.pause();
    return;
  }
  // The peer's figures count while they are its latest sample (one period, and half for the way):
  // an older one may describe a fault that has ended.
  const fresh = state.peerQuality && now() - state.peerQuality.at < 1.5 * policy.sample_seconds * 1000;
  const decision = stepDown.observe(now() / 1000, state.modality, sample, fresh ? state.peerQuality : null);
  if (decision) act(decision);
}

function act(decision) {
  if (decision.action === "lower") {
    inOrder(() => call.lowerVideo(true));
    notice(fill(texts.videoLowered, { detail: decision.detail }));
  } else if (decision.action === "restore") {
    inOrder(() => call.lowerVideo(false));
    notice(texts.videoRestored);
  } else if (decision.action === "audio" || decision.action === "text") {
    // One side decides so the timeline gets one switch: the therapist's page.
    if (isTherapist && !state.switchPending) {
      // The server checks the figures it was sent and writes why itself.
      state.switchPending = send({ type: "modality", modality: decision.action, reason: "connection" });
    }
  } else if (decision.action === "offer") {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "secondary";
    button.textContent = decision.modality === "video" ? texts.switchBackVideo : texts.switchBackAudio;
    button.addEventListener("click", () => chooseModality(decision.modality));
    notice(texts.recovered, button);
  }
}

// --- Controls ------------------------------------------------------------------------------------

// The choice shows at once; the call switches when the server's `modality` echo arrives.
function chooseModality(modality) {
  if (modality === state.modality) return;
  if (send({ type: "modality", modality, reason: "user" })) state.chosenModality = modality;
  else notice(texts.notConnected);
  renderControls();
}

for (const radio of document.querySelectorAll("input[name=modality]")) {
  radio.addEventListener("change", () => chooseModality(radio.value));
}

function sendMedia() {
  if (state.you !== "admitted") return;
  send({
    type: "media",
    audio: state.modality !== "text" && !call.muted,
    video: state.modality === "video" && !call.cameraOff,
    screen: Boolean(call.screen),
  });
}

function toggle(id, apply) {
  $(id).addEventListener("click", () => {
    const pressed = $(id).getAttribute("aria-pressed") !== "true";
    apply(pressed);
    $(id).setAttribute("aria-pressed", String(pressed));
    sendMedia();
  });
}
toggle("mute", (on) => call.setMuted(on));
toggle("camera", (on) => call.setCameraOff(on));

// Front and back camera on a phone (any next camera elsewhere): the sender's track is replaced.
$("flip").addEventListener("click", () => {
  inOrder(() => call.flipCamera())
    .catch((error) => notice(fill(texts.deviceFailed, { error: error.name || error.message })))
    .then(() => listDevices());
});

$("share").addEventListener("click", async () => {
  try {
    if (call.screen) await call.stopSharing();
    else await call.shareScreen();
  } catch (error) {
    if (error.name !== "NotAllowedError") notice(fill(texts.shareFailed, { error: error.name || error.message }));
  }
  renderControls();
});

if (isTherapist) {
  $("admit").addEventListener("click", () => {
    if (send({ type: "admit" })) $("admit").disabled = true;
    else notice(texts.notConnected);
  });
  $("wait-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("wait-text");
    const text = input.value.trim();
    if (!text) return;
    if (send({ type: "wait_message", text })) {
      input.value = "";
      $("wait-sent").textContent = texts.waitSent;
    } else {
      $("wait-sent").textContent = texts.notConnected;
    }
  });
  $("end").addEventListener("click", () => {
    const open = $("end-confirm").hidden;
    $("end-confirm").hidden = !open;
    $("end").setAttribute("aria-expanded", String(open));
    if (open) $("end-yes").focus();
  });
  $("end-no").addEventListener("click", () => {
    $("end-confirm").hidden = true;
    $("end").setAttribute("aria-expanded", "false");
    $("end").focus();
  });
  $("end-yes").addEventListener("click", () => {
    // Over the socket when it is up; otherwise the plain form (its answer is the timeline).
    if (!send({ type: "end" })) $("end-form").submit();
  });
} else {
  $("leave").addEventListener("click", () => stopped("left"));
}

function playAudio() {
  media.remoteAudio.play().catch(() => {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = texts.turnOnSound;
    button.addEventListener("click", () => media.remoteAudio.play().then(() => notice("")).catch(() => {}));
    notice(texts.soundBlocked, button);
  });
}

// Short, soft two-note cue when the client arrives (shown on screen as well).
let audioContext = null;
function cue() {
  try {
    audioContext ??= new AudioContext();
    audioContext.resume().catch(() => {});
    const start = audioContext.currentTime;
    for (const [offset, frequency] of [[0, 660], [0.18, 880]]) {
      const tone = audioContext.createOscillator();
      const gain = audioContext.createGain();
      tone.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, start + offset);
      gain.gain.exponentialRampToValueAtTime(0.2, start + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.16);
      tone.connect(gain).connect(audioContext.destination);
      tone.start(start + offset);
      tone.stop(start + offset + 0.2);
    }
  } catch {
    // No WebAudio: the on-screen cue is still there.
  }
}

// --- Devices -------------------------------------------------------------------------------------

$("speaker-field").hidden = !canChooseSpeaker;
const deviceNames = { audioinput: texts.microphoneN, videoinput: texts.cameraN, audiooutput: texts.speakerN };

async function listDevices() {
  if (!navigator.mediaDevices?.enumerateDevices) return;
  const devices = await navigator.mediaDevices.enumerateDevices();
  const saved = savedDevices();
  const inUse = {
    audioinput: call.tracks.audio?.getSettings().deviceId,
    videoinput: call.tracks.video?.getSettings().deviceId,
  };
  for (const select of document.querySelectorAll("#devices select")) {
    const kind = select.dataset.kind;
    const found = devices.filter((d) => d.kind === kind && d.deviceId);
    if (kind === "videoinput") state.cameras = found.length;
    if (!found.length) continue;
    const chosen = inUse[kind] || saved[kind] || select.value;
    select.replaceChildren(
      ...found.map((device, index) => new Option(device.label || fill(deviceNames[kind], { n: index + 1 }), device.deviceId)),
    );
    if (found.some((d) => d.deviceId === chosen)) select.value = chosen;
  }
  renderControls();
}
navigator.mediaDevices?.addEventListener?.("devicechange", listDevices);

for (const select of document.querySelectorAll("#devices select")) {
  select.addEventListener("change", () => {
    inOrder(() => call.switchDevice(select.dataset.kind, select.value)).then(() => listDevices());
  });
}

// --- Rendering -----------------------------------------------------------------------------------

let lastNotice = "";
function notice(text, action = null) {
  const region = $("notices");
  if (!text) {
    region.replaceChildren();
    lastNotice = "";
    return;
  }
  if (text === lastNotice && !action) return;
  lastNotice = text;
  const paragraph = document.createElement("p");
  paragraph.className = "notice";
  paragraph.textContent = text;
  if (action) paragraph.append(" ", action);
  region.replaceChildren(paragraph);
}

function setText(id, text) {
  const element = $(id);
  if (element && element.textContent !== text) element.textContent = text;
}

function renderCheckin(checkin) {
  for (const field of ["location", "geolocation", "callback_phone", "emergency_contact"]) {
    const cell = document.querySelector(`#checkin [data-field="${field}"]`);
    if (cell && cell.textContent !== (checkin[field] || "—")) cell.textContent = checkin[field] || "—";
  }
  const confirmed = document.querySelector('#checkin [data-field="confirmed_at"]');
  if (confirmed && checkin.confirmed_at) {
    const time = document.createElement("time");
    time.dateTime = checkin.confirmed_at;
    time.textContent = clock(new Date(checkin.confirmed_at));
    confirmed.replaceChildren(time);
  }
}

function describe(levelName, figures) {
  const words = texts[levelName] || texts.unknown;
  if (!figures || levelName === "unknown") return words;
  const parts = [];
  if (figures.rtt_ms != null) parts.push(`${Math.round(figures.rtt_ms)} ms`);
  if (figures.loss != null) parts.push(interpolate(gettext("%(value)s loss"), { value: `${Math.round(figures.loss * 100)} %` }));
  return parts.length ? `${words} (${parts.join(", ")})` : words;
}

function renderQuality() {
  setText("quality-self", describe(state.ownLevel, state.ownSample));
  const peer = state.peerQuality;
  setText("quality-peer", describe(peer?.level || "unknown", peer));
}

function renderPath() {
  let text = texts.connecting;
  if (state.modality === "text") text = texts.textPath;
  else if (call.path === "relay") text = texts.relay;
  else if (call.path === "direct") text = texts.direct;
  setText("path", text);
}

function overlayText() {
  if (state.peer.state === "reconnecting") return texts.reconnecting;
  if (state.mediaLost && inCallWithPeer()) return texts.reconnecting;
  if (!state.peer.present || state.peer.state !== "admitted") return texts.peerAway;
  if (state.modality === "audio") return texts.audioOnly;
  if (state.modality === "text") return texts.textOnly;
  if (!state.seeingVideo) return texts.connecting;
  return "";
}

const inCallWithPeer = () => state.you === "admitted" && state.peer.present && state.peer.state === "admitted";

function statusText() {
  if (state.socketDown) return texts.youReconnecting;
  if (!isTherapist && state.you === "waiting") return texts.waiting;
  if (state.peer.state === "reconnecting") return texts.reconnecting;
  if (state.mediaLost && inCallWithPeer()) return texts.mediaLostStatus;
  if (isTherapist && state.peer.state === "waiting" && state.peer.present) return texts.lobbyWaiting;
  if (state.peer.present && state.peer.state === "admitted") return texts.inCall;
  if (isTherapist) return texts.lobbyAway;
  return texts.admitted;
}

const baseTitle = document.title;
// Sharing the screen is for computers: phone browsers either lack it or share nothing useful.
const canShare = Boolean(navigator.mediaDevices?.getDisplayMedia) && !matchMedia("(pointer: coarse)").matches;

function renderControls() {
  for (const radio of document.querySelectorAll("input[name=modality]")) {
    radio.checked = radio.value === (state.chosenModality ?? state.modality);
  }
  const video = state.modality === "video";
  $("camera").disabled = !video;
  $("mute").disabled = state.modality === "text";
  $("share").disabled = !video || !navigator.mediaDevices?.getDisplayMedia;
  $("share").hidden = !canShare;
  $("flip").hidden = !video || state.cameras < 2;
  $("flip").disabled = Boolean(call.screen);
  $("share").setAttribute("aria-pressed", String(Boolean(call.screen)));
}

function render() {
  const stoppedNow = Boolean(state.stopped);
  const inRoom = !stoppedNow && state.you === "admitted";
  if (!isTherapist) $("waiting").hidden = stoppedNow || state.you !== "waiting";
  $("call").hidden = !inRoom;
  $("call").dataset.modality = state.modality;
  $("chat").hidden = !inRoom;
  $("details").hidden = stoppedNow;
  $("details-call").hidden = !inRoom;
  if (["admitted", "reconnecting"].includes(state.peer.state)) state.callStarted = true;
  // Full screen once the call has begun; the therapist waits for the client on the plain page
  // (waiting room, safety check-in), the client is in the call from being let in.
  layout.update({ immersive: inRoom && (!isTherapist || state.callStarted), modality: state.modality });
  $("ended").hidden = state.stopped !== "ended";
  $("left").hidden = state.stopped !== "left";
  $("stopped").hidden = !stoppedNow || ["ended", "left"].includes(state.stopped);
  if (stoppedNow) {
    if (isTherapist) $("lobby").hidden = true;
    const why = { ended: $("h-ended").textContent, left: texts.left }[state.stopped];
    setText("room-status", why ?? texts[{ replaced: "replaced", "signed-out": "signedOut" }[state.stopped] || "gone"]);
    document.title = baseTitle;
    return;
  }
  setText("room-status", statusText());

  if (isTherapist) {
    const waiting = state.peer.present && state.peer.state === "waiting";
    const lobbyText = {
      waiting: texts.lobbyWaiting,
      admitted: texts.lobbyAdmitted,
      reconnecting: texts.lobbyReconnecting,
    }[state.peer.state];
    setText("lobby-state", (state.peer.present || state.peer.state === "reconnecting") && lobbyText ? lobbyText : texts.lobbyAway);
    $("admit").hidden = !waiting;
    $("admit").disabled = !waiting;
    $("lobby").classList.toggle("attention", waiting);
    $("lobby").hidden = ["admitted", "reconnecting"].includes(state.peer.state);
    $("wait-form").hidden = !waiting;
    document.title = waiting ? `(${texts.peerWaitingTitle}) ${baseTitle}` : baseTitle;
  }

  const overlay = overlayText();
  $("remote-overlay").hidden = !overlay;
  setText("remote-overlay", overlay);
  const peerMedia = [];
  if (state.peer.state === "admitted" && state.modality !== "text") {
    if (!state.peerMedia.audio) peerMedia.push(texts.muted);
    if (state.modality === "video" && !state.peerMedia.video && !state.peerMedia.screen) peerMedia.push(texts.cameraOff);
    if (state.modality === "video" && state.peerMedia.screen) peerMedia.push(texts.sharing);
  }
  $("peer-media").hidden = !peerMedia.length;
  setText("peer-media", peerMedia.join(" "));
  $("stage").classList.toggle("screen", Boolean(state.peerMedia.screen));
  chat.enable(inRoom);
  plan.enable(inRoom);
  renderControls();
  renderQuality();
  renderPath();
}

// --- Start ---------------------------------------------------------------------------------------

window.rapportRoom = Object.freeze({
  pc: () => call.pc,
  state: () => ({
    you: state.you,
    peer: state.peer.state,
    peerPresent: state.peer.present,
    modality: state.modality,
    ended: state.ended,
    stopped: state.stopped,
    socket: socket.open,
    path: call.path,
    lowered: call.lowered,
    immersive: layout.immersive,
    drawer: layout.open,
    awake: layout.awake,
    peerConnections: state.peerConnections,
    keptConnections: state.keptConnections,
  }),
  modality: () => state.modality,
  received: () => state.received.slice(),
  quality: () => ({ own: state.ownLevel, peer: state.peerQuality?.level ?? "unknown" }),
  timings: () => ({ ...state.timings }),
});

render();
socket.connect();
// Ask for the camera and microphone now, so the call starts as soon as both are in.
if (state.modality !== "text") call.ensureMedia().then(listDevices);
