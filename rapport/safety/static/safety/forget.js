// On every page of someone not signed in: forget the safety plan kept on this device (the
// service worker's copy, rapport/safety/worker/safety-plan-sw.js), so the next person to use
// this browser never sees it.

const CACHE = "rapport-safety-plan";

async function forget() {
  if ("caches" in window) await caches.delete(CACHE);
  if ("serviceWorker" in navigator) {
    // The plan's own worker only: without it the site-wide one (/sw.js, scope /) would answer.
    const registration = await navigator.serviceWorker.getRegistration("/safety-plan/");
    if (registration && new URL(registration.scope).pathname === "/safety-plan/") {
      await registration.unregister();
    }
  }
}

forget().catch((error) => console.debug("could not forget the kept safety plan:", error));
