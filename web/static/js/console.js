// The agent's console: state and buttons, the screen pop, the outcome form, today's calls.
// Live data comes from GET /events (EventSource, cookie auth); every text that comes from a
// caller or a user is inserted with textContent, never as HTML.
import { HttpError, request } from "./http.js";
import { followEvents, serverNow, toLogin } from "./stream.js";
import { el, formatClock, formatDuration, formatTime, newKey, show } from "./dom.js";
import { coachingBanner, formatSeconds } from "./calls-logic.js";

const LABELS = JSON.parse(document.getElementById("labels").textContent);
const root = document.getElementById("console");
const AGENT_ID = Number(root.dataset.agentId);
const MAY_LISTEN = root.dataset.mayListen === "1"; // the agent may play their own recordings
const $ = (id) => document.getElementById(id);

const view = {
  agent: null, // the agent's state as the `agent` event carries it
  pop: null, // the last pop: {call, previous_calls, open_incidents}
  target: null, // the call the outcome form is for: {call_id, district_code, ...}
  key: null, // the form's Idempotency-Key
  sent: false, // the form's outcome was recorded
  dirty: false,
  calls: new Map(), // call id -> call (today's)
  pauseReasons: {},
  callIds: new Map(), // uniqueid -> call id, from the pop and the `call` messages
  recording: { uniqueid: null, paused: false, at: null }, // the current call's recording
};

const label = (table, value) => (value == null ? "" : LABELS[table][value] || String(value));

function onSnapshot(data) {
  const agent = (data.agents || []).find((a) => a.agent_id === AGENT_ID);
  setAgent(agent || { agent_id: AGENT_ID, state: "logged_out" });
  if (data.pop) setPop(data.pop);
  else hidePop();
  for (const call of data.calls || []) onCall(call);
  // After a reload mid-call: whether a supervisor is coaching, whether the recording is paused.
  setCoaching(data.coaching || null);
  const paused = data.recording_paused || {};
  const uniqueid = view.agent && view.agent.call_uniqueid;
  if (uniqueid) {
    const at = Object.prototype.hasOwnProperty.call(paused, uniqueid) ? paused[uniqueid] : undefined;
    view.recording = { uniqueid, paused: at !== undefined, at: at || null };
    renderRecording();
  }
  loadCalls();
}

/** A `recording` message: the current call's recording paused or resumed (from another tab
 * of this agent, or by a supervisor). */
function onRecording(data) {
  const uniqueid = view.agent && view.agent.call_uniqueid;
  if (!uniqueid || data.call_uniqueid !== uniqueid || typeof data.paused !== "boolean") return;
  view.recording = { uniqueid, paused: data.paused, at: data.paused ? new Date().toISOString() : null };
  renderRecording();
}

// -- the agent's state ------------------------------------------------------------------

function setAgent(data) {
  const previous = view.agent || {};
  view.agent = {
    state: data.state || "logged_out",
    since: data.since ?? null,
    reason: data.reason ?? null,
    wrapup_until: data.wrapup_until ?? null,
    answered_today: data.answered_today ?? previous.answered_today ?? 0,
    call_uniqueid: data.call_uniqueid ?? null,
  };
  renderAgent();
  renderRecording();
  if (!["on_call", "ringing"].includes(view.agent.state)) setCoaching(null); // the call ended
}

function renderAgent() {
  const agent = view.agent;
  if (!agent) return;
  const stateNode = $("agent-state");
  stateNode.textContent = label("agent_states", agent.state);
  stateNode.className = `state state-${agent.state}`;
  stateNode.dataset.state = agent.state;
  const reason = $("agent-reason");
  if (agent.state === "paused" && agent.reason) {
    reason.textContent = `Lý do: ${view.pauseReasons[agent.reason] || agent.reason}`;
    show(reason, true);
  } else show(reason, false);
  $("answered-today").textContent = String(agent.answered_today);
  const loggedOut = agent.state === "logged_out";
  $("queue-login").disabled = !loggedOut;
  $("queue-logout").disabled = loggedOut;
  $("pause").disabled = loggedOut || agent.state === "paused";
  $("resume").disabled = agent.state !== "paused";
  tick();
}

function tick() {
  const agent = view.agent;
  if (!agent) return;
  const since = agent.since ? Date.parse(agent.since) : NaN;
  $("agent-state-time").textContent = Number.isNaN(since) ? "--:--" : formatClock(serverNow() - since);
  const until = agent.wrapup_until ? Date.parse(agent.wrapup_until) : NaN;
  const wrapup = agent.state === "wrapup" && !Number.isNaN(until);
  if (wrapup) $("wrapup-left").textContent = String(Math.max(0, Math.ceil((until - serverNow()) / 1000)));
  show($("wrapup"), wrapup);
}

async function agentAction(path, body) {
  const error = $("state-error");
  show(error, false);
  try {
    // The new state arrives on the stream (`agent`), as a change made from the phone does.
    await request("POST", `/agents/${AGENT_ID}/${path}`, { body });
  } catch (exc) {
    if (exc instanceof HttpError && exc.status === 401) return toLogin();
    error.textContent = exc.message;
    show(error, true);
  }
}

async function loadPauseReasons() {
  view.pauseReasons = await request("GET", "/agents/pause-reasons");
  const select = $("pause-reason");
  select.replaceChildren(
    ...Object.entries(view.pauseReasons).map(([code, text]) => el("option", { value: code }, text)),
  );
}

// -- the pop ----------------------------------------------------------------------------

function setPop(pop) {
  view.pop = pop;
  const call = pop.call;
  if (call.uniqueid && call.call_id != null) view.callIds.set(call.uniqueid, call.call_id);
  $("pop-number").textContent = call.caller_number || "—";
  $("pop-name").textContent = call.caller_name || "—";
  $("pop-category").textContent = label("categories", call.category) || "—";
  $("pop-priority").textContent = call.priority == null ? "—" : String(call.priority);
  $("pop-district").textContent = call.district_name || (call.district_code ? `Mã ${call.district_code}` : "Không rõ");
  $("pop-route").textContent = label("routes", call.route) || "—";
  $("pop-redial").textContent = call.redial ? "Có — gọi lại trong thời gian ngắn" : "Không";
  $("pop-redial").className = call.redial ? "warn" : "";
  $("pop-status").textContent = label("call_statuses", call.status);
  const previous = (pop.previous_calls || []).map((p) =>
    el("li", {}, `${formatTime(p.arrived_at, true)} · ${label("categories", p.category) || "—"} · ${
      label("call_statuses", p.status)}${p.disposition ? ` · ${label("dispositions", p.disposition)}` : ""}`),
  );
  $("pop-previous").replaceChildren(...(previous.length ? previous : [el("li", { class: "muted" }, "Không có")]));
  renderPopIncidents();
  // Which call the pop shows, for scripts that watch the page (bench/pop_latency.py).
  $("pop").dataset.uniqueid = call.uniqueid || "";
  show($("pop"), true);
  renderRecording();
  if (call.call_id != null && (!view.target || view.sent || !view.dirty || view.target.call_id === call.call_id)) {
    setTarget(call);
  }
}

function renderPopIncidents() {
  const incidents = (view.pop && view.pop.open_incidents) || [];
  const items = incidents.map((i) =>
    el("li", { "data-incident-id": String(i.id) }, `#${i.id} · ${label("categories", i.category)} · ${
      label("urgencies", i.urgency)} · ${label("incident_statuses", i.status)} · ${i.commune_name || ""}${
      i.address ? `, ${i.address}` : ""}${i.team_name ? ` → ${i.team_name}` : ""}`),
  );
  $("pop-incidents").replaceChildren(...(items.length ? items : [el("li", { class: "muted" }, "Không có")]));
  const select = $("duplicate-of");
  select.replaceChildren(
    ...(incidents.length
      ? incidents.map((i) => el("option", { value: String(i.id) }, `#${i.id} · ${i.commune_name || ""} ${i.address || ""}`))
      : [el("option", { value: "" }, "— không có sự vụ đang mở —")]),
  );
}

function hidePop() {
  show($("pop"), false);
}

function onCall(call) {
  if (call.uniqueid && call.call_id != null && !view.callIds.has(call.uniqueid)) {
    view.callIds.set(call.uniqueid, call.call_id);
    renderRecording();
  }
  if (view.pop && view.pop.call.uniqueid === call.uniqueid) {
    view.pop.call = { ...view.pop.call, ...call };
    $("pop-status").textContent = label("call_statuses", call.status);
  }
  if (call.call_id != null && call.agent_id === AGENT_ID) {
    const known = view.calls.get(call.call_id) || {};
    view.calls.set(call.call_id, { ...known, ...call, id: call.call_id });
    renderCalls();
  }
}

function onIncident(incident) {
  if (!view.pop) return;
  const list = view.pop.open_incidents || [];
  const at = list.findIndex((i) => i.id === incident.id);
  const open = !["resolved", "cancelled"].includes(incident.status);
  if (at >= 0) {
    if (open) list[at] = { ...list[at], ...incident };
    else list.splice(at, 1);
    renderPopIncidents();
  }
}

// -- the current call's recording: pause (a caller's bank details…) and resume ------------

/** The call the agent is talking on now, with its id: {uniqueid, call_id}, or null. */
function currentCall() {
  const agent = view.agent;
  if (!agent || agent.state !== "on_call" || !agent.call_uniqueid) return null;
  const id = view.callIds.get(agent.call_uniqueid);
  return id == null ? null : { uniqueid: agent.call_uniqueid, call_id: id };
}

function renderRecording() {
  const call = currentCall();
  show($("recording-box"), call != null);
  if (!call) return;
  if (view.recording.uniqueid !== call.uniqueid) {
    // A new call: it is recorded from its answer (the API says otherwise if it is not).
    view.recording = { uniqueid: call.uniqueid, paused: false, at: null };
    show($("recording-error"), false);
  }
  const { paused, at } = view.recording;
  const state = $("recording-state");
  state.textContent = paused ? `Đã tạm dừng ghi âm${at ? ` từ ${formatSeconds(at)}` : ""}` : "● Đang ghi âm";
  state.className = `rec-state${paused ? " paused" : ""}`;
  state.dataset.paused = paused ? "1" : "0";
  $("recording-pause").disabled = paused;
  $("recording-resume").disabled = !paused;
}

async function pauseRecording(pause) {
  const call = currentCall();
  if (!call) return;
  const error = $("recording-error");
  show(error, false);
  $("recording-pause").disabled = $("recording-resume").disabled = true;
  try {
    const answer = await request("POST", `/calls/${call.call_id}/recording/${pause ? "pause" : "resume"}`);
    view.recording = { uniqueid: call.uniqueid, paused: Boolean(answer.paused), at: answer.at || null };
  } catch (exc) {
    if (exc instanceof HttpError && exc.status === 401) return toLogin();
    // 409: it already was as asked (paused from another tab, or before a reload).
    if (exc instanceof HttpError && exc.status === 409) view.recording = { uniqueid: call.uniqueid, paused: pause, at: null };
    error.textContent = exc instanceof HttpError ? exc.message : "Không gửi được: mất kết nối. Hãy bấm lại.";
    show(error, true);
  }
  renderRecording();
}

// -- being coached ------------------------------------------------------------------------

/** A `coaching` message for this agent (the policy decides whether they get any). */
function setCoaching(message) {
  const text = message && message.agent_id === AGENT_ID ? coachingBanner(message, LABELS) : "";
  const banner = $("coaching-banner");
  banner.textContent = text;
  banner.dataset.mode = text ? message.mode || "" : "";
  show(banner, Boolean(text));
}

// -- the outcome form -------------------------------------------------------------------

function setTarget(call) {
  const id = call.call_id ?? call.id;
  if (view.target && view.target.call_id === id) {
    // The same call, better known (a pop after the list): keep what was typed.
    view.target = { ...view.target, ...call, call_id: id };
    describeTarget();
    return;
  }
  view.target = { ...call, call_id: id };
  view.key = newKey();
  view.sent = false;
  view.dirty = false;
  const form = $("outcome-form");
  form.reset();
  $("commune-code").value = "";
  $("commune-chosen").textContent = "";
  $("commune-options").replaceChildren();
  if (call.category) $("category").value = call.category;
  clearErrors();
  describeTarget();
  showDispositionFields();
  show($("outcome-none"), false);
  show($("outcome-result"), false);
  show(form, true);
  setFormEnabled(true);
}

function describeTarget() {
  const call = view.target;
  $("outcome-call").textContent = `· cuộc gọi #${call.call_id} từ ${call.caller_number || "?"}`;
  $("commune-district").textContent = call.district_name
    ? `(trong ${call.district_name})`
    : call.district_code ? `(huyện mã ${call.district_code})` : "";
}

function setFormEnabled(enabled) {
  for (const node of $("outcome-form").elements) node.disabled = !enabled;
}

function showDispositionFields() {
  const value = $("disposition").value;
  show($("incident-fields"), value === "incident");
  show($("duplicate-field"), value === "duplicate");
}

function clearErrors() {
  for (const node of document.querySelectorAll(".field-error")) show(node, false);
  show($("outcome-error"), false);
}

function fieldError(field, text) {
  const node = document.querySelector(`.field-error[data-for="${field}"]`);
  if (!node) return false;
  node.textContent = text;
  show(node, true);
  return true;
}

function outcomeBody() {
  const form = $("outcome-form");
  const disposition = form.elements.disposition.value;
  const body = { disposition, notes: form.elements.notes.value.trim() };
  if (disposition === "incident") {
    body.category = form.elements.category.value || null;
    body.urgency = form.elements.urgency.value || null;
    const code = $("commune-code").value;
    body.commune_code = code ? Number(code) : null;
    body.address = form.elements.address.value.trim();
  } else if (disposition === "duplicate") {
    const id = $("duplicate-of").value;
    body.duplicate_of = id ? Number(id) : null;
  }
  return body;
}

function hideFieldError(field) {
  const node = document.querySelector(`.field-error[data-for="${field}"]`);
  if (node) show(node, false);
}

/** What the form misses, said beside each field before anything is sent; true if none. */
function checkLocally(body) {
  const missing = [];
  if (!body.disposition) missing.push(["disposition", "Hãy chọn kết quả cuộc gọi."]);
  if (body.disposition === "incident") {
    if (!body.urgency) missing.push(["urgency", "Hãy chọn mức khẩn."]);
    if (!body.commune_code) missing.push(["commune_code", "Hãy chọn xã / phường trong danh sách."]);
  }
  if (body.disposition === "duplicate" && !body.duplicate_of) {
    missing.push(["duplicate_of", "Không có sự vụ đang mở để gắn vào."]);
  }
  for (const [field, text] of missing) fieldError(field, text);
  return missing.length === 0;
}

async function submitOutcome(event) {
  event.preventDefault();
  clearErrors();
  const target = view.target;
  if (!target || view.sent) return;
  const body = outcomeBody();
  if (!checkLocally(body)) return;
  setFormEnabled(false);
  try {
    const outcome = await request("POST", `/calls/${target.call_id}/outcome`, {
      body,
      headers: { "Idempotency-Key": view.key },
    });
    view.sent = true;
    await showOutcome(outcome, $("outcome-result"));
    show($("outcome-result"), true);
    const known = view.calls.get(target.call_id);
    if (known) known.outcome = outcome;
    return;
  } catch (exc) {
    if (exc instanceof HttpError && exc.status === 401) return toLogin();
    let placed = false;
    if (exc instanceof HttpError && Array.isArray(exc.body.errors)) {
      for (const error of exc.body.errors) {
        const loc = error.loc || [];
        const field = loc[0] === "body" ? loc[1] : loc[0];
        if (fieldError(String(field), error.msg)) placed = true;
      }
    }
    if (!placed) {
      const node = $("outcome-error");
      node.textContent = exc instanceof HttpError ? exc.message : "Không gửi được: mất kết nối. Hãy bấm gửi lại.";
      show(node, true);
    }
  }
  setFormEnabled(true);
  showDispositionFields();
}

async function showOutcome(outcome, into) {
  const lines = [el("p", {}, `Đã ghi kết quả: ${label("dispositions", outcome.disposition)}.`)];
  if (outcome.notes) lines.push(el("p", { class: "muted" }, `Ghi chú: ${outcome.notes}`));
  if (outcome.incident_id != null) {
    let team = "";
    try {
      const incident = await request("GET", `/incidents/${outcome.incident_id}`);
      team = incident.team_name || "";
    } catch { /* the id is still worth showing */ }
    const verb = outcome.disposition === "duplicate" ? "Gắn vào sự vụ đang mở" : "Sự vụ";
    const node = el("p", { class: "incident-line" }, `${verb} `);
    node.append(el("strong", { class: "incident-id" }, `#${outcome.incident_id}`));
    node.append(team ? " → đã chuyển đến " : " (chưa có tổ nhận)");
    if (team) node.append(el("strong", { class: "incident-team" }, team));
    lines.push(node);
  }
  into.replaceChildren(...lines);
}

// -- communes ---------------------------------------------------------------------------

let communeTimer = null;
let communeSeq = 0;

async function searchCommunes() {
  const text = $("commune-search").value.trim();
  const list = $("commune-options");
  $("commune-code").value = "";
  $("commune-chosen").textContent = "";
  view.dirty = true;
  const params = new URLSearchParams({ level: "commune", limit: "20" });
  const district = view.target && view.target.district_code;
  if (district) { params.set("parent_level", "district"); params.set("parent_code", String(district)); }
  if (text) params.set("q", text);
  const seq = ++communeSeq;
  let page;
  try {
    page = await request("GET", `/places?${params}`);
  } catch (exc) {
    if (exc instanceof HttpError && exc.status === 401) return toLogin();
    return;
  }
  if (seq !== communeSeq) return; // a newer search is on its way
  const items = page.items.map((place) => {
    const item = el("li", { role: "option", "data-code": String(place.code), tabindex: "-1" }, place.name);
    item.addEventListener("mousedown", (e) => { e.preventDefault(); chooseCommune(place); });
    return item;
  });
  list.replaceChildren(...(items.length ? items : [el("li", { class: "muted" }, "Không tìm thấy")]));
  show(list, true);
  $("commune-search").setAttribute("aria-expanded", "true");
}

function chooseCommune(place) {
  $("commune-code").value = String(place.code);
  $("commune-search").value = place.name;
  $("commune-chosen").textContent = `Đã chọn: ${place.name} (mã ${place.code})`;
  show($("commune-options"), false);
  $("commune-search").setAttribute("aria-expanded", "false");
  hideFieldError("commune_code");
}

// -- today's calls ----------------------------------------------------------------------

async function loadCalls() {
  const midnight = new Date();
  midnight.setHours(0, 0, 0, 0);
  try {
    const page = await request("GET", `/calls?since=${encodeURIComponent(midnight.toISOString())}&limit=200`);
    for (const call of page.items) {
      const known = view.calls.get(call.id) || {};
      view.calls.set(call.id, { ...known, ...call });
    }
    renderCalls();
    if (!view.target && page.items.length) {
      const last = page.items.find((c) => c.status === "answered" || c.status === "connected");
      if (last) noteLastCall(last);
    }
  } catch (exc) {
    if (exc instanceof HttpError && exc.status === 401) toLogin();
  }
}

async function noteLastCall(call) {
  // The last call without an outcome is the form's, as after a reload mid-wrap-up.
  try {
    await request("GET", `/calls/${call.id}/outcome`);
  } catch (exc) {
    if (exc instanceof HttpError && exc.status === 404 && !view.target) setTarget(call);
  }
}

function renderCalls() {
  const calls = [...view.calls.values()].sort((a, b) => Date.parse(b.arrived_at) - Date.parse(a.arrived_at));
  const rows = calls.map((call) => {
    const row = el("tr", { "data-call-id": String(call.id), tabindex: "0" },
      el("td", {}, formatTime(call.arrived_at)),
      el("td", {}, call.caller_number || "—"),
      el("td", {}, label("categories", call.category) || "—"),
      el("td", {}, label("call_statuses", call.status)),
    );
    row.addEventListener("click", () => openCall(call.id));
    row.addEventListener("keydown", (e) => { if (e.key === "Enter") openCall(call.id); });
    return row;
  });
  $("calls-body").replaceChildren(...rows);
  show($("calls-empty"), rows.length === 0);
}

async function openCall(id) {
  const call = view.calls.get(id);
  const box = $("call-detail");
  box.replaceChildren(el("h3", {}, `Cuộc gọi #${id}`));
  box.append(el("p", {}, `${formatTime(call.arrived_at, true)} · ${call.caller_number || "—"} · ${
    label("categories", call.category) || "—"} · chờ ${formatDuration(call.wait_s)} · nói ${formatDuration(call.talk_s)}`));
  show(box, true);
  try {
    const outcome = await request("GET", `/calls/${id}/outcome`);
    const result = el("div", { class: "result" });
    await showOutcome(outcome, result);
    box.append(result);
  } catch (exc) {
    if (exc instanceof HttpError && exc.status === 404) {
      const note = el("p", { class: "warn no-outcome" }, "Cuộc gọi này chưa có kết quả. ");
      const button = el("button", { type: "button", class: "record-outcome" }, "Ghi kết quả");
      button.addEventListener("click", () => {
        setTarget(call);
        $("outcome-form").scrollIntoView({ behavior: "smooth" });
      });
      note.append(button);
      box.append(note);
    } else if (exc instanceof HttpError && exc.status === 401) toLogin();
  }
  if (MAY_LISTEN) await showRecordings(id, box);
}

/** The call's recordings, to play (the service allows agents their own calls' ones). */
async function showRecordings(id, box) {
  let answer;
  try {
    answer = await request("GET", `/calls/${id}/recordings`);
  } catch (exc) {
    if (exc instanceof HttpError && exc.status === 401) toLogin();
    return; // none to show: the rest of the call is still worth reading
  }
  const items = (answer.items || []).map((r) => {
    const item = el("li", { class: "recording", "data-recording-id": String(r.id) },
      `${label("recording_kinds", r.kind)} · ${formatTime(r.started_at)} · ${formatDuration(
        r.duration_s == null ? null : Math.round(r.duration_s))} · ${label("recording_statuses", r.status)}`);
    if (r.status === "sealed") {
      item.append(el("audio", { controls: "", preload: "none", src: `/recordings/${r.id}/audio` }));
    }
    return item;
  });
  if (items.length) box.append(el("h4", {}, "Bản ghi âm"), el("ul", { class: "plain recordings" }, ...items));
}

// -- wiring -----------------------------------------------------------------------------

function wire() {
  $("queue-login").addEventListener("click", () => agentAction("login"));
  $("queue-logout").addEventListener("click", () => agentAction("logout"));
  $("pause-form").addEventListener("submit", (e) => {
    e.preventDefault();
    agentAction("pause", { reason: $("pause-reason").value });
  });
  $("resume").addEventListener("click", () => agentAction("unpause"));
  $("recording-pause").addEventListener("click", () => pauseRecording(true));
  $("recording-resume").addEventListener("click", () => pauseRecording(false));
  $("signout").addEventListener("click", async () => {
    try { await request("POST", "/auth/logout"); } finally { window.location.assign("/login"); }
  });
  const form = $("outcome-form");
  form.addEventListener("submit", submitOutcome);
  form.addEventListener("input", () => { view.dirty = true; });
  $("disposition").addEventListener("change", showDispositionFields);
  const search = $("commune-search");
  search.addEventListener("input", () => {
    clearTimeout(communeTimer);
    communeTimer = setTimeout(searchCommunes, 200);
  });
  search.addEventListener("focus", () => { if (!$("commune-code").value) searchCommunes(); });
  search.addEventListener("blur", () => setTimeout(() => show($("commune-options"), false), 150));
  search.addEventListener("keydown", (e) => {
    if (e.key !== "Enter") return;
    e.preventDefault();
    const first = $("commune-options").querySelector("li[data-code]");
    if (first) first.dispatchEvent(new MouseEvent("mousedown"));
  });
  setInterval(tick, 1000);
}

async function start() {
  wire();
  try {
    await loadPauseReasons();
  } catch (exc) {
    if (exc instanceof HttpError && exc.status === 401) return toLogin();
  }
  followEvents({
    snapshot: onSnapshot,
    agent: (data) => { if (data.agent_id === AGENT_ID) setAgent(data); },
    call: onCall,
    pop: (data) => { if (data.agent_id === AGENT_ID) setPop(data); },
    incident: onIncident,
    coaching: setCoaching,
    recording: onRecording,
  });
  loadCalls();
}

start();
