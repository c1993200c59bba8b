// The dashboard's entry point: login, the top bar, and a hash router over the screens.

import { gql, session, whenUnauthorized, closeLive, onLiveStatus } from "./api.js";
import { LOGIN, ME } from "./queries.js";
import { h, fill, flashAcross, clearFlash, busy, errorLine } from "./ui.js";
import { renderInstances, renderInstanceForm } from "./instances.js";
import { renderInstance } from "./instance.js";
import { renderUsers, renderSystem, renderAccount } from "./admin.js";
import { renderDatabase } from "./db.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const live = document.getElementById("live");
const state = { me: null };
let cleanup = null;

const routes = [
  [/^#\/login$/, () => renderLogin()],
  [/^#\/instances$/, () => renderInstances(main, state)],
  [/^#\/instances\/new$/, () => renderInstanceForm(main, state, null)],
  [/^#\/instances\/([^/]+)\/edit$/, (id) => renderInstanceForm(main, state, id)],
  [/^#\/instances\/([^/]+)(?:\/([a-z]+))?$/, (id, tab) => renderInstance(main, state, id, tab || "overview")],
  [/^#\/admin\/users$/, () => renderUsers(main, state)],
  [/^#\/admin\/system$/, () => renderSystem(main, state)],
  [/^#\/admin\/database$/, () => renderDatabase(main, state)],
  [/^#\/account$/, () => renderAccount(main, state)],
];

async function route() {
  if (cleanup) { cleanup(); cleanup = null; }
  clearFlash();
  const hash = location.hash || "#/instances";
  if (!session.token && hash !== "#/login") { location.hash = "#/login"; return; }
  if (session.token && !state.me) {
    const data = await busy(null, () => gql(ME));
    if (!data) { if (!session.token) location.hash = "#/login"; return; }
    state.me = data.me;
  }
  showNav();
  for (const [pattern, view] of routes) {
    const match = hash.match(pattern);
    if (match) {
      fill(main, h("p.muted", {}, "Loading…"));
      const result = await view(...match.slice(1).map((part) => part && decodeURIComponent(part)));
      cleanup = typeof result === "function" ? result : null;
      main.focus({ preventScroll: true });
      return;
    }
  }
  fill(main, h("h1", {}, "Not found"), h("p", {}, h("a", { href: "#/instances" }, "Back to the instances")));
}

function showNav() {
  const signedIn = Boolean(session.token && state.me);
  nav.hidden = !signedIn;
  if (!signedIn) live.hidden = true;
  for (const link of nav.querySelectorAll("[data-admin]")) link.hidden = !(state.me && state.me.role === "admin");
  const here = (location.hash || "").split("/").slice(0, 3).join("/");
  for (const link of nav.querySelectorAll("a[href^='#']")) {
    if (here.startsWith(link.getAttribute("href"))) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function renderLogin() {
  if (session.token) { location.hash = "#/instances"; return; }
  const email = h("input", { id: "email", type: "email", name: "email", autocomplete: "username", required: true });
  const password = h("input", { id: "password", type: "password", name: "password", autocomplete: "current-password", required: true });
  const problem = errorLine();
  const submit = h("button", { type: "submit" }, "Sign in");
  const form = h("form.card.login", { "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "Sign in to wamux"),
    h("label", { for: "email" }, "Email"), email,
    h("label", { for: "password" }, "Password"), password,
    problem,
    h("div.actions", {}, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = await busy(submit, () => gql(LOGIN, { email: email.value.trim(), password: password.value }), problem);
    if (!data) { password.select(); return; }
    session.set(data.login.token);
    state.me = data.login.user;
    location.hash = "#/instances";
  });
  fill(main, form);
  email.focus();
}

function logout(message) {
  session.clear();
  closeLive();
  state.me = null;
  showNav();
  location.hash = "#/login";
  if (message) flashAcross(message, "error");
}

whenUnauthorized(() => { if (session.token) logout("Your session has ended: sign in again."); });
onLiveStatus((on) => {
  live.hidden = false;
  live.classList.toggle("on", on);
  live.title = on ? "Live updates: connected" : "Live updates: reconnecting…";
});
document.getElementById("logout").addEventListener("click", () => logout());
window.addEventListener("hashchange", route);
route();
