// One instance: its header with a live badge, tabs, pairing (QR, pairing code) and the live
// event feed. The other tabs live in chats.js, webhooks.js and usage.js.

import { gql, rest, subscribe } from "./api.js";
import { INSTANCE_DETAIL, INSTANCE_STATUS, INSTANCE_EVENTS, EVENT_HISTORY, PAIRING_CODE, read } from "./queries.js";
import { h, fill, flash, busy, errorLine, badge, when, time, jidNumber } from "./ui.js";
import { instanceActions } from "./instances.js";
import { renderChats, renderContacts } from "./chats.js";
import { renderWebhook } from "./webhooks.js";
import { renderUsage } from "./usage.js";

const TABS = [
  ["overview", "Overview"], ["events", "Events"], ["chats", "Chats"],
  ["contacts", "Contacts"], ["webhook", "Webhook"], ["usage", "Usage"],
];
const FEED_SIZE = 200;
const HISTORY_SIZE = 50; // the newest events read when the feed opens
const feeds = new Map(); // instance id -> its recent events, newest first

// An instance's event timestamps strictly increase, so one identifies an event of it.
const stamp = (event) => Date.parse(event.timestamp);

/** Adds events to an instance's feed, newest first, each once; answers those that were new. */
function merge(id, events) {
  const feed = feeds.get(id);
  const seen = new Set(feed.map(stamp));
  const fresh = events.filter((e) => !seen.has(stamp(e)) && seen.add(stamp(e)));
  feed.push(...fresh);
  feed.sort((a, b) => stamp(b) - stamp(a));
  feed.length = Math.min(feed.length, FEED_SIZE);
  return fresh;
}

/** The newest HISTORY_SIZE events, in one read. */
async function history(id) {
  return (await gql(EVENT_HISTORY, { id, last: HISTORY_SIZE })).instance.events.nodes;
}

export async function renderInstance(main, state, id, tab) {
  const data = await busy(null, () => gql(INSTANCE_DETAIL, { id }));
  if (!data) {
    fill(main, h("p.error-text", {}, "This instance could not be loaded."), h("a", { href: "#/instances" }, "Back to the instances"));
    return null;
  }
  const instance = data.instance;
  if (!feeds.has(id)) feeds.set(id, []);
  const headerBadge = h("span", {}, badge(instance.status));
  const body = h("section", { "aria-live": "polite" });
  fill(main,
    h("div.row.spread", {},
      h("h1", {}, instance.name, " ", headerBadge),
      h("a", { href: "#/instances" }, "All instances")),
    h("nav.tabs", { "aria-label": "Instance" }, TABS.map(([key, label]) =>
      h("a", { href: `#/instances/${id}/${key}`, "aria-current": key === tab ? "page" : null }, label))),
    body);

  const listeners = { status: () => {}, event: () => {}, feed: () => {} };
  const stops = [
    subscribe(INSTANCE_STATUS, { ids: [id] }, ({ instanceStatus }) => {
      headerBadge.replaceChildren(badge(instanceStatus.status.status));
      Object.assign(instance, instanceStatus.instance);
      listeners.status(instanceStatus);
    }, (error) => flash(error.message)),
    subscribe(INSTANCE_EVENTS, { id }, ({ instanceEvents }) => {
      if (merge(id, [instanceEvents]).length) listeners.event(instanceEvents);
    }, (error) => flash(error.message)),
  ];
  // Subscribed first, read second: an event between the two comes by either way, once.
  if (tab === "events") {
    history(id).then((events) => { if (merge(id, events).length) listeners.feed(); },
      (error) => flash(error.message));
  }
  const views = {
    overview: renderOverview, events: renderEvents, chats: renderChats,
    contacts: renderContacts, webhook: renderWebhook, usage: renderUsage,
  };
  const stopView = await (views[tab] || renderOverview)(body, instance, listeners, state);
  return () => {
    for (const stop of stops) stop();
    if (typeof stopView === "function") stopView();
  };
}

// --- overview and pairing ------------------------------------------------------------------

async function qrDataUrl(id) {
  const blob = await rest(`/api/instances/${id}/qr?format=svg`, { as: "blob" });
  if (!blob.type.includes("svg")) return null; // 202: still generating
  return new Promise((resolve) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.readAsDataURL(blob);
  });
}

function renderOverview(body, instance, listeners) {
  const pairing = h("div.card", { id: "pairing" });
  let shownQrs = 0;
  let drawing = Promise.resolve();

  const draw = (status) => {
    if (status === "connected") {
      fill(pairing,
        h("p.connected-banner", { dataset: { state: "connected" } }, "✓ Connected"),
        h("p", {}, instance.pushName ? `${instance.pushName} · ` : "", instance.phone || ""));
      return;
    }
    if (status !== "qr") {
      fill(pairing, h("p", { dataset: { state: status } }, {
        connecting: "Connecting to WhatsApp…",
        disconnected: `Disconnected${instance.statusReason ? `: ${instance.statusReason}` : ""}. It retries by itself; “Reconnect” tries now.`,
        logged_out: "Logged out. “Reconnect” shows a new QR code to scan.",
      }[status] || status));
      return;
    }
    drawing = drawing.then(async () => {
      const url = await busy(null, () => qrDataUrl(instance.id));
      if (url === undefined) return;
      if (!url) { fill(pairing, h("p", { dataset: { state: "generating" } }, "Generating a QR code…")); return; }
      shownQrs += 1;
      const image = h("img", { src: url, alt: "QR code to scan with WhatsApp", dataset: { qrVersion: String(shownQrs) } });
      fill(pairing, h("div.qr-box", { dataset: { state: "qr" } }, image,
        h("div", {},
          h("h2", {}, "Scan to pair"),
          h("ol", {}, h("li", {}, "Open WhatsApp on the phone."),
            h("li", {}, "Settings → Linked devices → Link a device."),
            h("li", {}, "Point the camera at this code.")),
          h("p.muted", {}, `The code renews by itself (updated ${new Date().toLocaleTimeString()}).`),
          instance.engine === "neonize" ? pairingCodeForm(instance) : null)));
    });
  };

  listeners.status = (change) => draw(change.status.status);
  draw(instance.status);
  const details = h("dl.form-grid", {}, [
    ["Engine", instance.engine], ["Phone", instance.phone || "—"], ["Push name", instance.pushName || "—"],
    ["Webhook", instance.webhookEnabled ? instance.webhookUrl || "on" : "off"],
    ["Created", when(instance.createdAt)], ["Last activity", when(instance.lastActivity)],
  ].map(([term, value]) => h("div", {}, h("dt.muted", {}, term), h("dd", {}, value))));
  fill(body, pairing, h("div.card", {}, details, instanceActions(instance, () => { location.hash = "#/instances"; })));
  return null;
}

function pairingCodeForm(instance) {
  const phone = h("input", { id: "pair-phone", type: "tel", placeholder: "+49 151 2345678", required: true });
  const out = h("p.secret", { hidden: true });
  const problem = errorLine();
  const submit = h("button.secondary", { type: "submit" }, "Get a pairing code");
  const form = h("form", {},
    h("h2", {}, "Or link with a phone number"),
    h("label", { for: "pair-phone" }, "The phone's number"), phone, problem,
    h("div.actions", {}, submit), out);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const code = await busy(submit, async () => read.pairingCode(await gql(PAIRING_CODE, { id: instance.id, phone: phone.value })), problem);
    if (!code) return;
    out.hidden = false;
    out.textContent = `Type ${code} on the phone (Linked devices → Link with phone number).`;
  });
  return form;
}

// --- live event feed -----------------------------------------------------------------------

export function describeEvent(event) {
  const d = event.data || {};
  switch (event.type) {
    case "message_received": return `from ${d.pushName || jidNumber(d.from)}: ${d.body ?? (d.hasMedia ? "[media]" : "")}`;
    case "message_sent": return `to ${jidNumber(d.to)}: ${d.body ?? (d.hasMedia ? "[media]" : "")}`;
    case "message_status": return `${d.messageId} is ${d.status}`;
    case "disconnected": return `${d.reason}${d.willReconnect ? " (reconnecting)" : ""}`;
    case "limit_exceeded": return `limit reached: ${(d.exceededLimits || []).join(", ")}`;
    case "qr_received": return "a new QR code to scan";
    default: return "";
  }
}

function renderEvents(body, instance, listeners) {
  const list = h("ol.feed", { id: "feed", reversed: true });
  const item = (event) => h("li", { dataset: { type: event.type } },
    h("span.muted", {}, time(event.timestamp), " "), badge(event.type), " ", describeEvent(event));
  const show = () => fill(list, feeds.get(instance.id).map(item));
  show();
  listeners.event = show;
  listeners.feed = show;
  fill(body, h("div.card", {},
    h("h2", {}, "Live events"),
    h("p.muted", {}, `The last ${HISTORY_SIZE} events, then the new ones as they come. The full history is at GET /api/instances/{id}/events.`),
    list));
  return null;
}
