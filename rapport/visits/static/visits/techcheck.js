// Tech check before a visit: camera preview, microphone level, device choice, a speaker test,
// what this browser can do, the round trip to the server and whether the relay (TURN) answers.
// The continue links work without this script; it only adds the checks and stops the camera
// and microphone before the page is left.
import { canChooseSpeaker, preferredDevice, saveDevice, savedDevices } from "./devices.js";

const config = JSON.parse(document.getElementById("visit-config").textContent);
const byId = (id) => document.getElementById(id);
const texts = byId("check-texts").dataset; // translated in the template
const t = (key, values = {}) => texts[key].replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
const RELAY_WAIT_MS = 5000;
const PINGS = 5;

const status = byId("check-status");
const preview = byId("preview");
const meter = byId("mic-level");
const meterText = byId("mic-level-text");
// No camera picker when the session does not offer video.
const pickers = Object.fromEntries(
  ["audioinput", "videoinput", "audiooutput"].map((kind) => [kind, byId(kind)]).filter(([, select]) => select),
);
const media = navigator.mediaDevices;
const wantVideo = config.modalities.includes("video");

let stream = null;
let audioContext = null;
let meterSource = null;
let meterTimer = 0;

let outcome = ""; // what opening the devices came to
let heard = ""; // "your microphone is picking up sound", once it has

function announce(text) {
  status.textContent = text;
}

// The outcome stays in the status, with the microphone's first sound whichever came first.
function settle(text) {
  outcome = text;
  announce(heard ? `${outcome} ${heard}` : outcome);
}

// "exact": Chrome ignores an "ideal" microphone id. A device that is gone is retried without it.
function wanted(kind, remembered) {
  return remembered ? preferredDevice(kind, "exact") : true;
}

// --- Camera and microphone ----------------------------------------------------------------------
function stopTracks() {
  clearInterval(meterTimer);
  meterSource?.disconnect();
  meterSource = null;
  for (const track of stream?.getTracks() ?? []) track.stop();
  stream = null;
  if (preview) preview.srcObject = null;
}

async function openDevices() {
  stopTracks();
  outcome = "";
  if (!media?.getUserMedia) {
    showFix("unavailable");
    settle(t("unsupported"));
    return;
  }
  announce(t("asking"));
  const shapes = wantVideo
    ? [{ audio: true, video: true }, { audio: true, video: false }, { audio: false, video: true }]
    : [{ audio: true, video: false }];
  const saved = Object.keys(savedDevices()).length > 0;
  const attempts = shapes.flatMap((shape) => (saved ? [{ ...shape, remembered: true }, shape] : [shape]));
  let failure = null;
  for (const attempt of attempts) {
    try {
      stream = await media.getUserMedia({
        audio: attempt.audio && wanted("audioinput", attempt.remembered),
        video: attempt.video && wanted("videoinput", attempt.remembered),
      });
      break;
    } catch (error) {
      if (!attempt.remembered) failure ??= error;
      // A refusal is the same for every attempt; asking again only repeats the prompt.
      if (error.name === "NotAllowedError" || error.name === "SecurityError") {
        failure = error;
        break;
      }
    }
  }
  const hasAudio = Boolean(stream?.getAudioTracks().length);
  const hasVideo = Boolean(stream?.getVideoTracks().length);
  showPreview();
  startMeter();
  await listDevices();
  if (hasAudio && (hasVideo || !wantVideo)) {
    byId("fix").hidden = true;
    settle(t(wantVideo ? "readyVideo" : "readyAudio"));
  } else if (hasAudio) {
    showFix("noCamera");
    settle(t("onlyMicrophone"));
  } else if (hasVideo) {
    showFix("noMicrophone");
    settle(t("onlyCamera"));
  } else {
    showFix(causeOf(failure));
    settle(t("textStillWorks", { cause: byId("fix-cause").textContent }));
  }
}

function causeOf(error) {
  switch (error?.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "blocked";
    case "NotFoundError":
    case "OverconstrainedError":
      return "missing";
    case "NotReadableError":
    case "AbortError":
      return "busy";
    default:
      return "unavailable";
  }
}

function browserName() {
  const agent = navigator.userAgent;
  const touchMac = /Macintosh/.test(agent) && navigator.maxTouchPoints > 1;
  if (/iPhone|iPad|iPod/.test(agent) || touchMac) return "safari-ios";
  if (/Android/.test(agent)) return "android";
  if (/Firefox\//.test(agent)) return "firefox";
  if (/Edg\/|Chrome\/|Chromium\//.test(agent)) return "chrome";
  if (/Macintosh/.test(agent) && /Safari\//.test(agent)) return "safari-mac";
  return "chrome";
}

function showFix(cause) {
  const fix = byId("fix");
  byId("h-fix").textContent = t(`${cause}Heading`);
  byId("fix-cause").textContent = t(cause);
  // The instructions for this browser first; the others stay one click away.
  const mine = document.querySelector(`#fix-others [data-browser="${browserName()}"]`);
  if (mine) byId("fix-mine").replaceChildren(mine);
  const wasHidden = fix.hidden;
  fix.hidden = false;
  if (wasHidden) byId("h-fix").focus();
}

function showPreview() {
  if (!preview) return;
  const cameraStatus = byId("camera-status");
  const [track] = stream?.getVideoTracks() ?? [];
  if (!track) {
    preview.srcObject = null;
    cameraStatus.textContent = t("noPicture");
    return;
  }
  preview.srcObject = new MediaStream([track]);
  preview.play().catch(() => {});
  preview.addEventListener(
    "loadedmetadata",
    () => {
      const size = { width: preview.videoWidth, height: preview.videoHeight };
      cameraStatus.textContent = t("cameraOn", { label: track.label, ...size });
    },
    { once: true },
  );
  track.addEventListener("ended", () => {
    cameraStatus.textContent = t("cameraStopped");
  });
}

function startMeter() {
  clearInterval(meterTimer);
  meterSource?.disconnect();
  meterSource = null;
  const [track] = stream?.getAudioTracks() ?? [];
  meter.value = 0;
  if (!track) {
    meterText.textContent = t("noMicrophoneLevel");
    return;
  }
  audioContext ??= new AudioContext();
  if (audioContext.state === "suspended") {
    audioContext.resume();
    // Some browsers start sound only after a tap or a key press on the page.
    const resume = () => audioContext.resume();
    document.addEventListener("pointerdown", resume, { once: true });
    document.addEventListener("keydown", resume, { once: true });
  }
  meterSource = audioContext.createMediaStreamSource(new MediaStream([track]));
  const analyser = audioContext.createAnalyser();
  analyser.fftSize = 1024;
  meterSource.connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  let shown = 0;
  let lastText = 0;
  meterTimer = setInterval(() => {
    if (audioContext.state !== "running") {
      meterText.textContent = t("startSound");
      return;
    }
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const sample of samples) sum += sample * sample;
    const rms = Math.sqrt(sum / samples.length);
    // -60 dBFS (a quiet room) reads 0, full scale reads 100; falls back gently.
    const level = rms > 0 ? Math.max(0, Math.min(100, ((20 * Math.log10(rms) + 60) * 100) / 60)) : 0;
    shown = Math.round(Math.max(level, shown * 0.8));
    meter.value = shown;
    meter.textContent = String(shown);
    const now = performance.now();
    if (now - lastText > 1000) {
      lastText = now;
      meterText.textContent = shown > 10 ? t("soundHeard", { level: shown }) : t("quiet");
    }
    if (!heard && shown > 10) {
      heard = t("pickingUp", { label: track.label });
      if (outcome) settle(outcome);
    }
  }, 100);
}

async function listDevices() {
  if (!media?.enumerateDevices) return;
  const devices = await media.enumerateDevices();
  const saved = savedDevices();
  const current = {
    audioinput: stream?.getAudioTracks()[0]?.getSettings().deviceId,
    videoinput: stream?.getVideoTracks()[0]?.getSettings().deviceId,
    audiooutput: saved.audiooutput,
  };
  for (const [kind, select] of Object.entries(pickers)) {
    const found = devices.filter((d) => d.kind === kind && d.deviceId);
    const unnamed = { audioinput: "microphoneN", videoinput: "cameraN", audiooutput: "speakerN" }[kind];
    const options = found.map((device, n) => new Option(device.label || t(unnamed, { n: n + 1 }), device.deviceId));
    if (kind === "audiooutput" && !canChooseSpeaker) {
      select.replaceChildren(new Option(t("defaultSpeaker"), ""));
      select.disabled = true;
      continue;
    }
    if (!options.length) {
      select.replaceChildren(new Option(t(kind === "audiooutput" ? "defaultSpeaker" : "noneFound"), ""));
      select.disabled = kind !== "audiooutput" || !canChooseSpeaker;
      continue;
    }
    select.replaceChildren(...options);
    select.disabled = false;
    if (current[kind] && found.some((d) => d.deviceId === current[kind])) select.value = current[kind];
  }
}

async function switchInput(kind, deviceId) {
  const video = kind === "videoinput";
  try {
    const fresh = await media.getUserMedia(
      video ? { video: { deviceId: { exact: deviceId } } } : { audio: { deviceId: { exact: deviceId } } },
    );
    stream ??= new MediaStream();
    for (const old of video ? stream.getVideoTracks() : stream.getAudioTracks()) {
      old.stop();
      stream.removeTrack(old);
    }
    const [track] = fresh.getTracks();
    stream.addTrack(track);
    if (video) showPreview();
    else startMeter();
    announce(t(video ? "cameraChanged" : "microphoneChanged", { label: track.label }));
  } catch (error) {
    announce(t("switchFailed", { error: error.name }));
  }
}

for (const [kind, select] of Object.entries(pickers)) {
  select.addEventListener("change", () => {
    saveDevice(kind, select.value);
    if (kind === "audiooutput") {
      announce(t("speakerChanged", { label: select.selectedOptions[0]?.text }));
    } else {
      switchInput(kind, select.value);
    }
  });
}

// --- Speaker test: a soft two-note chime --------------------------------------------------------
async function playTone() {
  const speakerStatus = byId("speaker-status");
  const button = byId("play-tone");
  button.disabled = true;
  const context = new AudioContext();
  const output = context.createMediaStreamDestination();
  const gain = context.createGain();
  gain.connect(output);
  const player = new Audio();
  player.srcObject = output.stream;
  try {
    const sink = pickers.audiooutput.value;
    if (sink && canChooseSpeaker) await player.setSinkId(sink);
    await player.play();
    const start = context.currentTime + 0.05;
    for (const [offset, frequency] of [[0, 523.25], [0.35, 659.25]]) {
      const tone = context.createOscillator();
      tone.frequency.value = frequency;
      tone.connect(gain);
      tone.start(start + offset);
      tone.stop(start + offset + 0.6);
    }
    gain.gain.setValueAtTime(0, start);
    gain.gain.linearRampToValueAtTime(0.25, start + 0.05);
    gain.gain.exponentialRampToValueAtTime(0.001, start + 0.95);
    const speaker = pickers.audiooutput.selectedOptions[0]?.text || t("yourSpeaker");
    speakerStatus.textContent = t("playing", { speaker });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    speakerStatus.textContent = t("didYouHear");
  } catch (error) {
    speakerStatus.textContent = t("toneFailed", { error: error.name });
  } finally {
    player.pause();
    player.srcObject = null;
    context.close();
    button.disabled = false;
  }
}

byId("play-tone").addEventListener("click", playTone);
byId("play-tone").disabled = false;

// --- What this browser can do -------------------------------------------------------------------
function checkCapabilities() {
  const found = {
    getUserMedia: Boolean(media?.getUserMedia),
    RTCPeerConnection: "RTCPeerConnection" in window,
    WebSocket: "WebSocket" in window,
    setSinkId: canChooseSpeaker,
    getDisplayMedia: Boolean(media?.getDisplayMedia),
  };
  const missing = {
    getUserMedia: "missingMedia",
    RTCPeerConnection: "missingMedia",
    WebSocket: "missingSocket",
    setSinkId: "missingSpeaker",
    getDisplayMedia: "missingScreen",
  };
  for (const item of document.querySelectorAll("#capabilities [data-capability]")) {
    const name = item.dataset.capability;
    const answer = item.querySelector("span");
    answer.className = found[name] ? "works" : "missing";
    answer.textContent = t(found[name] ? "works" : missing[name]);
    item.dataset.works = String(found[name]);
  }
}

// --- Round trip to the server -------------------------------------------------------------------
async function measureRoundTrip() {
  const output = byId("rtt");
  output.textContent = t("measuring");
  try {
    const times = [];
    for (let i = 0; i <= PINGS; i++) {
      const start = performance.now();
      const response = await fetch(output.dataset.url, { cache: "no-store", credentials: "same-origin" });
      await response.arrayBuffer();
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      if (i > 0) times.push(performance.now() - start); // the first one also opens the connection
    }
    times.sort((a, b) => a - b);
    const median = Math.round(times[Math.floor(times.length / 2)]);
    const verdict = t(median < 150 ? "good" : median < 300 ? "fair" : "slow");
    output.dataset.ms = String(median);
    output.textContent = t("roundTrip", { ms: median, verdict });
  } catch {
    output.textContent = t("unreachableServer");
  }
}

// --- Relay (TURN) reachability ------------------------------------------------------------------
async function checkRelay() {
  const output = byId("relay");
  const iceServers = (config.ice_servers || [])
    .map((server) => ({ ...server, urls: [].concat(server.urls).filter((url) => /^turns?:/.test(url)) }))
    .filter((server) => server.urls.length);
  if (!iceServers.length) {
    output.textContent = t("relayNone");
    output.dataset.state = "none";
    return;
  }
  if (!("RTCPeerConnection" in window)) {
    output.textContent = t("relayUnknown");
    output.dataset.state = "unknown";
    return;
  }
  output.textContent = t("checking");
  let connection;
  try {
    connection = new RTCPeerConnection({ iceServers, iceTransportPolicy: "relay" });
  } catch {
    output.textContent = t("relayUnknown");
    output.dataset.state = "unknown";
    return;
  }
  const reachable = await new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), RELAY_WAIT_MS);
    connection.addEventListener("icecandidate", ({ candidate }) => {
      if (candidate?.candidate.includes(" typ relay")) resolve(true);
      else if (!candidate) resolve(false);
      else return;
      clearTimeout(timer);
    });
    connection.createDataChannel("check");
    connection
      .createOffer()
      .then((offer) => connection.setLocalDescription(offer))
      .catch(() => resolve(false));
  });
  connection.close();
  output.dataset.state = reachable ? "reachable" : "unreachable";
  output.textContent = t(reachable ? "relayReachable" : "relayUnreachable");
}

// --- Leaving ------------------------------------------------------------------------------------
for (const link of document.querySelectorAll(".continue-choices a")) {
  link.addEventListener("click", stopTracks);
}
window.addEventListener("pagehide", stopTracks);
window.addEventListener("pageshow", (event) => {
  if (event.persisted) openDevices(); // back from the next page: the devices were stopped
});
byId("retry").addEventListener("click", openDevices);
media?.addEventListener?.("devicechange", listDevices); // a headset plugged in or out

checkCapabilities();
openDevices();
measureRoundTrip();
checkRelay();
