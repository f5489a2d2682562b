// The event stream a page follows: GET /events (EventSource, the session cookie), the
// connection badge (#connection), Last-Event-ID on reconnect, a reconnect when nothing (not
// even a heartbeat) came for 45 s, the server's clock, and back to the sign-in page when the
// session ends. One stream per page: the clock is the module's.
import { HttpError, request } from "./http.js";

const STALE_MS = 45_000;
const TEXTS = {
  ok: "Đã kết nối",
  connecting: "Đang kết nối…",
  lost: "Mất kết nối — đang kết nối lại…",
  resync: "Đang đồng bộ lại…",
};

let clockOffset = 0; // server time - local time, ms

/** The server's time now, in ms, as the stream last told it. */
export const serverNow = () => Date.now() + clockOffset;

/** To the sign-in page, back here afterwards. */
export function toLogin() {
  const next = window.location.pathname + window.location.search;
  // As the server's redirect writes it: the slashes of the path kept.
  window.location.assign(`/login?next=${encodeURIComponent(next).replaceAll("%2F", "/")}`);
}

function syncClock(serverTime) {
  const at = Date.parse(serverTime);
  if (!Number.isNaN(at)) clockOffset = at - Date.now();
}

function setConnection(kind) {
  const node = document.getElementById("connection");
  node.textContent = TEXTS[kind];
  node.className = `connection ${kind}`;
  node.dataset.state = kind;
}

/**
 * Follow GET /events: `handlers.snapshot(data)` rebuilds the page (first, and after every
 * resync); `handlers[type](data)` takes each other message type the page shows.
 */
export function followEvents(handlers) {
  const state = { source: null, lastEventId: "", lastMessageAt: 0, awaitingSnapshot: false };

  function connect() {
    if (state.source) state.source.close();
    const url = state.lastEventId
      ? `/events?last_event_id=${encodeURIComponent(state.lastEventId)}`
      : "/events";
    const source = new EventSource(url, { withCredentials: true });
    state.source = source;
    state.lastMessageAt = Date.now();
    source.onopen = () => setConnection(state.awaitingSnapshot ? "resync" : "ok");
    source.onerror = () => {
      setConnection("lost");
      if (source.readyState === EventSource.CLOSED) {
        // The server refused the stream (signed out, or down): the browser will not retry.
        setTimeout(reconnectAfterCheck, 2000 + Math.random() * 2000);
      }
    };
    const on = (type, handler) =>
      source.addEventListener(type, (event) => {
        if (source !== state.source) return;
        state.lastMessageAt = Date.now();
        if (event.lastEventId) state.lastEventId = event.lastEventId;
        let data;
        try { data = JSON.parse(event.data); } catch { return; }
        handler(data);
      });
    on("snapshot", (data) => {
      state.awaitingSnapshot = false;
      setConnection("ok");
      syncClock(data.server_time);
      handlers.snapshot(data);
    });
    on("resync", () => { state.awaitingSnapshot = true; setConnection("resync"); });
    on("heartbeat", (data) => {
      syncClock(data.server_time);
      if (!state.awaitingSnapshot) setConnection("ok");
    });
    on("ended", () => {
      // Signed out elsewhere, revoked or expired: the stream closes; so does the page.
      source.close();
      state.source = null;
      toLogin();
    });
    for (const [type, handler] of Object.entries(handlers)) {
      if (type !== "snapshot") on(type, handler);
    }
  }

  async function reconnectAfterCheck() {
    try {
      await request("GET", "/auth/me");
    } catch (exc) {
      if (exc instanceof HttpError && exc.status === 401) return toLogin();
    }
    connect();
  }

  setConnection("connecting");
  connect();
  setInterval(() => {
    if (state.source && Date.now() - state.lastMessageAt > STALE_MS) {
      setConnection("lost");
      connect();
    }
  }, 1000);
}
