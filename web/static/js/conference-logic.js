// The conference pages' pure rules (no DOM): the Vietnamese words for the API's values, the
// roll counted per province → district → commune and kept up to date one point at a time,
// and how a `conference` message of the event stream changes the model. Tested in the
// browser (tests/web/test_conferences_browser.py) by importing this module.
//
// The roll's buckets mirror conference/roll.py's `bucket`: present (pressed 1, in the
// bridge), absent (no 1, or the calls failed for good), dialling (not settled yet), left
// (was present, then hung up). Leaders are not counted.

/** A point's state, in Vietnamese. */
export const STATE_LABELS = {
  queued: "Chờ gọi",
  dialling: "Đang gọi",
  ringing: "Đang đổ chuông",
  answered: "Đã nhấc máy, chờ bấm phím",
  present: "Có mặt",
  joined: "Có mặt",
  left: "Đã rời",
  absent: "Vắng",
  failed: "Lỗi",
};

/** The points table's filters: [value, label]; "all" first. */
export const FILTERS = [
  ["all", "Tất cả"],
  ["present", "Có mặt"],
  ["absent", "Vắng"],
  ["dialling", "Đang gọi"],
  ["left", "Đã rời"],
  ["failed", "Lỗi"],
];

const FILTER_OF = {
  queued: "dialling",
  dialling: "dialling",
  ringing: "dialling",
  answered: "dialling",
  present: "present",
  joined: "present",
  left: "left",
  absent: "absent",
  failed: "failed",
};

const BUCKET_OF = { ...FILTER_OF, failed: "absent" };

/** The filter a point of this state falls under. */
export const filterOf = (state) => FILTER_OF[state] || "dialling";

/** The roll's bucket: present, absent, dialling or left. */
export const bucketOf = (state) => BUCKET_OF[state] || "dialling";

/** Why a point is absent, failed or gone, in Vietnamese (the API's reason codes). */
export const REASON_LABELS = {
  busy: "bận máy",
  no_answer: "không trả lời",
  noanswer: "không trả lời",
  absent: "không bấm phím",
  no_key: "không bấm phím",
  no_digit: "không bấm phím",
  hung_up: "gác máy",
  hangup: "gác máy",
  failed: "không gọi được",
  congestion: "mạng bận",
  chanunavail: "máy không liên lạc được",
  unavailable: "máy không liên lạc được",
  kicked: "bị mời ra",
  left: "đã rời hội nghị",
  ended: "hội nghị đã kết thúc",
  pbx_unavailable: "tổng đài không phản hồi",
  no_phone: "đội không có số điện thoại",
  locked: "hội nghị đã khóa",
};

/** A reason code in Vietnamese; an unknown one as the API wrote it (shown as text). */
export function reasonText(reason) {
  if (!reason) return "";
  const key = String(reason).trim().toLowerCase();
  return REASON_LABELS[key] || REASON_LABELS[key.replace(/[\s-]+/g, "_")] || String(reason);
}

/** A conference's status in Vietnamese. */
export const STATUS_LABELS = {
  scheduled: "Chưa bắt đầu",
  running: "Đang diễn ra",
  ended: "Đã kết thúc",
};

export const statusText = (status) => STATUS_LABELS[status] || String(status || "");

const ACTIVE = new Set(["present", "joined"]);

/** A point's microphone, in words: only for a point in the bridge. */
export function micText(point) {
  if (!ACTIVE.has(point.state)) return "";
  if (point.talking && !point.muted) return "Đang nói";
  return point.muted ? "Tắt" : "Mở";
}

/** What may be asked for one point now (the API decides; this only greys out buttons). */
export function pointActions(point, conference) {
  const running = !!conference && conference.status === "running";
  const inBridge = ACTIVE.has(point.state);
  return {
    floor: running && inBridge && !point.is_leader && conference.floor_point_id !== point.id,
    kick: running && (inBridge || point.state === "answered"),
    redial: running && !point.is_leader && ["absent", "failed", "left"].includes(point.state),
  };
}

/** The controls' state for a conference summary: which are offered, and the toggles' words. */
export function controlsOf(conference) {
  const status = conference ? conference.status : "";
  const running = status === "running";
  const recording = !!conference && !!(conference.recording_now ?? conference.record);
  return {
    start: status === "scheduled",
    muteAll: running,
    unmuteAll: running,
    release: running && conference.floor_point_id != null,
    lock: running,
    lockLabel: conference && conference.locked ? "Mở khóa" : "Khóa",
    lockPath: conference && conference.locked ? "unlock" : "lock",
    record: running,
    recordLabel: recording ? "Dừng ghi âm" : "Ghi âm",
    recordPath: recording ? "record/stop" : "record/start",
    end: status === "scheduled" || running,
  };
}

/** Ms since the start (until the end once ended); null before it started. */
export function elapsedMs(conference, now) {
  const started = Date.parse(conference.started_at || "");
  if (Number.isNaN(started)) return null;
  const ended = Date.parse(conference.ended_at || "");
  return Math.max(0, (Number.isNaN(ended) ? now : ended) - started);
}

/** A place part of a point (`province`, `district`, `commune`, or `place`) as {code, name}:
 * the API may give an object ({code, name}) or just a name; null when there is none. */
export function placeOf(value) {
  if (value == null || value === "") return null;
  if (typeof value === "object") {
    const code = value.code ?? value.name;
    if (code == null) return null;
    return { code: String(code), name: String(value.name ?? value.code) };
  }
  return { code: String(value), name: String(value) };
}

const OTHER = { code: "-", name: "Điểm cầu khác (theo số)" };

/** "Xã A, Huyện B" (the province too when `withProvince`). */
export function placeText(point, withProvince = false) {
  const parts = [placeOf(point.commune), placeOf(point.district)];
  if (withProvince) parts.push(placeOf(point.province));
  const names = parts.filter(Boolean).map((p) => p.name);
  if (!names.length && point.place) {
    const place = placeOf(point.place);
    if (place) names.push(place.name);
  }
  return names.join(", ");
}

const codeOrder = (a, b) => {
  const na = Number(a), nb = Number(b);
  if (!Number.isNaN(na) && !Number.isNaN(nb)) return na - nb;
  return String(a).localeCompare(String(b));
};

/** The points table's order: province, district, commune (by code), then the label. */
export function pointOrder(a, b) {
  for (const part of ["province", "district", "commune"]) {
    const pa = placeOf(a[part]), pb = placeOf(b[part]);
    if (!pa !== !pb) return pa ? -1 : 1;
    if (pa && pb && pa.code !== pb.code) return codeOrder(pa.code, pb.code);
  }
  return String(a.label || "").localeCompare(String(b.label || ""), "vi") || a.id - b.id;
}

const COUNTS = ["present", "absent", "dialling", "left"];

function blank(key, level, place, parent) {
  return {
    key, level, code: place.code, name: place.name, parent,
    present: 0, absent: 0, dialling: 0, left: 0, total: 0,
    children: new Map(),
  };
}

/**
 * The roll of a conference, counted here from its points and kept up to date one change at
 * a time: `add(point, +1 | -1)` touches the totals and the point's province, district and
 * commune (keys "p:74", "d:718", "c:25741"; "t" for the totals) and returns their keys.
 */
export class Roll {
  constructor() {
    this.totals = blank("t", "total", { code: "", name: "Tổng cộng" }, null);
    this.nodes = new Map([["t", this.totals]]);
    this.shapeChanged = false; // a province, district or commune appeared
  }

  static of(points) {
    const roll = new Roll();
    for (const point of points) roll.add(point, 1);
    roll.shapeChanged = false;
    return roll;
  }

  path(point) {
    const province = placeOf(point.province) || OTHER;
    const district = placeOf(point.district);
    const commune = placeOf(point.commune);
    const steps = [["p", "province", province]];
    if (district) steps.push(["d", "district", district]);
    if (commune) steps.push(["c", "commune", commune]);
    let parent = this.totals;
    const nodes = [parent];
    for (const [prefix, level, place] of steps) {
      const key = `${prefix}:${place.code}`;
      let node = this.nodes.get(key);
      if (!node) {
        node = blank(key, level, place, parent.key);
        this.nodes.set(key, node);
        parent.children.set(key, node);
        this.shapeChanged = true;
      }
      nodes.push(node);
      parent = node;
    }
    return nodes;
  }

  /** Count `point` in (`sign` 1) or out (-1); the keys of the rows it changed. */
  add(point, sign) {
    if (point.is_leader) return [];
    const bucket = bucketOf(point.state);
    const touched = [];
    for (const node of this.path(point)) {
      node[bucket] += sign;
      node.total += sign;
      touched.push(node.key);
    }
    return touched;
  }

  /** Provinces, then each one's districts, each with its communes: [node, depth] in order. */
  rows() {
    const out = [];
    const walk = (node, depth) => {
      const children = [...node.children.values()].sort((a, b) => codeOrder(a.code, b.code));
      for (const child of children) {
        out.push([child, depth]);
        walk(child, depth + 1);
      }
    };
    walk(this.totals, 0);
    return out;
  }
}

/** The bar's parts as shares of the node's total (0..1): present, absent, dialling, left. */
export function barParts(node) {
  const total = node.total || 0;
  return COUNTS.map((kind) => ({ kind, share: total ? node[kind] / total : 0 }));
}

/** The time a point was last changed (ms), NaN when not known. */
const changedAt = (point) => Date.parse(point.updated_at || "");

/**
 * The page's model of one conference from `GET /conferences/{id}`: `conference` (the
 * summary), `points` (id → point), `roll`, `hands` (oldest first), the filter counts and the
 * recording.
 */
export function createModel(detail) {
  const { points = [], hands = [], recording = null, roll: _roll, ...conference } = detail;
  const model = {
    conference,
    points: new Map(points.map((p) => [p.id, p])),
    roll: Roll.of(points),
    hands: sortHands(hands),
    recording,
    counts: { all: 0, present: 0, absent: 0, dialling: 0, left: 0, failed: 0 },
  };
  for (const point of points) count(model, point, 1);
  return model;
}

function count(model, point, sign) {
  if (point.is_leader) return;
  model.counts.all += sign;
  model.counts[filterOf(point.state)] += sign;
}

/** Hands oldest first (ties by point id). */
export function sortHands(hands) {
  return [...(hands || [])].sort((a, b) => (Date.parse(a.at) || 0) - (Date.parse(b.at) || 0) || a.point_id - b.point_id);
}

/**
 * Apply one `conference` message (`{conference, points, hands}`) to `model`. A point's
 * change older than what the model holds (its `updated_at`) is dropped: a message that
 * crossed a fresh `GET` must not put a point back. Returns what changed, for the page to
 * redraw only that: `points` (ids), `rows` (roll keys), `shape` (the roll gained a row),
 * `conference` and `hands` (booleans).
 */
export function applyEvent(model, data) {
  const changed = { points: [], rows: new Set(), shape: false, conference: false, hands: false };
  if (data.conference) {
    const { points: _p, hands: _h, roll: _r, recording, ...summary } = data.conference;
    model.conference = { ...model.conference, ...summary };
    if (recording !== undefined) model.recording = recording;
    changed.conference = true;
  }
  model.roll.shapeChanged = false;
  for (const incoming of data.points || []) {
    const known = model.points.get(incoming.id);
    if (known && changedAt(incoming) < changedAt(known)) continue;
    const point = known ? { ...known, ...incoming } : incoming;
    if (known) {
      count(model, known, -1);
      for (const key of model.roll.add(known, -1)) changed.rows.add(key);
    }
    count(model, point, 1);
    for (const key of model.roll.add(point, 1)) changed.rows.add(key);
    model.points.set(point.id, point);
    changed.points.push(point.id);
  }
  changed.shape = model.roll.shapeChanged;
  if (Array.isArray(data.hands)) {
    model.hands = sortHands(data.hands);
    changed.hands = true;
  }
  return changed;
}
