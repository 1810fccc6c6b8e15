// The conversation page over the messages socket (docs/protocol.md, "Messages socket").
// Every message gets its own id here; it stays in the outbox, marked "Sending…", until the server
// acknowledges it (after storing it), and is sent again after a reconnect. The server drops
// repeats, so nothing is lost and nothing is stored twice. After a reconnect the page asks for
// everything after the newest message it shows, and for corrections and retractions since its
// last catch-up.
import { ReconnectingSocket } from "../rapport/socket.js";
import { dayAndTime, gettext, interpolate } from "../rapport/i18n.js";

const config = JSON.parse(document.getElementById("messaging-config").textContent);
const list = document.getElementById("messages");
const log = document.getElementById("log");
const form = document.getElementById("composer");
const textarea = document.getElementById("text");
const fileInput = document.getElementById("file");
const progress = document.getElementById("upload-progress");
const errorBox = document.getElementById("composer-error");
const typingLine = document.getElementById("typing");
const connection = document.getElementById("connection");
const cancelEdit = document.getElementById("cancel-edit");
const sendButton = document.getElementById("send");
const template = document.getElementById("message-template");

const RESEND_MS = 8000;
const TYPING_EVERY_MS = 3000;
const TYPING_SHOWN_MS = 5000;
const peerRole = config.role === "therapist" ? "client" : "therapist";
// The server's format ("Fri 27 Nov, 16:57", the reader's language, clock and time zone), so times
// never change style.
const when = { format: (date) => dayAndTime(date, config.time_zone) };

let lastSeq = config.last_seq; // the newest message shown
let syncedAt = config.rendered_at; // server time of the last catch-up: changes after it are fetched
let peerRead = config.peer_read_seq;
let readSent = 0;
let editing = null; // id of the message being corrected
let lastTyping = 0;
let typingTimer = null;
const outbox = new Map(); // id -> frame, in the order written

const socket = new ReconnectingSocket("/ws/messages/", {
  onOpen: () => {
    connection.textContent = "";
    socket.send({
      type: "fetch",
      conversation: config.conversation,
      after: lastSeq,
      changed_after: syncedAt,
    });
    flush();
  },
  onMessage: receive,
  onDown: () => {
    connection.textContent = outbox.size
      ? gettext("Connection lost. Your messages are kept here and will be sent when it is back.")
      : gettext("Connection lost. Reconnecting…");
  },
  onFinal: () => {
    connection.textContent = gettext("You were signed out. Sign in again to keep writing.");
  },
});

function receive(frame) {
  switch (frame.type) {
    case "ack":
      acknowledged(frame);
      break;
    case "message":
    case "updated":
      if (frame.message.conversation === config.conversation) show(frame.message);
      markRead();
      break;
    case "history":
      if (frame.conversation !== config.conversation) break;
      peerRead = Math.max(peerRead, frame.read?.[peerRole] ?? 0);
      frame.messages.forEach(show);
      (frame.changed ?? []).forEach((message) => itemFor(message.id) && show(message));
      if (frame.at) syncedAt = frame.at;
      refreshStatuses();
      if (frame.more) socket.send({ type: "fetch", conversation: config.conversation, after: lastSeq });
      markRead();
      break;
    case "read":
      if (frame.conversation === config.conversation && frame.by === peerRole) {
        peerRead = Math.max(peerRead, frame.seq);
        refreshStatuses();
      }
      break;
    case "typing":
      if (frame.conversation === config.conversation) showTyping();
      break;
    case "error":
      refused(frame);
      break;
    case "session.ended":
      connection.textContent = gettext("You were signed out. Sign in again to keep writing.");
      break;
  }
}

// --- Showing messages ----------------------------------------------------------------------------

function itemFor(id) {
  return list.querySelector(`li[data-id="${CSS.escape(id)}"]`);
}

function show(message) {
  document.getElementById("no-messages")?.remove();
  let item = itemFor(message.id);
  if (!item) item = template.content.firstElementChild.cloneNode(true);
  const mine = message.from === config.role;
  item.className = `msg ${mine ? "mine" : "theirs"}${message.retracted ? " retracted" : ""}`;
  item.id = `m-${message.seq}`;
  item.dataset.id = message.id;
  item.dataset.seq = message.seq;
  const editableUntil = new Date(new Date(message.at).getTime() + config.edit_minutes * 60000);
  item.dataset.editableUntil = editableUntil.toISOString();
  if (message.visit) item.dataset.visit = "1";
  fill(item, {
    who: mine ? gettext("You") : message.name,
    at: message.at,
    text: message.retracted
      ? mine
        ? gettext("You retracted this message.")
        : gettext("This message was retracted.")
      : message.text,
    edited: Boolean(message.edited_at) && !message.retracted,
    inSession: Boolean(message.visit),
    attachment: message.retracted ? null : message.attachment,
  });
  if (message.retracted) item.querySelector(".text").classList.add("tombstone");
  outbox.delete(message.id);
  place(item, message.seq);
  lastSeq = Math.max(lastSeq, message.seq);
  status(item);
  actions(item);
}

function fill(item, { who, at, text, edited, inSession, attachment }) {
  item.querySelector(".who").textContent = who;
  const time = item.querySelector("time");
  time.dateTime = at;
  time.textContent = when.format(new Date(at));
  const meta = item.querySelector(".meta");
  meta.querySelectorAll(".tag").forEach((tag) => tag.remove());
  if (inSession) meta.append(" ", tag(gettext("in session")));
  if (edited) meta.append(" ", tag(gettext("edited"), "edited"));
  item.querySelector(".text").textContent = text;
  item.querySelector(".file")?.remove();
  if (attachment) {
    const file = document.createElement("p");
    file.className = "file";
    const link = document.createElement("a");
    link.href = attachment.url;
    link.setAttribute("download", "");
    link.textContent = attachment.name;
    const size = document.createElement("span");
    size.className = "hint";
    size.textContent = ` (${formatSize(attachment.size)})`;
    file.append(link, size);
    item.querySelector(".text").after(file);
  }
}

function tag(text, extra = "") {
  const span = document.createElement("span");
  span.className = `tag ${extra}`.trim();
  span.textContent = text;
  return span;
}

function formatSize(bytes) {
  const number = (n) => n.toLocaleString(document.documentElement.lang, { maximumFractionDigits: 1 });
  if (bytes < 1024) return interpolate(gettext("%(count)s bytes"), { count: bytes });
  if (bytes < 1024 * 1024) return interpolate(gettext("%(size)s KB"), { size: number(bytes / 1024) });
  return interpolate(gettext("%(size)s MB"), { size: number(bytes / 1024 / 1024) });
}

// Stored messages in sequence order; unsent ones ("Sending…") after all of them. A message already
// in its place stays put: moving it would take the focus from its buttons and make screen
// readers announce it again as a new entry of the log.
function place(item, seq) {
  const others = [...list.children].filter((li) => li !== item);
  const before =
    others.find((li) => li.dataset.seq && Number(li.dataset.seq) > seq) ??
    others.find((li) => !li.dataset.seq) ??
    null;
  if (item.parentNode !== list || item.nextElementSibling !== before) list.insertBefore(item, before);
  log.scrollTop = log.scrollHeight;
}

function status(item) {
  const line = item.querySelector(".status");
  if (!line) return;
  if (!item.classList.contains("mine")) {
    line.textContent = "";
    return;
  }
  if (!item.dataset.seq) {
    line.textContent = item.dataset.failed
      ? interpolate(gettext("Not sent: %(reason)s"), { reason: item.dataset.failed })
      : gettext("Sending…");
    return;
  }
  line.textContent = Number(item.dataset.seq) <= peerRead ? gettext("Read") : gettext("Sent");
}

function refreshStatuses() {
  list.querySelectorAll("li.mine").forEach(status);
}

// Correct and retract buttons on one's own messages for five minutes. Redrawn after every change;
// a keyboard user's focus moves to the new button of the same name, or to the message box when
// the buttons are gone (retracted, or the five minutes are over).
function actions(item) {
  const old = item.querySelector(".actions");
  const focused = old?.contains(document.activeElement) ? document.activeElement.textContent : null;
  old?.remove();
  const open =
    item.classList.contains("mine") &&
    item.dataset.seq &&
    !item.dataset.visit &&
    !item.classList.contains("retracted") &&
    new Date(item.dataset.editableUntil) > new Date();
  if (!open) {
    if (focused) textarea.focus();
    return;
  }
  const box = document.createElement("p");
  box.className = "actions";
  const correct = document.createElement("button");
  correct.type = "button";
  correct.className = "secondary";
  correct.textContent = gettext("Correct");
  correct.addEventListener("click", () => startEdit(item));
  const retract = document.createElement("button");
  retract.type = "button";
  retract.className = "secondary";
  retract.textContent = gettext("Retract");
  retract.addEventListener("click", () => {
    if (confirm(gettext("Retract this message? Both of you will see that a message was retracted."))) {
      send({ type: "retract", id: item.dataset.id });
    }
  });
  box.append(correct, retract);
  item.append(box);
  if (focused) (focused === correct.textContent ? correct : retract).focus();
}

setInterval(() => list.querySelectorAll("li.mine").forEach(actions), 15000);
list.querySelectorAll("li.msg").forEach((item) => {
  const time = item.querySelector("time");
  if (time?.dateTime) time.textContent = when.format(new Date(time.dateTime));
  actions(item);
});

function startEdit(item) {
  editing = item.dataset.id;
  textarea.value = item.querySelector(".text").textContent;
  sendButton.textContent = gettext("Save correction");
  cancelEdit.hidden = false;
  fileInput.disabled = true;
  textarea.focus();
}

function stopEdit() {
  editing = null;
  sendButton.textContent = gettext("Send");
  cancelEdit.hidden = true;
  fileInput.disabled = false;
}

cancelEdit.addEventListener("click", () => {
  stopEdit();
  textarea.value = "";
  textarea.focus();
});

// --- Sending -------------------------------------------------------------------------------------

function send(frame) {
  outbox.set(frame.id, { frame, sentAt: 0 });
  if (socket.open) {
    socket.send(frame);
    outbox.get(frame.id).sentAt = Date.now();
  }
}

function flush() {
  for (const entry of outbox.values()) {
    if (socket.send(entry.frame)) entry.sentAt = Date.now();
  }
}

// An unacknowledged frame goes again (the server keeps only one copy).
setInterval(() => {
  if (!socket.open) return;
  const now = Date.now();
  for (const entry of outbox.values()) {
    if (now - entry.sentAt > RESEND_MS && socket.send(entry.frame)) entry.sentAt = now;
  }
}, 2000);

function acknowledged(frame) {
  outbox.delete(frame.id);
  if (frame.message && frame.message.conversation === config.conversation) show(frame.message);
}

function refused(frame) {
  errorBox.textContent = frame.error;
  errorBox.hidden = false;
  if (!frame.id || !outbox.has(frame.id)) return;
  if (frame.error.startsWith("rate limit")) return; // stays queued; the resend timer tries again
  outbox.delete(frame.id);
  const item = itemFor(frame.id);
  if (item && !item.dataset.seq) {
    item.dataset.failed = frame.error;
    status(item);
  }
}

function pending(text, id, attachment) {
  document.getElementById("no-messages")?.remove();
  const item = template.content.firstElementChild.cloneNode(true);
  item.className = "msg mine sending";
  item.dataset.id = id;
  fill(item, {
    who: gettext("You"),
    at: new Date().toISOString(),
    text,
    edited: false,
    inSession: false,
    attachment,
  });
  list.append(item);
  status(item);
  log.scrollTop = log.scrollHeight;
}

async function submit() {
  errorBox.hidden = true;
  const text = textarea.value.trim();
  if (editing) {
    if (!text) return explain(gettext("Write the corrected message, or retract it instead."));
    send({ type: "edit", id: editing, text });
    stopEdit();
    textarea.value = "";
    return;
  }
  const file = fileInput.files[0];
  if (!text && !file) return explain(gettext("Write a message first."));
  let attachment = null;
  if (file) {
    if (file.size > config.limit_bytes) {
      const limit = formatSize(config.limit_bytes);
      return explain(interpolate(gettext("This file is too large: the limit is %(limit)s."), { limit }));
    }
    try {
      attachment = await upload(file);
    } catch (error) {
      return explain(error.message);
    }
    fileInput.value = "";
  }
  const id = crypto.randomUUID();
  pending(text, id, attachment);
  textarea.value = "";
  send({
    type: "send",
    conversation: config.conversation,
    id,
    text,
    ...(attachment ? { attachment: attachment.id } : {}),
  });
}

function explain(text) {
  errorBox.textContent = text;
  errorBox.hidden = false;
  textarea.focus();
}

function upload(file) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    const body = new FormData();
    body.append("file", file);
    request.open("POST", config.upload_url);
    request.setRequestHeader("X-CSRFToken", form.querySelector("[name=csrfmiddlewaretoken]").value);
    progress.hidden = false;
    progress.value = 0;
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) progress.value = Math.round((event.loaded / event.total) * 100);
    });
    request.addEventListener("load", () => {
      progress.hidden = true;
      let answer = {};
      try {
        answer = JSON.parse(request.responseText);
      } catch {
        /* not JSON: explained below */
      }
      if (request.status === 201) resolve(answer);
      else reject(new Error(answer.error || gettext("The file could not be uploaded. Please try again.")));
    });
    request.addEventListener("error", () => {
      progress.hidden = true;
      reject(new Error(gettext("The file could not be uploaded: the connection dropped. Please try again.")));
    });
    request.send(body);
  });
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  submit();
});

textarea.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    submit();
  }
});

textarea.addEventListener("input", () => {
  const now = Date.now();
  if (editing || !socket.open || now - lastTyping < TYPING_EVERY_MS) return;
  lastTyping = now;
  socket.send({ type: "typing", conversation: config.conversation });
});

function showTyping() {
  typingLine.textContent = interpolate(gettext("%(name)s is typing…"), { name: config.peer });
  clearTimeout(typingTimer);
  typingTimer = setTimeout(() => (typingLine.textContent = ""), TYPING_SHOWN_MS);
}

// --- Reading -------------------------------------------------------------------------------------

function markRead() {
  if (document.visibilityState !== "visible" || !socket.open) return;
  const newest = [...list.querySelectorAll("li.theirs[data-seq]")].at(-1);
  const seq = Math.max(lastSeq, newest ? Number(newest.dataset.seq) : 0);
  if (seq <= readSent) return;
  readSent = seq;
  socket.send({ type: "read", conversation: config.conversation, seq });
  typingLine.textContent = "";
}

document.addEventListener("visibilitychange", markRead);

addEventListener("beforeunload", (event) => {
  if (outbox.size) event.preventDefault();
});

socket.connect();
