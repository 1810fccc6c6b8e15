// Live text chat beside the call. Each message gets its id in the browser (crypto.randomUUID)
// and is sent again every few seconds until the server acknowledges it (`chat_ack`): a retried
// id is stored once. Unacknowledged messages show "sending…".
import { clock } from "../rapport/i18n.js";

const RETRY_MS = 3000;

export class Chat {
  constructor({ log, list, form, input, send, role, texts }) {
    this.log = log;
    this.list = list;
    this.form = form;
    this.input = input;
    this.send = send;
    this.role = role;
    this.texts = texts;
    this.pending = new Map(); // id → text
    this.timer = null;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.submit();
      }
    });
  }

  enable(on) {
    for (const control of this.form.elements) control.disabled = !on;
  }

  submit() {
    const text = this.input.value.trim();
    if (!text) return;
    const id = crypto.randomUUID();
    this.pending.set(id, text);
    this.render({ id, from: this.role, name: this.texts.you, text, at: null });
    this.input.value = "";
    this.send({ type: "chat", id, text });
    this.schedule();
  }

  schedule() {
    if (this.timer !== null || !this.pending.size) return;
    this.timer = setInterval(() => this.resend(), RETRY_MS);
  }

  resend() {
    if (!this.pending.size) {
      clearInterval(this.timer);
      this.timer = null;
      return;
    }
    for (const [id, text] of this.pending) this.send({ type: "chat", id, text });
  }

  history(messages) {
    for (const message of messages) this.received(message);
  }

  received(message) {
    this.pending.delete(message.id);
    this.render(message);
  }

  acked(id) {
    if (!this.pending.has(id)) return;
    this.pending.delete(id);
    const item = this.list.querySelector(`[data-id="${CSS.escape(id)}"]`);
    item?.classList.remove("pending");
    if (item) item.querySelector(".chat-state").textContent = "";
  }

  render(message) {
    let item = this.list.querySelector(`[data-id="${CSS.escape(message.id)}"]`);
    const fresh = !item;
    if (fresh) {
      item = document.createElement("li");
      item.dataset.id = message.id;
      const meta = document.createElement("p");
      meta.className = "chat-meta";
      const who = document.createElement("strong");
      const when = document.createElement("time");
      const state = document.createElement("span");
      state.className = "chat-state";
      meta.append(who, " ", when, state);
      const body = document.createElement("p");
      body.className = "chat-text";
      item.append(meta, body);
      this.list.append(item);
    }
    const mine = message.from === this.role;
    item.classList.toggle("mine", mine);
    const pending = this.pending.has(message.id);
    item.classList.toggle("pending", pending);
    item.querySelector(".chat-state").textContent = pending ? ` ${this.texts.sending}` : "";
    item.querySelector("strong").textContent = mine ? this.texts.you : message.name;
    const when = item.querySelector("time");
    if (message.at) {
      const at = new Date(message.at);
      when.dateTime = message.at;
      when.textContent = clock(at);
    }
    item.querySelector(".chat-text").textContent = message.text;
    if (fresh) this.log.scrollTop = this.log.scrollHeight;
  }
}
