// Preselect the browser's own time zone in any time zone picker still at its default.
const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
for (const select of document.querySelectorAll("select[name=time_zone]")) {
  if (zone && select.value === "UTC" && [...select.options].some((o) => o.value === zone)) {
    select.value = zone;
  }
}
