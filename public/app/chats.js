// Chats (unread counts, history with delivery ticks, send a text or a file) and contacts.

import { gql, gqlUpload, mutate } from "./api.js";
import { CHATS, MESSAGES, MARK_READ, SEND_TEXT, SEND_FILE, CONTACTS, SAVE_CONTACT, IMPORT_CONTACTS, read } from "./queries.js";
import { h, fill, flash, busy, errorLine, time, when, jidNumber } from "./ui.js";

const TICKS = { pending: "…", sent: "✓", delivered: "✓✓", read: "✓✓", failed: "!" };
const MESSAGE_EVENTS = new Set(["message_received", "message_sent", "message_status"]);

function tick(status) {
  return h("span.tick", { dataset: { status }, title: status, "aria-label": status }, TICKS[status] || "");
}

const RANK = { pending: 0, failed: 0, sent: 1, delivered: 2, read: 3 };
const shown = new WeakMap(); // bubble element -> its message

function bubble(message) {
  const text = message.content ?? message.caption ?? "";
  const media = message.hasMedia ? h("div.muted", {}, `File: ${message.fileName || message.mimeType || message.messageType}`) : null;
  const el = h(`li.bubble${message.fromMe ? ".mine" : ""}`, { dataset: { messageId: message.messageId, status: message.status } },
    media, text ? h("div", {}, text) : null,
    h("div.meta", {}, time(message.createdAt), message.fromMe ? tick(message.status) : null));
  shown.set(el, message);
  return el;
}

function lastText(m) {
  return m.content || m.caption || (m.fileName ? `File: ${m.fileName}` : `[${m.messageType}]`);
}

/** Calls `run` at most once per `ms`, the last call winning (bursts of events → one fetch). */
function debounce(run, ms = 150) {
  let timer = null;
  return () => { clearTimeout(timer); timer = setTimeout(run, ms); };
}

export async function renderChats(body, instance, listeners) {
  let current = null;
  const list = h("ul.chat-list", { id: "chat-list", "aria-label": "Chats" });
  const history = h("ol.history", { id: "history", "aria-label": "Messages", tabindex: "0" });
  const heading = h("h2", {}, "New message");
  const to = h("input", { id: "send-to", type: "tel", placeholder: "+49 151 2345678", required: true });
  const text = h("textarea", { id: "send-text", rows: 2, placeholder: "Write a message" });
  const file = h("input", { id: "send-file", type: "file" });
  const problem = errorLine();
  const submit = h("button", { type: "submit" }, "Send");
  const form = h("form", { id: "send-form" },
    h("label", { for: "send-to" }, "To (phone number or JID)"), to,
    h("label", { for: "send-text" }, "Message (the caption, with a file)"), text,
    h("label", { for: "send-file" }, "File (optional)"), file,
    problem, h("div.actions", {}, submit));

  const loadChats = async () => {
    const data = await busy(null, () => gql(CHATS, { id: instance.id }));
    if (!data) return;
    const chats = data.instance.chats.nodes;
    fill(list, chats.length ? chats.map((chat) => h("li", {},
      h("button", { type: "button", "aria-current": chat.remoteJid === current ? "true" : null,
        dataset: { chat: chat.remoteJid }, onclick: () => openChat(chat.remoteJid, chat.name) },
        h("span", {}, h("strong", {}, chat.name || jidNumber(chat.remoteJid)),
          h("div.muted", {}, (chat.lastMessage.fromMe ? "You: " : "") + lastText(chat.lastMessage))),
        chat.unreadCount ? h("span.unread", { "aria-label": `${chat.unreadCount} unread` }, chat.unreadCount) : null)))
      : h("li.muted", {}, "No chats yet."));
  };

  const loadMessages = async () => {
    if (!current) return;
    const data = await busy(null, () => gql(MESSAGES, { id: instance.id, chat: current }));
    if (data) fill(history, data.instance.messages.nodes.map(bubble));
  };

  const openChat = async (jid, name) => {
    current = jid;
    to.value = jidNumber(jid);
    heading.textContent = `Chat with ${name || jidNumber(jid)}`;
    await loadMessages();
    const marked = await busy(null, () => gql(MARK_READ, { id: instance.id, chat: jid }));
    await loadChats();
    if (marked) text.focus();
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const phone = to.value.trim();
    const chosen = file.files[0];
    if (!chosen && !text.value.trim()) { problem.textContent = "Write a message or choose a file."; return; }
    const payload = await busy(submit, async () => {
      if (chosen) {
        const data = await gqlUpload(SEND_FILE, { id: instance.id, phone, caption: text.value || null }, chosen);
        if (data.sendFile.userErrors[0]) throw new Error(data.sendFile.userErrors[0].message);
        return data.sendFile;
      }
      return mutate(SEND_TEXT, { id: instance.id, phone, message: text.value }, "sendText");
    }, problem);
    if (!payload) return;
    text.value = "";
    file.value = "";
    current = payload.message.remoteJid;
    heading.textContent = `Chat with ${jidNumber(current)}`;
    await Promise.all([loadMessages(), loadChats()]);
  });

  const refreshChats = debounce(loadChats);
  const refreshMessages = debounce(loadMessages);
  listeners.event = (event) => {
    if (!MESSAGE_EVENTS.has(event.type)) return;
    if (event.type === "message_status") {
      const el = history.querySelector(`[data-message-id="${CSS.escape(event.data.messageId)}"]`);
      const message = el && shown.get(el);
      if (message && (RANK[event.data.status] ?? 0) > (RANK[message.status] ?? 0)) {
        el.replaceWith(bubble({ ...message, status: event.data.status })); // ticks only move forward
      }
      return;
    }
    refreshChats();
    refreshMessages();
  };

  fill(body, h("div.chat-layout", {},
    h("div.card", {}, h("h2", {}, "Chats"), list),
    h("div.card", {}, heading, history, form)));
  await loadChats();
  return null;
}

export async function renderContacts(body, instance) {
  const search = h("input", { id: "contact-search", type: "search", placeholder: "Name or number" });
  const rows = h("tbody");
  const problem = errorLine();
  const load = async () => {
    const data = await busy(null, () => gql(CONTACTS, { id: instance.id, search: search.value.trim() || null }), problem);
    if (!data) return;
    const contacts = data.instance.contacts.nodes;
    fill(rows, contacts.length ? contacts.map((c) => h("tr", {},
      h("td", {}, c.name || c.pushName || "—"), h("td", {}, c.number),
      h("td.hide-narrow", {}, c.isGroup ? "group" : "person"), h("td.hide-narrow", {}, when(c.lastActivity))))
      : h("tr", {}, h("td", { colSpan: 4 }, h("span.muted", {}, search.value ? "No contact matches." : "No contacts saved yet."))));
  };
  const refresh = debounce(load, 250);
  search.addEventListener("input", refresh);

  const name = h("input", { id: "contact-name" });
  const number = h("input", { id: "contact-number", type: "tel", required: true });
  const addProblem = errorLine();
  const add = h("button", { type: "submit" }, "Save contact");
  const form = h("form", {}, h("h2", {}, "Add a contact"), h("div.form-grid", {},
    h("div", {}, h("label", { for: "contact-name" }, "Name"), name),
    h("div", {}, h("label", { for: "contact-number" }, "Number"), number)), addProblem, h("div.actions", {}, add));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const done = await busy(add, () => mutate(SAVE_CONTACT, { id: instance.id, input: { number: number.value, name: name.value || null } }, "saveContact"), addProblem);
    if (!done) return;
    name.value = ""; number.value = "";
    await load();
  });
  const importButton = h("button.secondary", { type: "button" }, "Import from WhatsApp");
  importButton.addEventListener("click", () => busy(importButton, async () => {
    const imported = read.importedContacts(await gql(IMPORT_CONTACTS, { id: instance.id }));
    flash(`${imported} contacts imported.`, "info");
    await load();
  }));
  fill(body, h("div.card", {},
    h("div.row.spread", {}, h("h2", {}, "Contacts"), importButton),
    h("label", { for: "contact-search" }, "Search"), search, problem,
    h("div.table-wrap", {}, h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Number"),
      h("th.hide-narrow", {}, "Kind"), h("th.hide-narrow", {}, "Last activity"))), rows))),
    h("div.card", {}, form));
  await load();
  return null;
}
