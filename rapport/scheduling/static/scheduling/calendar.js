// Drag a session to another time in the calendar. On drop the time under the session's top edge
// (rounded to the grid's 15-minute rows) is confirmed, then the page's hidden move form posts it
// to the same reschedule page the "Move" link opens: the same rules, refusals and notices to the
// client. Without this script (or without a pointer) the "Move" link does the same.
const form = document.getElementById("cal-move-form");
const STEP = 15;

function two(n) {
  return String(n).padStart(2, "0");
}

if (form) {
  let dragged = null;

  for (const link of document.querySelectorAll(".cal-link[data-move]")) {
    const block = link.closest(".cal-appt");
    link.addEventListener("dragstart", (event) => {
      dragged = { url: link.dataset.move, grab: event.clientY - block.getBoundingClientRect().top };
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", link.dataset.move);
      block.classList.add("dragging");
    });
    link.addEventListener("dragend", () => {
      block.classList.remove("dragging");
      for (const column of document.querySelectorAll(".drop-target")) {
        column.classList.remove("drop-target");
      }
    });
  }

  for (const column of document.querySelectorAll(".cal-col[data-day]")) {
    column.addEventListener("dragover", (event) => {
      if (!dragged) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "move";
      column.classList.add("drop-target");
    });
    column.addEventListener("dragleave", () => column.classList.remove("drop-target"));
    column.addEventListener("drop", (event) => {
      if (!dragged) return;
      event.preventDefault();
      column.classList.remove("drop-target");
      const move = dragged;
      dragged = null;
      const box = column.getBoundingClientRect();
      const rows = Number(column.dataset.rows);
      const top = event.clientY - move.grab - box.top;
      const row = Math.max(0, Math.min(rows - 1, Math.round((top / box.height) * rows)));
      const minutes = Number(column.dataset.first) + row * STEP;
      const time = `${two(Math.floor(minutes / 60))}:${two(minutes % 60)}`;
      const when = `${column.dataset.dayLabel}, ${time}`;
      if (!window.confirm(form.dataset.confirm.replace("%(when)s", when))) return;
      form.action = move.url;
      form.elements.day.value = column.dataset.day;
      form.elements.start_time.value = time;
      form.submit();
    });
  }
}
