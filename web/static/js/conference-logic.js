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

/** Why a point is absent, failed or gone, in Vietnamese. The API passes on Asterisk's words
 * (a DialStatus: BUSY, NOANSWER…; a hangup cause: Normal Clearing; an Originate's reason
 * number) or the service's (absent, hung_up, kicked, retry:<why>…); keys are lower case,
 * spaces as "_". */
export const REASON_LABELS = {
  busy: "bận máy",
  user_busy: "bận máy",
  no_answer: "không trả lời",
  noanswer: "không trả lời",
  no_user_responding: "không trả lời",
  cancel: "không trả lời",
  absent: "không bấm phím",
  hung_up: "gác máy",
  normal_clearing: "gác máy",
  failed: "không gọi được",
  chanunavail: "máy không liên lạc được",
  congestion: "mạng bận",
  originate_reason_0: "không gọi được",
  originate_reason_1: "không gọi được",
  originate_reason_3: "không trả lời",
  originate_reason_5: "bận máy",
  originate_reason_8: "mạng bận",
  kicked: "bị mời ra",
  locked: "hội nghị đã khóa",
  no_signal: "mất tín hiệu cuộc gọi",
  restart: "máy chủ khởi động lại",
  ended: "hội nghị đã kết thúc",
};

/** A reason in Vietnamese (an absent point without one: it pressed nothing); one not known
 * here as the API wrote it (the page shows it as text). */
export function reasonText(reason, state = "") {
  const raw = String(reason || "").trim();
  if (!raw) return state === "absent" ? REASON_LABELS.absent : "";
  if (raw.toLowerCase().startsWith("retry:")) {
    const why = reasonText(raw.slice(6));
    return why ? `${why} — sẽ gọi lại` : "sẽ gọi lại";
  }
  return REASON_LABELS[raw.toLowerCase().replace(/[\s-]+/g, "_")] || raw;
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

/** Whether the bridge is being recorded now: the summary's `recording_active`; without it,
 * what the conference was created with (`record`) while it runs. */
export function isRecording(conference) {
  if (!conference || conference.status !== "running") return false;
  const active = conference.recording_active ?? conference.recording;
  return typeof active === "boolean" ? active : !!conference.record;
}

/** The controls' state for a conference summary: which are offered, and the toggles' words. */
export function controlsOf(conference) {
  const status = conference ? conference.status : "";
  const running = status === "running";
  const recording = isRecording(conference);
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

/** A place part of a point (`province`, `district`, `commune`) as {code, name}: the API gives
 * its name (conference/store.py) or an object ({code, name}); null when there is none. */
export function placeOf(value) {
  if (value == null || value === "") return null;
  if (typeof value === "object") {
    const name = value.name ?? value.code;
    return name == null ? null : { code: value.code ?? null, name: String(name) };
  }
  return { code: null, name: String(value) };
}

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

const byName = (a, b) => String(a).localeCompare(String(b), "vi");

/** The points table's order: province, district, commune, then the label. */
export function pointOrder(a, b) {
  for (const part of ["province", "district", "commune"]) {
    const pa = placeOf(a[part]), pb = placeOf(b[part]);
    if (!pa !== !pb) return pa ? -1 : 1;
    if (pa && pb && pa.name !== pb.name) {
      if (pa.code != null && pb.code != null) return pa.code - pb.code;
      return byName(pa.name, pb.name);
    }
  }
  return byName(a.label || "", b.label || "") || a.id - b.id;
}

const COUNTS = ["present", "absent", "dialling", "left"];

function blank(key, level, place, parent, order) {
  return {
    key, level, code: place.code, name: place.name, parent, order,
    present: 0, absent: 0, dialling: 0, left: 0, total: 0,
    children: new Map(),
  };
}

const LEVELS = [["province", "p"], ["district", "d"], ["commune", "c"]];

/**
 * The roll of a conference, counted here from its points and kept up to date one change at
 * a time: `add(point, +1 | -1)` touches the totals ("t") and the point's province, district
 * and commune and returns their keys. A key is the path of names ("p:Tỉnh Bình Dương/d:…"):
 * names repeat across the country (Phường 1) but not under one parent. `seed(roll)` lays the
 * rows out in the API's roll's order (by official code) before any point is counted.
 */
export class Roll {
  constructor() {
    this.totals = blank("t", "total", { code: null, name: "Tổng cộng" }, null, 0);
    this.nodes = new Map([["t", this.totals]]);
    this.shapeChanged = false; // a province, district or commune appeared
    this.seeded = 0;
  }

  static of(points, apiRoll = null) {
    const roll = new Roll();
    if (apiRoll) roll.seed(apiRoll);
    for (const point of points) roll.add(point, 1);
    roll.shapeChanged = false;
    return roll;
  }

  /** Rows for the API's roll (`{provinces: [{code, name, districts: [{…, communes}]}]}`). */
  seed(apiRoll) {
    for (const province of apiRoll.provinces || []) {
      const p = this.node(this.totals, "p", "province", province);
      for (const district of province.districts || []) {
        const d = this.node(p, "d", "district", district);
        for (const commune of district.communes || []) this.node(d, "c", "commune", commune);
      }
    }
  }

  node(parent, prefix, level, place) {
    const key = `${parent === this.totals ? "" : `${parent.key}/`}${prefix}:${place.name}`;
    let node = this.nodes.get(key);
    if (!node) {
      this.seeded += 1;
      node = blank(key, level, { code: place.code ?? null, name: String(place.name) }, parent.key, this.seeded);
      this.nodes.set(key, node);
      parent.children.set(key, node);
      this.shapeChanged = true;
    }
    return node;
  }

  path(point) {
    // A point chosen by number has no place: it counts in the totals only (as roll.py).
    let parent = this.totals;
    const nodes = [parent];
    for (const [level, prefix] of LEVELS) {
      const place = placeOf(point[level]);
      if (!place) break;
      parent = this.node(parent, prefix, level, place);
      nodes.push(parent);
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

  /** Provinces, then each one's districts, each with its communes: [node, depth] in order
   * (the API's order; rows it did not have by code, else by name, after them). */
  rows() {
    const out = [];
    const order = (a, b) => {
      if (a.code != null && b.code != null && a.code !== b.code) return a.code - b.code;
      return a.order - b.order || byName(a.name, b.name);
    };
    const walk = (node, depth) => {
      for (const child of [...node.children.values()].sort(order)) {
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
  const { points = [], hands = [], recording, roll, ...conference } = detail;
  const model = {
    conference,
    points: new Map(points.map((p) => [p.id, p])),
    roll: Roll.of(points, roll),
    hands: sortHands(hands),
    recording: null,
    counts: { all: 0, present: 0, absent: 0, dialling: 0, left: 0, failed: 0 },
  };
  for (const point of points) count(model, point, 1);
  takeRecording(model, recording);
  return model;
}

/** `recording` is the file (`{available, url}`) in a detail, and whether the bridge is being
 * recorded now (a boolean) in a summary. */
function takeRecording(model, recording) {
  if (recording == null) return;
  if (typeof recording === "object") model.recording = recording;
  else model.conference.recording = !!recording;
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
    takeRecording(model, recording);
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
