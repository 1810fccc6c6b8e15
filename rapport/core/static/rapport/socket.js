// A JSON WebSocket that reconnects with backoff (0.5, 1, 2, 4 … 10 s): the room, messages, events.
// Close codes that mean "do not come back" end the socket for good (docs/protocol.md).

const FINAL = new Map([
  [4001, "signed-out"],
  [4401, "signed-out"],
  [4404, "gone"],
  [4409, "replaced"],
  [4410, "ended"],
]);
const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 10_000;

export class ReconnectingSocket {
  constructor(path, { onOpen, onMessage, onDown, onFinal }) {
    const url = new URL(path, location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    this.url = url.href;
    this.handlers = { onOpen, onMessage, onDown, onFinal };
    this.delay = FIRST_DELAY_MS;
    this.ws = null;
    this.timer = null;
    this.stopped = false;
    addEventListener("online", () => this.retryNow());
  }

  get open() {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  connect() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.stopped) return;
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      this.delay = FIRST_DELAY_MS;
      this.handlers.onOpen();
    };
    ws.onmessage = (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message && typeof message.type === "string") this.handlers.onMessage(message);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      const final = FINAL.get(event.code);
      if (final || this.stopped) {
        this.stopped = true;
        this.handlers.onFinal(final || "left");
        return;
      }
      this.handlers.onDown();
      this.timer = setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, MAX_DELAY_MS);
    };
  }

  retryNow() {
    if (!this.stopped && this.timer !== null) this.connect();
  }

  send(message) {
    if (!this.open) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  close() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.ws?.close(1000);
  }
}
