// Safety check-in: when the client ticks "share my position", ask the browser once and put
// "lat,lon ±accuracy m" in the hidden geolocation field. A refusal just leaves it empty.
const box = document.querySelector("input[name=share_position]");
const field = document.querySelector("input[name=geolocation]");
const note = document.getElementById("geolocation-note");
const WAIT_ON_SUBMIT_MS = 5000;

let found = field?.value || "";
let pending = null;
let refusal = ""; // why the browser gave no position, once it answered

function say(key, position = "") {
  note.textContent = note.dataset[key].replace("{position}", position);
}

function ask() {
  if (!("geolocation" in navigator)) {
    refusal = "unsupported";
    say(refusal);
    return Promise.resolve();
  }
  say("asking");
  return new Promise((resolve) => {
    navigator.geolocation.getCurrentPosition(
      ({ coords }) => {
        found = `${coords.latitude.toFixed(5)},${coords.longitude.toFixed(5)} ±${Math.round(coords.accuracy)} m`;
        if (box.checked) {
          field.value = found;
          say("shared", found);
        }
        resolve();
      },
      (error) => {
        field.value = "";
        refusal = error.code === error.PERMISSION_DENIED ? "denied" : "failed";
        if (box.checked) say(refusal);
        resolve();
      },
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 },
    );
  });
}

function update() {
  if (!box.checked) {
    field.value = "";
    say("off");
  } else if (found) {
    field.value = found;
    say("shared", found);
  } else if (refusal) {
    say(refusal); // asked once already: a browser that refused keeps refusing
  } else if (pending) {
    say("asking");
  } else {
    pending = ask();
  }
}

if (box && field && note) {
  box.addEventListener("change", update);
  if (box.checked && !field.value) update();
  // Give a position that is still being looked up a moment to arrive before the form is sent.
  box.form.addEventListener("submit", (event) => {
    if (!box.checked || field.value || !pending || box.form.dataset.waited) return;
    event.preventDefault();
    box.form.dataset.waited = "1";
    const timeout = new Promise((resolve) => setTimeout(resolve, WAIT_ON_SUBMIT_MS));
    // A task later: a submission asked for while this submit event is still firing is ignored.
    Promise.race([pending, timeout]).then(() => setTimeout(() => box.form.requestSubmit()));
  });
}
