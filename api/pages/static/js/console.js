// 坐席工作台 (the agent console). Everything that moves a call comes over the websocket (/ws/agent) and is
// answered by a keypress: no polling, and no browser timer on the call's path — a tab in the background
// (where browsers throttle timers) still gets each pop, step and wrap-up the moment the server sends it.
// Timers only repaint clocks (the golden-opening timer, the wrap-up countdown) and retry a lost socket.
import { $, ApiError, clock, fill, h, logout, messageOf, post, showError, toast } from "./api.js";
import { checkField, collectValues, renderCapture, showFieldErrors } from "./capture.js";

const config = JSON.parse($("#waihu-config").textContent);
const STATE_TEXT = {
  logged_in: "未示闲",
  ready: "示闲",
  paused: "示忙",
  on_call: "通话中",
  wrap_up: "整理中",
  logged_out: "已签出",
};
const PICK_KEYS = "123456789abcdefghijklmnpqrsuvwxyz"; // O and T stay free for their panels

let socket = null;
let signedOut = null; // why the server ended this login (its signed_out message)
let retries = 0;
// The agent's own state (logged_in / ready / paused, with the pause reason) as the server last confirmed it: the
// session record when the page loaded, then each "state" message. The console never guesses it: a pause chosen
// during a call shows as 通话后示忙 and applies when the call is over; after wrap-up the badge shows this state.
let agent = { state: config.state, reason: config.reason };
let view = "idle";
let call = null; // the call on screen
let preview = null; // the lead offered in preview mode
let wrapTimer = null;

// -- the socket ---------------------------------------------------------------------------------

function connect() {
  setLink("connecting");
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/agent`;
  socket = new WebSocket(url);
  socket.addEventListener("open", () => {
    retries = 0;
    setLink("up");
    // what this page knows of the agent's state may be stale (loaded before another tab changed it, replies
    // lost with a socket): ask; the answer also says whether the call on screen is still there
    send({ type: "state" });
  });
  socket.addEventListener("message", (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    handle(message);
  });
  socket.addEventListener("close", (event) => {
    socket = null;
    if (event.code === 4001) {
      setLink("replaced");
      return; // another window of this work ID took over the console
    }
    if (event.code === 4003) {
      location.assign(signedOut ? `/login?signed_out=${encodeURIComponent(signedOut)}` : "/login");
      return;
    }
    setLink("down");
    retries += 1;
    // The first retry is immediate; later ones wait a little (a visible tab, a returning network or a
    // focused window retry at once, whatever the browser does to timers in the background).
    if (retries === 1) connect();
    else setTimeout(reconnect, Math.min(5000, 500 * retries));
  });
}

function reconnect() {
  if (socket === null && document.getElementById("link").dataset.link !== "replaced") connect();
}

for (const name of ["online", "focus"]) window.addEventListener(name, reconnect);
document.addEventListener("visibilitychange", () => document.visibilityState === "visible" && reconnect());

function send(message) {
  if (socket === null || socket.readyState !== WebSocket.OPEN) {
    toast("与服务器的连接已断开，正在重连…", "error");
    return false;
  }
  socket.send(JSON.stringify(message));
  return true;
}

function setLink(link) {
  const el = $("#link");
  el.dataset.link = link;
  el.textContent = { connecting: "连接中…", up: "已连接", down: "连接断开，重连中…", replaced: "已在其他窗口打开" }[
    link
  ];
}

// -- what the server says -----------------------------------------------------------------------

function handle(message) {
  switch (message.type) {
    case "call.pop":
      popCall(message);
      break;
    case "call.step":
      if (call && message.call_id === call.id) stepCall(message);
      break;
    case "call.tags":
      if (call && message.call_id === call.id) {
        call.tags = message.tags;
        renderTags();
      }
      break;
    case "call.ended":
      if (call && message.call_id === call.id) endCall(message.outcome, message.checkpoints);
      break;
    case "wrap_up":
      if (call && message.call_id === call.id) startWrapUp(message.limit);
      break;
    case "wrap_up.done":
      finishWrapUp();
      break;
    case "preview":
      showPreview(message.lead);
      break;
    case "state":
      // 示忙 chosen during a call or a preview: the dialer pauses the agent when it is over (the badge says so)
      setAgentState(message.state, message.reason);
      // the answer to this page's question on (re)connect: no call on the agent's screen any more (its
      // wrap_up.done was lost with the socket, or the server restarted) means the call on this page is over
      if ("call_id" in message && message.call_id === null && call) {
        closeDialogs();
        finishWrapUp();
      }
      break;
    case "error":
      onError(message);
      break;
    case "signed_out":
      // the login ended without this page asking (shift end, forced out, idle): the close that follows
      // takes the page to the login, which says why
      signedOut = message.reason || "signed_out";
      break;
    default:
      break;
  }
}

function onError(message) {
  if (message.error_id === "api.not_authenticated") {
    location.assign("/login");
    return;
  }
  if (message.error_id === "flow.capture_invalid" && call) {
    showFieldErrors($("#capture"), (message.details || {}).fields || {});
  }
  toast(messageOf(new ApiError(0, message)), "error");
  unlockOptions();
}

// -- agent state ----------------------------------------------------------------------------------

function setAgentState(state, reason) {
  agent = { state, reason: reason || null };
  renderState();
  if (view === "idle") renderIdle();
}

/** The badge: the call's state while one is on screen, else the agent's own state as the server confirmed it. */
function renderState() {
  const el = $("#agent-state");
  const busy = view !== "idle"; // a call, its wrap-up or a preview
  let state = agent.state;
  let text;
  if (state === "paused") {
    // during a call or a preview the dialer pauses the agent after it
    text = agent.reason ? `${busy ? "通话后" : ""}示忙（${agent.reason}）` : STATE_TEXT.paused;
  } else {
    if (view === "call") state = "on_call";
    else if (view === "wrapup") state = "wrap_up";
    text = STATE_TEXT[state] || state;
  }
  el.dataset.state = state;
  el.textContent = text;
}

function renderIdle() {
  const text = {
    ready: "示闲中，等待来电…",
    paused: `示忙（${agent.reason || ""}）：按 R 示闲`,
    logged_in: "按 R 示闲，开始接听来电",
  }[agent.state];
  fill($("#idle-text"), text || "等待来电…");
}

function show(next) {
  view = next;
  $("#idle").hidden = next !== "idle";
  $("#preview").hidden = next !== "preview";
  $("#call").hidden = next !== "call" && next !== "wrapup";
  $("#wrapup").hidden = next !== "wrapup";
  document.body.dataset.view = next;
  const onCall = next === "call" || next === "wrapup" || next === "preview";
  $("#btn-ready").disabled = onCall;
  $("#btn-logout").disabled = onCall;
  renderState(); // the badge follows the view: after a call, a pause asked for during it shows as it is
  if (next === "idle") renderIdle();
}

function goReady() {
  if (view !== "idle") return;
  send({ type: "state", state: "ready" });
}

function choosePause(reason) {
  closeDialogs();
  send({ type: "state", state: "paused", reason });
}

// -- preview --------------------------------------------------------------------------------------

function showPreview(lead) {
  preview = lead;
  fill($("#preview-phone"), lead.phone_masked);
  fill(
    $("#preview-vars"),
    Object.entries(lead.variables || {})
      .filter(([name]) => name !== "phone")
      .map(([name, value]) => [h("dt", {}, name), h("dd", {}, value)]),
  );
  show("preview");
  $("#btn-dial").focus();
}

function answerPreview(dial) {
  if (!preview) return;
  if (send({ type: "preview", dial, lead_id: preview.lead_id })) {
    preview = null;
    show("idle");
    fill($("#idle-text"), dial ? "正在拨打…" : "已跳过，等待下一位客户…");
  }
}

// -- the call -------------------------------------------------------------------------------------

function popCall(message) {
  closeDialogs();
  preview = null;
  call = {
    id: message.call_id,
    script: message.script,
    lead: message.lead || {},
    labels: message.lead_labels || {},
    phone: message.phone_masked,
    wrapUpLimit: message.wrap_up_limit,
    tags: message.tags || [],
    ended: Boolean(message.ended),
    outcome: message.outcome || null,
    locked: false,
  };
  fill($("#lead-phone"), call.phone || "—");
  fill(
    $("#lead-vars"),
    Object.entries(call.lead)
      .filter(([name]) => name !== "phone")
      .map(([name, value]) => [h("dt", {}, call.labels[name] || name), h("dd", {}, value)]),
  );
  fill($("#script-title"), `话术：${call.script.title}（${call.script.brand}）`);
  stepCall(message);
  renderTags();
  show("call");
  if (call.ended) {
    endCall(call.outcome, message.checkpoints);
    if (message.wrap_up) startWrapUp(call.wrapUpLimit);
  }
  if (!message.resumed) toast("来电接通", "ok");
}

function stepCall(message) {
  const now = performance.now();
  call.step = message.step;
  call.t0 = now - (message.elapsed || 0) * 1000; // the call's start on this page's clock
  call.stepAt = now;
  call.checkpoints = message.checkpoints || [];
  call.returnTo = message.return_to || null;
  if (message.tags) call.tags = message.tags;
  call.locked = false;
  renderStep();
  renderGolden();
}

function renderStep() {
  const step = call.step;
  fill($("#step-title"), step.title);
  fill($("#step-text"), step.text);
  const hint = $("#step-hint");
  hint.hidden = !step.hint;
  fill(hint, step.hint ? `提示：${step.hint}` : "");
  const notes = $("#step-notes");
  notes.hidden = !(step.notes && step.notes.length);
  fill(notes, (step.notes || []).map((n) => h("li", {}, n)));
  $("#step-cue").hidden = true;
  const banner = $("#objection-banner");
  banner.hidden = !step.objection;
  if (step.objection) {
    fill(
      banner,
      `异议处理：${step.objection_label || step.objection}`,
      call.returnTo ? h("span", { class: "return-to" }, ` · 处理完可返回「${call.returnTo.title}」`) : "",
    );
  }
  renderCapture($("#capture"), step);
  renderOptions();
}

function renderOptions() {
  const step = call.step;
  fill(
    $("#options"),
    step.options.map((option, i) =>
      h(
        "button",
        {
          type: "button",
          class: `option option-${option.kind}${option.ends_call ? " option-end" : ""}`,
          dataset: { index: String(option.index), key: i < 9 ? String(i + 1) : "" },
          onclick: () => choose(option),
        },
        i < 9 ? h("kbd", {}, String(i + 1)) : null,
        h("span", { class: "label" }, option.label),
        option.kind === "return" ? h("span", { class: "tag-return" }, "↩ 返回原步骤") : null,
        option.ends_call ? h("span", { class: "tag-end" }, `结束通话：${outcomeLabel(option.outcome)}`) : null,
      ),
    ),
  );
}

function outcomeLabel(code) {
  if (!code) return "结束通话";
  const info = call && call.script.outcomes[code];
  return info ? info.label : code;
}

function choose(option) {
  if (!call || call.ended || call.locked || view !== "call") return;
  const form = $("#capture");
  const { values, errors } = collectValues(form, call.step, option);
  if (Object.keys(errors).length) {
    showFieldErrors(form, errors);
    toast("请先按要求填写记录项", "error");
    return;
  }
  if (send({ type: "choose", call_id: call.id, option: option.index, values })) lockOptions();
}

function lockOptions() {
  call.locked = true;
  for (const b of $("#options").querySelectorAll("button")) b.disabled = true;
}

function unlockOptions() {
  if (!call) return;
  call.locked = false;
  for (const b of $("#options").querySelectorAll("button")) b.disabled = call.ended;
}

function openObjection(id) {
  closeDialogs();
  if (!call || call.ended) return;
  send({ type: "objection", call_id: call.id, id });
}

function tagCustomer(code) {
  closeDialogs();
  if (!call || call.ended) return;
  send({ type: "tag", call_id: call.id, code });
}

function renderTags() {
  const types = call ? call.script.customer_types : [];
  const chosen = types.filter((t) => call.tags.includes(t.code));
  fill(
    $("#tags"),
    chosen.length
      ? chosen.map((t) => h("li", { class: "tag", dataset: { code: t.code } }, h("strong", {}, t.label), h("p", {}, t.tip)))
      : h("li", { class: "muted small" }, "未标记（按 T 标记客户类型，查看应对提示）"),
  );
}

// -- the golden opening (15 / 45 / 90 s): only the display is timed ---------------------------------

function renderGolden() {
  if (!call || !call.t0) return;
  const elapsed = (performance.now() - call.t0) / 1000;
  fill($("#call-clock"), clock(elapsed));
  let due = null;
  const items = (call.checkpoints || []).map((cp) => {
    let status = cp.status;
    let text;
    if (status === "met") text = `✓ 已做到（${Math.round(cp.reached_at)} 秒）`;
    else if (status === "late") text = `已做到，但晚了（${Math.round(cp.reached_at)} 秒）`;
    else if (status === "missed" || (status === "pending" && elapsed > cp.within)) {
      status = "missed";
      text = "✗ 未在时限内做到";
    } else {
      text = `剩 ${Math.max(0, Math.ceil(cp.within - elapsed))} 秒`;
      if (due === null) due = cp;
    }
    return h(
      "li",
      { class: `cp cp-${status}${due === cp ? " cp-due" : ""}`, dataset: { id: cp.id, status } },
      h("span", { class: "cp-label" }, cp.label),
      h("span", { class: "cp-status" }, text),
    );
  });
  fill($("#checkpoints"), items);
  const allMet = items.length > 0 && (call.checkpoints || []).every((cp) => cp.status === "met");
  fill($("#due"), due ? `现在要做到：${due.label}` : call.ended ? "" : allMet ? "开场要点都已做到" : "开场时限已过，按话术继续");
  const step = call.step;
  if (step && step.timer_after && !call.ended) {
    const cue = $("#step-cue");
    const over = (performance.now() - call.stepAt) / 1000 >= step.timer_after;
    cue.hidden = !over;
    if (over) fill(cue, `注意：${step.timer_cue}`);
  }
}

setInterval(renderGolden, 500); // repaint only

// -- the end of the call and wrap-up ----------------------------------------------------------------

function endCall(outcome, checkpoints) {
  call.ended = true;
  call.outcome = outcome;
  if (checkpoints) call.checkpoints = checkpoints;
  lockOptions();
  closeDialogs();
  fill($("#outcome"), outcome ? outcomeLabel(outcome) : "客户已挂机（未选结果）");
  fill($("#countdown"), "--");
  $("#btn-done").disabled = true;
  show("wrapup");
  renderGolden();
}

function startWrapUp(limit) {
  call.wrapStarted = performance.now();
  call.wrapUpLimit = limit === undefined ? call.wrapUpLimit : limit;
  $("#btn-done").disabled = false;
  $("#btn-done").focus();
  paintCountdown();
  clearInterval(wrapTimer);
  wrapTimer = setInterval(paintCountdown, 250); // repaint only: "ready" is the agent's keypress
  if (call.doneEarly) wrapUpDone();
}

function paintCountdown() {
  if (!call || !call.wrapStarted) return;
  const spent = (performance.now() - call.wrapStarted) / 1000;
  const el = $("#countdown");
  if (call.wrapUpLimit) {
    const left = call.wrapUpLimit - spent;
    el.dataset.over = left < 0 ? "true" : "false";
    fill(el, left >= 0 ? `剩 ${Math.ceil(left)} 秒` : `已超时 ${Math.floor(-left)} 秒`);
  } else {
    fill(el, `已用 ${Math.floor(spent)} 秒`);
  }
}

function wrapUpDone() {
  if (view !== "wrapup" || !call) return;
  if (!call.wrapStarted) {
    // Enter pressed as the call ended, before the server opened the wrap-up: done as soon as it does
    call.doneEarly = true;
    return;
  }
  if (send({ type: "ready", call_id: call.id })) $("#btn-done").disabled = true;
}

function finishWrapUp() {
  clearInterval(wrapTimer);
  wrapTimer = null;
  call = null;
  show("idle"); // the badge shows the agent's state as the server confirmed it: no guess after the call
}

// -- dialogs ----------------------------------------------------------------------------------------

function pickList(listEl, items, onPick) {
  fill(
    listEl,
    items.map((item, i) =>
      h(
        "li",
        {},
        h(
          "button",
          { type: "button", class: "pick", dataset: { key: PICK_KEYS[i] || "" }, onclick: () => onPick(item) },
          h("kbd", {}, (PICK_KEYS[i] || "").toUpperCase()),
          h("span", { class: "label" }, item.label),
          item.note ? h("small", { class: "muted" }, item.note) : null,
        ),
      ),
    ),
  );
}

function openDialog(id) {
  closeDialogs();
  const dlg = document.getElementById(id);
  dlg.showModal();
  return dlg;
}

function closeDialogs() {
  for (const dlg of document.querySelectorAll("dialog[open]")) dlg.close();
}

function openObjections() {
  if (!call || call.ended || view !== "call") return;
  const open = new Set([call.step.objection]);
  const items = call.script.objections
    .filter((o) => !open.has(o.id))
    .map((o) => ({ id: o.id, label: `顾客说：${o.label}`, note: o.principle }));
  pickList($("#objection-list"), items, (o) => openObjection(o.id));
  openDialog("dlg-objections");
}

function openTypes() {
  if (!call || call.ended || view !== "call") return;
  const items = call.script.customer_types.map((t) => ({
    code: t.code,
    label: t.label + (call.tags.includes(t.code) ? "（已标记）" : ""),
    note: t.tip,
  }));
  pickList($("#type-list"), items, (t) => tagCustomer(t.code));
  openDialog("dlg-types");
}

function openPause() {
  // during a call or a preview the pause applies when it is over (the call is never cut)
  $("#pause-note").hidden = view === "idle";
  pickList(
    $("#pause-list"),
    config.pause_reasons.map((r) => ({ label: r })),
    (r) => choosePause(r.label),
  );
  openDialog("dlg-pause");
}

function openFault() {
  $("#fault-error").hidden = true;
  $("#fault-text").value = "";
  openDialog("dlg-fault");
  $("#fault-text").focus();
}

$("#fault-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("#fault-text").value.trim();
  if (!text) {
    fill($("#fault-error"), "请描述故障");
    $("#fault-error").hidden = false;
    return;
  }
  $("#fault-submit").disabled = true;
  try {
    const report = await post("/faults", { description: text });
    closeDialogs();
    toast(`报障单 #${report.id} 已提交`, "ok");
  } catch (err) {
    showError(err, $("#fault-error"));
  } finally {
    $("#fault-submit").disabled = false;
  }
});
$("#fault-cancel").addEventListener("click", closeDialogs);

// -- the keyboard -----------------------------------------------------------------------------------

function inField(target) {
  return target instanceof HTMLElement && target.matches("input, select, textarea");
}

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey) return;
  const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
  const dialog = document.querySelector("dialog[open]");
  if (dialog) {
    if (dialog.id === "dlg-fault" || inField(event.target)) return; // typing a report
    const pick = key.length === 1 && !event.altKey ? dialog.querySelector(`button.pick[data-key="${key}"]`) : null;
    if (pick) {
      event.preventDefault();
      pick.click();
    }
    return; // Esc closes a dialog by itself
  }
  if (inField(event.target)) {
    if (key === "Escape") {
      event.target.blur();
      event.preventDefault();
    } else if (event.altKey && /^[1-9]$/.test(event.code.replace("Digit", ""))) {
      const digit = event.code.replace("Digit", "");
      const button = $(`#options button[data-key="${digit}"]`);
      if (button && view === "call") {
        event.preventDefault();
        button.click();
      }
    }
    return;
  }
  if (event.altKey) return;
  let handled = true;
  if (view === "call" && /^[1-9]$/.test(key)) {
    const button = $(`#options button[data-key="${key}"]`);
    if (button) button.click();
  } else if (view === "call" && (key === "o" || key === "0")) openObjections();
  else if (view === "call" && key === "t") openTypes();
  else if (view === "call" && key === "c") {
    const first = $("#capture input, #capture select");
    if (first) first.focus();
  } else if (view === "preview" && (key === "Enter" || key === "d")) answerPreview(true);
  else if (view === "preview" && key === "s") answerPreview(false);
  else if (view === "wrapup" && key === "Enter") wrapUpDone();
  else if (view === "idle" && key === "r") goReady();
  else if (key === "p") openPause();
  else if (key === "f") openFault();
  else if (key === "?") openDialog("dlg-help");
  else handled = false;
  if (handled) event.preventDefault();
});

// -- buttons ----------------------------------------------------------------------------------------

$("#btn-ready").addEventListener("click", goReady);
$("#btn-pause").addEventListener("click", openPause);
$("#btn-fault").addEventListener("click", openFault);
$("#btn-help").addEventListener("click", () => openDialog("dlg-help"));
$("#btn-dial").addEventListener("click", () => answerPreview(true));
$("#btn-skip").addEventListener("click", () => answerPreview(false));
$("#btn-done").addEventListener("click", wrapUpDone);
$("#btn-logout").addEventListener("click", () => {
  if (view !== "idle") {
    toast("通话或整理中不能签出", "error");
    return;
  }
  if (window.confirm("确定签出吗？签出后将不再接到来电。")) logout();
});
$("#capture").addEventListener("input", (event) => {
  if (call && event.target.name) checkField(event.target, call.step);
});

fill($("#work-id"), config.work_id);
setAgentState(agent.state, agent.reason);
show("idle");
connect();
