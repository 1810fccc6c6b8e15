// The one WebSocket client of every page (the room, the messages pages, the events script): JSON
// frames, reconnects with backoff (0.5, 1, 2, then every 4 s) and at once when the browser comes
// back online. Close codes that mean "do not come back" end the socket for good (docs/protocol.md).
//
// Every handshake is bounded: a connect still pending after CONNECT_TIMEOUT_MS is given up and
// retried. A connect made into a dead network waits on a lost SYN that the kernel sends again
// only after 1, 3, 7, 15, 31 … s, and the browser may keep it pending long after the network
// came back (or a server may accept it and never answer); a fresh connect gets through at once.
// The bound is longer than the delay Chromium itself puts before a page's WebSocket connects once
// many of them have failed (up to 5 s, its per-process WebSocket throttle): a shorter one gives
// up every delayed connect before it has started, each give-up counts as one more failure, and
// the socket never comes back.
//
// A handshake the server refuses (it closes before accepting: the browser sees 1006 and never
// `open`) may mean the session has expired. After a refusal the socket asks the server once
// whether the person is still signed in (<body data-session-url>): if not, the page goes to the
// sign-in page (<body data-sign-in-url>), with `next` back to this page; if so, it keeps
// retrying without asking again until the next refusal after a successful open.

const FINAL = new Map([
  [4001, "signed-out"],
  [4404, "gone"],
  [4409, "replaced"],
  [4410, "ended"],
]);
const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 4000;
const CONNECT_TIMEOUT_MS = 8000;
const PROBE_MS = 2000;

// One question at a time for the whole page: its sockets are often refused together.
let sessionCheck = null;

// "signed-in", "signed-out", or "unknown" (offline, or the server is not answering yet).
function checkSession() {
  const url = document.body.dataset.sessionUrl;
  if (!url) return Promise.resolve("unknown");
  sessionCheck ??= fetch(url, { cache: "no-store", credentials: "same-origin", redirect: "manual" })
    .then((response) => {
      if (response.status === 204) return "signed-in";
      // Signed out or expired: the server answers with its redirect to the sign-in page.
      if (response.type === "opaqueredirect" || response.status === 401) return "signed-out";
      return "unknown";
    })
    .catch(() => "unknown")
    .finally(() => {
      sessionCheck = null;
    });
  return sessionCheck;
}

function signInAgain() {
  const signIn = new URL(document.body.dataset.signInUrl || "/accounts/login/", location.href);
  signIn.searchParams.set("next", location.pathname + location.search);
  location.assign(signIn.href);
}

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
    this.sessionConfirmed = false; // asked since the last open: still signed in
    this.heardAt = 0; // performance.now() of the last frame received
    this.probeAt = null; // of the ping `probe()` is waiting on
    this.handshakeTimer = null;
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
    let opened = false;
    this.ws = ws;
    this.probeAt = null;
    clearTimeout(this.handshakeTimer);
    this.handshakeTimer = setTimeout(() => this.abandon(ws), CONNECT_TIMEOUT_MS);
    ws.onopen = () => {
      opened = true;
      clearTimeout(this.handshakeTimer);
      this.delay = FIRST_DELAY_MS;
      this.sessionConfirmed = false;
      const reconnected = this.everOpened;
      this.everOpened = true;
      this.handlers.onOpen(reconnected);
    };
    ws.onmessage = (event) => {
      this.heardAt = performance.now();
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
      clearTimeout(this.handshakeTimer);
      this.ws = null;
      const final = FINAL.get(event.code) ?? this.ending;
      if (final || this.stopped) {
        this.stopped = true;
        this.handlers.onFinal(final || "left");
        return;
      }
      this.handlers.onDown();
      if (!opened && !this.sessionConfirmed) this.askSession();
      this.retryLater();
    };
  }

  // A handshake that did not finish within CONNECT_TIMEOUT_MS: closed, and retried like one the
  // network refused.
  abandon(ws) {
    if (this.ws !== ws || ws.readyState !== WebSocket.CONNECTING) return;
    ws.onopen = ws.onmessage = ws.onclose = null;
    ws.close();
    this.ws = null;
    this.handlers.onDown();
    this.retryLater();
  }

  retryLater() {
    this.timer = setTimeout(() => this.connect(), this.delay);
    this.delay = Math.min(this.delay * 2, MAX_DELAY_MS);
  }

  async askSession() {
    const answer = await checkSession();
    if (this.stopped) return;
    if (answer === "signed-in") {
      this.sessionConfirmed = true;
    } else if (answer === "signed-out") {
      if (this.ws) this.ws.onclose = null; // a retry under way ends quietly
      this.close();
      this.handlers.onFinal("signed-out");
      signInAgain();
    }
  }

  retryNow() {
    if (!this.stopped && this.timer !== null) this.connect();
  }

  // For a page that has reason to doubt its connection (its call's media stopped, or its socket
  // is down): in a network blackout the browser keeps a dead socket "open" for minutes. Call it
  // every second or so while in doubt: it pings (the server answers `pong`), drops a socket that
  // stayed silent PROBE_MS after a ping and connects again at once, and skips the backoff's wait
  // between connects, so that the socket is back within moments of the network's (or the
  // server's) return. A connect under way is left to its CONNECT_TIMEOUT_MS bound.
  probe() {
    if (this.stopped) return;
    const now = performance.now();
    const ws = this.ws;
    if (!ws) {
      this.delay = FIRST_DELAY_MS;
      this.retryNow();
    } else if (ws.readyState === WebSocket.OPEN) {
      if (this.probeAt === null || this.heardAt > this.probeAt) {
        this.probeAt = now;
        this.send({ type: "ping", id: "probe" });
      } else if (now - this.probeAt > PROBE_MS) {
        this.drop(ws);
      }
    }
  }

  // An open socket that stopped answering: closed, and connected again at once.
  drop(ws) {
    ws.onopen = ws.onmessage = ws.onclose = null;
    ws.close();
    this.ws = null;
    this.handlers.onDown();
    this.delay = FIRST_DELAY_MS;
    this.connect();
  }

  send(message) {
    if (!this.open) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  close() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.handshakeTimer);
    this.timer = null;
    this.ws?.close(1000);
  }
}
