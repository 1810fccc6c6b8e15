// The call's layout on phones and desktops (docs/architecture.md, "The call on screen"): the
// full-screen frame while in a call, the two drawers (chat, session details), the movable
// self-view, the screen wake lock, and a nudge to the page when it comes back to the front.
// What the call does stays in room.js; this module only arranges the page.

const CORNERS = ["top-right", "bottom-right", "bottom-left", "top-left"]; // clockwise
const DRAG_START_PX = 6;

export class Layout {
  // `corners`: the words for each corner of the picture, e.g. {"top-right": "top right"}.
  constructor({ room, top, bar, selfView, drawers, corners, onResume }) {
    this.room = room;
    this.top = top;
    this.bar = bar;
    this.selfView = selfView;
    this.drawers = drawers; // {name: {panel, toggle, focus}}
    this.corners = corners;
    this.onResume = onResume;
    this.immersive = false;
    this.modality = null;
    this.open = null; // the open drawer's name
    this.lock = null;
    this.corner = "top-right";
    this.unread = 0;

    // The bars' heights place the picture, the drawers and the self-view between them.
    const measure = () => {
      this.room.style.setProperty("--top-h", `${this.top.offsetHeight}px`);
      this.room.style.setProperty("--bar-h", `${this.bar.offsetHeight}px`);
    };
    new ResizeObserver(measure).observe(this.top);
    new ResizeObserver(measure).observe(this.bar);

    for (const [name, drawer] of Object.entries(drawers)) {
      drawer.toggle.addEventListener("click", () => this.toggle(name, this.open !== name));
      drawer.panel.querySelector(".drawer-close")?.addEventListener("click", () => this.toggle(name, false));
    }
    addEventListener("keydown", (event) => {
      if (event.key !== "Escape" || !this.open || !this.immersive || event.defaultPrevented) return;
      event.preventDefault();
      this.toggle(this.open, false);
    });

    this.setCorner(this.corner);
    this.movable(selfView);

    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState !== "visible") return;
      this.keepAwake();
      this.onResume();
    });
    // A phone turned sideways: the picture can pause when the page is laid out again.
    screen.orientation?.addEventListener?.("change", () => this.onResume());
  }

  // `immersive`: the person is in the call (the full-screen frame); `modality` as in the room.
  update({ immersive, modality }) {
    const changed = immersive !== this.immersive || modality !== this.modality;
    this.immersive = immersive;
    this.modality = modality;
    if (!changed) return;
    if (!immersive && this.open) this.toggle(this.open, false, { refocus: false });
    if (modality === "text" && this.open === "chat") this.toggle("chat", false, { refocus: false });
    if (immersive) this.keepAwake();
    else this.letSleep();
    this.render();
  }

  render() {
    document.body.classList.toggle("in-call", this.immersive);
    this.room.classList.toggle("in-call", this.immersive);
    this.room.dataset.modality = this.modality;
    this.room.dataset.drawer = this.immersive && this.open ? this.open : "";
    for (const [name, drawer] of Object.entries(this.drawers)) {
      const open = this.open === name;
      drawer.panel.classList.toggle("open", open);
      drawer.toggle.setAttribute("aria-expanded", String(open));
    }
    // In text mode the chat is the whole screen: its button has nothing to open.
    this.drawers.chat.toggle.hidden = this.modality === "text";
    if (this.chatVisible()) this.markRead();
  }

  chatVisible() {
    return !this.immersive || this.open === "chat" || this.modality === "text";
  }

  toggle(name, open, { refocus = true } = {}) {
    const drawer = this.drawers[name];
    if (open) {
      this.open = name;
      this.render();
      drawer.focus().focus();
    } else if (this.open === name) {
      this.open = null;
      const hadFocus = drawer.panel.contains(document.activeElement) || document.activeElement === document.body;
      this.render();
      // Focus goes back where the drawer was opened from, not to the top of the page.
      if (refocus && hadFocus) drawer.toggle.focus();
    }
  }

  // A chat message from the other person: counted on the Chat button while the chat is closed.
  messageArrived() {
    if (this.chatVisible()) return;
    this.unread += 1;
    this.renderUnread();
  }

  markRead() {
    if (!this.unread) return;
    this.unread = 0;
    this.renderUnread();
  }

  renderUnread() {
    const badge = this.drawers.chat.toggle.querySelector(".unread");
    if (!badge) return;
    badge.hidden = !this.unread;
    badge.querySelector(".count").textContent = String(this.unread);
  }

  // --- The self-view: a button that moves between the corners of the picture ------------------

  setCorner(corner) {
    this.corner = corner;
    for (const name of CORNERS) this.selfView.classList.toggle(`corner-${name}`, name === corner);
    const where = this.selfView.querySelector(".where");
    if (where) where.textContent = this.corners[corner] ?? corner;
  }

  movable(button) {
    button.addEventListener("click", () => {
      if (this.dragged) {
        this.dragged = false;
        return;
      }
      this.setCorner(CORNERS[(CORNERS.indexOf(this.corner) + 1) % CORNERS.length]);
    });
    button.addEventListener("keydown", (event) => {
      const [vertical, horizontal] = this.corner.split("-");
      const moves = {
        ArrowUp: `top-${horizontal}`,
        ArrowDown: `bottom-${horizontal}`,
        ArrowLeft: `${vertical}-left`,
        ArrowRight: `${vertical}-right`,
      };
      if (!(event.key in moves)) return;
      event.preventDefault();
      this.setCorner(moves[event.key]);
    });
    let start = null;
    button.addEventListener("pointerdown", (event) => {
      if (!event.isPrimary || event.button !== 0) return;
      start = { x: event.clientX, y: event.clientY, id: event.pointerId };
      this.dragged = false;
      button.setPointerCapture(event.pointerId); // the pointer soon leaves the small button
    });
    button.addEventListener("pointermove", (event) => {
      if (!start || event.pointerId !== start.id) return;
      const dx = event.clientX - start.x;
      const dy = event.clientY - start.y;
      if (!this.dragged && Math.hypot(dx, dy) < DRAG_START_PX) return;
      this.dragged = true;
      button.style.translate = `${dx}px ${dy}px`;
    });
    const drop = (event) => {
      if (!start || event.pointerId !== start.id) return;
      start = null;
      button.style.translate = "";
      if (!this.dragged) return;
      // Snap to the corner nearest to where it was let go.
      const stage = button.offsetParent?.getBoundingClientRect();
      if (!stage) return;
      const vertical = event.clientY < stage.top + stage.height / 2 ? "top" : "bottom";
      const horizontal = event.clientX < stage.left + stage.width / 2 ? "left" : "right";
      this.setCorner(`${vertical}-${horizontal}`);
      if (event.type === "pointercancel") this.dragged = false;
    };
    button.addEventListener("pointerup", drop);
    button.addEventListener("pointercancel", drop);
  }

  // --- Screen wake lock: the screen stays on while the person is in the call -------------------

  async keepAwake() {
    if (!this.immersive || this.lock || document.visibilityState !== "visible" || !navigator.wakeLock) return;
    try {
      const lock = await navigator.wakeLock.request("screen");
      if (!this.immersive) {
        lock.release();
        return;
      }
      this.lock = lock;
      // The browser lets go when the page is hidden; it is asked again when the page is back.
      lock.addEventListener("release", () => {
        if (this.lock === lock) this.lock = null;
      });
    } catch {
      // Refused (battery saver, an unfocused page): the call goes on, the screen may dim.
    }
  }

  letSleep() {
    const lock = this.lock;
    this.lock = null;
    lock?.release().catch(() => {});
  }

  get awake() {
    return Boolean(this.lock && !this.lock.released);
  }
}
