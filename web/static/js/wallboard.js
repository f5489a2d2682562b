// The supervisor's wallboard: queues per category (or per queue), agents, today's calls per
// 15 minutes, open incidents. Everything live comes from GET /events (snapshot, agent, queue,
// incident, figures); GET /wallboard/data is read once per snapshot for the figures of the day.
// No polling: the one timer only re-draws the clocks (waits, time in state, overdue).
// Issue 15: per agent on a call, listen / whisper / barge from the supervisor's phone
// (POST /monitor), its mode switched (PATCH) or ended (DELETE); the sessions come from
// GET /monitor once per snapshot, then from `coaching` messages. The recordings' disk line
// comes with the figures (GET /wallboard/data's `recordings`).
// Every text from a user or caller is set with textContent.
import { HttpError, request } from "./http.js";
import { followEvents, serverNow, toLogin } from "./stream.js";
import { el, formatClock, formatDuration } from "./dom.js";
import { aggregate, levelOf, overdueMs, sortIncidents } from "./wallboard-logic.js";
import { usageLine } from "./calls-logic.js";

const LABELS = JSON.parse(document.getElementById("labels").textContent);
const CONFIG = JSON.parse(document.getElementById("wallboard-config").textContent);
const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);

const view = {
  thresholds: CONFIG.thresholds,
  pauseReasons: CONFIG.pause_reasons || {},
  queues: new Map(), // name -> queue item, with `oldest_at` (server ms) of its longest wait
  agents: new Map(), // agent id -> agent item
  incidents: new Map(), // id -> incident
  figures: null,
  byQueue: false,
  phones: CONFIG.phones || [], // the supervisors' phones; none: no coaching controls
  sessions: new Map(), // agent id -> the active monitoring session on their call
};
const MODES = ["listen", "whisper", "barge"];
const PHONE_KEY = "hotline1022.spyPhone";

const label = (table, value) => (value == null ? "" : LABELS[table][value] || String(value));
const percent = (v) => {
  if (v == null) return "—";
  const p = Math.round(v * 1000) / 10;
  return `${Number.isInteger(p) ? p : p.toFixed(1)}%`;
};

function onSnapshot(data) {
  view.queues.clear();
  for (const queue of data.queues || []) setQueue(queue);
  view.agents.clear();
  for (const agent of data.agents || []) setAgent(agent);
  view.incidents.clear();
  for (const incident of data.incidents || []) setIncident(incident);
  render();
  loadFigures(); // once per snapshot: the figures then come as `figures` events
  loadSessions();
}

async function loadFigures() {
  try {
    const board = await request("GET", "/wallboard/data?incidents=0");
    view.thresholds = board.thresholds;
    setFigures(board.figures);
    setUsage(board.recordings);
  } catch (exc) {
    if (exc instanceof HttpError && exc.status === 401) toLogin();
  }
}

function setUsage(usage) {
  const node = $("recordings-usage");
  node.textContent = usageLine(usage);
  node.hidden = !usage;
}

// -- the model --------------------------------------------------------------------------

function setQueue(item) {
  // The wait ticks here: the oldest caller entered `longest_wait_s` before now.
  const oldest = item.waiting > 0 ? serverNow() - item.longest_wait_s * 1000 : null;
  view.queues.set(item.name, { ...item, oldest_at: oldest });
}

function setAgent(item) {
  if (item.agent_id == null) return;
  const known = view.agents.get(item.agent_id) || {};
  view.agents.set(item.agent_id, { ...known, ...item });
}

function setIncident(item) {
  if (["resolved", "cancelled"].includes(item.status)) view.incidents.delete(item.id);
  else view.incidents.set(item.id, { ...(view.incidents.get(item.id) || {}), ...item });
}

function setFigures(figures) {
  if (!figures) return;
  view.figures = figures;
  $("figures-at").textContent = `· số liệu lúc ${new Date(figures.computed_at).toLocaleTimeString("vi-VN")}`;
  if (figures.staffing_targets) $("staffing-targets").textContent = figures.staffing_targets;
  render();
}

// -- rendering --------------------------------------------------------------------------

function render() {
  renderQueues();
  renderAgents();
  renderIncidents();
  renderChart();
}

function cell(text, attrs = {}) {
  return el("td", attrs, text);
}

function renderQueues() {
  const now = serverNow();
  const rows = aggregate([...view.queues.values()], [...view.agents.values()], view.byQueue, CONFIG.categories);
  const figures = view.figures || {};
  const byKey = new Map(
    (view.byQueue ? figures.queues || [] : figures.categories || []).map((f) => [view.byQueue ? f.queue : f.category, f]),
  );
  const t = view.thresholds;
  const body = rows.map((row) => {
    const f = byKey.get(row.key) || {};
    const longest = row.oldest_at == null ? 0 : now - row.oldest_at;
    const waitLevel = levelOf(row.waiting ? longest / 1000 : null, t.wait_warn_s, t.wait_bad_s);
    const name = view.byQueue ? `${row.key} · ${label("categories", row.category)}` : label("categories", row.key);
    const sl = f.service_level == null ? "—" : `${percent(f.service_level)} / ${percent(f.sl_target)}`;
    return el("tr", { "data-key": row.key },
      el("th", { scope: "row" }, name),
      cell(String(row.waiting), { class: `num waiting level-${row.waiting ? waitLevel : "ok"}`, "data-level": row.waiting ? waitLevel : "ok" }),
      cell(row.waiting ? formatClock(longest) : "—", { class: `num longest level-${waitLevel}`, "data-level": waitLevel, "data-oldest": row.oldest_at == null ? "" : String(row.oldest_at) }),
      cell(String(row.idle), { class: "num idle" }),
      cell(String(row.on_call), { class: "num on-call" }),
      cell(String(row.wrapup), { class: "num in-wrapup" }),
      cell(String(row.paused), { class: "num paused" }),
      cell(sl, { class: `num sl level-${f.sl_level || "ok"}`, "data-level": f.sl_level || "ok", title: f.sl_seconds ? `Trả lời trong ${f.sl_seconds} giây` : "" }),
      cell(formatDuration(f.asa_s == null ? null : Math.round(f.asa_s)), { class: `num asa level-${f.asa_level || "ok"}`, "data-level": f.asa_level || "ok" }),
      cell(percent(f.abandon_rate), { class: `num abandon level-${f.abandon_level || "ok"}`, "data-level": f.abandon_level || "ok" }),
      cell(String(row.callbacks_pending), { class: "num callbacks" }),
    );
  });
  $("queues-body").replaceChildren(...body);
}

/** Only the clocks (once a second): no rows rebuilt, so nothing flickers. */
function tickQueues(now) {
  const t = view.thresholds;
  for (const node of document.querySelectorAll("#queues-body td.longest")) {
    if (!node.dataset.oldest) continue;
    const longest = now - Number(node.dataset.oldest);
    const level = levelOf(longest / 1000, t.wait_warn_s, t.wait_bad_s);
    node.textContent = formatClock(longest);
    node.dataset.level = level;
    node.className = `num longest level-${level}`;
    const waiting = node.previousElementSibling;
    waiting.dataset.level = level;
    waiting.className = `num waiting level-${level}`;
  }
}

function renderAgents() {
  const figures = new Map(((view.figures && view.figures.agents) || []).map((a) => [a.agent_id, a]));
  const order = { ringing: 0, on_call: 1, wrapup: 2, idle: 3, paused: 4, logged_out: 5 };
  // Those out of the queues are only counted: a wall has no room for the whole roster.
  const all = [...view.agents.values()];
  const out = all.filter((a) => (a.state || "logged_out") === "logged_out").length;
  const agents = all.filter((a) => (a.state || "logged_out") !== "logged_out").sort(
    (a, b) => (order[a.state] ?? 9) - (order[b.state] ?? 9) || a.name.localeCompare(b.name, "vi"),
  );
  const rows = agents.map((agent) => {
    const f = figures.get(agent.agent_id) || {};
    const state = agent.state || "logged_out";
    const reason = state === "paused" && agent.reason ? view.pauseReasons[agent.reason] || agent.reason : "";
    const row = el("tr", { "data-agent-id": String(agent.agent_id), "data-state": state, class: `agent-${state}` },
      el("th", { scope: "row" }, agent.name || agent.endpoint || ""),
      cell(label("agent_states", state), { class: `state state-${state}` }),
      cell("--:--", { class: "num timer", "data-since": agent.since || "" }),
      cell(reason, { class: "reason" }),
      cell(String(agent.answered_today ?? f.answered ?? 0), { class: "num answered" }),
      cell(formatDuration(f.aht_s == null ? null : Math.round(f.aht_s)), { class: "num aht" }),
    );
    if (view.phones.length) row.append(spyCell(agent));
    return row;
  });
  $("agents-body").replaceChildren(...rows);
  $("agents-empty").hidden = rows.length > 0;
  $("agents-out").textContent = out ? `${out} tổng đài viên chưa vào hàng đợi` : "";
  tickAgents(serverNow());
}

function tickAgents(now) {
  for (const node of document.querySelectorAll("#agents-body td.timer")) {
    const since = node.dataset.since ? Date.parse(node.dataset.since) : NaN;
    node.textContent = Number.isNaN(since) ? "--:--" : formatClock(now - since);
  }
}

function renderIncidents() {
  const now = serverNow();
  const incidents = sortIncidents([...view.incidents.values()], now);
  const items = incidents.map((i) => {
    const late = overdueMs(i, now);
    const node = el("li", { "data-incident-id": String(i.id), class: late > 0 ? "overdue" : "", "data-overdue": late > 0 ? "1" : "0", "data-due": i.ack_due_at || "", "data-status": i.status },
      el("strong", {}, `#${i.id}`),
      ` ${label("categories", i.category)} · ${label("urgencies", i.urgency)} · ${label("incident_statuses", i.status)} · `,
      el("span", { class: "team" }, i.team_name || "Chưa có tổ nhận"),
    );
    node.append(el("span", { class: "late" }, late > 0 ? `Quá hạn ${formatClock(late)}` : ""));
    return node;
  });
  $("incidents-list").replaceChildren(...items);
  $("incidents-empty").hidden = items.length > 0;
  const overdue = incidents.filter((i) => overdueMs(i, now) > 0).length;
  $("incidents-count").textContent = incidents.length ? `· ${incidents.length} (quá hạn ${overdue})` : "";
}

function tickIncidents(now) {
  let reorder = false;
  for (const node of document.querySelectorAll("#incidents-list li")) {
    const incident = view.incidents.get(Number(node.dataset.incidentId));
    if (!incident) continue;
    const late = overdueMs(incident, now);
    if ((late > 0) !== (node.dataset.overdue === "1")) reorder = true;
    else if (late > 0) node.querySelector(".late").textContent = `Quá hạn ${formatClock(late)}`;
  }
  if (reorder) renderIncidents(); // one just went overdue: red, and to the top
}

// -- listen, whisper, barge ---------------------------------------------------------------

function spyCell(agent) {
  const node = el("td", { class: "spy" });
  const session = view.sessions.get(agent.agent_id);
  const who = agent.name || agent.endpoint || "";
  const button = (text, cls, action) => {
    // The row's name in the button's accessible name: "Nhắc" alone says not whose call.
    const b = el("button", { type: "button", class: `secondary small ${cls}`, "aria-label": `${text}: ${who}` }, text);
    b.addEventListener("click", () => spyAction(b, action));
    return b;
  };
  if (session) {
    const mode = label("spy_modes", session.mode).toLocaleLowerCase("vi");
    node.dataset.mode = session.mode;
    node.append(el("span", { class: "spy-mode" }, `Đang ${mode} (${session.phone})`));
    for (const m of MODES) {
      if (m === session.mode) continue;
      node.append(button(label("spy_modes", m), `spy-${m}`, () =>
        request("PATCH", `/monitor/${session.id}`, { body: { mode: m } }).then(setSession)));
    }
    node.append(button("Kết thúc", "spy-stop", () =>
      request("DELETE", `/monitor/${session.id}`).then(() => endSession(agent.agent_id))));
  } else if (agent.state === "on_call") {
    for (const m of MODES) {
      node.append(button(label("spy_modes", m), `spy-${m}`, () =>
        request("POST", "/monitor", { body: { agent_id: agent.agent_id, mode: m, phone: $("spy-phone").value } })
          .then(setSession)));
    }
  }
  return node;
}

async function spyAction(button, action) {
  const error = $("spy-error");
  error.hidden = true;
  button.disabled = true;
  try {
    await action();
  } catch (exc) {
    if (exc instanceof HttpError && exc.status === 401) return toLogin();
    error.textContent = exc instanceof HttpError ? exc.message : "Không gửi được: mất kết nối.";
    error.hidden = false;
    if (exc instanceof HttpError && exc.status === 404) loadSessions(); // it had ended
  } finally {
    button.disabled = false;
  }
}

function setSession(session) {
  if (!session || session.agent_id == null) return;
  view.sessions.set(session.agent_id, session);
  renderAgents();
}

function endSession(agentId) {
  view.sessions.delete(agentId);
  renderAgents();
}

/** A `coaching` message: supervisors get the session with `active`. */
function onCoaching(data) {
  if (data.id == null || data.agent_id == null) return; // an agent's own note, not ours
  const known = view.sessions.get(data.agent_id);
  if (data.active) setSession(data);
  else if (!known || known.id === data.id) endSession(data.agent_id);
}

async function loadSessions() {
  if (!view.phones.length) return;
  try {
    const answer = await request("GET", "/monitor");
    view.sessions.clear();
    for (const session of Array.isArray(answer) ? answer : answer.items || []) {
      view.sessions.set(session.agent_id, session);
    }
    renderAgents();
  } catch (exc) {
    if (exc instanceof HttpError && exc.status === 401) toLogin();
  }
}

function wirePhone() {
  const select = $("spy-phone");
  if (!select) return;
  let kept = null;
  try { kept = window.localStorage.getItem(PHONE_KEY); } catch { /* storage off */ }
  if (kept && view.phones.includes(kept)) select.value = kept;
  select.addEventListener("change", () => {
    try { window.localStorage.setItem(PHONE_KEY, select.value); } catch { /* storage off */ }
  });
}

// -- the chart (SVG drawn here: no library) ---------------------------------------------

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text != null) node.textContent = text;
  return node;
}

function renderChart() {
  const box = $("chart");
  const figures = view.figures;
  const intervals = (figures && figures.intervals) || [];
  const needed = new Map(((figures && figures.staffing) || []).map((s) => [s.hour, s.agents]));
  // From 06:00 (or the first quarter with a call, if earlier) to the current quarter.
  const firstBusy = intervals.findIndex((r) => r.offered || r.agents_logged_in);
  const start = Math.max(0, Math.min(firstBusy < 0 ? 24 : firstBusy, 24));
  const shown = intervals.slice(start);
  const width = 960, height = 260, left = 36, bottom = 22, top = 8;
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart-svg", preserveAspectRatio: "none" });
  const n = Math.max(shown.length, 1);
  const max = Math.max(4, ...shown.map((r) => Math.max(r.offered, r.agents_logged_in, needed.get(hourOf(r.label)) || 0)));
  const y = (v) => top + (height - top - bottom) * (1 - v / max);
  const step = (width - left) / n;
  for (let k = 0; k <= 4; k += 1) {
    const v = Math.round((max * k) / 4);
    root.append(svg("line", { x1: left, x2: width, y1: y(v), y2: y(v), class: "grid" }));
    root.append(svg("text", { x: left - 4, y: y(v) + 4, class: "axis", "text-anchor": "end" }, String(v)));
  }
  const bar = (step * 0.8) / 3;
  shown.forEach((r, i) => {
    const x = left + i * step + step * 0.1;
    [["offered", r.offered], ["answered", r.answered], ["abandoned", r.abandoned]].forEach(([kind, v], j) => {
      const rect = svg("rect", { x: x + j * bar, y: y(v), width: Math.max(bar - 1, 1), height: y(0) - y(v), class: `bar bar-${kind}` });
      rect.append(svg("title", {}, `${r.label} · ${v}`));
      root.append(rect);
    });
    if (r.label.endsWith(":00") && (n <= 48 || Number(r.label.slice(0, 2)) % 2 === 0)) {
      root.append(svg("text", { x: left + i * step, y: height - 6, class: "axis" }, r.label));
    }
  });
  const line = (values, cls) => {
    const points = values.map((v, i) => `${left + i * step + step / 2},${y(v)}`).join(" ");
    if (values.length) root.append(svg("polyline", { points, class: cls }));
  };
  line(shown.map((r) => r.agents_logged_in), "line-logged");
  if (needed.size) line(shown.map((r) => needed.get(hourOf(r.label)) || 0), "line-needed");
  box.replaceChildren(root);
  box.dataset.intervals = String(shown.length);
  box.dataset.offered = String(intervals.reduce((sum, r) => sum + r.offered, 0));
}

const hourOf = (hhmm) => Number(hhmm.slice(0, 2));

// -- wiring -----------------------------------------------------------------------------

function tick() {
  const now = serverNow();
  $("clock").textContent = new Date(now).toLocaleTimeString("vi-VN", { hour12: false });
  tickQueues(now);
  tickAgents(now);
  tickIncidents(now);
}

function start() {
  $("signout").addEventListener("click", async () => {
    try { await request("POST", "/auth/logout"); } finally { window.location.assign("/login"); }
  });
  $("by-queue").addEventListener("click", () => {
    view.byQueue = !view.byQueue;
    $("by-queue").setAttribute("aria-pressed", String(view.byQueue));
    $("by-queue").textContent = view.byQueue ? "Xem theo lĩnh vực" : "Xem theo hàng đợi";
    $("col-name").textContent = view.byQueue ? "Hàng đợi" : "Lĩnh vực";
    renderQueues();
  });
  wirePhone();
  render();
  tick();
  followEvents({
    snapshot: onSnapshot,
    agent: (data) => { setAgent(data); renderQueues(); renderAgents(); },
    queue: (data) => { setQueue(data); renderQueues(); },
    incident: (data) => { setIncident(data); renderIncidents(); },
    figures: setFigures,
    coaching: onCoaching,
  });
  setInterval(tick, 1000);
}

start();
