// Usage of the last 30 days against the instance's daily limits, drawn as SVG by hand.

import { gql } from "./api.js";
import { USAGE } from "./queries.js";
import { h, fill, busy } from "./ui.js";

const SVG = "http://www.w3.org/2000/svg";
const SERIES = [
  ["messagesSent", "Sent", "#128c7e"],
  ["messagesReceived", "Received", "#1e88e5"],
  ["mediaSent", "Media sent", "#f4a100"],
  ["mediaReceived", "Media received", "#8e24aa"],
];
const DAYS = 30;

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  el.append(...children);
  return el;
}

/** The last 30 UTC days, oldest first, each with its row (zeros where there was none). */
function last30(daily) {
  const byDay = new Map(daily.map((row) => [row.date.slice(0, 10), row]));
  const today = new Date();
  const days = [];
  for (let n = DAYS - 1; n >= 0; n--) {
    const day = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - n));
    const key = day.toISOString().slice(0, 10);
    days.push({ key, row: byDay.get(key) || {} });
  }
  return days;
}

function chart(days, limit, width) {
  const height = Math.round(Math.min(280, Math.max(200, width * 0.35))), left = 36, bottom = 24, top = 22;
  const plotH = height - bottom - top, plotW = width - left - 6;
  const peak = Math.max(4, limit || 0, ...days.flatMap((d) => SERIES.map(([key]) => Number(d.row[key] || 0))));
  const y = (v) => top + plotH - (v / peak) * plotH;
  const slot = plotW / days.length, bar = Math.max(1, (slot - 2) / SERIES.length);
  const g = svg("g");
  for (const frac of [0, 0.5, 1]) {
    const v = Math.round(peak * frac);
    g.append(svg("line", { x1: left, x2: width, y1: y(v), y2: y(v), stroke: "currentColor", "stroke-opacity": 0.15 }),
      svg("text", { x: left - 4, y: y(v) + 4, "text-anchor": "end", "font-size": 11, fill: "currentColor" }, String(v)));
  }
  days.forEach((d, i) => {
    SERIES.forEach(([key, label, color], s) => {
      const v = Number(d.row[key] || 0);
      if (!v) return;
      const rect = svg("rect", { x: left + i * slot + 1 + s * bar, y: y(v), width: bar, height: y(0) - y(v), fill: color });
      rect.append(svg("title", {}, `${d.key}: ${v} ${label.toLowerCase()}`));
      g.append(rect);
    });
    if ((days.length - 1 - i) % (width < 500 ? 10 : 5) === 0) {
      const last = i === days.length - 1; // the right edge: anchored so it is not cut off
      g.append(svg("text", { x: last ? width : left + i * slot + slot / 2, y: height - 6, "text-anchor": last ? "end" : "middle", "font-size": 11, fill: "currentColor" }, d.key.slice(5)));
    }
  });
  if (limit) {
    g.append(svg("line", { x1: left, x2: width, y1: y(limit), y2: y(limit), stroke: "#c62828", "stroke-dasharray": "6 4", "stroke-width": 2 }),
      svg("text", { x: width - 4, y: y(limit) - 6, "text-anchor": "end", "font-size": 11, fill: "#c62828" }, `daily limit ${limit}`));
  }
  return svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": "usage-title" },
    svg("title", { id: "usage-title" }, "Messages and media per day, last 30 days"), g);
}

function meter(label, used, limit) {
  const share = limit ? Math.min(1, used / limit) : 0;
  return h("div", {},
    h("div.row.spread", {}, h("span", {}, label), h("span", {}, limit ? `${used} of ${limit} today` : `${used} today (no limit)`)),
    h(`div.meter${limit && used >= limit ? ".over" : ""}`, { role: "meter", "aria-label": label, "aria-valuemin": 0,
      "aria-valuemax": limit || used || 1, "aria-valuenow": used }, h("span", { style: `width:${(share * 100).toFixed(1)}%` })));
}

export async function renderUsage(body, instance) {
  const data = await busy(null, () => gql(USAGE, { id: instance.id }));
  if (!data) { fill(body, h("p.error-text", {}, "The usage could not be loaded.")); return null; }
  const { limits, usageToday, stats } = data.instance;
  const u = stats.usage;
  const days = last30(u.dailyStats);
  const width = Math.max(320, Math.min(1000, body.clientWidth - 34)); // text stays ~11px
  fill(body,
    h("div.card.chart", { id: "usage-chart" },
      h("h2", {}, "Last 30 days"),
      h("div.legend", {}, SERIES.map(([, label, color]) => h("span", {}, h("span.swatch", { style: `background:${color}` }), label)),
        limits.maxMessagesSent ? h("span", {}, h("span.swatch", { style: "background:#c62828" }), "Messages sent limit") : null),
      chart(days, limits.maxMessagesSent, width),
      h("p.muted", {}, `Totals: ${u.messagesSent} sent, ${u.messagesReceived} received, ${u.mediaSent + u.mediaReceived} media, ${u.apiCalls} API calls.`)),
    h("div.card", {}, h("h2", {}, "Today against the limits"),
      meter("Messages sent", usageToday.messagesSent, limits.maxMessagesSent),
      meter("Media sent", usageToday.mediaSent, limits.maxMediaSent),
      meter("API calls", usageToday.apiCalls, limits.maxApiCalls)));
  return null;
}
