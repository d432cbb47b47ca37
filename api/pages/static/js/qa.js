// 质检回放: find calls (time range, campaign, agent, outcome, the number's last digits) or take one of this
// week's sample (本周抽检, reviewers only: GET /qa/sample), open one: its
// replay (telephony events and script screens on one timeline) beside the recording's player (HTTP range
// requests; every request is audited with the reason typed here), and the scoring sheet.
import { $, fill, get, h, logout, showError } from "./api.js";
import { CHECKPOINT_TEXT, RESULT_TEXT, REVIEW_STATE_TEXT, offset, siteTime, wallToIso } from "./qa-text.js";
import { Sheet } from "./qa-sheet.js";
import { Timeline } from "./qa-timeline.js";

const config = JSON.parse($("#waihu-config").textContent);
const zone = config.timezone;
const audio = $("#player");
const timeline = new Timeline(audio, { list: $("#timeline"), track: $("#track"), playhead: $("#playhead") });
const sheet = new Sheet(
  { canReview: config.can_review, workId: config.work_id },
  {
    seek: (s) => timeline.seek(s, true),
    now: () => audio.currentTime,
  },
);
const campaigns = new Map(); // id -> campaign
const outcomes = new Map(); // outcome code -> label (every script of the visible campaigns)
let opened = null; // the open call's replay

// -- search ---------------------------------------------------------------------------------------

async function loadFilters() {
  let list = [];
  try {
    list = await get("/campaigns");
  } catch {
    return; // a role without campaign.view searches without the campaign list
  }
  const flows = new Set();
  for (const c of list) {
    campaigns.set(c.id, c);
    flows.add(c.flow);
  }
  fill(
    $("#f-campaign"),
    h("option", { value: "" }, "全部活动"),
    list.map((c) => h("option", { value: String(c.id) }, c.name)),
  );
  const scripts = await Promise.all([...flows].map((ref) => get(`/flows/${encodeURIComponent(ref)}`).catch(() => null)));
  for (const flow of scripts) {
    if (!flow) continue;
    for (const [code, label] of Object.entries(flow.outcomes)) if (!outcomes.has(code)) outcomes.set(code, label);
  }
  fill(
    $("#f-outcome"),
    h("option", { value: "" }, "全部结果"),
    [...outcomes].map(([code, label]) => h("option", { value: code }, label)),
  );
}

function query() {
  const params = new URLSearchParams();
  const since = wallToIso($("#f-since").value, zone);
  const until = wallToIso($("#f-until").value, zone);
  if (since) params.set("since", since);
  if (until) params.set("until", until);
  if ($("#f-campaign").value) params.set("campaign_id", $("#f-campaign").value);
  const workId = $("#f-work-id").value.trim();
  if (workId) params.set("work_id", workId);
  if ($("#f-outcome").value) params.set("outcome", $("#f-outcome").value);
  const suffix = $("#f-suffix").value.trim();
  if (suffix) params.set("phone_suffix", suffix);
  params.set("limit", "200");
  return params;
}

function seconds(a, b) {
  return a && b ? Math.max(0, (new Date(b) - new Date(a)) / 1000) : null;
}

async function search(event) {
  if (event) event.preventDefault();
  const error = $("#search-error");
  error.hidden = true;
  const suffix = $("#f-suffix").value.trim();
  if (suffix && !/^\d{2,4}$/.test(suffix)) {
    fill(error, "号码尾号请输入 2–4 位数字");
    error.hidden = false;
    return;
  }
  const since = $("#f-since").value;
  const until = $("#f-until").value;
  if (since && until && since >= until) {
    fill(error, "结束时间须晚于开始时间");
    error.hidden = false;
    return;
  }
  $("#btn-search").disabled = true;
  try {
    const calls = (await get(`/calls?${query()}`)).filter((c) => c.call_id);
    fill($("#search-count"), calls.length ? `找到 ${calls.length} 通电话（最新在前）` : "没有符合条件的通话");
    fill($("#results"), calls.map(resultRow));
  } catch (err) {
    showError(err, error);
  } finally {
    $("#btn-search").disabled = false;
  }
}

/** One call in a list (search results, this week's sample): a button that opens its replay. */
function callItem(call, agent, outcome, last) {
  const campaign = campaigns.get(call.campaign_id);
  return h(
    "li",
    { dataset: { callId: call.call_id }, class: opened && opened.call_id === call.call_id ? "open" : null },
    h(
      "button",
      { type: "button", class: "result", onclick: () => openCall(call.call_id) },
      h("span", { class: "r-time" }, siteTime(call.started_at, zone)),
      h("span", { class: "r-phone mono" }, call.phone_masked || "—"),
      h("span", { class: "r-agent" }, agent),
      h("span", { class: "r-outcome" }, outcome),
      h("span", { class: "r-campaign muted small" }, campaign ? campaign.name : `活动 ${call.campaign_id}`),
      h("span", { class: "r-talk muted" }, last),
    ),
  );
}

function resultRow(call) {
  const talk = seconds(call.answered_at, call.ended_at);
  return callItem(
    call,
    call.work_id ? `坐席 ${call.work_id}` : "未接通坐席",
    call.outcome ? outcomes.get(call.outcome) || call.outcome : RESULT_TEXT[call.result] || call.result,
    talk === null ? "" : `通话 ${offset(talk)}`,
  );
}

// -- this week's sample (reviewers) ----------------------------------------------------------------

async function loadSample() {
  if (!config.can_review) return;
  let found;
  try {
    found = await get("/qa/sample");
  } catch {
    return; // the search still works without it
  }
  const calls = found.agents.flatMap((agent) => agent.picked);
  fill($("#sample-week"), `${found.week} · 每位坐席 ${found.per_agent} 通`);
  fill(
    $("#sample-note"),
    calls.length ? `${found.agents.length} 位坐席，共抽 ${calls.length} 通` : "本周还没有可抽检的通话",
  );
  fill($("#sample-list"), calls.map(sampleRow));
  $("#sample").hidden = false;
}

function sampleRow(call) {
  return callItem(
    call,
    `坐席 ${call.work_id}`,
    call.outcome ? outcomes.get(call.outcome) || call.outcome : "—",
    call.review_state ? REVIEW_STATE_TEXT[call.review_state] || call.review_state : "待评分",
  );
}

// -- the replay -----------------------------------------------------------------------------------

function fact(label, value) {
  return [h("dt", {}, label), h("dd", {}, value === null || value === undefined || value === "" ? "—" : value)];
}

async function openCall(callId) {
  let replay;
  try {
    replay = await get(`/qa/calls/${encodeURIComponent(callId)}/replay`);
  } catch (err) {
    showError(err);
    return;
  }
  opened = replay;
  for (const li of document.querySelectorAll("#results li, #sample-list li")) {
    li.classList.toggle("open", li.dataset.callId === callId);
  }
  history.replaceState(null, "", `/qa?call=${encodeURIComponent(callId)}`);
  $("#replay-empty").hidden = true;
  $("#replay").hidden = false;
  fill($("#call-id"), replay.call_id);
  const campaign = campaigns.get(replay.campaign_id);
  const talk = seconds(replay.answered_at, replay.ended_at);
  const captured = Object.entries(replay.captured || {}).map(([k, v]) => `${k}=${v}`).join("，");
  fill(
    $("#call-facts"),
    fact("话术", `${replay.flow.title}（${replay.flow.id}@${replay.flow.version}）`),
    fact("活动", campaign ? campaign.name : replay.campaign_id),
    fact("坐席", replay.agent),
    fact("开始", siteTime(replay.started_at, zone)),
    fact("接听", siteTime(replay.answered_at, zone, false)),
    fact("通话时长", talk === null ? null : offset(talk)),
    fact("呼叫结果", RESULT_TEXT[replay.result] || replay.result),
    fact("通话结果", replay.outcome ? replay.outcome.label : null),
    fact("客户类型", (replay.customer_types || []).map((t) => t.label).join("、")),
    fact("记录内容", captured),
  );
  const playable = setPlayer(replay);
  timeline.show(replay, playable);
  renderChecks(replay);
  await sheet.open(replay);
}

/** Points the player at the recording route (the reason goes with every range request). */
function setPlayer(replay) {
  const note = $("#player-note");
  const recording = replay.recording;
  audio.pause();
  let why = null;
  if (!config.can_play) why = "你的角色没有调听录音的权限（recording.play）";
  else if (!recording) why = "本通话没有录音";
  else if (!recording.available) why = `录音已过保留期删除（${siteTime(recording.deleted_at, zone)}）`;
  note.hidden = !why;
  fill(note, why || "");
  audio.hidden = Boolean(why);
  if (why) {
    audio.removeAttribute("src");
    audio.load();
    return false;
  }
  const reason = $("#play-reason").value.trim() || "质检评分";
  audio.src = `/calls/${encodeURIComponent(replay.call_id)}/recording?reason=${encodeURIComponent(reason)}`;
  audio.load();
  return true;
}

function renderChecks(replay) {
  const checks = replay.checks || {};
  const rows = (replay.checkpoints || []).map((c) =>
    h(
      "li",
      { class: `cp cp-${c.status}` },
      h("strong", {}, c.label),
      h(
        "span",
        { class: "cp-status" },
        `${CHECKPOINT_TEXT[c.status] || c.status}${c.reached_at !== null && c.reached_at !== undefined ? ` · ${offset(c.reached_at)}` : ""}`,
      ),
    ),
  );
  const names = {
    no_step_skipped: "按话术逐步进行",
    outcome_matches_last_step: "通话结果与最后一步一致",
    wrap_up_in_time: "话后处理按时完成",
  };
  for (const [id, label] of Object.entries(names)) {
    const check = checks[id];
    if (!check) continue;
    const status = check.passed === null ? "na" : check.passed ? "met" : "missed";
    rows.push(
      h(
        "li",
        { class: `cp cp-${status}`, title: check.reason || "" },
        h("strong", {}, label),
        h("span", { class: "cp-status" }, check.passed === null ? "不适用" : check.passed ? "通过" : "未通过"),
      ),
    );
  }
  fill($("#checkpoints"), rows);
}

// -- keys -----------------------------------------------------------------------------------------

function typing(target) {
  return target instanceof HTMLElement && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
}

document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && typing(event.target)) {
    event.target.blur();
    return;
  }
  if (typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.key === "?") {
    $("#dlg-help").showModal();
    return;
  }
  if (event.key === "/") {
    event.preventDefault();
    $("#f-suffix").focus();
    return;
  }
  if (!opened || audio.hidden) return;
  // Space plays / pauses, also on the timeline's buttons (elsewhere a button keeps its own Space)
  const onTimeline = event.target instanceof Element && event.target.closest("#timeline, #track");
  if (event.key === " " && (event.target.tagName !== "BUTTON" || onTimeline) && event.target !== audio) {
    event.preventDefault();
    if (audio.paused) audio.play().catch(() => {});
    else audio.pause();
  } else if (event.key === "ArrowLeft" && event.target !== audio) {
    audio.currentTime = Math.max(0, audio.currentTime - 5);
  } else if (event.key === "ArrowRight" && event.target !== audio) {
    audio.currentTime = audio.currentTime + 5;
  } else if (event.key === "[") {
    timeline.step(-1);
  } else if (event.key === "]") {
    timeline.step(1);
  }
});

// -- start ----------------------------------------------------------------------------------------

fill($("#work-id"), config.work_id);
$("#link-desk").hidden = !config.has_desk;
$("#btn-logout").addEventListener("click", () => logout());
$("#search-form").addEventListener("submit", search);
$("#search-form").addEventListener("reset", () => setTimeout(() => search(), 0));
$("#play-reason").addEventListener("change", () => {
  if (!opened) return;
  const at = audio.currentTime;
  if (setPlayer(opened)) audio.addEventListener("loadedmetadata", () => (audio.currentTime = at), { once: true });
});
audio.addEventListener("error", () => {
  if (!audio.getAttribute("src")) return;
  const note = $("#player-note");
  fill(note, "录音无法播放：可能已删除、校验失败或没有权限（详情见审计日志）");
  note.hidden = false;
});

Promise.all([loadFilters(), sheet.load()])
  .catch((err) => showError(err))
  .then(() => Promise.all([search(), loadSample()]))
  .then(() => {
    const wanted = new URLSearchParams(location.search).get("call");
    if (wanted) openCall(wanted);
  });
