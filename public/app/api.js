// The dashboard's only way to the server: GraphQL over HTTP, subscriptions over
// graphql-transport-ws on the same path, and REST where GraphQL has no equivalent.
// The token lives in sessionStorage: it goes with the tab.

const TOKEN_KEY = "wamux.token";

export class ApiError extends Error {
  constructor(message, code = "error", field = null) {
    super(message);
    this.code = code;
    this.field = field;
  }
}

export const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY); },
  set(token) { sessionStorage.setItem(TOKEN_KEY, token); },
  clear() { sessionStorage.removeItem(TOKEN_KEY); },
};

let onUnauthorized = () => {};
export function whenUnauthorized(callback) { onUnauthorized = callback; }

function authHeaders() {
  const token = session.token;
  return token ? { Authorization: `Bearer ${token}` } : {};
}

function errorFrom(graphqlError) {
  const ext = graphqlError.extensions || {};
  const code = ext.code || ext.error || "error";
  if (code === "unauthorized" || code === "UNAUTHENTICATED") onUnauthorized();
  return new ApiError(graphqlError.message || "The server refused the request.", code);
}

async function readJson(response) {
  const text = await response.text();
  try { return text ? JSON.parse(text) : {}; } catch { return { message: text }; }
}

async function send(body, headers) {
  let response;
  try {
    response = await fetch("/graphql", { method: "POST", headers: { ...authHeaders(), ...headers }, body });
  } catch {
    throw new ApiError("The server cannot be reached. Check the connection and try again.", "network");
  }
  const payload = await readJson(response);
  if (response.status === 401) onUnauthorized();
  if (payload.errors && payload.errors.length) throw errorFrom(payload.errors[0]);
  if (!response.ok || !payload.data) {
    throw new ApiError(payload.message || `The server answered ${response.status}.`, payload.error);
  }
  return payload.data;
}

/** Runs a query or mutation; throws ApiError with the server's message. */
export function gql(query, variables = {}) {
  return send(JSON.stringify({ query, variables }), { "Content-Type": "application/json" });
}

/** A payload with `userErrors`: throws the first one, else returns the payload. */
export function checked(payload) {
  const problem = payload && payload.userErrors && payload.userErrors[0];
  if (problem) throw new ApiError(problem.message, problem.code, problem.field);
  return payload;
}

/** A mutation whose payload (`data[field]`) carries `userErrors`. */
export async function mutate(query, variables, field) {
  return checked((await gql(query, variables))[field]);
}

/** A mutation with one file (GraphQL multipart request spec), `file` in variables. */
export function gqlUpload(query, variables, file) {
  const form = new FormData();
  form.append("operations", JSON.stringify({ query, variables: { ...variables, file: null } }));
  form.append("map", JSON.stringify({ 0: ["variables.file"] }));
  form.append("0", file, file.name);
  return send(form, {});
}

/** A REST call (JSON errors `{error, message}`); `as` is "json" or "blob". */
export async function rest(path, { method = "GET", body, as = "json" } = {}) {
  const headers = authHeaders();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError("The server cannot be reached. Check the connection and try again.", "network");
  }
  if (response.status === 401) onUnauthorized();
  if (!response.ok) {
    const payload = await readJson(response);
    throw new ApiError(payload.message || `The server answered ${response.status}.`, payload.error);
  }
  if (as === "blob") return response.blob();
  return readJson(response).then((payload) => ({ status: response.status, ...payload }));
}

// --- subscriptions: one socket for the whole tab, re-opened with backoff ---------------------

const subscribers = new Map(); // id -> { query, variables, next, error }
let socket = null;
let acknowledged = false;
let nextId = 1;
let retryMs = 500;
let statusListener = () => {};

export function onLiveStatus(listener) { statusListener = listener; }

function wsUrl() {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`;
}

function start(id, sub) {
  socket.send(JSON.stringify({ id, type: "subscribe", payload: { query: sub.query, variables: sub.variables } }));
}

function open() {
  if (socket || !session.token) return;
  acknowledged = false;
  socket = new WebSocket(wsUrl(), "graphql-transport-ws");
  socket.onopen = () => {
    socket.send(JSON.stringify({ type: "connection_init", payload: authHeaders() }));
  };
  socket.onmessage = (message) => {
    const frame = JSON.parse(message.data);
    if (frame.type === "connection_ack") {
      acknowledged = true;
      retryMs = 500;
      statusListener(true);
      for (const [id, sub] of subscribers) start(id, sub);
    } else if (frame.type === "ping") {
      socket.send(JSON.stringify({ type: "pong" }));
    } else if (frame.type === "next") {
      const sub = subscribers.get(frame.id);
      if (!sub) return;
      if (frame.payload.errors) sub.error(errorFrom(frame.payload.errors[0]));
      else sub.next(frame.payload.data);
    } else if (frame.type === "error") {
      const sub = subscribers.get(frame.id);
      if (sub) sub.error(errorFrom(frame.payload[0] || {}));
    }
  };
  socket.onclose = () => {
    // 4403 (a right lost, e.g. a deleted instance) too: re-open for the others; a revoked
    // token is refused again there, and the next HTTP call logs the tab out.
    socket = null;
    acknowledged = false;
    statusListener(false);
    if (subscribers.size && session.token) {
      const wait = retryMs * (0.75 + Math.random() / 2); // backoff with jitter
      retryMs = Math.min(retryMs * 2, 15000);
      setTimeout(open, wait);
    }
  };
}

/** Subscribes; returns a function that ends the subscription. Survives reconnects. */
export function subscribe(query, variables, next, error = () => {}) {
  const id = String(nextId++);
  subscribers.set(id, { query, variables, next, error });
  if (!socket) open();
  else if (acknowledged) start(id, subscribers.get(id));
  return () => {
    subscribers.delete(id);
    if (socket && acknowledged) socket.send(JSON.stringify({ id, type: "complete" }));
  };
}

/** Closes the socket and forgets every subscription (logout). */
export function closeLive() {
  subscribers.clear();
  if (socket) socket.close(1000);
  socket = null;
}
