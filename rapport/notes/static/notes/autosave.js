// A note's draft, saved in the background: every few seconds after a change, when a field loses
// focus and when the page is hidden. The same form is posted (with its CSRF token) and answered
// with JSON; "Saved hh:mm" is announced in the form's polite live region. Without this script
// the "Save draft" button does the same.
import { gettext } from "../rapport/i18n.js";

const form = document.getElementById("note-form");
const status = document.getElementById("save-status");
const EVERY = 5000;

let dirty = false;
let busy = null;

async function save() {
  if (!dirty || busy) return busy;
  dirty = false;
  const data = new FormData(form);
  data.set("action", "save");
  busy = (async () => {
    try {
      // Not form.action: the buttons named "action" shadow that property.
      const response = await fetch(form.getAttribute("action"), {
        method: "POST",
        body: data,
        credentials: "same-origin",
        keepalive: true,
        headers: { Accept: "application/json" },
      });
      const answer = await response.json();
      if (response.ok) {
        status.textContent = answer.message;
        // The first save of a new note made its draft: from now on post to the note itself.
        if (answer.url && form.getAttribute("action") !== answer.url) {
          form.setAttribute("action", answer.url);
          history.replaceState(null, "", answer.url);
        }
      } else {
        dirty = true;
        status.textContent = answer.error || form.dataset.notSaved || gettext("Not saved");
      }
    } catch {
      dirty = true;
      status.textContent = form.dataset.notSaved || gettext("Not saved");
    } finally {
      busy = null;
    }
  })();
  return busy;
}

if (form && status) {
  form.addEventListener("input", () => {
    dirty = true;
  });
  form.addEventListener("change", () => {
    dirty = true;
  });
  form.addEventListener("focusout", () => save());
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") save();
  });
  setInterval(save, EVERY);
}
