// The installable app: registers the site-wide service worker (/sw.js, rapport/core/shell.py),
// which shows the offline page when the network is gone and receives push notices.

const script = document.querySelector("script[data-app-worker]");

if ("serviceWorker" in navigator && script) {
  navigator.serviceWorker
    .register(script.dataset.appWorker, { scope: "/" })
    .catch((error) => console.debug("the app's service worker is not registered:", error));
}
