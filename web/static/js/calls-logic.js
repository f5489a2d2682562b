// The words of the recordings' and coaching's pages (no DOM): sizes, days, a pause, a
// digest's check, the recordings' disk line, the agent's coaching banner. The words for the
// API's values (kinds, statuses, modes) come from the labels' table the page carries.

const two = (n) => String(n).padStart(2, "0");

/** 1_234_567_890 -> "1,2 GB" (powers of 1000, one decimal under 10, a Vietnamese comma). */
export function formatBytes(bytes) {
  if (bytes == null || Number.isNaN(Number(bytes))) return "—";
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = Number(bytes);
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const shown = unit === 0 || value >= 10 ? String(Math.round(value)) : value.toFixed(1).replace(".", ",");
  return `${shown} ${units[unit]}`;
}

/** An ISO instant as the local day "06/11/2026"; "—" when absent. */
export function formatDay(iso) {
  const at = iso ? new Date(iso) : null;
  if (!at || Number.isNaN(at.getTime())) return "—";
  return `${two(at.getDate())}/${two(at.getMonth() + 1)}/${at.getFullYear()}`;
}

/** An ISO instant as the local "10:05:12"; "—" when absent. */
export function formatSeconds(iso) {
  const at = iso ? new Date(iso) : null;
  if (!at || Number.isNaN(at.getTime())) return "—";
  return `${two(at.getHours())}:${two(at.getMinutes())}:${two(at.getSeconds())}`;
}

/** A local day as the date input writes it: "2026-12-06". */
export function isoDay(date) {
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())}`;
}

/** The search's default days: yesterday and today (local), as date inputs write them. */
export function defaultDays(now = new Date()) {
  const yesterday = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1);
  return { from: isoDay(yesterday), to: isoDay(now) };
}

/** "Tạm dừng ghi âm 10:05:12–10:05:40, bởi Nguyễn Thị Lan" (still paused: "… đến nay"). */
export function pauseLine(pause) {
  const end = pause.resumed_at ? formatSeconds(pause.resumed_at) : "nay (đang tạm dừng)";
  const who = pause.by_name ? `, bởi ${pause.by_name}` : "";
  return `Tạm dừng ghi âm ${formatSeconds(pause.paused_at)}–${end}${who}`;
}

/** What one problem of a chain's report says, whatever its shape (text, or {what, seq}). */
function problemText(problem) {
  if (problem == null) return "";
  if (typeof problem === "string") return problem;
  return problem.what || problem.message || JSON.stringify(problem);
}

/** `GET /recordings/{id}/verify`'s answer in words: {ok, text}. */
export function verifyText(report) {
  if (report && report.ok) return { ok: true, text: "Đã xác minh" };
  const problems = ((report && report.problems) || []).map(problemText).filter(Boolean);
  return { ok: false, text: `Không khớp: ${problems.length ? problems.join("; ") : "không rõ lý do"}` };
}

/** "Ghi âm: 1,2 GB, còn trống 40 GB, cũ nhất 06/11/2026" from the wallboard's `recordings`. */
export function usageLine(usage) {
  if (!usage) return "";
  const oldest = usage.oldest ?? usage.oldest_started_at ?? null;
  const parts = [`Ghi âm: ${formatBytes(usage.bytes)}`];
  if (usage.files != null) parts[0] += ` (${usage.files} tệp)`;
  if (usage.disk_free_bytes != null) parts.push(`còn trống ${formatBytes(usage.disk_free_bytes)}`);
  parts.push(oldest ? `cũ nhất ${formatDay(oldest)}` : "chưa có bản ghi");
  return parts.join(", ");
}

/** The agent's banner for a `coaching` message, or "" when none is to be shown. */
export function coachingBanner(message, labels) {
  if (!message || !message.active) return "";
  return (labels.spy_modes_agent || {})[message.mode] || "Giám sát viên đang hướng dẫn";
}

/** The supervisor's phones: "sup01" … from the count. */
export function phoneNames(count) {
  return Array.from({ length: Math.max(0, count) }, (_, i) => `sup${two(i + 1)}`);
}
