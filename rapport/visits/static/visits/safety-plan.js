// The safety plan in the room's details panel, written by both people together
// (docs/protocol.md, "The safety plan in the room"). Each change to a field goes to the other
// person as `plan_edit` a moment after typing stops; "Save" sends the whole plan as
// `plan_save`, and the server's `plan_saved` (to both) brings both panels to what was stored.

const EDIT_DELAY_MS = 150;

export class SafetyPlanPanel {
  constructor({ form, status, problem, send, texts }) {
    this.form = form;
    this.status = status;
    this.problem = problem;
    this.send = send;
    this.texts = texts;
    this.timers = new Map(); // field name → pending timer
    form.addEventListener("input", (event) => this.changed(event.target));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.save();
    });
  }

  fields() {
    return [...this.form.elements].filter((el) => el.name && el.name !== "csrfmiddlewaretoken" && "value" in el && el.type !== "submit");
  }

  enable(on) {
    for (const control of this.form.elements) control.disabled = !on;
  }

  changed(field) {
    if (!field.name) return;
    clearTimeout(this.timers.get(field.name));
    this.timers.set(
      field.name,
      setTimeout(() => {
        this.timers.delete(field.name);
        this.send({ type: "plan_edit", field: field.name, value: field.value });
      }, EDIT_DELAY_MS),
    );
  }

  save() {
    const plan = {};
    for (const field of this.fields()) plan[field.name] = field.value;
    this.problem.textContent = "";
    this.status.textContent = this.texts.saving;
    this.send({ type: "plan_save", plan });
  }

  // The other person changed one field.
  edited(m) {
    const field = this.form.elements.namedItem(m.field);
    if (!field || !("value" in field)) return;
    this.place(field, m.value);
  }

  // A version was stored (by either person): both panels show exactly what was stored.
  saved(m) {
    for (const field of this.fields()) this.place(field, m.plan[field.name] ?? "");
    this.problem.textContent = "";
    this.status.textContent = this.texts.saved.replace("{number}", m.number).replace("{name}", m.name);
  }

  refused(error) {
    this.status.textContent = "";
    this.problem.textContent = error;
  }

  place(field, value) {
    if (field.value === value) return;
    const focused = document.activeElement === field;
    const [start, end] = focused ? [field.selectionStart, field.selectionEnd] : [0, 0];
    field.value = value;
    if (focused && start !== null) field.setSelectionRange(Math.min(start, value.length), Math.min(end, value.length));
  }
}
