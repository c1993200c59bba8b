// Small DOM helpers: element building, messages, confirmation, formatting.

/** h("button.secondary", { onclick }, "Text") — a tag with optional classes, props, children. */
export function h(spec, props = {}, ...children) {
  const [tag, ...classes] = spec.split(".");
  const el = document.createElement(tag || "div");
  if (classes.length) el.className = classes.join(" ");
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Shows a message under the top bar; errors stay until dismissed or replaced. */
export function flash(text, kind = "error") {
  const box = document.getElementById("flash");
  const close = h("button.link", { type: "button", "aria-label": "Dismiss", onclick: () => item.remove() }, "✕");
  const item = h(`div.flash.${kind}`, {}, h("span", {}, text), close);
  box.replaceChildren(item);
  if (kind !== "error") setTimeout(() => item.remove(), 4000);
}

let carried = false;

/** A message that survives the next screen change (said just before navigating). */
export function flashAcross(text, kind = "info") {
  flash(text, kind);
  carried = true;
}

/** Clears the messages when the screen changes, but one said across it. */
export function clearFlash() {
  if (carried) { carried = false; return; }
  document.getElementById("flash").replaceChildren();
}

/** Runs `action` with `button` disabled; an error is shown in `where` (or flashed). */
export async function busy(button, action, where = null) {
  if (button) button.disabled = true;
  if (where) where.textContent = "";
  try {
    return await action();
  } catch (error) {
    if (where) where.textContent = error.message;
    else flash(error.message);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

/** An inline error line for a form, read out when it changes. */
export function errorLine() { return h("p.error-text", { role: "alert" }); }

/** A modal yes/no question; resolves true on confirm. */
export function confirmDialog(question, confirmLabel = "Delete") {
  return new Promise((resolve) => {
    const dialog = h("dialog", { "aria-label": "Confirm" });
    const done = (answer) => { dialog.close(); dialog.remove(); resolve(answer); };
    fill(dialog,
      h("p", {}, question),
      h("div.row", {},
        h("button.danger", { type: "button", onclick: () => done(true) }, confirmLabel),
        h("button.secondary", { type: "button", autofocus: true, onclick: () => done(false) }, "Cancel")));
    dialog.addEventListener("cancel", () => done(false));
    document.body.append(dialog);
    dialog.showModal();
  });
}

export function badge(status) {
  return h(`span.badge.${status}`, { dataset: { status } }, (status || "unknown").replace("_", " "));
}

export function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return date.toLocaleString(undefined, { dateStyle: "short", timeStyle: "short" });
}

export function time(iso) {
  return iso ? new Date(iso).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" }) : "";
}

export function bytes(n) {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KB", "MB", "GB"];
  let value = Number(n);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
  return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

/** The number part of a JID, for display. */
export function jidNumber(jid) {
  const [user, server] = (jid || "").split("@");
  return server === "s.whatsapp.net" ? `+${user}` : user;
}

/** A secret kept hidden until the user asks for it. */
export function secretField(label, reveal) {
  const out = h("span.secret", {}, "••••••••");
  const button = h("button.secondary", { type: "button" }, `Show ${label}`);
  button.addEventListener("click", async () => {
    if (button.dataset.shown) {
      out.textContent = "••••••••"; button.textContent = `Show ${label}`; delete button.dataset.shown;
      return;
    }
    const value = await busy(button, reveal);
    if (value === undefined) return;
    out.textContent = value || "(none set)";
    button.textContent = `Hide ${label}`;
    button.dataset.shown = "1";
  });
  return h("span.row", {}, out, button);
}
