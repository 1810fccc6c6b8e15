// "Notices on this device" on the Account page (rapport/push): turns Web Push on or off for this
// browser through the site-wide service worker (/sw.js), and says what happened.

const form = document.getElementById("push-form");
const status = document.getElementById("push-status");
const buttons = {
  on: document.getElementById("push-on"),
  save: document.getElementById("push-save"),
  off: document.getElementById("push-off"),
};
const known = JSON.parse(document.getElementById("push-devices")?.textContent || "{}");
const worker = document.querySelector("script[data-app-worker]")?.dataset.appWorker || "/sw.js";

function say(key, extra) {
  status.textContent = extra || status.dataset[key];
}

function show(state) {
  buttons.on.hidden = state !== "off";
  buttons.save.hidden = state !== "on";
  buttons.off.hidden = state !== "on";
}

function chosen() {
  return [...form.querySelectorAll('input[name="kinds"]:checked')].map((box) => box.value);
}

function csrf() {
  return form.querySelector('input[name="csrfmiddlewaretoken"]').value;
}

async function post(url, body) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.error || response.statusText);
  return answer;
}

async function digest(text) {
  const bytes = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function deviceLabel() {
  const agent = navigator.userAgent;
  const browser = /Edg\//.test(agent) ? "Edge" : /Firefox\//.test(agent) ? "Firefox"
    : /Chrom(e|ium)\//.test(agent) ? "Chrome" : /Safari\//.test(agent) ? "Safari" : "Browser";
  const platform = /Android/.test(agent) ? "Android" : /iPhone|iPad/.test(agent) ? "iOS"
    : /Mac OS X/.test(agent) ? "macOS" : /Windows/.test(agent) ? "Windows"
    : /Linux/.test(agent) ? "Linux" : "?";
  return form.dataset.label.replace("{browser}", browser).replace("{platform}", platform);
}

function applicationServerKey() {
  const text = form.dataset.key.replace(/-/g, "+").replace(/_/g, "/");
  const raw = atob(text + "=".repeat((4 - (text.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

async function registration() {
  await navigator.serviceWorker.register(worker, { scope: "/" });
  return navigator.serviceWorker.ready;
}

async function start() {
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
    say("unsupported");
    return;
  }
  const subscription = await (await registration()).pushManager.getSubscription();
  const kinds = subscription ? known[await digest(subscription.endpoint)] : undefined;
  if (kinds) {
    for (const box of form.querySelectorAll('input[name="kinds"]')) box.checked = kinds.includes(box.value);
    say("on");
    show("on");
  } else {
    say(Notification.permission === "denied" ? "denied" : "off");
    show("off");
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const kinds = chosen();
  if (!kinds.length) return say("none");
  try {
    if ((await Notification.requestPermission()) !== "granted") return say("denied");
    const manager = (await registration()).pushManager;
    const subscription = (await manager.getSubscription()) ||
      (await manager.subscribe({ userVisibleOnly: true, applicationServerKey: applicationServerKey() }));
    await post(form.dataset.subscribe, { subscription: subscription.toJSON(), kinds, label: deviceLabel() });
    say("saved");
    show("on");
  } catch (error) {
    say("failed", error instanceof Error && error.message && !(error instanceof DOMException)
      ? error.message : undefined);
  }
});

buttons.off.addEventListener("click", async () => {
  try {
    const subscription = await (await registration()).pushManager.getSubscription();
    if (subscription) {
      await post(form.dataset.unsubscribe, { endpoint: subscription.endpoint });
      await subscription.unsubscribe();
    }
    say("removed");
    show("off");
  } catch (error) {
    say("failed");
  }
});

start().catch(() => say("unsupported"));
