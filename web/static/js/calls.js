// /calls: search the calls that have recordings (GET /recordings) by day, category, number
// and agent; each row links to the call's page. The search lives in the address (?day_from=…)
// so a reload or a shared link shows the same list. Every caller's or user's text is set
// with textContent.
import { HttpError, request } from "./http.js";
import { toLogin } from "./stream.js";
import { el, formatDuration, formatTime, show } from "./dom.js";
import { defaultDays } from "./calls-logic.js";

const LABELS = JSON.parse(document.getElementById("labels").textContent);
const CONFIG = JSON.parse(document.getElementById("calls-config").textContent);
const PAGE = 50;
const $ = (id) => document.getElementById(id);
const label = (table, value) => (value == null ? "" : LABELS[table][value] || String(value));

const FIELDS = { day_from: "s-from", day_to: "s-to", category: "s-category", number: "s-number", agent: "s-agent" };
let offset = 0;
let seq = 0;

function fillForm() {
  $("s-category").append(...CONFIG.categories.map((c) => el("option", { value: c }, label("categories", c))));
  const asked = new URLSearchParams(window.location.search);
  const days = defaultDays();
  $("s-from").value = asked.get("day_from") || days.from;
  $("s-to").value = asked.get("day_to") || days.to;
  for (const name of ["category", "number", "agent"]) $(FIELDS[name]).value = asked.get(name) || "";
  offset = Math.max(0, Number(asked.get("offset")) || 0);
}

/** The search as the API takes it, or a Vietnamese sentence saying what to correct. */
function query() {
  const params = new URLSearchParams();
  for (const [name, id] of Object.entries(FIELDS)) {
    const value = $(id).value.trim();
    if (value) params.set(name, value);
  }
  // A number as people write it ("0909 123.456") is searched without its separators.
  const number = (params.get("number") || "").replace(/[\s.()-]/g, "");
  if (number) params.set("number", number);
  if (number && !/^\+?[0-9]{1,15}$/.test(number)) {
    return "Số gọi chỉ gồm chữ số (có thể có dấu + ở đầu), tối đa 15 số.";
  }
  const agent = (params.get("agent") || "").toLowerCase();
  if (agent) params.set("agent", agent);
  if (agent && !/^[a-z][a-z0-9_-]{1,39}$/.test(agent)) {
    return "Máy nhánh của tổng đài viên có dạng agent01.";
  }
  const from = params.get("day_from"), to = params.get("day_to");
  if (from && to && from > to) return "Ngày bắt đầu phải trước hoặc bằng ngày kết thúc.";
  return params;
}

async function search() {
  const params = query();
  const error = $("search-error");
  show(error, false);
  if (typeof params === "string") {
    error.textContent = params;
    show(error, true);
    return;
  }
  if (offset) params.set("offset", String(offset));
  window.history.replaceState(null, "", `${window.location.pathname}?${params}`);
  params.set("limit", String(PAGE));
  const mine = ++seq;
  let page;
  try {
    page = await request("GET", `/recordings?${params}`);
  } catch (exc) {
    if (exc instanceof HttpError && exc.status === 401) return toLogin();
    error.textContent = exc instanceof HttpError ? exc.message : "Không tải được danh sách: mất kết nối.";
    show(error, true);
    return;
  }
  if (mine !== seq) return; // a newer search is on its way
  render(page);
}

function render(page) {
  const rows = page.items.map((r) => {
    const link = r.call_id != null
      ? el("a", { href: `/calls/${r.call_id}`, class: "open-call" }, "Xem và nghe")
      : el("span", { class: "muted" }, "—");
    return el("tr", { "data-recording-id": String(r.id), "data-call-id": r.call_id == null ? "" : String(r.call_id), "data-status": r.status },
      el("td", {}, formatTime(r.started_at, true)),
      el("td", { class: "number" }, r.caller_number || "—"),
      el("td", {}, label("categories", r.category) || "—"),
      el("td", { class: "agent" }, r.agent_endpoint || "—"),
      el("td", {}, label("recording_kinds", r.kind)),
      el("td", { class: "num" }, formatDuration(r.duration_s == null ? null : Math.round(r.duration_s))),
      el("td", { class: `status status-${r.status}` }, label("recording_statuses", r.status)),
      el("td", {}, link),
    );
  });
  $("results-body").replaceChildren(...rows);
  show($("results-empty"), rows.length === 0);
  $("results-count").textContent = `(${page.total})`;
  const many = page.total > PAGE;
  show($("pager"), many);
  $("range").textContent = rows.length ? `${offset + 1}–${offset + rows.length} / ${page.total}` : "";
  $("prev").disabled = offset === 0;
  $("next").disabled = offset + rows.length >= page.total;
}

function start() {
  $("signout").addEventListener("click", async () => {
    try { await request("POST", "/auth/logout"); } finally { window.location.assign("/login"); }
  });
  fillForm();
  $("search").addEventListener("submit", (e) => { e.preventDefault(); offset = 0; search(); });
  $("prev").addEventListener("click", () => { offset = Math.max(0, offset - PAGE); search(); });
  $("next").addEventListener("click", () => { offset += PAGE; search(); });
  search();
}

start();
