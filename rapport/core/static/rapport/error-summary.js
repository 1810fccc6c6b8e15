// A form that comes back with errors starts with a summary of them (rapport/forms/error_summary.html):
// focus moves to it so the person hears and sees what is wrong first, wherever the form is on
// the page, and each of its links moves focus to the field it names (not only scrolls to it).
const summary = document.querySelector("[data-error-summary]");

if (summary) {
  summary.focus();
  for (const each of document.querySelectorAll("[data-error-summary]")) {
    each.addEventListener("click", (event) => {
      const link = event.target.closest("a[href^='#']");
      const field = link && document.getElementById(decodeURIComponent(link.hash.slice(1)));
      if (!field) return;
      event.preventDefault();
      // The label (or the group's legend) scrolls into view with the field, so both are read.
      const label =
        document.querySelector(`label[for="${CSS.escape(field.id)}"]`) ??
        field.closest("fieldset")?.querySelector("legend");
      (label ?? field).scrollIntoView({ block: "start" });
      field.focus({ preventScroll: true });
    });
  }
}
