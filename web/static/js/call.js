// /calls/{id}: one call's facts, its recordings (a player streaming /recordings/{rid}/audio,
// the digest checked against the chain, the pauses, the retention) and the legal holds on
// it. Listening is audited by the API when the player asks for the audio. Every caller's or
// user's text is set with textContent.
import { HttpError, request } from "./http.js";
import { toLogin } from "./stream.js";
import { el, formatDuration, show } from "./dom.js";
import { formatBytes, formatDay, formatSeconds, pauseLine, verifyText } from "./calls-logic.js";

const LABELS = JSON.parse(document.getElementById("labels").textContent);
const CONFIG = JSON.parse(document.getElementById("calls-config").textContent);
const CALL_ID = CONFIG.call_id;
const $ = (id) => document.getElementById(id);
const label = (table, value) => (value == null ? "" : LABELS[table][value] || String(value));
const when = (iso) => (iso ? `${formatDay(iso)} ${formatSeconds(iso)}` : "—");

const view = { call: null, recordings: [] };

function failed(exc, node, fallback) {
  if (exc instanceof HttpError && exc.status === 401) { toLogin(); return; }
  node.textContent = exc instanceof HttpError ? exc.message : fallback;
  show(node, true);
}

// -- the call's facts ---------------------------------------------------------------------

/** False when the call does not exist (or is not this user's to see): nothing else loads. */
async function loadCall() {
  try {
    view.call = await request("GET", `/calls/${CALL_ID}`);
  } catch (exc) {
    if (exc instanceof HttpError && exc.status === 404) {
      $("load-error").textContent = `Không tìm thấy cuộc gọi #${CALL_ID}.`;
      show($("load-error"), true);
      for (const node of document.querySelectorAll("main section.card")) show(node, false);
      return false;
    }
    failed(exc, $("load-error"), "Không tải được cuộc gọi: mất kết nối.");
  }
  return true; // the recordings may still load when the facts could not
}

function showCall() {
  const call = view.call;
  $("f-number").textContent = call.caller_number || "—";
  $("f-name").textContent = call.caller_name || "—";
  $("f-category").textContent = label("categories", call.category) || "—";
  $("f-arrived").textContent = when(call.arrived_at);
  $("f-answered").textContent = when(call.answered_at);
  $("f-ended").textContent = when(call.ended_at);
  $("f-wait").textContent = formatDuration(call.wait_s == null ? null : Math.round(call.wait_s));
  $("f-talk").textContent = formatDuration(call.talk_s == null ? null : Math.round(call.talk_s));
  $("f-agent").textContent = call.agent_endpoint || call.agent_name || (call.agent_id != null ? `#${call.agent_id}` : "—");
  $("f-status").textContent = label("call_statuses", call.status) || "—";
}

/** What the agent recorded of the call (and the incident that came of it), if anything. */
async function loadOutcome() {
  let outcome;
  try {
    outcome = await request("GET", `/calls/${CALL_ID}/outcome`);
  } catch (exc) {
    if (exc instanceof HttpError && exc.status === 401) toLogin();
    else if (exc instanceof HttpError && exc.status === 404) $("f-outcome").textContent = "Chưa ghi kết quả";
    return;
  }
  const node = $("f-outcome");
  node.textContent = label("dispositions", outcome.disposition) || outcome.disposition;
  if (outcome.incident_id != null) node.append(` · sự vụ #${outcome.incident_id}`);
  $("f-notes").textContent = outcome.notes || "—";
}

// -- the recordings -----------------------------------------------------------------------

async function loadRecordings() {
  const error = $("recordings-error");
  show(error, false);
  let items;
  try {
    items = await request("GET", `/calls/${CALL_ID}/recordings`);
  } catch (exc) {
    failed(exc, error, "Không tải được bản ghi âm: mất kết nối.");
    return;
  }
  view.recordings = Array.isArray(items) ? items : items.items || [];
  $("recordings").replaceChildren(...view.recordings.map(recordingCard));
  show($("recordings-empty"), view.recordings.length === 0);
  for (const recording of view.recordings) {
    if (recording.status !== "recording" && recording.sha256) verify(recording.id);
    if (CONFIG.may_hold) loadListens(recording.id);
  }
}

/** Who listened to a recording and when (the audit), for supervisors: shown under it, and
 * read again once this page's own Play has been audited. */
async function loadListens(id) {
  const box = document.querySelector(`article[data-recording-id="${id}"] .listens`);
  if (!box) return;
  let items;
  try {
    items = await request("GET", `/recordings/${id}/listens`);
  } catch (exc) {
    if (exc instanceof HttpError && exc.status === 401) return toLogin();
    box.textContent = "Không tải được lượt nghe.";
    return;
  }
  box.textContent = items.length
    ? `Đã nghe: ${items.map((e) => `${e.user_name || "?"} lúc ${when(e.at)}`).join("; ")}`
    : "Chưa ai nghe bản ghi này.";
  box.dataset.count = String(items.length);
}

function recordingCard(r) {
  const node = el("article", { class: `recording status-${r.status}`, "data-recording-id": String(r.id), "data-status": r.status });
  node.append(el("h3", {}, `${label("recording_kinds", r.kind)} · bản ghi #${r.id}`));
  const facts = el("dl", { class: "facts" },
    el("dt", {}, "Bắt đầu"), el("dd", {}, when(r.started_at)),
    el("dt", {}, "Kết thúc"), el("dd", {}, when(r.ended_at)),
    el("dt", {}, "Thời lượng"), el("dd", {}, formatDuration(r.duration_s == null ? null : Math.round(r.duration_s))),
    el("dt", {}, "Dung lượng"), el("dd", {}, formatBytes(r.size_bytes)),
  );
  const parties = r.parties || {};
  const who = [r.caller_number || parties.caller_number, r.agent_endpoint || parties.agent_endpoint].filter(Boolean);
  if (who.length) facts.append(el("dt", {}, "Các bên"), el("dd", { class: "parties" }, who.join(" ↔ ")));
  facts.append(el("dt", {}, "Trạng thái"), el("dd", { class: "rec-status" }, label("recording_statuses", r.status)));
  const keep = r.on_hold
    ? "Đang được giữ lại theo yêu cầu pháp lý"
    : `Lưu đến ${formatDay(r.expires_at)}${r.retention_class ? ` (loại: ${label("retention_classes", r.retention_class)})` : ""}`;
  if (r.status !== "purged") facts.append(el("dt", {}, "Thời hạn lưu"), el("dd", { class: "retention" }, keep));
  else facts.append(el("dt", {}, "Đã xoá lúc"), el("dd", { class: "purged-at" }, when(r.purged_at)));
  node.append(facts);

  if (r.status === "sealed") {
    // preload="none": nothing is fetched (nor audited as a listening) until Play is pressed.
    const player = el("audio", { controls: "", preload: "none", src: `/recordings/${r.id}/audio`, class: "player" });
    // The listening is audited when the file is asked for: read the list again after that.
    player.addEventListener("playing", () => setTimeout(() => loadListens(r.id), 500), { once: true });
    node.append(player);
    if (CONFIG.may_hold) node.append(el("p", { class: "listens", "data-count": "" }, "Đang tải lượt nghe…"));
  } else if (r.status === "purged") {
    node.append(el("p", { class: "purged notice" }, "Đã xoá theo thời hạn lưu"));
  } else {
    node.append(el("p", { class: "live notice" }, "Đang ghi âm: nghe được khi cuộc gọi kết thúc."));
  }

  if (r.sha256) {
    const digest = el("p", { class: "digest" }, "SHA-256: ", el("code", { class: "sha" }, r.sha256), " ");
    digest.append(el("span", { class: "verified pending", "data-ok": "" }, "Đang kiểm tra…"));
    node.append(digest);
  }
  const pauses = r.pauses || [];
  if (pauses.length) {
    node.append(el("ul", { class: "plain pauses" }, ...pauses.map((p) => el("li", {}, pauseLine(p)))));
  }
  return node;
}

async function verify(id) {
  const box = document.querySelector(`article[data-recording-id="${id}"] .verified`);
  if (!box) return;
  let report;
  try {
    report = await request("GET", `/recordings/${id}/verify`);
  } catch (exc) {
    if (exc instanceof HttpError && exc.status === 401) return toLogin();
    box.textContent = exc instanceof HttpError ? `Không kiểm tra được: ${exc.message}` : "Không kiểm tra được: mất kết nối.";
    box.className = "verified failed";
    box.dataset.ok = "";
    return;
  }
  const { ok, text } = verifyText(report);
  box.textContent = text;
  box.className = `verified ${ok ? "ok" : "bad"}`;
  box.dataset.ok = ok ? "1" : "0";
}

// -- the holds ----------------------------------------------------------------------------

function holdsOfThisCall(holds) {
  const incidents = new Set(view.recordings.map((r) => r.incident_id).filter((i) => i != null));
  return holds.filter((h) => h.call_id === CALL_ID || (h.incident_id != null && incidents.has(h.incident_id)));
}

async function loadHolds() {
  let holds;
  try {
    holds = await request("GET", "/holds");
  } catch (exc) {
    failed(exc, $("hold-error"), "Không tải được lệnh giữ: mất kết nối.");
    return;
  }
  const mine = holdsOfThisCall(Array.isArray(holds) ? holds : holds.items || []);
  const items = mine.map((h) => {
    const by = h.created_by_name || h.created_by || "";
    const item = el("li", { "data-hold-id": String(h.id) },
      `Giữ từ ${when(h.created_at)}${by ? `, bởi ${by}` : ""}${h.incident_id != null && h.call_id == null ? ` (sự vụ #${h.incident_id})` : ""} — lý do: `,
      el("span", { class: "reason" }, h.reason || ""),
    );
    if (CONFIG.may_hold) {
      const button = el("button", { type: "button", class: "secondary small release" }, "Bỏ giữ");
      button.addEventListener("click", () => release(h.id, button));
      item.append(" ", button);
    }
    return item;
  });
  $("holds").replaceChildren(...items);
  show($("holds-empty"), items.length === 0);
}

async function addHold(event) {
  event.preventDefault();
  const error = $("hold-error");
  show(error, false);
  const reason = $("hold-reason").value.trim();
  if (!reason) {
    error.textContent = "Hãy ghi lý do giữ lại.";
    show(error, true);
    return;
  }
  $("hold-add").disabled = true;
  try {
    await request("POST", "/holds", { body: { call_id: CALL_ID, reason } });
    $("hold-reason").value = "";
  } catch (exc) {
    failed(exc, error, "Không gửi được: mất kết nối.");
  } finally {
    $("hold-add").disabled = false;
  }
  await refreshAfterHold();
}

async function release(id, button) {
  button.disabled = true;
  show($("hold-error"), false);
  try {
    await request("DELETE", `/holds/${id}`);
  } catch (exc) {
    failed(exc, $("hold-error"), "Không gửi được: mất kết nối.");
    button.disabled = false;
    return;
  }
  await refreshAfterHold();
}

async function refreshAfterHold() {
  await loadRecordings(); // "Đang được giữ lại" / the retention again
  await loadHolds();
}

async function start() {
  $("signout").addEventListener("click", async () => {
    try { await request("POST", "/auth/logout"); } finally { window.location.assign("/login"); }
  });
  const form = $("hold-form");
  if (form) form.addEventListener("submit", addHold);
  if (await loadCall()) {
    if (view.call) {
      showCall();
      await loadOutcome();
    }
    await loadRecordings();
    await loadHolds();
  }
  document.body.dataset.loaded = "1";
}

start();
