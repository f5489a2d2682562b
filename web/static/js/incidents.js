// The incident board (/incidents): open incidents overdue first, filters kept in the URL,
// an incident's history and what this user may do to it, counts per district.
//
// Live data comes from GET /events (EventSource, cookie auth): its snapshot holds the open
// incidents this user may see (scoped as /monitoring scopes them), `incident` messages
// change them. "Overdue" is judged here, each second, from each incident's deadline
// (ack_due_at) against the server's clock: nothing is polled. Every text that comes from a
// caller or a user is set with textContent.

import { el, formatTime, show } from "./dom.js";
import { HttpError, request } from "./http.js";
import { followEvents, serverNow, toLogin } from "./stream.js";

const SNAPSHOT_LIMIT = 500; // the snapshot's most open incidents (api/live_feed.py)
const WAITING = new Set(["new", "dispatched"]); // only these can be overdue
const URGENCY_RANK = { critical: 0, urgent: 1, normal: 2 };
const FILTERS = ["district", "commune", "category", "urgency", "status"];
const KIND_LABELS = {
  created: "Tiếp nhận",
  dispatched: "Điều động",
  assigned: "Giao lại",
  escalated: "Chuyển lên cấp trên",
  escalation_exhausted: "Không còn cấp trên",
  unassigned: "Chưa có đội",
  status: "Đổi trạng thái",
  phone: "Gọi điện cho đội",
  linked: "Cuộc gọi liên quan",
};

const $ = (id) => document.getElementById(id);
const CONFIG = JSON.parse($("board-config").textContent);

const placeNames = new Map();
for (const d of CONFIG.districts) placeNames.set(d.code, d.name);
for (const c of CONFIG.communes) placeNames.set(c.code, c.name);
const inScopeCodes = new Set(placeNames.keys());
if (CONFIG.scope) inScopeCodes.add(CONFIG.scope.code);

const view = {
  incidents: new Map(), // id -> the incident message's data
  overdue: new Set(), // ids judged overdue at the last tick
  summary: null, // GET /monitoring/summary's answer, recounted locally on changes
  truncated: false, // the snapshot held SNAPSHOT_LIMIT: counts come from the server then
  selected: null, // the id in the detail panel
  actions: null,
  summaryTimer: null,
};

const label = (table, value) => (value == null ? "" : CONFIG[table][value] || String(value));

// -- filters (in the query string: a link reproduces the view) ---------------------------

function filters() {
  const params = new URLSearchParams(window.location.search);
  const out = {};
  for (const name of FILTERS) out[name] = params.get(name) || "";
  return out;
}

function setFilters(values) {
  const params = new URLSearchParams();
  for (const name of FILTERS) if (values[name]) params.set(name, values[name]);
  if (view.selected != null) params.set("incident", String(view.selected));
  const query = params.toString();
  window.history.replaceState(null, "", query ? `?${query}` : window.location.pathname);
}

function fillSelect(select, options, value) {
  const first = select.options[0];
  select.replaceChildren(first);
  for (const [v, text] of options) select.append(el("option", { value: String(v) }, text));
  select.value = options.some(([v]) => String(v) === value) ? value : "";
}

function renderFilters() {
  const f = filters();
  fillSelect($("f-district"), CONFIG.districts.map((d) => [d.code, d.name]), f.district);
  const communes = CONFIG.communes.filter((c) => !f.district || String(c.district_code) === f.district);
  fillSelect($("f-commune"), communes.map((c) => [c.code, c.name]), f.commune);
  fillSelect($("f-category"), Object.entries(CONFIG.categories), f.category);
  fillSelect($("f-urgency"), Object.entries(CONFIG.urgencies), f.urgency);
  fillSelect($("f-status"), CONFIG.open_statuses.map((s) => [s, CONFIG.statuses[s]]), f.status);
  show($("f-district").parentElement, CONFIG.districts.length > 1);
  show($("f-commune").parentElement, CONFIG.communes.length > 1);
}

function onFilterChange(event) {
  const values = {};
  for (const name of FILTERS) values[name] = $(`f-${name}`).value;
  if (event && event.target.id === "f-district") values.commune = "";
  setFilters(values);
  renderFilters();
  renderList();
  loadSummary();
}

function matches(incident, f) {
  if (f.district && String(incident.district_code) !== f.district && String(incident.commune_code) !== f.district) return false;
  if (f.commune && String(incident.commune_code) !== f.commune) return false;
  if (f.category && incident.category !== f.category) return false;
  if (f.urgency && incident.urgency !== f.urgency) return false;
  if (f.status && incident.status !== f.status) return false;
  return true;
}

// -- the list ---------------------------------------------------------------------------

function dueMs(incident) {
  const at = Date.parse(incident.ack_due_at || "");
  return Number.isNaN(at) ? null : at;
}

function isOverdue(incident, now) {
  const due = dueMs(incident);
  return WAITING.has(incident.status) && due !== null && due < now;
}

function compare(a, b, now) {
  const ao = isOverdue(a, now);
  const bo = isOverdue(b, now);
  if (ao !== bo) return ao ? -1 : 1;
  if (ao) return dueMs(a) - dueMs(b); // the longest overdue first
  const ua = URGENCY_RANK[a.urgency] ?? 9;
  const ub = URGENCY_RANK[b.urgency] ?? 9;
  if (ua !== ub) return ua - ub;
  return Date.parse(a.created_at) - Date.parse(b.created_at) || a.id - b.id;
}

function minutesText(ms) {
  const total = Math.floor(Math.abs(ms) / 1000);
  if (total < 60) return `${total} giây`;
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  return h ? `${h} giờ${m ? ` ${m} phút` : ""}` : `${m} phút`;
}

function dueText(incident, now) {
  if (!WAITING.has(incident.status)) return "Đã nhận";
  const due = dueMs(incident);
  if (due === null) return "—";
  return due < now ? `Quá hạn ${minutesText(now - due)}` : `Còn ${minutesText(due - now)}`;
}

function placeText(incident) {
  const commune = placeNames.get(incident.commune_code) || `#${incident.commune_code}`;
  const district = placeNames.get(incident.district_code);
  return district ? `${commune}, ${district}` : commune;
}

function renderList() {
  const now = serverNow();
  const f = filters();
  const rows = [...view.incidents.values()].filter((i) => matches(i, f)).sort((a, b) => compare(a, b, now));
  const body = $("incidents-body");
  body.replaceChildren(
    ...rows.map((incident) => {
      const overdue = isOverdue(incident, now);
      const row = el(
        "tr",
        {
          "data-id": String(incident.id),
          "data-status": incident.status,
          class: `incident urgency-${incident.urgency}${overdue ? " overdue" : ""}${incident.id === view.selected ? " selected" : ""}`,
          tabindex: "0",
        },
        el("td", { class: "due" }, dueText(incident, now)),
        el("td", {}, label("urgencies", incident.urgency)),
        el("td", {}, label("categories", incident.category)),
        el("td", {}, placeText(incident)),
        el("td", {}, incident.address || ""),
        el("td", { class: "status" }, label("statuses", incident.status)),
        el("td", {}, incident.team_name || "Chưa có đội"),
      );
      row.addEventListener("click", () => select(incident.id));
      row.addEventListener("keydown", (e) => { if (e.key === "Enter") select(incident.id); });
      return row;
    }),
  );
  $("count-shown").textContent = String(rows.length);
  $("count-overdue").textContent = String(rows.filter((i) => isOverdue(i, now)).length);
  show($("incidents-empty"), rows.length === 0);
}

/** Each second: the deadlines' texts; a new overdue one re-sorts the list and the counts. */
function tick() {
  const now = serverNow();
  let changed = false;
  for (const incident of view.incidents.values()) {
    const overdue = isOverdue(incident, now);
    if (overdue !== view.overdue.has(incident.id)) {
      changed = true;
      if (overdue) view.overdue.add(incident.id);
      else view.overdue.delete(incident.id);
    }
  }
  if (changed) {
    renderList();
    recount();
    return;
  }
  for (const row of $("incidents-body").children) {
    const incident = view.incidents.get(Number(row.dataset.id));
    if (incident) row.querySelector(".due").textContent = dueText(incident, now);
  }
}

// -- per-district counts ----------------------------------------------------------------

function summaryQuery() {
  const f = filters();
  const params = new URLSearchParams();
  if (f.commune) params.set("commune_code", f.commune);
  else if (f.district) params.set("district_code", f.district);
  if (f.category) params.set("category", f.category);
  if (f.urgency) params.set("urgency", f.urgency);
  return params.toString();
}

async function loadSummary() {
  try {
    const query = summaryQuery();
    view.summary = await request("GET", `/monitoring/summary${query ? `?${query}` : ""}`);
    show($("summary-error"), false);
    renderSummary();
  } catch (exc) {
    if (exc instanceof HttpError && exc.status === 401) return toLogin();
    $("summary-error").textContent = `Không tải được số liệu theo địa bàn: ${refusal(exc)}`;
    show($("summary-error"), true);
  }
}

/** The summary's cells counted again from the incidents held here (the same as the server
 * counts them: open ones under the rows' places, of the filters' kind). When the snapshot
 * was cut at its limit, this page does not hold them all: ask the server (debounced). */
function recount() {
  const summary = view.summary;
  if (!summary) return;
  if (view.truncated) {
    clearTimeout(view.summaryTimer);
    view.summaryTimer = setTimeout(loadSummary, 2000);
    return;
  }
  const now = serverNow();
  const f = filters();
  const byCode = new Map(summary.rows.map((r) => [r.place.code, r]));
  const zero = (row) => {
    for (const key of Object.keys(row.counts)) row.counts[key] = 0;
    row.open = 0;
    row.overdue = 0;
  };
  summary.rows.forEach(zero);
  zero(summary.total);
  for (const incident of view.incidents.values()) {
    if (!inScope(incident)) continue;
    if (!matches(incident, { ...f, status: "" })) continue;
    const row = byCode.get(summary.level === "district" ? incident.district_code : incident.commune_code);
    const overdue = isOverdue(incident, now);
    for (const target of row ? [row, summary.total] : [summary.total]) {
      target.counts[incident.status] = (target.counts[incident.status] || 0) + 1;
      target.open += 1;
      if (overdue) target.overdue += 1;
    }
  }
  renderSummary();
}

function renderSummary() {
  const summary = view.summary;
  if (!summary) return;
  const head = [el("th", {}, "Địa bàn"), ...summary.columns.map((c) => el("th", {}, c.label)), el("th", {}, "Tổng")];
  $("summary-head").replaceChildren(...head);
  const line = (name, row, attrs = {}) =>
    el(
      "tr",
      attrs,
      el("th", { scope: "row" }, name),
      ...summary.columns.map((c) =>
        el("td", c.key === "overdue" && row.overdue ? { class: "overdue" } : {}, String(c.key === "overdue" ? row.overdue : row.counts[c.key] || 0)),
      ),
      el("td", {}, String(row.open)),
    );
  $("summary-body").replaceChildren(
    ...summary.rows.map((row) => line(row.place.name, row, { "data-code": String(row.place.code) })),
  );
  $("summary-foot").replaceChildren(line("Tổng cộng", summary.total, { class: "total" }));
}

// -- the detail panel -------------------------------------------------------------------

async function select(id) {
  view.selected = id;
  setFilters(filters()); // the open incident is part of the link too
  for (const row of $("incidents-body").children) row.classList.toggle("selected", Number(row.dataset.id) === id);
  show($("detail"), true);
  show($("d-error"), false);
  show($("d-done"), false);
  $("d-reason").value = "";
  await loadDetail();
}

async function loadDetail() {
  const id = view.selected;
  if (id == null) return;
  try {
    const [incident, actions] = await Promise.all([
      request("GET", `/incidents/${id}`),
      request("GET", `/incidents/${id}/actions`),
    ]);
    if (view.selected !== id) return;
    renderDetail(incident);
    renderActions(actions);
  } catch (exc) {
    if (exc instanceof HttpError && exc.status === 401) return toLogin();
    showError(exc, "Không mở được sự vụ");
    renderActions(null);
  }
}

function renderDetail(incident) {
  $("d-id").textContent = String(incident.id);
  $("d-status").textContent = incident.status_label;
  $("d-category").textContent = label("categories", incident.category);
  $("d-urgency").textContent = label("urgencies", incident.urgency);
  $("d-place").textContent = incident.place_names.join(", ");
  $("d-address").textContent = incident.address || "—";
  $("d-caller").textContent = incident.caller_number || "—";
  $("d-notes").textContent = incident.notes || "—";
  $("d-team").textContent = incident.team_name || "Chưa có đội";
  $("d-due").textContent = incident.ack_due_at ? formatTime(incident.ack_due_at, true) : "—";
  $("d-history").replaceChildren(
    ...incident.events.map((e) => {
      const what = [KIND_LABELS[e.kind] || e.kind];
      if (e.to_status) what.push(`→ ${label("statuses", e.to_status)}`);
      const item = el("li", {}, el("time", { datetime: e.at }, formatTime(e.at, true)), " ", what.join(" "));
      item.append(el("span", { class: "muted" }, ` — ${actorText(e.actor)}`));
      if (e.reason) item.append(el("div", { class: "reason" }, e.reason));
      return item;
    }),
  );
}

/** "user:<name>" → the name; "phone:<x>" → by phone; "system" → the hotline itself. */
function actorText(actor) {
  if (actor === "system") return "hệ thống";
  if (actor.startsWith("user:")) return actor.slice(5);
  if (actor.startsWith("phone:")) return `qua điện thoại ${actor.slice(6)}`;
  return actor;
}

function renderActions(actions) {
  view.actions = actions;
  const ack = !!(actions && actions.acknowledge);
  const moves = actions ? actions.transitions : [];
  const teams = actions ? actions.assign_to : [];
  // A refresh (this incident changed) keeps what the user had chosen, if still offered.
  const chosenMove = $("d-move").value;
  const chosenTeam = $("d-assign").value;
  show($("d-ack"), ack);
  show($("d-move-form"), moves.length > 0);
  $("d-move").replaceChildren(
    ...moves.map((m) => el("option", { value: m.status }, m.needs_reason ? `${m.label} (cần lý do)` : m.label)),
  );
  show($("d-assign-form"), teams.length > 0);
  $("d-assign").replaceChildren(
    ...teams.map((t) => el("option", { value: String(t.id) }, `${t.name} — ${t.place_name}`)),
  );
  if (moves.some((m) => m.status === chosenMove)) $("d-move").value = chosenMove;
  if (teams.some((t) => String(t.id) === chosenTeam)) $("d-assign").value = chosenTeam;
  const any = ack || moves.length > 0 || teams.length > 0;
  show($("d-reason"), any);
  show($("d-reason").previousElementSibling, any);
  const closed = actions !== null && !CONFIG.open_statuses.includes(actions.status);
  $("d-none").textContent = closed ? "Sự vụ đã đóng." : "Bạn chỉ được xem sự vụ này.";
  show($("d-none"), actions !== null && !any);
}

// What the API's refusals mean, in Vietnamese; the API's own words follow in brackets.
const LIFECYCLE_REASONS = [
  [/needs a reason|give a reason/, "cần ghi lý do khi hủy sự vụ hoặc bỏ qua một bước."],
  [/cannot change any more/, "sự vụ đã đóng, không thể thay đổi nữa."],
  [/cannot go back/, "sự vụ không thể quay lại trạng thái trước."],
  [/already with team/, "sự vụ đang do chính đội này giữ."],
  [/a team is already on it/, "đội đã lên đường, không thể giao lại."],
  [/only by assigning a team/, "trạng thái này chỉ có được khi giao sự vụ cho một đội."],
  [/already/, "sự vụ đã ở trạng thái này (có thể người khác vừa cập nhật)."],
  [/has no team yet/, "sự vụ chưa có đội: hãy giao cho một đội trước."],
  [/not active|does not exist/, "đội này không tồn tại hoặc đã ngừng hoạt động."],
];

function refusal(exc) {
  if (!(exc instanceof HttpError)) return "không kết nối được tới máy chủ, vui lòng thử lại.";
  const detail = typeof exc.body.detail === "string" ? exc.body.detail : "";
  if (exc.status === 409) {
    const known = LIFECYCLE_REASONS.find(([pattern]) => pattern.test(detail));
    return known ? known[1] : "thao tác không hợp lệ ở trạng thái hiện tại của sự vụ.";
  }
  if (exc.status === 403) return "bạn không có quyền thực hiện thao tác này với sự vụ.";
  if (exc.status === 404) return "không tìm thấy sự vụ, hoặc sự vụ không thuộc phạm vi của bạn.";
  if (exc.status === 422) return "dữ liệu gửi lên không hợp lệ.";
  if (exc.status === 503) return "dịch vụ điều phối chưa chạy.";
  return "máy chủ gặp lỗi, vui lòng thử lại.";
}

function showError(exc, what = "Bị từ chối") {
  const node = $("d-error");
  const detail = exc instanceof HttpError && typeof exc.body.detail === "string" ? exc.body.detail : "";
  node.replaceChildren(`${what}: ${refusal(exc)}`);
  if (detail) node.append(el("span", { class: "api-detail" }, ` (${detail})`));
  show(node, true);
  show($("d-done"), false);
}

async function act(path, body, done) {
  const id = view.selected;
  if (id == null) return;
  const buttons = document.querySelectorAll("#d-actions button");
  buttons.forEach((b) => { b.disabled = true; });
  try {
    const incident = await request("POST", `/incidents/${id}/${path}`, { body });
    show($("d-error"), false);
    $("d-done").textContent = done;
    show($("d-done"), true);
    $("d-reason").value = "";
    const known = view.incidents.get(id);
    if (known) {
      // The stream brings the same change; shown at once here all the same.
      Object.assign(known, {
        status: incident.status,
        team_id: incident.team_id,
        team_name: incident.team_name,
        ack_due_at: incident.ack_due_at,
      });
      applyChange(known);
    }
    renderDetail(incident);
    renderActions(await request("GET", `/incidents/${id}/actions`));
  } catch (exc) {
    if (exc instanceof HttpError && exc.status === 401) return toLogin();
    showError(exc);
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}

// -- the event stream -------------------------------------------------------------------

function inScope(incident) {
  return CONFIG.role !== "team" || inScopeCodes.has(incident.commune_code);
}

function visible(incident) {
  if (!CONFIG.open_statuses.includes(incident.status)) return false;
  return inScope(incident) || incident.team_id === CONFIG.team_id;
}

function applyChange(incident) {
  if (visible(incident)) view.incidents.set(incident.id, incident);
  else view.incidents.delete(incident.id);
  if (isOverdue(incident, serverNow())) view.overdue.add(incident.id);
  else view.overdue.delete(incident.id);
  renderList();
  recount();
}

function onIncident(data) {
  applyChange({ ...(view.incidents.get(data.id) || {}), ...data });
  if (data.id === view.selected) loadDetail();
}

function onSnapshot(data) {
  const incidents = data.incidents || [];
  view.truncated = incidents.length >= SNAPSHOT_LIMIT;
  view.incidents = new Map(incidents.filter(visible).map((i) => [i.id, i]));
  const now = serverNow();
  view.overdue = new Set([...view.incidents.values()].filter((i) => isOverdue(i, now)).map((i) => i.id));
  renderList();
  loadSummary();
  if (view.selected != null) loadDetail();
}

// -- wiring -----------------------------------------------------------------------------

function wire() {
  for (const name of FILTERS) $(`f-${name}`).addEventListener("change", onFilterChange);
  $("f-reset").addEventListener("click", () => {
    setFilters({});
    renderFilters();
    renderList();
    loadSummary();
  });
  $("d-close").addEventListener("click", () => {
    view.selected = null;
    setFilters(filters());
    show($("detail"), false);
    renderList();
  });
  const reason = () => $("d-reason").value.trim();
  $("d-ack").addEventListener("click", () => act("acknowledge", { reason: reason() }, "Đã nhận lệnh."));
  $("d-move-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const target = $("d-move").value;
    act("transitions", { status: target, reason: reason() }, `Đã chuyển sang: ${label("statuses", target)}.`);
  });
  $("d-assign-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const team = $("d-assign");
    const name = team.selectedOptions[0] ? team.selectedOptions[0].textContent : "";
    act("assign", { team_id: Number(team.value), reason: reason() }, `Đã giao cho ${name}.`);
  });
  $("signout").addEventListener("click", async () => {
    try { await request("POST", "/auth/logout"); } finally { window.location.assign("/login"); }
  });
  setInterval(tick, 1000);
}

function start() {
  renderFilters();
  wire();
  followEvents({ snapshot: onSnapshot, incident: onIncident });
  const opened = Number(new URLSearchParams(window.location.search).get("incident"));
  if (Number.isInteger(opened) && opened > 0) select(opened);
}

start();
