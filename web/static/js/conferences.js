// The conferences (/conferences): the list, live from the event stream's `conference`
// messages, and the "Tạo hội nghị" form: a title, the points (by place, from GET /places,
// or a number), the leaders (an endpoint or a number), recording, and start now or later.
// Every text from a user is set with textContent.

import { statusText } from "./conference-logic.js";
import { el, formatTime, show } from "./dom.js";
import { HttpError, request } from "./http.js";
import { followEvents, toLogin } from "./stream.js";

const $ = (id) => document.getElementById(id);
const CONFIG = JSON.parse($("conf-config").textContent);
const ENDPOINT_RE = /^[a-z][a-z0-9_-]{1,39}$/;
const NUMBER_RE = /^\+?[0-9]{3,15}$/;

// What "Gọi tới" offers under a province (or a district center's own district).
const KINDS = {
  commune_teams: { text: "Mọi đội phản ứng nhanh cấp xã", level: "commune", kind: "team" },
  district_centers: { text: "Các trung tâm cấp huyện", level: "district", kind: "center" },
  district_teams: { text: "Các đội cấp huyện", level: "district", kind: "team" },
  one_district: { text: "Các đội cấp xã của một huyện…", level: "commune", kind: "team" },
};

const view = {
  conferences: new Map(), // id -> summary
  points: [], // [{selector, text}]
  leaders: [], // [{leader, text}]
  busy: false,
};

// -- the list ---------------------------------------------------------------------------

async function loadList() {
  try {
    const data = await request("GET", "/conferences");
    view.conferences = new Map((data.items || []).map((c) => [c.id, c]));
    show($("list-error"), false);
    renderList();
  } catch (exc) {
    if (exc instanceof HttpError && exc.status === 401) return toLogin();
    $("list-error").textContent = `Không tải được danh sách hội nghị: ${refusal(exc)}`;
    show($("list-error"), true);
  }
}

const newestFirst = (a, b) => Date.parse(b.created_at || 0) - Date.parse(a.created_at || 0) || b.id - a.id;

function renderList() {
  const items = [...view.conferences.values()].sort(newestFirst);
  $("conferences-body").replaceChildren(
    ...items.map((c) => {
      const t = c.totals || {};
      return el(
        "tr",
        { "data-id": String(c.id), "data-status": c.status },
        el("td", {}, el("a", { href: `/conferences/${c.id}` }, c.title || `Hội nghị #${c.id}`)),
        el("td", { class: "status" }, statusText(c.status)),
        el("td", { class: "num present" }, String(t.present ?? 0)),
        el("td", { class: "num absent" }, String(t.absent ?? 0)),
        el("td", { class: "num dialling" }, String(t.dialling ?? 0)),
        el("td", { class: "num total" }, String(t.total ?? 0)),
        el("td", {}, c.started_at ? formatTime(c.started_at, true) : c.starts_at ? `Hẹn ${formatTime(c.starts_at, true)}` : "—"),
      );
    }),
  );
  show($("conferences-empty"), items.length === 0);
}

function onConference(data) {
  const summary = data.conference;
  if (!summary || summary.id == null) return;
  const { points: _p, hands: _h, roll: _r, ...rest } = summary;
  view.conferences.set(summary.id, { ...(view.conferences.get(summary.id) || {}), ...rest });
  renderList();
}

// -- the form: places -------------------------------------------------------------------

async function places(query) {
  const data = await request("GET", `/places?${query}&limit=500`);
  return data.items || [];
}

function fill(select, options) {
  select.replaceChildren(...options.map(([value, text]) => el("option", { value: String(value) }, text)));
}

async function setUpPlaces() {
  const scope = CONFIG.scope;
  try {
    if (scope === null) {
      const provinces = await places("level=province");
      fill($("c-province"), provinces.map((p) => [p.code, p.name]));
    } else if (scope.level === "province") {
      fill($("c-province"), [[scope.code, scope.name]]);
    } else {
      // A district's center: its own district only.
      show($("c-province-field"), false);
    }
  } catch (exc) {
    if (exc instanceof HttpError && exc.status === 401) return toLogin();
    formError(`Không tải được danh sách địa bàn: ${refusal(exc)}`);
  }
  const kinds = scope && scope.level === "district"
    ? ["commune_teams", "district_teams"]
    : Object.keys(KINDS);
  fill($("c-kind"), kinds.map((k) => [k, KINDS[k].text]));
  await onKind();
}

async function onKind() {
  const oneDistrict = $("c-kind").value === "one_district";
  show($("c-district-field"), oneDistrict);
  if (!oneDistrict) return;
  const province = $("c-province").value;
  if (!province) return;
  try {
    const districts = await places(`level=district&parent_level=province&parent_code=${encodeURIComponent(province)}`);
    fill($("c-district"), districts.map((d) => [d.code, d.name]));
  } catch (exc) {
    if (exc instanceof HttpError && exc.status === 401) return toLogin();
    formError(`Không tải được danh sách quận/huyện: ${refusal(exc)}`);
  }
}

const selectedText = (select) => (select.selectedOptions[0] ? select.selectedOptions[0].textContent : "");

function addPlace() {
  const kind = KINDS[$("c-kind").value];
  if (!kind) return;
  const scope = CONFIG.scope;
  let under;
  let where;
  if ($("c-kind").value === "one_district") {
    if (!$("c-district").value) return formError("Hãy chọn một quận/huyện.");
    under = { level: "district", code: Number($("c-district").value) };
    where = selectedText($("c-district"));
  } else if (scope && scope.level === "district") {
    under = { level: "district", code: scope.code };
    where = scope.name;
  } else {
    if (!$("c-province").value) return formError("Hãy chọn một tỉnh/thành phố.");
    under = { level: "province", code: Number($("c-province").value) };
    where = selectedText($("c-province"));
  }
  const text = `${kind.text.replace(/…$/, "")} — ${where}`;
  addPoint({ under, level: kind.level, kind: kind.kind }, text);
}

function addNumber() {
  const number = $("c-number").value.replace(/[\s.]/g, "");
  const label = $("c-number-label").value.trim();
  if (!NUMBER_RE.test(number)) return formError("Số điện thoại phải có 3 đến 15 chữ số (có thể bắt đầu bằng +).");
  addPoint({ number, label: label || number }, label ? `${label} — ${number}` : number);
  $("c-number").value = "";
  $("c-number-label").value = "";
}

function addPoint(selector, text) {
  const key = JSON.stringify(selector);
  if (view.points.some((p) => JSON.stringify(p.selector) === key)) return formError("Điểm cầu này đã được chọn.");
  view.points.push({ selector, text });
  show($("c-error"), false);
  renderChosen();
}

function addLeader() {
  const kind = $("c-leader-kind").value;
  const value = $("c-leader").value.trim();
  const label = $("c-leader-label").value.trim();
  if (kind === "endpoint" && !ENDPOINT_RE.test(value)) {
    return formError("Máy nhánh gồm 2 đến 40 ký tự a-z, 0-9, '_' hoặc '-', bắt đầu bằng chữ cái (ví dụ agent01).");
  }
  const number = value.replace(/[\s.]/g, "");
  if (kind === "number" && !NUMBER_RE.test(number)) return formError("Số điện thoại phải có 3 đến 15 chữ số (có thể bắt đầu bằng +).");
  const leader = kind === "endpoint" ? { endpoint: value, label: label || value } : { number, label: label || number };
  view.leaders.push({ leader, text: label ? `${label} — ${kind === "endpoint" ? value : number}` : (kind === "endpoint" ? value : number) });
  $("c-leader").value = "";
  $("c-leader-label").value = "";
  show($("c-error"), false);
  renderChosen();
}

function chosenList(list, items) {
  list.replaceChildren(
    ...items.map((item, index) => {
      const remove = el("button", { type: "button", class: "small secondary", "data-index": String(index) }, "Bỏ");
      return el("li", {}, el("span", {}, item.text), " ", remove);
    }),
  );
}

function renderChosen() {
  chosenList($("c-points"), view.points);
  chosenList($("c-leaders"), view.leaders);
  show($("c-points-empty"), view.points.length === 0);
}

// -- the form: sending ------------------------------------------------------------------

function refusal(exc) {
  if (!(exc instanceof HttpError)) return "không kết nối được tới máy chủ, vui lòng thử lại.";
  const detail = typeof exc.body.detail === "string" ? exc.body.detail : "";
  if (exc.status === 422) return detail ? `dữ liệu không hợp lệ: ${detail}` : "dữ liệu không hợp lệ.";
  if (detail && [403, 409, 503].includes(exc.status)) return detail;
  if (exc.status === 403) return "bạn không có quyền tạo hội nghị cho các địa bàn này.";
  if (exc.status === 503) return "dịch vụ hội nghị chưa sẵn sàng, vui lòng thử lại.";
  return "máy chủ gặp lỗi, vui lòng thử lại.";
}

function formError(text, link) {
  const node = $("c-error");
  node.replaceChildren(text);
  if (link) node.append(" ", el("a", { href: link }, "Mở hội nghị"));
  show(node, true);
}

async function submit(startNow) {
  if (view.busy) return;
  const title = $("c-title").value.trim();
  if (!title) return formError("Hãy nhập tên hội nghị.");
  if (!view.points.length) return formError("Hãy chọn ít nhất một điểm cầu.");
  // Without a leader the points would wait with music: no one marked ever joins.
  if (!view.leaders.length) return formError("Hãy chọn ít nhất một người chủ trì.");
  const when = $("c-starts-at").value;
  let startsAt = null;
  if (!startNow && when) {
    const at = new Date(when); // the browser's local time, as typed
    if (Number.isNaN(at.getTime())) return formError("Giờ bắt đầu không hợp lệ.");
    if (at.getTime() <= Date.now()) return formError("Giờ bắt đầu phải ở tương lai.");
    startsAt = at.toISOString();
  }
  view.busy = true;
  const buttons = [$("c-start"), $("c-create-only")];
  buttons.forEach((b) => { b.disabled = true; });
  show($("c-error"), false);
  try {
    let created;
    try {
      created = await request("POST", "/conferences", {
        body: {
          title,
          points: view.points.map((p) => p.selector),
          leaders: view.leaders.map((l) => l.leader),
          record: $("c-record").checked,
          starts_at: startsAt,
        },
      });
    } catch (exc) {
      if (exc instanceof HttpError && exc.status === 401) return toLogin();
      return formError(`Không tạo được hội nghị: ${refusal(exc)}`);
    }
    const page = `/conferences/${created.id}`;
    if (startNow) {
      try {
        await request("POST", `${page}/start`);
      } catch (exc) {
        if (exc instanceof HttpError && exc.status === 401) return toLogin();
        return formError(`Đã tạo hội nghị nhưng chưa bắt đầu được: ${refusal(exc)}`, page);
      }
    }
    window.location.assign(page);
  } finally {
    view.busy = false;
    buttons.forEach((b) => { b.disabled = false; });
  }
}

// -- wiring -----------------------------------------------------------------------------

function wire() {
  $("c-kind").addEventListener("change", onKind);
  $("c-province").addEventListener("change", onKind);
  $("c-add-place").addEventListener("click", addPlace);
  $("c-add-number").addEventListener("click", addNumber);
  $("c-add-leader").addEventListener("click", addLeader);
  $("c-leader-kind").addEventListener("change", () => {
    $("c-leader").placeholder = $("c-leader-kind").value === "endpoint" ? "agent01" : "0912345678";
  });
  const removeFrom = (list) => (event) => {
    const button = event.target.closest("button[data-index]");
    if (!button) return;
    list.splice(Number(button.dataset.index), 1);
    renderChosen();
  };
  $("c-points").addEventListener("click", removeFrom(view.points));
  $("c-leaders").addEventListener("click", removeFrom(view.leaders));
  // Enter in a field must not call a thousand phones: only the buttons send the form.
  $("create").addEventListener("submit", (event) => event.preventDefault());
  $("c-start").addEventListener("click", () => submit(true));
  $("c-create-only").addEventListener("click", () => submit(false));
  $("signout").addEventListener("click", async () => {
    try { await request("POST", "/auth/logout"); } finally { window.location.assign("/login"); }
  });
}

function start() {
  wire();
  renderChosen();
  setUpPlaces();
  followEvents({ snapshot: () => { loadList(); }, conference: onConference });
}

start();
