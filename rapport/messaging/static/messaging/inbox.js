// The inbox, kept current over the messages socket: unread counts per conversation and the
// newest conversation first. Without this script the page is right as of its last load.
import { ReconnectingSocket } from "../rapport/socket.js";
import { dayAndTime, gettext, interpolate, ngettext } from "../rapport/i18n.js";

const inbox = document.getElementById("inbox");
const status = document.getElementById("inbox-status");

function row(conversation) {
  return inbox.querySelector(`li[data-conversation="${CSS.escape(conversation)}"]`);
}

function setCount(item, count) {
  const badge = item.querySelector(".unread-count");
  badge.dataset.count = String(count);
  badge.textContent = interpolate(ngettext("%(count)s unread", "%(count)s unread", count), { count });
  badge.hidden = count === 0;
  item.classList.toggle("unread", count > 0);
}

const socket = new ReconnectingSocket("/ws/messages/", {
  onOpen: () => {},
  onDown: () => {},
  onFinal: () => {},
  onMessage: (frame) => {
    if (frame.type === "welcome") {
      for (const item of inbox.children) setCount(item, frame.unread[item.dataset.conversation] ?? 0);
    } else if (frame.type === "unread") {
      const item = row(frame.conversation);
      if (item) setCount(item, frame.count);
    } else if (frame.type === "message") {
      const item = row(frame.message.conversation);
      if (!item) return;
      if (typeof frame.unread === "number") setCount(item, frame.unread);
      inbox.prepend(item);
      const last = item.querySelector(".last-at");
      const time = document.createElement("time");
      time.dateTime = frame.message.at;
      time.textContent = dayAndTime(new Date(frame.message.at));
      last.replaceChildren(`${gettext("Last message")} `, time);
      if (frame.message.from !== item.dataset.me) {
        status.textContent = interpolate(gettext("New message from %(name)s."), { name: frame.message.name });
      }
    }
  },
});
socket.connect();
