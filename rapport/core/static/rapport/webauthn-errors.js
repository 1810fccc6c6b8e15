// Show passkey / security-key failures on the page: allauth only logs them to the console.
// Translated texts come from data attributes of #webauthn_texts (mfa/webauthn/snippets/scripts.html).
function errorBox() {
  let box = document.getElementById("webauthn_error");
  if (!box) {
    box = document.createElement("p");
    box.id = "webauthn_error";
    box.className = "errorlist";
    box.setAttribute("role", "alert");
    document.getElementById("main").prepend(box);
  }
  return box;
}

document.addEventListener("allauth.error", (event) => {
  event.preventDefault();
  const texts = document.getElementById("webauthn_texts").dataset;
  const exception = event.detail && event.detail.exception;
  const box = errorBox();
  box.textContent = exception && exception.name === "NotAllowedError" ? texts.cancelled : texts.failed;
  box.hidden = false;
  console.error(exception);
});
