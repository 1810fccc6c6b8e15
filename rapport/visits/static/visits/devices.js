// The camera, microphone and speaker a person chose, on the tech check or in the call: kept in
// this browser (localStorage) so that the call, and the next session, start with them.

const KEY = "rapport.devices"; // {audioinput, videoinput, audiooutput}: a device id for each

// Only some browsers can send sound to a chosen speaker.
export const canChooseSpeaker = "setSinkId" in HTMLMediaElement.prototype;

export function savedDevices() {
  try {
    return JSON.parse(localStorage.getItem(KEY)) || {};
  } catch {
    return {};
  }
}

export function saveDevice(kind, deviceId) {
  try {
    localStorage.setItem(KEY, JSON.stringify({ ...savedDevices(), [kind]: deviceId }));
  } catch {
    // Private browsing or storage full: the choice lasts for this page only.
  }
}

// The getUserMedia constraint for `kind` ("audioinput" or "videoinput"): the saved device, or
// `true` (the browser's choice) when none is saved. With `match` "ideal" the browser may take
// another device when the saved one is gone; "exact" fails instead (Chrome ignores an "ideal"
// microphone, so the tech check asks for "exact" and tries again without it).
export function preferredDevice(kind, match = "ideal") {
  const deviceId = savedDevices()[kind];
  return deviceId ? { deviceId: { [match]: deviceId } } : true;
}
