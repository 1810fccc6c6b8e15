// The per-user events socket (docs/protocol.md) on every signed-in page: the unread-messages
// badge; on therapists' pages it also keeps the home page's "Waiting now" card current, says who
// arrived in a live region and plays a soft chime; shows a safety alert at once on any page that
// loads it (a banner, and the "Alerts" card where there is one), and a risk answer a client left
// unsent (a banner); on admins' pages (or every therapist's, with no active admin), an escalated
// alert (a banner, and the parts of the page marked `data-refresh` read again).
//
// Read-only hook for tests and support: window.rapportEvents.open() is true while the socket is open.
import { gettext } from "./i18n.js";
import { ReconnectingSocket } from "./socket.js";

const card = document.getElementById("waiting");
const list = document.getElementById("waiting-list");
const empty = document.getElementById("waiting-empty");
const status = document.getElementById("waiting-status");
const entry = document.getElementById("waiting-entry");
const alerts = document.getElementById("alerts");
const alertList = document.getElementById("alert-list");
const alertEmpty = document.getElementById("alert-empty");
const alertEntry = document.getElementById("alert-entry");
const ALERT_TEXT = gettext("Safety alert: {name} needs your attention.");
const ALERT_LINK = gettext("Open the alert");
const STOPPED_TEXT = gettext("Live updates stopped: you were signed out. Reload the page.");
const texts = document.getElementById("live-texts")?.dataset ?? {}; // translated in base.html
// Parts of the page without a handler of their own (the admin's escalated alerts): read again
// from the server after an event that changes them.
const refreshed = [...document.querySelectorAll("[data-refresh][id]")];
const baseTitle = document.title;

let sound = null;

function say(key, name = "") {
  if (status) status.textContent = card.dataset[key].replace("{name}", name);
}

function refresh() {
  if (!list) return;
  const count = list.children.length;
  empty.hidden = count > 0;
  document.title = count ? `(${count}) ${baseTitle}` : baseTitle;
}

function find(visit) {
  return [...list.children].find((item) => item.dataset.visit === visit);
}

function waiting(event) {
  if (!list) return;
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
  if (!list) return;
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

// A banner at the top of the page (role="alert", read out at once) for one alert: its words and
// a link. A second event for the same alert updates it.
function banner(id, words, linkText, url) {
  const main = document.getElementById("main") ?? document.body;
  let shown = document.querySelector(`.alert-banner[data-alert="${CSS.escape(id)}"]`);
  if (!shown) {
    shown = document.createElement("div");
    shown.className = "message error alert-banner";
    shown.dataset.alert = id;
    shown.setAttribute("role", "alert");
    main.prepend(shown);
  }
  const link = document.createElement("a");
  link.href = url;
  link.textContent = linkText;
  const strong = document.createElement("strong");
  strong.textContent = words;
  shown.replaceChildren(strong, " ", link);
}

// A safety alert: the banner, the entry in the "Alerts" card where the page has one, the chime.
function safetyAlert(event) {
  const name = String(event.client_name ?? "");
  const id = String(event.alert ?? "");
  const words = (alerts?.dataset.announce ?? ALERT_TEXT).replace("{name}", name);
  banner(id, words, alerts?.dataset.open ?? ALERT_LINK, event.url);
  if (alertList && alertEntry) {
    const found = [...alertList.children].find((item) => item.dataset.alert === id);
    const item = found ?? alertEntry.content.firstElementChild.cloneNode(true);
    item.dataset.alert = id;
    const itemLink = item.querySelector("a");
    itemLink.href = event.url;
    itemLink.textContent = name;
    if (!item.isConnected) alertList.prepend(item);
    alertEmpty.hidden = true;
  }
  chime();
}

// An alert its therapist did not acknowledge in time, to the practice admins: the banner, and
// the escalated alerts' count or list on this page read again.
function escalated(event) {
  // With no active admin it comes to every therapist, who sees whose client it is.
  const template = event.no_admin ? texts.escalatedNoAdmin : texts.escalated;
  const words = (template ?? "").replace("{name}", String(event.therapist_name ?? ""));
  const link = event.no_admin ? texts.escalatedNoAdminLink : texts.escalatedLink;
  banner(String(event.alert ?? ""), words, link ?? "", event.url);
  if (refreshed.length) reload();
  chime();
}

// A risk answer a client saved but has not sent, past the practice's limit, to their therapist:
// the banner (naming the client, on the therapist's own pages only) and the chime.
function unsentRisk(event) {
  const words = (texts.unsentRisk ?? "").replace("{name}", String(event.client_name ?? ""));
  banner(`unsent-${event.task ?? ""}`, words, texts.unsentRiskLink ?? "", event.url);
  chime();
}

// Acknowledged (in this tab or another): the alert leaves the card and its banner goes.
function acknowledged(event) {
  const id = String(event.alert ?? "");
  document.querySelector(`.alert-banner[data-alert="${CSS.escape(id)}"]`)?.remove();
  if (refreshed.length) reload();
  if (!alertList) return;
  [...alertList.children].find((item) => item.dataset.alert === id)?.remove();
  alertEmpty.hidden = alertList.children.length > 0;
}

// After a dropped socket, events may have been missed: read the cards again from the server.
async function reload() {
  try {
    const response = await fetch(location.pathname, { cache: "no-store", credentials: "same-origin" });
    if (!response.ok) return;
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.getElementById("waiting-list");
    if (fresh && list) list.replaceChildren(...fresh.children);
    for (const part of refreshed) {
      const freshPart = page.getElementById(part.id);
      if (freshPart) part.replaceChildren(...freshPart.childNodes);
    }
    const freshAlerts = page.getElementById("alert-list");
    if (freshAlerts && alertList) {
      alertList.replaceChildren(...freshAlerts.children);
      alertEmpty.hidden = alertList.children.length > 0;
    }
    refresh();
  } catch {
    // Offline again: the next reconnect tries once more.
  }
}

// Unread messages changed (a new one, or read in another tab): the badge in the navigation.
function unreadMessages(event) {
  const badge = document.getElementById("nav-unread");
  const count = document.getElementById("nav-unread-count");
  if (!badge || !count) return;
  const total = Number(event.total) || 0;
  count.textContent = String(total);
  badge.hidden = total === 0;
}

const handlers = {
  "messages.unread": unreadMessages,
  "visit.waiting": waiting,
  "visit.admitted": gone,
  "visit.ended": gone,
  "visit.left": gone,
  "alert.safety": safetyAlert,
  "alert.acknowledged": acknowledged,
  "alert.escalated": escalated,
  "measure.unsent_risk": unsentRisk,
};

// The badge's count goes with the handshake: the server answers when it has changed since.
function socketPath() {
  const shown = document.getElementById("nav-unread-count")?.textContent.trim();
  return shown ? `/ws/events/?unread=${encodeURIComponent(shown)}` : "/ws/events/";
}

const socket = new ReconnectingSocket(socketPath, {
  onOpen(reconnected) {
    if (reconnected) reload();
  },
  onMessage: (event) => handlers[event.type]?.(event),
  onFinal() {
    if (status) say("stopped");
    else stoppedNotice();
  },
});

function stoppedNotice() {
  const notice = document.createElement("p");
  notice.className = "message error";
  notice.setAttribute("role", "status");
  notice.textContent = alerts?.dataset.stopped ?? STOPPED_TEXT;
  (document.getElementById("main") ?? document.body).prepend(notice);
}

window.rapportEvents = Object.freeze({ open: () => socket.open });
refresh();
socket.connect();
