// The safety plan's service worker (served at /safety-plan/sw.js, scope /safety-plan/).
//
// It keeps one page on the device: the client's own safety plan, with the stylesheets it uses,
// so the plan opens in a crisis even without a connection. Online, the network always wins and
// refreshes the copy; offline, the copy answers. Nothing else is cached. The copy is deleted at
// sign-out (the signed-out page deletes this cache: rapport/safety/static/safety/forget.js) and
// whenever the server no longer hands the plan to this browser (a redirect to sign in).

const CACHE = "rapport-safety-plan";
const PLAN = new URL("./", self.registration.scope).pathname;

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

// The plan page asks to keep itself and its stylesheets: {type: "keep", urls: [...]}.
self.addEventListener("message", (event) => {
  const message = event.data;
  if (!message || message.type !== "keep" || !Array.isArray(message.urls)) return;
  const urls = message.urls.filter(sameOrigin);
  event.waitUntil(
    keep(urls).then(
      (kept) => event.source?.postMessage({ type: kept ? "kept" : "not-kept" }),
      () => event.source?.postMessage({ type: "not-kept" }),
    ),
  );
});

async function keep(urls) {
  const cache = await caches.open(CACHE);
  for (const url of urls) {
    const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
    if (!usable(response, url)) {
      if (new URL(url).pathname === PLAN) await caches.delete(CACHE);
      return false;
    }
    await cache.put(url, response);
  }
  return true;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET" || !sameOrigin(request.url)) return;
  const path = new URL(request.url).pathname;
  const isPlan = request.mode === "navigate" && path === PLAN;
  if (!isPlan && !path.startsWith("/static/")) return;
  event.respondWith(networkThenCopy(request, isPlan));
});

async function networkThenCopy(request, isPlan) {
  const key = isPlan ? PLAN : request.url;
  let response;
  try {
    response = await fetch(request);
  } catch (offline) {
    const copy = await caches.match(isPlan ? new URL(PLAN, self.location.origin).href : key);
    if (copy) return copy;
    throw offline;
  }
  if (isPlan) {
    if (usable(response, request.url)) {
      const cache = await caches.open(CACHE);
      await cache.put(new URL(PLAN, self.location.origin).href, response.clone());
    } else {
      await caches.delete(CACHE); // signed out, or no longer this person's plan
    }
  }
  return response;
}

function usable(response, url) {
  return response.ok && !response.redirected && new URL(response.url || url).pathname === new URL(url).pathname;
}

function sameOrigin(url) {
  try {
    return new URL(url, self.location.origin).origin === self.location.origin;
  } catch {
    return false;
  }
}
