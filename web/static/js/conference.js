// One conference (/conferences/{id}): the header (status, time, lock and recording), the
// controls, the live roll per province → district → commune, the raised hands, the points
// table filtered by state, and the recording once it has ended.
//
// The data: GET /conferences/{id} on every (re)connection of the event stream (its
// snapshot), then its `conference` messages (the summary, the points that changed, the
// hands). A message redraws only what it changed: the points' rows, the roll rows of their
// places, the header: a conference of 3,000 points is never drawn again as a whole. The
// table shows a page of 100 points; a commune's roll row exists while its district is open.
// Every text from a user (title, labels) is set with textContent.

import {
  FILTERS, STATE_LABELS, applyEvent, barParts, controlsOf, createModel, elapsedMs,
  filterOf, isRecording, micText, placeText, pointActions, pointOrder, reasonText, statusText,
} from "./conference-logic.js";
import { el, formatClock, formatTime, show } from "./dom.js";
import { HttpError, request } from "./http.js";
import { followEvents, serverNow, toLogin } from "./stream.js";

const $ = (id) => document.getElementById(id);
const CONFIG = JSON.parse($("conf-config").textContent);
const CID = CONFIG.conference_id;
const BASE = `/conferences/${CID}`;
const SVG = "http://www.w3.org/2000/svg";

const view = {
  model: null,
  loading: null, // the GET in flight; messages that come meanwhile wait in `pending`
  pending: [],
  order: [], // the points' ids (no leaders) in the table's order
  filters: new Map(), // point id -> the filter it was in when last drawn
  rows: new Map(), // point id -> <tr>, of the page shown
  page: 0,
  pointsTimer: null,
  rollRows: new Map(), // roll key -> <tr>
  leaders: new Set(), // the leaders' point ids (not in the table nor the roll)
  expanded: new Set(), // district keys whose communes are shown
  filter: "all",
  recordingTries: 0,
};

// -- loading ----------------------------------------------------------------------------

async function load() {
  if (view.loading) return view.loading;
  view.loading = (async () => {
    try {
      const detail = await request("GET", BASE);
      view.model = createModel(detail);
      for (const data of view.pending) applyEvent(view.model, data);
      view.pending = [];
      show($("load-error"), false);
      renderAll();
    } catch (exc) {
      if (exc instanceof HttpError && exc.status === 401) return toLogin();
      $("load-error").textContent = exc instanceof HttpError && exc.status === 404
        ? "Không tìm thấy hội nghị này, hoặc bạn không được xem hội nghị này."
        : `Không tải được hội nghị: ${refusal(exc)}`;
      show($("load-error"), true);
    } finally {
      view.loading = null;
    }
  })();
  return view.loading;
}

function onConference(data) {
  if (!data.conference || data.conference.id !== CID) return;
  if (view.loading) {
    view.pending.push(data);
    return;
  }
  if (!view.model) return;
  const before = view.model.conference;
  const changed = applyEvent(view.model, data);
  const after = view.model.conference;
  if (changed.conference) renderHeader();
  if (changed.shape) renderRoll();
  else for (const key of changed.rows) updateRollRow(key);
  for (const id of changed.points) updatePoint(id);
  if (before.status !== after.status) {
    // What each point may be asked changes with the conference's status: every row.
    for (const id of [...view.rows.keys()]) updatePoint(id);
  } else if (before.floor_point_id !== after.floor_point_id) {
    for (const id of [before.floor_point_id, after.floor_point_id]) if (id != null && view.rows.has(id)) updatePoint(id);
  }
  if (changed.points.length) renderFilters();
  if (changed.hands || changed.points.length) renderHands();
  // Ended just now: the recording is known from the conference itself.
  if (before.status !== "ended" && after.status === "ended") refreshRecording();
}

// -- the header and the controls --------------------------------------------------------

function renderAll() {
  view.leaders = new Set([...view.model.points.values()].filter((p) => p.is_leader).map((p) => p.id));
  sortPoints();
  renderHeader();
  renderRoll();
  renderPoints();
  renderFilters();
  renderHands();
}

function renderHeader() {
  const c = view.model.conference;
  $("c-title").textContent = c.title || `Hội nghị #${CID}`;
  document.title = `${c.title || "Hội nghị"} — Tổng đài 1022`;
  $("conference").dataset.status = c.status;
  $("c-status").textContent = statusText(c.status);
  $("c-status").className = `badge status-${c.status}`;
  show($("c-locked"), !!c.locked);
  show($("c-recording"), isRecording(c));
  show($("c-muted-all"), c.status === "running" && !!c.muted_all);
  const floor = c.floor_point_id != null ? view.model.points.get(c.floor_point_id) : null;
  $("c-floor").textContent = floor ? `Đang phát biểu: ${floor.label}` : "";
  show($("c-floor"), !!floor);
  const t = c.totals || {};
  for (const key of ["present", "absent", "dialling", "left", "total"]) {
    $(`t-${key}`).textContent = String(t[key] ?? view.model.roll.totals[key] ?? 0);
  }
  const leaders = [...view.leaders].map((id) => view.model.points.get(id));
  $("c-leaders").textContent = leaders.map((p) => `${p.label} (${STATE_LABELS[p.state] || p.state})`).join("; ");
  show($("c-leaders-line"), leaders.length > 0);
  renderControls();
  renderRecording();
  tick();
}

function renderControls() {
  const controls = controlsOf(view.model.conference);
  const set = (id, on, text) => {
    const button = $(id);
    button.disabled = !on;
    if (text) button.textContent = text;
  };
  set("ctl-start", controls.start);
  set("ctl-mute-all", controls.muteAll);
  set("ctl-unmute-all", controls.unmuteAll);
  set("ctl-release", controls.release);
  set("ctl-lock", controls.lock, controls.lockLabel);
  set("ctl-record", controls.record, controls.recordLabel);
  set("ctl-end", controls.end);
  $("ctl-lock").dataset.path = controls.lockPath;
  $("ctl-record").dataset.path = controls.recordPath;
}

function renderRecording() {
  const c = view.model.conference;
  const recording = view.model.recording;
  const ready = c.status === "ended" && !!recording && recording.available;
  const audio = $("recording-audio");
  if (ready) {
    const url = recording.url || `${BASE}/recording`;
    if (audio.getAttribute("src") !== url) audio.setAttribute("src", url);
  }
  show($("recording"), ready);
}

/** After the end the recording may take a moment to be kept: ask again a few times. */
async function refreshRecording() {
  view.recordingTries = 0;
  while (view.recordingTries < 5) {
    view.recordingTries += 1;
    try {
      const detail = await request("GET", BASE);
      view.model.recording = detail.recording || null;
      renderRecording();
      if (!detail.record || (detail.recording && detail.recording.available)) return;
    } catch (exc) {
      if (exc instanceof HttpError && exc.status === 401) return toLogin();
    }
    await new Promise((resolve) => { setTimeout(resolve, 2000); });
  }
}

function tick() {
  if (!view.model) return;
  const ms = elapsedMs(view.model.conference, serverNow());
  $("c-elapsed").textContent = ms == null ? "—" : formatClock(ms);
}

// -- the roll ---------------------------------------------------------------------------

function bar(node) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 100 10");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("class", "roll-bar");
  svg.setAttribute("role", "img");
  for (const part of barParts(node)) {
    const rect = document.createElementNS(SVG, "rect");
    rect.setAttribute("class", part.kind);
    rect.setAttribute("y", "0");
    rect.setAttribute("height", "10");
    svg.append(rect);
  }
  fillBar(svg, node);
  return svg;
}

function fillBar(svg, node) {
  let x = 0;
  const parts = barParts(node);
  parts.forEach((part, i) => {
    const rect = svg.children[i];
    rect.setAttribute("x", String(x));
    rect.setAttribute("width", String(part.share * 100));
    x += part.share * 100;
  });
  svg.setAttribute("aria-label", `Có mặt ${node.present}/${node.total}`);
}

function rollRow(node, depth) {
  const name = el("th", { scope: "row", class: `depth-${depth}` });
  if (node.level === "district" && node.children.size) {
    const toggle = el("button", { type: "button", class: "toggle link-button", "aria-expanded": "false" }, "▸");
    toggle.addEventListener("click", () => toggleDistrict(node.key));
    name.append(toggle, " ");
  }
  name.append(node.name);
  const row = el(
    "tr",
    { "data-key": node.key, "data-level": node.level, class: `roll-${node.level}` },
    name,
    el("td", { class: "num present" }),
    el("td", { class: "num absent" }),
    el("td", { class: "num dialling" }),
    el("td", { class: "num total" }),
    el("td", { class: "bar-cell" }, bar(node)),
  );
  fillRollRow(row, node);
  return row;
}

function fillRollRow(row, node) {
  row.querySelector(".present").textContent = String(node.present);
  row.querySelector(".absent").textContent = String(node.absent);
  row.querySelector(".dialling").textContent = String(node.dialling);
  row.querySelector(".total").textContent = String(node.total);
  fillBar(row.querySelector("svg"), node);
}

// A commune's row exists only while its district is open: 3,000 communes are not drawn (nor
// kept up to date) for a roll read per district.
function renderRoll() {
  const roll = view.model.roll;
  view.rollRows = new Map();
  const rows = [];
  for (const [node, depth] of roll.rows()) {
    if (node.level === "commune" && !view.expanded.has(node.parent)) continue;
    const row = rollRow(node, depth);
    view.rollRows.set(node.key, row);
    if (view.expanded.has(node.key)) expandMark(row, true);
    rows.push(row);
  }
  const total = rollRow(roll.totals, 0);
  total.classList.add("total");
  view.rollRows.set("t", total);
  $("roll-body").replaceChildren(...rows, total);
}

function updateRollRow(key) {
  const row = view.rollRows.get(key);
  const node = view.model.roll.nodes.get(key);
  if (row && node) fillRollRow(row, node);
}

function expandMark(row, open) {
  const toggle = row.querySelector(".toggle");
  if (!toggle) return;
  toggle.textContent = open ? "▾" : "▸";
  toggle.setAttribute("aria-expanded", open ? "true" : "false");
}

function toggleDistrict(key) {
  const open = !view.expanded.has(key);
  if (open) view.expanded.add(key);
  else view.expanded.delete(key);
  const districtRow = view.rollRows.get(key);
  expandMark(districtRow, open);
  const node = view.model.roll.nodes.get(key);
  if (!open) {
    for (const child of node.children.keys()) {
      view.rollRows.get(child)?.remove();
      view.rollRows.delete(child);
    }
    return;
  }
  const order = view.model.roll.rows().filter(([n]) => n.parent === key);
  districtRow.after(
    ...order.map(([child, depth]) => {
      const row = rollRow(child, depth);
      view.rollRows.set(child.key, row);
      return row;
    }),
  );
}

// -- the points -------------------------------------------------------------------------

const multiProvince = () => {
  const provinces = [...view.model.roll.totals.children.keys()];
  return provinces.length > 1;
};

function pointRow(point) {
  const row = el(
    "tr",
    { "data-id": String(point.id) },
    el("th", { scope: "row", class: "label" }, point.label || `#${point.id}`),
    el("td", { class: "place" }),
    el("td", { class: "state" }),
    el("td", { class: "reason" }),
    el("td", { class: "num attempts" }),
    el("td", { class: "mic" }),
    el(
      "td",
      { class: "actions" },
      el("button", { type: "button", class: "small", "data-action": "floor" }, "Cho phát biểu"),
      el("button", { type: "button", class: "small secondary", "data-action": "kick" }, "Mời ra"),
      el("button", { type: "button", class: "small secondary", "data-action": "redial" }, "Gọi lại"),
    ),
  );
  fillPointRow(row, point);
  return row;
}

function fillPointRow(row, point) {
  const c = view.model.conference;
  row.dataset.state = point.state;
  row.dataset.filter = filterOf(point.state);
  row.classList.toggle("floor", c.floor_point_id === point.id);
  row.classList.toggle("hand", !!point.hand_at);
  row.querySelector(".label").textContent = point.label || `#${point.id}`;
  row.querySelector(".place").textContent = placeText(point, multiProvince());
  row.querySelector(".state").textContent = STATE_LABELS[point.state] || point.state;
  row.querySelector(".reason").textContent = reasonText(point.reason, point.state);
  row.querySelector(".attempts").textContent = String(point.attempts ?? 0);
  row.querySelector(".mic").textContent = micText(point);
  const allowed = pointActions(point, c);
  for (const button of row.querySelectorAll("button[data-action]")) {
    button.disabled = !allowed[button.dataset.action];
  }
}

// The table shows one page of PAGE_SIZE rows of the points in the filter: a browser lays out
// a table of 3,000 rows again on every change (~100 ms), one of 100 rows at once.
const PAGE_SIZE = 100;
const inFilter = (point) => view.filter === "all" || view.filter === filterOf(point.state);

/** The points (no leaders) in the table's order: once per snapshot, and when one is new. */
function sortPoints() {
  const points = [...view.model.points.values()].filter((p) => !p.is_leader).sort(pointOrder);
  view.order = points.map((p) => p.id);
  view.filters = new Map(points.map((p) => [p.id, filterOf(p.state)]));
}

function renderPoints() {
  const shown = view.order.filter((id) => inFilter(view.model.points.get(id)));
  const pages = Math.max(1, Math.ceil(shown.length / PAGE_SIZE));
  view.page = Math.min(Math.max(0, view.page), pages - 1);
  const first = view.page * PAGE_SIZE;
  const ids = shown.slice(first, first + PAGE_SIZE);
  view.rows = new Map();
  $("points-body").replaceChildren(
    ...ids.map((id) => {
      const row = pointRow(view.model.points.get(id));
      view.rows.set(id, row);
      return row;
    }),
  );
  $("p-range").textContent = shown.length
    ? `Điểm cầu ${first + 1}–${first + ids.length} trên ${shown.length}`
    : "";
  $("p-prev").disabled = view.page === 0;
  $("p-next").disabled = view.page >= pages - 1;
  show($("p-pager"), shown.length > PAGE_SIZE);
  show($("points-empty"), view.order.length > 0 && shown.length === 0);
}

/** Once per message: the page again only when a point came into or left the filter. */
function schedulePoints() {
  if (view.pointsTimer) return;
  view.pointsTimer = requestAnimationFrame(() => {
    view.pointsTimer = null;
    renderPoints();
  });
}

function updatePoint(id) {
  const point = view.model.points.get(id);
  if (point.is_leader) {
    view.leaders.add(id);
    renderHeader();
    return;
  }
  const was = view.filters.get(id);
  const now = filterOf(point.state);
  view.filters.set(id, now);
  if (was === undefined) {
    // A point the page did not know (the detail was read before it was added).
    sortPoints();
    schedulePoints();
    return;
  }
  const row = view.rows.get(id);
  if (row && inFilter(point)) fillPointRow(row, point);
  else if (view.filter !== "all" && was !== now && (was === view.filter || now === view.filter)) {
    schedulePoints(); // it came into the filter, or left it: the pages shift
  }
}

function renderFilters() {
  const counts = view.model.counts;
  const buttons = FILTERS.map(([value, label]) => {
    const button = el(
      "button",
      { type: "button", class: "filter", "data-filter": value, "aria-pressed": view.filter === value ? "true" : "false" },
      `${label} (${counts[value] || 0})`,
    );
    return button;
  });
  $("p-filters").replaceChildren(...buttons);
}

function setFilter(value) {
  view.filter = FILTERS.some(([v]) => v === value) ? value : "all";
  view.page = 0;
  const params = new URLSearchParams(window.location.search);
  if (view.filter === "all") params.delete("state");
  else params.set("state", view.filter);
  const query = params.toString();
  window.history.replaceState(null, "", query ? `?${query}` : window.location.pathname);
  if (view.model) {
    renderFilters();
    renderPoints();
  }
}

function turnPage(step) {
  view.page += step;
  renderPoints();
}

// -- the hands --------------------------------------------------------------------------

function renderHands() {
  const hands = view.model.hands;
  $("hands-count").textContent = String(hands.length);
  $("hands").replaceChildren(
    ...hands.map((hand) => {
      const point = view.model.points.get(hand.point_id);
      const label = point ? point.label : `#${hand.point_id}`;
      const where = point ? placeText(point) : "";
      return el(
        "li",
        { "data-point-id": String(hand.point_id) },
        el("span", { class: "hand-label" }, label),
        where ? el("span", { class: "muted" }, ` — ${where}`) : "",
        " ",
        el("time", { datetime: hand.at || "", class: "muted" }, `lúc ${formatTime(hand.at)}`),
        el(
          "span",
          { class: "buttons" },
          el("button", { type: "button", class: "small", "data-action": "floor" }, "Cho phát biểu"),
          el("button", { type: "button", class: "small secondary", "data-action": "dismiss" }, "Bỏ qua"),
        ),
      );
    }),
  );
  show($("hands-empty"), hands.length === 0);
}

// -- acting -----------------------------------------------------------------------------

// When the API gives no words of its own (or none a person can read).
function refusal(exc) {
  if (!(exc instanceof HttpError)) return "không kết nối được tới máy chủ, vui lòng thử lại.";
  const detail = typeof exc.body.detail === "string" ? exc.body.detail : "";
  if (detail && [409, 403, 503].includes(exc.status)) return detail;
  if (exc.status === 403) return "bạn không có quyền điều khiển hội nghị này.";
  if (exc.status === 404) return "không tìm thấy hội nghị hoặc điểm cầu.";
  if (exc.status === 409) return "thao tác không hợp lệ ở trạng thái hiện tại của hội nghị.";
  if (exc.status === 503) return "tổng đài chưa sẵn sàng, vui lòng thử lại.";
  if (exc.status === 422) return detail ? `dữ liệu không hợp lệ (${detail})` : "dữ liệu không hợp lệ.";
  return "máy chủ gặp lỗi, vui lòng thử lại.";
}

async function act(path, done, buttons) {
  buttons.forEach((b) => { b.disabled = true; });
  show($("ctl-error"), false);
  try {
    const answer = await request("POST", `${BASE}/${path}`);
    $("ctl-done").textContent = done;
    show($("ctl-done"), true);
    // The stream brings the same change; a summary in the answer shows it at once (its
    // points, if any, come with the stream's message).
    if (answer && answer.id === CID && answer.status && view.model) {
      onConference({ conference: answer, points: [] });
    }
  } catch (exc) {
    if (exc instanceof HttpError && exc.status === 401) return toLogin();
    $("ctl-error").textContent = `${done.replace(/\.$/, "")} — không thực hiện được: ${refusal(exc)}`;
    show($("ctl-error"), true);
    show($("ctl-done"), false);
  } finally {
    // Each button again as the (possibly changed) conference allows it.
    if (view.model) {
      renderControls();
      for (const button of buttons) {
        const row = button.closest("#points-body tr[data-id]");
        if (row) updatePoint(Number(row.dataset.id));
      }
      renderHands();
    }
  }
}

const pointLabel = (id) => {
  const point = view.model && view.model.points.get(id);
  return point ? point.label : `#${id}`;
};

function onPointAction(event) {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const holder = button.closest("[data-id], [data-point-id]");
  const id = Number(holder.dataset.id || holder.dataset.pointId);
  const label = pointLabel(id);
  const action = button.dataset.action;
  if (action === "floor") act(`points/${id}/floor`, `Đã cho ${label} phát biểu.`, [button]);
  else if (action === "kick") act(`points/${id}/kick`, `Đã mời ${label} ra khỏi hội nghị.`, [button]);
  else if (action === "redial") act(`points/${id}/redial`, `Đang gọi lại ${label}.`, [button]);
  else if (action === "dismiss") act(`points/${id}/hand/dismiss`, `Đã bỏ qua lượt xin phát biểu của ${label}.`, [button]);
}

function wire() {
  const control = (id, path, done) =>
    $(id).addEventListener("click", () => act(typeof path === "function" ? path() : path, typeof done === "function" ? done() : done, [$(id)]));
  control("ctl-start", "start", "Đã bắt đầu hội nghị.");
  control("ctl-mute-all", "mute-all", "Đã tắt mic tất cả điểm cầu.");
  control("ctl-unmute-all", "unmute-all", "Đã mở mic tất cả điểm cầu.");
  control("ctl-release", "floor/release", "Đã thu hồi quyền phát biểu.");
  control("ctl-lock", () => $("ctl-lock").dataset.path, () => ($("ctl-lock").dataset.path === "lock" ? "Đã khóa hội nghị." : "Đã mở khóa hội nghị."));
  control("ctl-record", () => $("ctl-record").dataset.path, () => ($("ctl-record").dataset.path === "record/start" ? "Đã bắt đầu ghi âm." : "Đã dừng ghi âm."));
  const dialog = $("end-dialog");
  $("ctl-end").addEventListener("click", () => dialog.showModal());
  dialog.addEventListener("close", () => {
    if (dialog.returnValue === "end") act("end", "Đã kết thúc hội nghị.", [$("ctl-end")]);
    dialog.returnValue = "";
  });
  $("points-body").addEventListener("click", onPointAction);
  $("hands").addEventListener("click", onPointAction);
  $("p-prev").addEventListener("click", () => turnPage(-1));
  $("p-next").addEventListener("click", () => turnPage(1));
  $("p-filters").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-filter]");
    if (button) setFilter(button.dataset.filter);
  });
  $("signout").addEventListener("click", async () => {
    try { await request("POST", "/auth/logout"); } finally { window.location.assign("/login"); }
  });
  setInterval(tick, 1000);
}

function start() {
  view.filter = new URLSearchParams(window.location.search).get("state") || "all";
  if (!FILTERS.some(([v]) => v === view.filter)) view.filter = "all";
  wire();
  followEvents({ snapshot: () => { load(); }, conference: onConference });
}

start();
