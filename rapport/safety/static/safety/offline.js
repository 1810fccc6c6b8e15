// Keeps the client's safety plan on this device (rapport/safety/worker/safety-plan-sw.js):
// registers the service worker for the plan's address and asks it to keep this page and its
// stylesheets. Says so on the page once they are kept.

const script = document.querySelector("script[data-worker]");
const status = document.getElementById("offline-status");

async function keepThisPage() {
  if (!("serviceWorker" in navigator) || !script) return;
  const registration = await navigator.serviceWorker.register(script.dataset.worker, {
    type: "module",
    scope: script.dataset.scope,
  });
  const worker = registration.active || registration.waiting || registration.installing;
  if (!worker) return;
  if (worker.state !== "activated") {
    await new Promise((resolve) => {
      worker.addEventListener("statechange", () => worker.state === "activated" && resolve());
    });
  }
  const urls = [
    new URL(script.dataset.scope, location.href).href,
    ...[...document.querySelectorAll('link[rel="stylesheet"]')].map((link) => link.href),
  ];
  navigator.serviceWorker.addEventListener("message", (event) => {
    if (event.data?.type === "kept" && status) status.textContent = status.dataset.kept;
  });
  navigator.serviceWorker.startMessages();
  worker.postMessage({ type: "keep", urls });
}

keepThisPage().catch((error) => console.debug("the plan is not kept offline:", error));
