// The wallboard's pure rules (no DOM): colours at thresholds, queues summed per category,
// incidents' lateness and order. Mirrors stats/wallboard.py's `level` for the waits the page
// ticks itself.

/** "ok", "warn" from `warn`, "bad" from `bad` (reversed with higherIsBetter); no value: "ok". */
export function levelOf(value, warn, bad, higherIsBetter = false) {
  if (value == null || Number.isNaN(value)) return "ok";
  if (higherIsBetter) return value < bad ? "bad" : value < warn ? "warn" : "ok";
  return value >= bad ? "bad" : value >= warn ? "warn" : "ok";
}

const BUSY = { ringing: "on_call", on_call: "on_call", wrapup: "wrapup", idle: "idle", paused: "paused" };

/**
 * Rows per category (every one of `categories`, even empty) or, with `byQueue`, per queue:
 * callers waiting, the oldest entry (server ms, null when nobody waits), callbacks pending
 * and the agents of its queues by state, each agent counted once per row (ringing counts
 * as on a call: the agent cannot take another).
 */
export function aggregate(queues, agents, byQueue, categories) {
  const rows = new Map();
  const rowOf = new Map(); // queue name -> row key
  const blank = (key, category) => ({
    key, category, waiting: 0, oldest_at: null, callbacks_pending: 0,
    idle: 0, on_call: 0, wrapup: 0, paused: 0,
  });
  if (!byQueue) for (const c of categories) rows.set(c, blank(c, c));
  for (const q of [...queues].sort((a, b) => a.name.localeCompare(b.name))) {
    const key = byQueue ? q.name : q.category;
    if (!rows.has(key)) rows.set(key, blank(key, q.category));
    rowOf.set(q.name, key);
    const row = rows.get(key);
    row.waiting += q.waiting;
    row.callbacks_pending += q.callbacks_pending || 0;
    if (q.waiting > 0 && q.oldest_at != null && (row.oldest_at == null || q.oldest_at < row.oldest_at)) {
      row.oldest_at = q.oldest_at;
    }
  }
  for (const agent of agents) {
    const column = BUSY[agent.state];
    if (!column) continue;
    const keys = new Set((agent.queues || []).map((name) => rowOf.get(name)).filter((k) => k != null));
    for (const key of keys) rows.get(key)[column] += 1;
  }
  return [...rows.values()];
}

const WAITING_FOR_TEAM = new Set(["new", "dispatched"]);
const URGENCY = { critical: 0, urgent: 1, normal: 2 };

/** How late (ms) an incident is to be acknowledged at `now`; 0 if it is not. */
export function overdueMs(incident, now) {
  if (!WAITING_FOR_TEAM.has(incident.status) || !incident.ack_due_at) return 0;
  const due = Date.parse(incident.ack_due_at);
  return Number.isNaN(due) ? 0 : Math.max(0, now - due);
}

/** Overdue first (the latest first), then by urgency, then the oldest first. */
export function sortIncidents(incidents, now) {
  return [...incidents].sort((a, b) => {
    const la = overdueMs(a, now), lb = overdueMs(b, now);
    if ((la > 0) !== (lb > 0)) return la > 0 ? -1 : 1;
    if (la !== lb) return lb - la;
    const ua = URGENCY[a.urgency] ?? 3, ub = URGENCY[b.urgency] ?? 3;
    if (ua !== ub) return ua - ub;
    return Date.parse(a.created_at || 0) - Date.parse(b.created_at || 0) || a.id - b.id;
  });
}
