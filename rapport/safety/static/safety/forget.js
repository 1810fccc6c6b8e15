// On every page of someone not signed in: forget the safety plan kept on this device (the
// service worker's copy, rapport/safety/worker/safety-plan-sw.js), so the next person to use
// this browser never sees it.

const CACHE = "rapport-safety-plan";

async function forget() {
  if ("caches" in window) await caches.delete(CACHE);
  if ("serviceWorker" in navigator) {
    const registration = await navigator.serviceWorker.getRegistration("/safety-plan/");
    if (registration) await registration.unregister();
  }
}

forget().catch((error) => console.debug("could not forget the kept safety plan:", error));
