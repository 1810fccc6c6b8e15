// Rapport's service worker (served at /sw.js, scope /): the installable app's offline shell and
// its push notices. Version __VERSION__: a new deployment changes it, which installs a new shell
// and deletes the old one.
//
// Offline shell: pages always come from the network; when it cannot be reached, the page that
// says so (/offline/) answers instead. Only that page, its stylesheet and the icons are kept:
// never a page with anyone's data. The client's safety plan has a worker of its own, scoped to
// /safety-plan/ (rapport/safety/worker/safety-plan-sw.js), whose cache this one never touches.
//
// Push notices (rapport.push): content-free texts such as "You have a new message in Rapport";
// a tap opens the page they name.

const VERSION = "__VERSION__";
const CACHE = `rapport-shell-${VERSION}`;
const OFFLINE = "__OFFLINE__";
const SHELL = __SHELL__;

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      // Without cookies: the shell is the same for everyone and holds nobody's data.
      await cache.addAll(SHELL.map((url) => new Request(url, { credentials: "omit", cache: "no-store" })));
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith("rapport-shell-") && name !== CACHE) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    event.respondWith(pageOrOffline(request));
  } else if (SHELL.includes(url.pathname)) {
    event.respondWith(networkThenShell(request, url.pathname));
  }
});

async function pageOrOffline(request) {
  try {
    return await fetch(request);
  } catch (offline) {
    const page = await caches.match(OFFLINE, { cacheName: CACHE });
    if (page) return page;
    throw offline;
  }
}

async function networkThenShell(request, path) {
  try {
    return await fetch(request);
  } catch (offline) {
    const copy = await caches.match(path, { cacheName: CACHE });
    if (copy) return copy;
    throw offline;
  }
}

self.addEventListener("push", (event) => {
  let notice = {};
  try {
    notice = event.data ? event.data.json() : {};
  } catch {
    notice = {};
  }
  const title = typeof notice.title === "string" ? notice.title : "Rapport";
  event.waitUntil(
    self.registration.showNotification(title, {
      body: typeof notice.body === "string" ? notice.body : "",
      tag: typeof notice.tag === "string" ? notice.tag : undefined,
      icon: SHELL.find((path) => path.endsWith("icon-192.png")),
      data: { url: samePath(notice.url) },
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const path = samePath(event.notification.data?.url);
  event.waitUntil(
    (async () => {
      const open = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      const same = open.find((client) => new URL(client.url).pathname === path);
      if (same) return same.focus();
      return self.clients.openWindow(path);
    })(),
  );
});

// Only a path on this site: a notice never opens another site.
function samePath(url) {
  return typeof url === "string" && url.startsWith("/") && !url.startsWith("//") ? url : "/";
}
