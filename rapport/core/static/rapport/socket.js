// The one WebSocket client of every page (the room, the messages pages, the events script): JSON
// frames, reconnects with backoff (0.5, 1, 2, 4 … 10 s) and at once when the browser comes back
// online. Close codes that mean "do not come back" end the socket for good (docs/protocol.md).

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
  // `path`: the socket's path, or a function that returns it (read again at every connect).
  // Handlers: onOpen(reconnected), onMessage(frame), onDown(), onFinal(reason).
  constructor(path, { onOpen = () => {}, onMessage, onDown = () => {}, onFinal = () => {} }) {
    this.path = path;
    this.handlers = { onOpen, onMessage, onDown, onFinal };
    this.delay = FIRST_DELAY_MS;
    this.ws = null;
    this.timer = null;
    this.stopped = false;
    this.everOpened = false;
    this.ending = null; // set by a `session.ended` frame: the close that follows is final
    addEventListener("online", () => this.retryNow());
  }

  get open() {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  url() {
    const url = new URL(typeof this.path === "function" ? this.path() : this.path, location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    return url.href;
  }

  connect() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.stopped) return;
    const ws = new WebSocket(this.url());
    this.ws = ws;
    ws.onopen = () => {
      this.delay = FIRST_DELAY_MS;
      const reconnected = this.everOpened;
      this.everOpened = true;
      this.handlers.onOpen(reconnected);
    };
    ws.onmessage = (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (!message || typeof message.type !== "string") return;
      if (message.type === "session.ended") this.ending = "signed-out";
      this.handlers.onMessage(message);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      const final = FINAL.get(event.code) ?? this.ending;
      if (final || this.stopped) {
        this.stopped = true;
        this.handlers.onFinal(final || "left");
        return;
      }
      this.handlers.onDown();
      this.retryLater();
    };
  }

  retryLater() {
    this.timer = setTimeout(() => this.connect(), this.delay);
    this.delay = Math.min(this.delay * 2, MAX_DELAY_MS);
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
    this.timer = null;
    this.ws?.close(1000);
  }
}
