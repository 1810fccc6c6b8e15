// Fills the sign-up's time zone from the device (Intl), when the person has not typed one.
// The field stays editable, and the server checks it: this only saves typing.
const field = document.querySelector("[data-detect-time-zone] input");
if (field && !field.value) {
  try {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone) field.value = zone;
  } catch {
    // An old browser without Intl time zones: the person types it.
  }
}
