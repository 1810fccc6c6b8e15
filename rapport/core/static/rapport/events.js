// The per-user events socket (docs/protocol.md) on the therapist's home page: keeps the
// "Waiting now" card current, says who arrived in a live region and plays a soft chime.
const card = document.getElementById("waiting");
const list = document.getElementById("waiting-list");
const empty = document.getElementById("waiting-empty");
const status = document.getElementById("waiting-status");
const entry = document.getElementById("waiting-entry");
const SESSION_ENDED = 4001;
const MAX_DELAY_MS = 10000;
const baseTitle = document.title;

let delay = 500;
let opened = false;
let stopped = false;
let sound = null;

function say(key, name = "") {
  status.textContent = card.dataset[key].replace("{name}", name);
}

function refresh() {
  const count = list.children.length;
  empty.hidden = count > 0;
  document.title = count ? `(${count}) ${baseTitle}` : baseTitle;
}

function find(visit) {
  return [...list.children].find((item) => item.dataset.visit === visit);
}

function waiting(event) {
  const item = find(event.visit) ?? entry.content.firstElementChild.cloneNode(true);
  item.dataset.visit = event.visit;
  const link = item.querySelector("a");
  link.href = event.url;
  link.textContent = event.client_name;
  if (!item.isConnected) list.append(item);
  refresh();
  say("announce", event.client_name);
  chime();
}

function gone(event) {
  const item = find(event.visit);
  if (!item) return;
  const name = item.querySelector("a").textContent;
  item.remove();
  refresh();
  say("gone", name);
}

// Browsers only play sound after the person has used the page: unlock on the first gesture.
function unlockSound() {
  sound ??= new AudioContext();
  sound.resume();
}
document.addEventListener("pointerdown", unlockSound, { once: true });
document.addEventListener("keydown", unlockSound, { once: true });

function chime() {
  if (sound?.state !== "running") return;
  const start = sound.currentTime + 0.02;
  const gain = sound.createGain();
  gain.connect(sound.destination);
  gain.gain.setValueAtTime(0, start);
  gain.gain.linearRampToValueAtTime(0.08, start + 0.03);
  gain.gain.exponentialRampToValueAtTime(0.0005, start + 1.2);
  for (const [offset, frequency] of [[0, 659.25], [0.18, 880]]) {
    const tone = sound.createOscillator();
    tone.type = "sine";
    tone.frequency.value = frequency;
    tone.connect(gain);
    tone.start(start + offset);
    tone.stop(start + 1.2);
  }
}

// After a dropped socket, events may have been missed: read the card again from the server.
async function reload() {
  try {
    const response = await fetch(location.pathname, { cache: "no-store", credentials: "same-origin" });
    if (!response.ok) return;
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.getElementById("waiting-list");
    if (fresh) list.replaceChildren(...fresh.children);
    refresh();
  } catch {
    // Offline again: the next reconnect tries once more.
  }
}

const handlers = {
  "visit.waiting": waiting,
  "visit.admitted": gone,
  "visit.ended": gone,
  "visit.left": gone,
};

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws/events/`);
  socket.addEventListener("open", () => {
    if (opened) reload();
    opened = true;
    delay = 500;
  });
  socket.addEventListener("message", ({ data }) => {
    let event;
    try {
      event = JSON.parse(data);
    } catch {
      return;
    }
    if (event.type === "session.ended") stopped = true;
    handlers[event.type]?.(event);
  });
  socket.addEventListener("close", ({ code }) => {
    if (stopped || code === SESSION_ENDED) {
      stopped = true;
      say("stopped");
      return;
    }
    setTimeout(connect, delay);
    delay = Math.min(delay * 2, MAX_DELAY_MS);
  });
}

if (card && list && entry) {
  refresh();
  connect();
}
