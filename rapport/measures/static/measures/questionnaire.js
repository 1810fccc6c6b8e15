// The questionnaire, enhanced: progress follows the answers, each answer is saved as a draft in
// the background (save and resume), on a phone the questions come one at a time with
// Previous / Next, and a risk answer shows the crisis resources at once, with the ask to send
// (nobody is told before the answers are sent). Without this script the whole form works as
// plain HTML, and the server shows the crisis resources once a risk answer is saved.
const form = document.getElementById("questionnaire");

const SMALL_SCREEN = "(max-width: 40rem)";

function text(template, values) {
  return template.replace(/\{(\w+)\}/g, (_, key) => values[key] ?? "");
}

function setUp() {
  const questions = [...form.querySelectorAll(".question")];
  const total = questions.length;
  const bar = document.getElementById("answered");
  const barText = document.getElementById("answered-text");
  const status = document.getElementById("save-status");
  const actions = document.getElementById("form-actions");
  let current = 0;
  let stepper = null;
  let saving = null;
  let dirty = false;

  const answered = (question) => question.querySelector("input:checked") !== null;

  function showProgress() {
    const count = questions.filter(answered).length;
    bar.value = count;
    barText.textContent = text(form.dataset.progress, { answered: count, total });
  }

  // --- save and resume: the same form, posted as "save", answered with JSON ---
  async function save() {
    dirty = false;
    const data = new FormData(form);
    data.set("action", "save");
    try {
      // Not form.action: the buttons named "action" shadow that property.
      const response = await fetch(form.getAttribute("action") || location.href, {
        method: "POST",
        body: data,
        credentials: "same-origin",
        keepalive: true,
        headers: { Accept: "application/json" },
      });
      status.textContent = response.ok ? form.dataset.saved : form.dataset.notSaved;
    } catch {
      status.textContent = form.dataset.notSaved;
    }
  }

  function saveSoon() {
    dirty = true;
    clearTimeout(saving);
    saving = setTimeout(save, 800);
  }

  // --- one question at a time ---
  function show(index, focus) {
    current = Math.max(0, Math.min(index, total - 1));
    questions.forEach((question, i) => {
      question.hidden = i !== current;
    });
    const last = current === total - 1;
    stepper.previous.hidden = current === 0;
    stepper.next.hidden = last;
    actions.hidden = !last;
    if (focus) questions[current].querySelector("fieldset").focus();
  }

  function makeStepper() {
    const bar = document.createElement("div");
    bar.className = "stepper";
    const previous = document.createElement("button");
    previous.type = "button";
    previous.className = "secondary";
    previous.textContent = form.dataset.previous;
    const next = document.createElement("button");
    next.type = "button";
    next.textContent = form.dataset.next;
    previous.addEventListener("click", () => show(current - 1, true));
    next.addEventListener("click", () => {
      if (dirty) save();
      show(current + 1, true);
    });
    bar.append(previous, next);
    actions.before(bar);
    return { bar, previous, next };
  }

  function step(on) {
    if (on && !stepper) {
      stepper = makeStepper();
      form.classList.add("stepped");
      const withError = questions.findIndex((q) => q.querySelector(".errorlist"));
      const firstOpen = questions.findIndex((q) => !answered(q));
      show(withError >= 0 ? withError : Math.max(firstOpen, 0), false);
    } else if (!on && stepper) {
      stepper.bar.remove();
      stepper = null;
      form.classList.remove("stepped");
      questions.forEach((question) => {
        question.hidden = false;
      });
      actions.hidden = false;
    }
  }

  // A risk item answered at or above its threshold (data-risk-at): the box stays once shown.
  const riskNow = document.getElementById("risk-now");
  function showCrisisResources() {
    const positive = [...form.querySelectorAll("fieldset[data-risk-at]")].some((group) => {
      const chosen = group.querySelector("input:checked");
      return chosen !== null && Number(chosen.value) >= Number(group.dataset.riskAt);
    });
    if (positive && riskNow.hidden) riskNow.hidden = false;
  }

  form.addEventListener("change", () => {
    showProgress();
    showCrisisResources();
    saveSoon();
  });
  // Leaving the page: send what is pending so nothing chosen is lost.
  window.addEventListener("pagehide", () => {
    if (dirty) save();
  });
  form.addEventListener("submit", () => {
    clearTimeout(saving);
    dirty = false;
  });

  const small = window.matchMedia(SMALL_SCREEN);
  small.addEventListener("change", (event) => step(event.matches));
  step(small.matches);
  showProgress();
}

if (form) setUp();
