// Small DOM helpers. Text is always set with textContent / text nodes, never as HTML.

/** An element with attributes and children (strings become text nodes). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

export function show(node, visible) {
  node.hidden = !visible;
}

const two = (n) => String(n).padStart(2, "0");

/** 75_000 ms -> "01:15"; an hour or more -> "1:02:03". */
export function formatClock(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return h ? `${h}:${two(m)}:${two(s)}` : `${two(m)}:${two(s)}`;
}

export function formatDuration(seconds) {
  return seconds == null ? "—" : formatClock(seconds * 1000);
}

/** An ISO instant as local "14:05" (or "06/12 14:05" with the date). */
export function formatTime(iso, withDate = false) {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return "—";
  const time = `${two(at.getHours())}:${two(at.getMinutes())}`;
  return withDate ? `${two(at.getDate())}/${two(at.getMonth() + 1)} ${time}` : time;
}

/** A fresh Idempotency-Key: 128 random bits (crypto.randomUUID needs a secure context). */
export function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
