// The reports page: a range (Vietnam days) and an interval; plots drawn as SVG and tables,
// read from the REST routes, each table with its CSV / XLSX download (the same route with
// ?format=) and the whole report as one workbook (/reports/export).

import { el, formatDuration } from "./dom.js";
import { request } from "./http.js";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const CATEGORIES = Object.fromEntries(JSON.parse($("categories").textContent));
const VIETNAM_MS = 7 * 3600 * 1000;
const number = new Intl.NumberFormat("vi-VN", { maximumFractionDigits: 1 });
const percent = new Intl.NumberFormat("vi-VN", { style: "percent", maximumFractionDigits: 1 });

// -- the range ------------------------------------------------------------------------------

/** Today in Vietnam as YYYY-MM-DD. */
function vietnamToday() {
  return new Date(Date.now() + VIETNAM_MS).toISOString().slice(0, 10);
}

function addDays(day, n) {
  const at = new Date(`${day}T00:00:00Z`);
  at.setUTCDate(at.getUTCDate() + n);
  return at.toISOString().slice(0, 10);
}

const PICKS = {
  today: () => [vietnamToday(), vietnamToday()],
  yesterday: () => [addDays(vietnamToday(), -1), addDays(vietnamToday(), -1)],
  week: () => [addDays(vietnamToday(), -7), addDays(vietnamToday(), -1)],
};

/** since / until (until null: up to now) of the form's days, and the interval. */
function chosen() {
  const from = $("from").value;
  const to = $("to").value;
  const until = to >= vietnamToday() ? null : `${addDays(to, 1)}T00:00:00+07:00`;
  return { from, to, since: `${from}T00:00:00+07:00`, until, interval: $("interval").value };
}

function url(path, params) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value != null) query.set(name, value);
  return `${path}?${query}`;
}

/** Each table's route and parameters, for the range. */
function sources(r) {
  const range = { since: r.since, until: r.until };
  return {
    queues: ["/stats/queues", { ...range, interval: r.interval, by: "category" }],
    occupancy: ["/stats/agents", { ...range, interval: r.interval }],
    agents: ["/stats/agents", { ...range, interval: "day" }],
    teams: ["/monitoring/teams", range],
    districts: ["/monitoring/districts", range],
    ivr: ["/ivr/stats", range],
  };
}

// -- plots ----------------------------------------------------------------------------------

function svg(tag, attributes = {}, text = null) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text != null) node.textContent = text;
  return node;
}

const FORMATS = {
  count: (v) => number.format(v),
  share: (v) => percent.format(v),
  seconds: (v) => formatDuration(v),
};

function niceMax(value, kind) {
  if (kind === "share") return 1;
  if (!(value > 0)) return 1;
  const step = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * step >= value) return m * step;
  return 10 * step;
}

function shortLabel(label, interval) {
  if (interval === "day") return `${label.slice(8, 10)}/${label.slice(5, 7)}`;
  return label.slice(11);
}

/** A line plot: one line per series over the intervals; null values leave a gap. */
function linePlot(title, labels, series, kind, interval) {
  const W = 480, H = 240, L = 58, R = 22, T = 12, B = 30;
  const values = series.flatMap((s) => s.values.filter((v) => v != null));
  const top = niceMax(Math.max(0, ...values), kind);
  const x = (i) => L + (labels.length > 1 ? (i * (W - L - R)) / (labels.length - 1) : (W - L - R) / 2);
  const y = (v) => T + (H - T - B) * (1 - v / top);
  const plot = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title, class: "plot-svg" });
  for (let g = 0; g <= 4; g++) {
    const v = (top * g) / 4;
    plot.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }));
    plot.append(svg("text", { x: L - 6, y: y(v) + 4, class: "tick y" }, FORMATS[kind](v)));
  }
  const every = Math.max(1, Math.ceil(labels.length / 6));
  labels.forEach((label, i) => {
    if (i % every === 0 || labels.length === 1) plot.append(svg("text", { x: x(i), y: H - 10, class: "tick x" }, shortLabel(label, interval)));
  });
  series.forEach((s, n) => {
    let d = "";
    let pen = "M";
    s.values.forEach((v, i) => {
      if (v == null) { pen = "M"; return; }
      d += `${pen}${x(i).toFixed(1)},${y(v).toFixed(1)} `;
      pen = "L";
    });
    const group = svg("g", { class: `series series-${n}` });
    if (d) group.append(svg("path", { d: d.trim(), class: "line" }));
    s.values.forEach((v, i) => {
      if (v == null) return;
      const dot = svg("circle", { cx: x(i), cy: y(v), r: 2.5, class: "dot" });
      dot.append(svg("title", {}, `${s.name} · ${labels[i]}: ${FORMATS[kind](v)}`));
      group.append(dot);
    });
    plot.append(group);
  });
  const legend = el("ul", { class: "legend" });
  series.forEach((s, n) => legend.append(el("li", { class: `series-${n}` }, s.name)));
  return el("figure", { class: "plot" }, el("figcaption", {}, title), plot, legend);
}

function byCategory(rows) {
  const labels = [...new Set(rows.map((r) => r.label))];
  const grouped = new Map(Object.keys(CATEGORIES).map((c) => [c, new Map()]));
  for (const row of rows) grouped.get(row.category)?.set(row.label, row);
  return { labels, grouped };
}

function drawQueues(body, interval) {
  const { labels, grouped } = byCategory(body.rows);
  const calls = $("calls-plots");
  calls.replaceChildren();
  for (const [category, rows] of grouped) {
    const pick = (key) => labels.map((l) => rows.get(l)?.[key] ?? null);
    calls.append(linePlot(CATEGORIES[category], labels, [
      { name: "Cuộc gọi vào", values: pick("offered") },
      { name: "Đã trả lời", values: pick("answered") },
      { name: "Bỏ máy", values: pick("abandoned") },
    ], "count", interval));
  }
  const perCategory = (get, name) => [...grouped].map(([category, rows]) => ({
    name: name(category, rows),
    values: labels.map((l) => (rows.has(l) ? get(rows.get(l)) : null)),
  }));
  const firstLevel = (rows) => [...rows.values()][0]?.service_levels?.[0]?.seconds;
  const quality = $("quality-plots");
  quality.replaceChildren(
    linePlot("Mức phục vụ", labels, perCategory(
      (r) => r.service_levels[0]?.value ?? null,
      (c, rows) => (firstLevel(rows) ? `${CATEGORIES[c]} (${firstLevel(rows)} giây)` : CATEGORIES[c]),
    ), "share", interval),
    linePlot("Thời gian chờ trung bình (ASA)", labels, perCategory((r) => r.asa_s, (c) => CATEGORIES[c]), "seconds", interval),
    linePlot("Thời gian xử lý trung bình (AHT)", labels, perCategory((r) => r.aht_s, (c) => CATEGORIES[c]), "seconds", interval),
  );
}

function drawOccupancy(body, interval) {
  const labels = [...new Set(body.rows.map((r) => r.label))];
  const sums = new Map(labels.map((l) => [l, { busy: 0, available: 0 }]));
  for (const r of body.rows) {
    const sum = sums.get(r.label);
    sum.busy += r.ringing_s + r.talk_s + r.wrapup_s;
    sum.available += r.logged_in_s - r.paused_s;
  }
  const values = labels.map((l) => (sums.get(l).available > 0 ? sums.get(l).busy / sums.get(l).available : null));
  $("occupancy-plot").replaceChildren(
    linePlot("Tỷ lệ bận (cả tổ)", labels, [{ name: "Tỷ lệ bận", values }], "share", interval),
  );
}

// -- tables ---------------------------------------------------------------------------------

const CELLS = {
  text: (v) => (v == null ? "—" : String(v)),
  count: (v) => (v == null ? "—" : number.format(v)),
  share: (v) => (v == null ? "—" : percent.format(v)),
  seconds: (v) => formatDuration(v),
};

function table(id, columns, rows) {
  const head = el("tr", {}, ...columns.map(([label]) => el("th", { scope: "col" }, label)));
  const body = el("tbody");
  for (const row of rows) {
    body.append(el("tr", {}, ...columns.map(([, get, kind = "count"]) =>
      el("td", { class: kind === "text" ? "" : "num" }, CELLS[kind](get(row))))));
  }
  if (!rows.length) body.append(el("tr", {}, el("td", { colspan: columns.length, class: "muted" }, "Không có số liệu.")));
  $(id).replaceChildren(el("thead", {}, head), body);
}

const placeName = (r) => (r.place ? r.place.name : "Tổng");

const TABLES = {
  agents: [
    ["Ngày", (r) => r.label, "text"],
    ["Máy lẻ", (r) => r.endpoint, "text"],
    ["Đã trả lời", (r) => r.answered],
    ["Đăng nhập", (r) => r.logged_in_s, "seconds"],
    ["Đàm thoại", (r) => r.talk_s, "seconds"],
    ["Xử lý sau cuộc gọi", (r) => r.wrapup_s, "seconds"],
    ["Tạm nghỉ", (r) => r.paused_s, "seconds"],
    ["Tỷ lệ bận", (r) => r.occupancy, "share"],
  ],
  teams: [
    ["Đội", (r) => r.team.name, "text"],
    ["Địa bàn", (r) => r.place?.name, "text"],
    ["Được giao", (r) => r.dispatched],
    ["Đã nhận", (r) => r.taken],
    ["Đã xử lý", (r) => r.resolved],
    ["Đã hủy", (r) => r.cancelled],
    ["Đang mở", (r) => r.open],
    ["Chuyển cấp trên", (r) => r.escalated],
    ["Xác nhận (trung vị)", (r) => r.ack_median_s, "seconds"],
    ["Xử lý (trung vị)", (r) => r.resolve_median_s, "seconds"],
  ],
  districts: [
    ["Địa bàn", placeName, "text"],
    ["Số đội", (r) => r.teams],
    ["Sự vụ", (r) => r.incidents],
    ["Đã nhận", (r) => r.taken],
    ["Đã xử lý", (r) => r.resolved],
    ["Đã hủy", (r) => r.cancelled],
    ["Đang mở", (r) => r.open],
    ["Chuyển cấp trên", (r) => r.escalated],
    ["Xác nhận (trung vị)", (r) => r.ack_median_s, "seconds"],
    ["Xử lý (trung vị)", (r) => r.resolve_median_s, "seconds"],
  ],
  ivr: [
    ["Nút", (r) => r.node, "text"],
    ["Lượt đến", (r) => r.reached],
    ["Phím đã chọn", (r) => Object.entries(r.keys).map(([k, n]) => `${k}: ${n}`).join(", ") || null, "text"],
    ["Phím sai", (r) => r.invalid],
    ["Hết giờ chờ phím", (r) => r.timeout],
    ["Quay lại (*)", (r) => r.back],
    ["Hết lượt thử", (r) => r.exhausted],
    ["Nghe hết thông báo", (r) => r.heard],
    ["Gác máy tại đây", (r) => r.hung_up],
  ],
};

function links(r, routes) {
  for (const holder of document.querySelectorAll(".downloads[data-table]")) {
    const [path, params] = routes[holder.dataset.table];
    holder.replaceChildren(
      "Tải bảng: ",
      el("a", { href: url(path, { ...params, format: "csv" }), download: "", class: "download" }, "CSV"),
      " · ",
      el("a", { href: url(path, { ...params, format: "xlsx" }), download: "", class: "download" }, "XLSX"),
    );
  }
  $("export-all").href = url("/reports/export", { since: r.since, until: r.until, interval: r.interval });
}

// -- the page -------------------------------------------------------------------------------

async function load() {
  const r = chosen();
  const routes = sources(r);
  const error = $("range-error");
  error.hidden = true;
  links(r, routes);
  const query = new URLSearchParams({ from: r.from, to: r.to, interval: r.interval });
  window.history.replaceState(null, "", `/reports?${query}`);
  document.body.dataset.loaded = "loading";
  try {
    const names = Object.keys(routes);
    const bodies = await Promise.all(names.map((name) => request("GET", url(...routes[name]))));
    const got = Object.fromEntries(names.map((name, i) => [name, bodies[i]]));
    drawQueues(got.queues, r.interval);
    drawOccupancy(got.occupancy, r.interval);
    table("agents-table", TABLES.agents, got.agents.rows);
    table("teams-table", TABLES.teams, got.teams.rows);
    table("districts-table", TABLES.districts, [...got.districts.rows, got.districts.total]);
    table("ivr-table", TABLES.ivr, got.ivr);
    document.body.dataset.loaded = "yes";
  } catch (exc) {
    error.textContent = `Không tải được báo cáo: ${exc.message}`;
    error.hidden = false;
    document.body.dataset.loaded = "error";
  }
}

function start() {
  const params = new URLSearchParams(window.location.search);
  const [from, to] = PICKS.yesterday();
  $("from").value = params.get("from") || from;
  $("to").value = params.get("to") || to;
  $("interval").value = ["15m", "hour", "day"].includes(params.get("interval")) ? params.get("interval") : "hour";
  for (const button of document.querySelectorAll("[data-pick]")) {
    button.addEventListener("click", () => {
      [$("from").value, $("to").value] = PICKS[button.dataset.pick]();
      load();
    });
  }
  $("range-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if ($("from").value > $("to").value) {
      $("range-error").textContent = "Ngày bắt đầu phải trước hoặc bằng ngày kết thúc.";
      $("range-error").hidden = false;
      return;
    }
    load();
  });
  $("signout").addEventListener("click", async () => {
    try { await request("POST", "/auth/logout"); } finally { window.location.assign("/login"); }
  });
  load();
}

start();
