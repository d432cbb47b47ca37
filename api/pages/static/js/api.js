// The pages' shared module: the JSON API with the session cookie and the CSRF header, errors in Chinese,
// a small element builder (text only: nothing a server or a customer typed is ever parsed as HTML),
// and toasts. Every page (agent console, team-lead desk, QA replay) imports it; no build step.

const CSRF_COOKIE = "waihu_csrf";
const CSRF_HEADER = "X-CSRF-Token";
const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

/** The value of a cookie the page may read (the CSRF token; the session cookie is HttpOnly). */
export function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return "";
}

/** What the API answered when it refused: its stable error_id, message and details, and the status. */
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.errorId = (body && body.error_id) || (status >= 500 ? "internal" : "api.http_error");
    this.details = (body && body.details) || {};
    this.body = body;
  }
}

/** Calls the JSON API; resolves to the answer's JSON (or null), rejects with an ApiError. */
export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (!SAFE.has(method)) headers[CSRF_HEADER] = cookie(CSRF_COOKIE);
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, { error_id: "network", message: String(err) });
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { message: text.slice(0, 200) };
    }
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body === undefined ? {} : body);

/** Chinese text for the error_ids a person can meet on a page; the server's message otherwise. */
export const ERROR_TEXT = {
  network: "网络连接失败，请检查网络后重试",
  internal: "系统错误，请稍后再试；如持续出现请报障",
  "api.not_authenticated": "登录已失效，请重新登录",
  "agents.session_invalid": "登录已失效，请重新登录",
  "api.csrf_failed": "页面已过期，请刷新页面后重试",
  "api.not_found": "找不到该记录",
  "api.invalid_request": "输入有误，请检查后重试",
  "agents.permission_denied": "没有权限执行此操作",
  "agents.auth_failed": "工号或密码错误",
  "agents.locked": "工号已锁定：连续输错密码次数过多，请稍后再试或联系组长",
  "agents.password_expired": "密码已过期或需首次修改，请先修改密码",
  "agents.session_conflict": "该工号已在其他地方登录，请先在那里签出，或请组长强制签出",
  "agents.password_policy": "新密码不符合要求",
  "agents.pause_reason": "示忙需要选择原因",
  "agents.invalid_state": "当前状态下不能这样切换",
  "agents.seat_not_allowed": "该座席不属于本公司，不能登录",
  "agents.sod": "职责分离：此操作须由其他人完成",
  "agents.already_decided": "该记录已经处理过，不能重复处理",
  "agents.damage_amount": "赔偿金额有误",
  "agents.damage_invalid": "损坏记录的内容不完整或有误",
  "flow.invalid_choice": "该选项当前不可用",
  "flow.capture_invalid": "记录的内容不完整或格式不对",
  "flow.unknown_objection": "本话术没有这个异议处理",
  "flow.run_refused": "上一个操作还在处理中，请稍候",
  "api.state_unknown": "未知的状态",
};

const POLICY_TEXT = [
  [/at least (\d+) characters/, (m) => `至少 ${m[1]} 位`],
  [/letters and digits/, () => "须同时包含字母和数字"],
  [/must not contain the work ID/, () => "不能包含工号"],
  [/must differ from the previous password/, () => "不能与原密码相同"],
];

/** A person-readable Chinese message for an ApiError (or any error). */
export function messageOf(err) {
  if (!(err instanceof ApiError)) return `出错了：${err && err.message ? err.message : err}`;
  let text = ERROR_TEXT[err.errorId];
  if (err.errorId === "agents.password_policy" && Array.isArray(err.details.problems)) {
    const parts = err.details.problems.map((p) => {
      for (const [re, fn] of POLICY_TEXT) {
        const m = re.exec(p);
        if (m) return fn(m);
      }
      return p;
    });
    text = `${text}：${parts.join("；")}`;
  }
  if (err.errorId === "agents.pause_reason" && Array.isArray(err.details.allowed)) {
    text = `${text}（${err.details.allowed.join("、")}）`;
  }
  return text || err.message || `请求失败（${err.status}）`;
}

/** Builds an element: h("button", {class: "big", onclick: fn, dataset: {key: "1"}}, "文字", child…). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export const $ = (selector, root = document) => root.querySelector(selector);

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** A short message at the bottom of the page; kind: "info" | "ok" | "error". */
export function toast(text, kind = "info") {
  let box = $("#toasts");
  if (!box) {
    box = h("div", { id: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(box);
  }
  const item = h("div", { class: `toast toast-${kind}` }, text);
  box.append(item);
  // only the display depends on this timer
  setTimeout(() => item.remove(), kind === "error" ? 8000 : 4000);
  return item;
}

/** Shows an error in an element (a form's message line) and as a toast when none is given. */
export function showError(err, el) {
  const text = messageOf(err);
  if (el) {
    fill(el, text);
    el.hidden = false;
  } else {
    toast(text, "error");
  }
  return text;
}

/** Where a role works after logging in. */
export function homeOf(role) {
  if (role === "agent" || role === "trainee") return "/console";
  return role === "qa" ? "/qa" : "/desk";
}

/** Logs out and goes to the login page. */
export async function logout() {
  try {
    await post("/auth/logout");
  } finally {
    location.assign("/login");
  }
}

/** "03:07" for 187 seconds. */
export function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}
