// /admin: agents, users, teams, announcements and pause reasons, each change a REST call.
// Every text from the server is set as text (dom.js el / textContent), never as HTML.

import { el, show } from "./dom.js";
import { request } from "./http.js";

const $ = (id) => document.getElementById(id);
const config = JSON.parse($("admin-config").textContent);
const CATEGORIES = config.categories; // [[value, Vietnamese label], …]
const ROLE_LABELS = Object.fromEntries(config.roles);
const MANAGES = new Set(config.manages); // roles whose users this viewer may create and act on

function say(node, text, isError = false) {
  node.textContent = text;
  node.classList.toggle("error", isError);
  node.classList.toggle("notice", !isError);
  show(node, Boolean(text));
}

function failed(error) {
  say($("admin-error"), `Không thực hiện được: ${error.message}`, true);
}

function clearError() {
  show($("admin-error"), false);
}

function option(value, label, selected = false) {
  const node = el("option", { value: String(value) }, label);
  node.selected = selected;
  return node;
}

// -- tabs ---------------------------------------------------------------------------------

const loaded = new Set();
const LOADERS = {
  agents: loadAgents,
  users: loadUsers,
  teams: loadTeams,
  announcements: loadAnnouncements,
  pauses: loadPauses,
};

async function openTab(name) {
  if (!$(`panel-${name}`)) name = "agents";
  for (const tab of document.querySelectorAll(".tab")) {
    const on = tab.dataset.tab === name;
    tab.setAttribute("aria-selected", String(on));
    show($(`panel-${tab.dataset.tab}`), on);
  }
  clearError();
  if (!loaded.has(name)) {
    loaded.add(name);
    try {
      await LOADERS[name]();
    } catch (error) {
      loaded.delete(name);
      failed(error);
    }
  }
}

// -- agents -------------------------------------------------------------------------------

let districts = null;

async function districtList() {
  if (districts === null) {
    const page = await request("GET", "/places?level=district&limit=500");
    districts = page.items.map((p) => [p.code, p.name]);
  }
  return districts;
}

function agentRow(agent, places) {
  const name = el("input", { value: agent.name, maxlength: "200", "aria-label": "Họ tên" });
  const district = el("select", { "aria-label": "Quận/huyện" }, option("", "— Không —"));
  for (const [code, label] of places) district.append(option(code, label, code === agent.home_district));
  const skills = CATEGORIES.map(([value, label]) => {
    const input = el("input", {
      type: "number", min: "0", max: "5", step: "1", class: "skill",
      value: String(agent.skills[value] || 0), "aria-label": label, "data-skill": value,
    });
    return el("td", {}, input);
  });
  const active = el("input", { type: "checkbox", "aria-label": "Đang làm việc" });
  active.checked = agent.active;
  const save = el("button", { type: "button", class: "secondary" }, "Lưu");
  const row = el("tr", { "data-agent": String(agent.id) },
    el("td", {}, name), el("td", {}, agent.endpoint), el("td", {}, district),
    ...skills, el("td", {}, active), el("td", {}, save));
  save.addEventListener("click", async () => {
    clearError();
    const body = { name: name.value.trim(), active: active.checked, skills: {} };
    for (const input of row.querySelectorAll("input.skill")) {
      const level = Number(input.value);
      if (level > 0) body.skills[input.dataset.skill] = level;
    }
    if (district.value) body.home_district = Number(district.value);
    else body.clear_home_district = true;
    try {
      const saved = await request("PATCH", `/agents/${agent.id}`, { body });
      say($("agents-status"), `Đã lưu ${saved.name}.`);
    } catch (error) {
      failed(error);
    }
  });
  return row;
}

async function loadAgents() {
  const head = $("agents-head");
  if (head.children.length === 3) {
    for (const [, label] of CATEGORIES) head.append(el("th", {}, label));
    head.append(el("th", {}, "Làm việc"), el("th", {}, ""));
  }
  const [agents, places] = await Promise.all([request("GET", "/agents"), districtList()]);
  $("agents-body").replaceChildren(...agents.map((a) => agentRow(a, places)));
}

async function createAgent(event) {
  event.preventDefault();
  clearError();
  try {
    const agent = await request("POST", "/agents", {
      body: { name: $("agent-new-name").value.trim(), endpoint: $("agent-new-endpoint").value.trim() },
    });
    event.target.reset();
    say($("agents-status"), `Đã thêm ${agent.name} (${agent.endpoint}).`);
    await loadAgents();
  } catch (error) {
    failed(error);
  }
}

// -- users (admins: everyone; supervisors: agent and team users, staff read-only) ----------

function showSecret(title, password) {
  $("secret-title").textContent = title;
  $("secret-password").textContent = password;
  show($("secret-box"), true);
}

function userRow(user) {
  const linked = user.agent_id ? `Tổng đài viên #${user.agent_id}` : user.team_id ? `Đội #${user.team_id}` : "—";
  const reset = el("button", { type: "button", class: "secondary", "data-action": "reset" }, "Đặt lại mật khẩu");
  const toggle = el("button", { type: "button", class: "secondary", "data-action": "toggle" },
    user.active ? "Vô hiệu hoá" : "Kích hoạt lại");
  reset.addEventListener("click", async () => {
    clearError();
    try {
      const answer = await request("POST", `/users/${user.id}/password`, { body: {} });
      showSecret(`Mật khẩu mới của ${user.name} (các phiên đăng nhập cũ đã kết thúc):`, answer.password);
    } catch (error) {
      failed(error);
    }
  });
  toggle.addEventListener("click", async () => {
    clearError();
    try {
      await request("POST", `/users/${user.id}/${user.active ? "deactivate" : "reactivate"}`);
      await loadUsers();
    } catch (error) {
      failed(error);
    }
  });
  const actions = MANAGES.has(user.role)
    ? [reset, toggle]
    : [el("span", { class: "muted" }, "Do quản trị viên quản lý")];
  return el("tr", { "data-user": user.name },
    el("td", {}, user.name), el("td", {}, ROLE_LABELS[user.role] || user.role), el("td", {}, linked),
    el("td", {}, user.active ? "Đang hoạt động" : "Đã vô hiệu hoá"), el("td", { class: "actions" }, ...actions));
}

async function loadUsers() {
  const [users, agents, teams] = await Promise.all([
    request("GET", "/users"), request("GET", "/agents"), request("GET", "/teams?limit=500"),
  ]);
  $("users-body").replaceChildren(...users.map(userRow));
  const role = $("user-role");
  if (!role.options.length) {
    for (const [value, label] of config.roles) if (MANAGES.has(value)) role.append(option(value, label));
  }
  $("user-agent").replaceChildren(...agents.map((a) => option(a.id, `${a.name} (${a.endpoint})`)));
  $("user-team").replaceChildren(...teams.items.map((t) => option(t.id, `${t.name} — ${t.place.name}`)));
  roleFields();
}

function roleFields() {
  const role = $("user-role").value;
  show($("user-agent-field"), role === "agent");
  show($("user-team-field"), role === "team");
}

function passwordMode() {
  return document.querySelector('input[name="pw-mode"]:checked').value;
}

async function createUser(event) {
  event.preventDefault();
  clearError();
  const role = $("user-role").value;
  const body = { name: $("user-name").value.trim(), role };
  if (role === "agent") body.agent_id = Number($("user-agent").value);
  if (role === "team") body.team_id = Number($("user-team").value);
  if (passwordMode() === "generate") body.generate_password = true;
  else body.password = $("user-password").value;
  try {
    const created = await request("POST", "/users", { body });
    event.target.reset();
    show($("user-password"), false);
    if (created.password) showSecret(`Mật khẩu của ${created.user.name}:`, created.password);
    else say($("users-status"), `Đã tạo ${created.user.name} với mật khẩu bạn nhập.`);
    await loadUsers();
  } catch (error) {
    failed(error);
  }
}

// -- teams --------------------------------------------------------------------------------

let teams = [];

function removable(row) {
  const remove = el("button", { type: "button", class: "secondary" }, "Xoá");
  remove.addEventListener("click", () => row.remove());
  row.append(el("td", {}, remove));
  return row;
}

function memberRow(member = { name: "", role: "member", phone_number: null }) {
  return removable(el("tr", { class: "member" },
    el("td", {}, el("input", { "data-field": "name", value: member.name, maxlength: "200", "aria-label": "Họ tên" })),
    el("td", {}, el("input", { "data-field": "role", value: member.role, maxlength: "50", "aria-label": "Vai trò" })),
    el("td", {}, el("input", { "data-field": "phone_number", value: member.phone_number || "", maxlength: "16", "aria-label": "Số điện thoại" }))));
}

function phoneRow(phone = { endpoint: null, number: "", label: "" }) {
  const kind = el("select", { "data-field": "kind", "aria-label": "Loại" },
    option("endpoint", "Máy nội bộ", phone.endpoint !== null), option("number", "Số điện thoại", phone.endpoint === null));
  return removable(el("tr", { class: "phone" },
    el("td", {}, kind),
    el("td", {}, el("input", { "data-field": "value", value: phone.endpoint || phone.number || "", maxlength: "40", "aria-label": "Máy / số" })),
    el("td", {}, el("input", { "data-field": "label", value: phone.label, maxlength: "100", "aria-label": "Ghi chú" }))));
}

function field(row, name) {
  return row.querySelector(`[data-field="${name}"]`).value.trim();
}

function editTeam() {
  const team = teams.find((t) => String(t.id) === $("team-pick").value);
  show($("team-edit"), Boolean(team));
  if (!team) return;
  $("team-place").textContent = `${team.kind === "center" ? "Trung tâm" : "Đội"} tại ${team.place.name}`;
  $("team-name").value = team.name;
  $("team-active").checked = team.active;
  $("members-body").replaceChildren(...team.members.map(memberRow));
  $("phones-body").replaceChildren(...team.phones.map(phoneRow));
}

async function loadTeams() {
  const level = $("team-level").value;
  const page = await request("GET", `/teams?limit=500${level ? `&level=${level}` : ""}`);
  teams = page.items;
  const pick = $("team-pick");
  const keep = pick.value;
  pick.replaceChildren(option("", "— Chọn đội —"), ...teams.map((t) => option(t.id, `${t.name} — ${t.place.name}`)));
  if (teams.some((t) => String(t.id) === keep)) pick.value = keep;
  editTeam();
}

async function saveTeam(event) {
  event.preventDefault();
  clearError();
  const body = {
    name: $("team-name").value.trim(),
    active: $("team-active").checked,
    members: [...document.querySelectorAll("#members-body tr")].map((row) => ({
      name: field(row, "name"), role: field(row, "role") || "member", phone_number: field(row, "phone_number") || null,
    })),
    phones: [...document.querySelectorAll("#phones-body tr")].map((row) => {
      const value = field(row, "value") || null;
      const isEndpoint = field(row, "kind") === "endpoint";
      return { endpoint: isEndpoint ? value : null, number: isEndpoint ? null : value, label: field(row, "label") };
    }),
  };
  try {
    const saved = await request("PATCH", `/teams/${$("team-pick").value}`, { body });
    say($("teams-status"), `Đã lưu ${saved.name}.`);
    await loadTeams();
  } catch (error) {
    failed(error);
  }
}

// -- announcements ------------------------------------------------------------------------

function audio(src) {
  const player = el("audio", { controls: "", preload: "auto", src });
  return player;
}

function announcementCard(a) {
  const name = encodeURIComponent(a.name);
  const card = el("article", { class: "announcement", "data-name": a.name });
  const source = a.source === "menu file" ? "theo tệp thực đơn" : `sửa bởi ${a.updated_by || "?"}`;
  card.append(
    el("h3", {}, a.name),
    el("p", { class: "muted" }, `Đang dùng (${source}):`),
    el("blockquote", { class: "live-text" }, a.text),
    audio(`/ivr/announcements/${name}/audio.wav?t=${encodeURIComponent(a.updated_at || "file")}`),
  );
  const text = el("textarea", { rows: "3", maxlength: "2000", "aria-label": `Nội dung mới của ${a.name}` });
  text.value = a.draft ? a.draft.text : a.text;
  const make = el("button", { type: "button", "data-action": "draft" }, "Tạo bản nghe thử");
  card.append(el("label", {}, "Nội dung mới"), text, el("div", { class: "buttons" }, make));
  make.addEventListener("click", () => act(() => request("POST", `/ivr/announcements/${name}/draft`, { body: { text: text.value } })));

  if (a.draft) {
    const publish = el("button", { type: "button", "data-action": "publish" }, "Đưa vào sử dụng");
    const discard = el("button", { type: "button", class: "secondary", "data-action": "discard" }, "Bỏ bản nháp");
    const player = audio(`/ivr/announcements/${name}/draft.wav?draft=${encodeURIComponent(a.draft.id)}`);
    player.classList.add("draft-audio");
    card.append(el("div", { class: "draft" },
      el("p", {}, `Bản nháp (${a.draft.duration_s} giây) — người gọi chưa nghe thấy:`),
      el("blockquote", {}, a.draft.text), player, el("div", { class: "buttons" }, publish, discard)));
    publish.addEventListener("click", () => act(() => request("POST", `/ivr/announcements/${name}/draft/publish`, { body: { draft_id: a.draft.id } })));
    discard.addEventListener("click", () => act(() => request("DELETE", `/ivr/announcements/${name}/draft`)));
  }
  if (a.previous_text !== null && a.previous_text !== undefined) {
    const revert = el("button", { type: "button", class: "secondary", "data-action": "revert" }, "Quay lại bản trước");
    card.append(el("details", { class: "previous" },
      el("summary", {}, "Bản trước"), el("blockquote", {}, a.previous_text), revert));
    revert.addEventListener("click", () => act(() => request("POST", `/ivr/announcements/${name}/revert`)));
  }
  return card;
}

async function act(call) {
  clearError();
  for (const button of document.querySelectorAll("#announcements button")) button.disabled = true;
  try {
    await call();
  } catch (error) {
    failed(error);
  }
  await loadAnnouncements();
}

async function loadAnnouncements() {
  const list = await request("GET", "/ivr/announcements");
  $("announcements").replaceChildren(...list.map(announcementCard));
  if (!list.length) $("announcements").append(el("p", { class: "muted" }, "Thực đơn không có thông báo nào."));
}

// -- pause reasons ------------------------------------------------------------------------

function pauseRow(reason) {
  const label = el("input", { value: reason.label, maxlength: "100", "aria-label": `Lý do ${reason.code}` });
  const save = el("button", { type: "button", class: "secondary" }, "Đổi tên");
  const toggle = el("button", { type: "button", class: "secondary" }, reason.retired ? "Dùng lại" : "Ngừng dùng");
  const patch = async (body, done) => {
    clearError();
    try {
      const saved = await request("PATCH", `/pause-reasons/${encodeURIComponent(reason.code)}`, { body });
      say($("pauses-status"), done(saved));
      await loadPauses();
    } catch (error) {
      failed(error);
    }
  };
  save.addEventListener("click", () => patch({ label: label.value.trim() }, (r) => `Đã đổi tên: ${r.label}.`));
  toggle.addEventListener("click", () => patch({ retired: !reason.retired },
    (r) => (r.retired ? `Đã ngừng dùng ${r.label}.` : `Đã dùng lại ${r.label}.`)));
  return el("tr", { "data-reason": reason.code, class: reason.retired ? "retired" : "" },
    el("td", {}, reason.phone_code), el("td", {}, reason.code), el("td", {}, label),
    el("td", {}, reason.retired ? "Đã ngừng dùng" : "Đang dùng"), el("td", { class: "actions" }, save, toggle));
}

async function loadPauses() {
  const reasons = await request("GET", "/pause-reasons");
  $("pauses-body").replaceChildren(...reasons.map(pauseRow));
}

async function createPause(event) {
  event.preventDefault();
  clearError();
  try {
    const reason = await request("POST", "/pause-reasons", {
      body: { code: $("pause-new-code").value.trim(), label: $("pause-new-label").value.trim() },
    });
    event.target.reset();
    say($("pauses-status"), `Đã thêm ${reason.label}: mã điện thoại ${reason.phone_code}.`);
    await loadPauses();
  } catch (error) {
    failed(error);
  }
}

// -- start --------------------------------------------------------------------------------

function start() {
  for (const tab of document.querySelectorAll(".tab")) {
    tab.addEventListener("click", () => {
      history.replaceState(null, "", `#${tab.dataset.tab}`);
      openTab(tab.dataset.tab);
    });
  }
  $("signout").addEventListener("click", async () => {
    try { await request("POST", "/auth/logout"); } finally { window.location.assign("/login"); }
  });
  $("agent-create").addEventListener("submit", createAgent);
  if ($("user-create")) {
    $("user-create").addEventListener("submit", createUser);
    $("user-role").addEventListener("change", roleFields);
    for (const radio of document.querySelectorAll('input[name="pw-mode"]')) {
      radio.addEventListener("change", () => show($("user-password"), passwordMode() === "typed"));
    }
    $("secret-close").addEventListener("click", () => {
      $("secret-password").textContent = "";
      show($("secret-box"), false);
    });
  }
  $("team-level").addEventListener("change", () => loadTeams().catch(failed));
  $("team-pick").addEventListener("change", editTeam);
  $("member-add").addEventListener("click", () => $("members-body").append(memberRow()));
  $("phone-add").addEventListener("click", () => $("phones-body").append(phoneRow()));
  $("team-edit").addEventListener("submit", saveTeam);
  $("pause-create").addEventListener("submit", createPause);
  openTab(window.location.hash.slice(1) || "agents");
}

start();
