// 登录: log in with the work ID; a password the API calls expired (first login, rotation) opens the
// change-password form (POST /auth/password needs no login), then the login is retried with the new one.
import { $, ApiError, get, homeOf, post, showError } from "./api.js";

const loginForm = $("#login-form");

/** Why the console sent the agent here (?signed_out=…): said above the form. */
const SIGNED_OUT = {
  shift_end: "班次已结束，系统已自动签出。",
  forced: "组长已将您的工号签出；如有疑问请联系组长。",
  expired: "长时间未操作，登录已失效，请重新登录。",
};
const why = new URLSearchParams(location.search).get("signed_out");
if (why) {
  const notice = $("#login-notice");
  notice.textContent = SIGNED_OUT[why] || "您已被签出，请重新登录。";
  notice.hidden = false;
}
const changeForm = $("#change-form");
let pending = null; // {work_id, password} waiting for a password change

function busy(form, on) {
  for (const el of form.querySelectorAll("button, input")) el.disabled = on;
}

async function enter(workId, password) {
  const me = await post("/auth/login", { work_id: workId, password });
  location.assign(homeOf(me.role));
}

function askForNewPassword(workId, password) {
  pending = { work_id: workId, password };
  $("#change-work-id").textContent = workId;
  loginForm.hidden = true;
  changeForm.hidden = false;
  $("#change-error").hidden = true;
  $("#new-password").value = "";
  $("#new-password-again").value = "";
  $("#new-password").focus();
}

loginForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const workId = $("#work-id").value.trim();
  const password = $("#password").value;
  const error = $("#login-error");
  error.hidden = true;
  if (!workId || !password) {
    error.textContent = "请输入工号和密码";
    error.hidden = false;
    return;
  }
  busy(loginForm, true);
  try {
    await enter(workId, password);
  } catch (err) {
    if (err instanceof ApiError && err.errorId === "agents.password_expired") {
      askForNewPassword(workId, password);
    } else {
      showError(err, error);
      $("#password").select();
    }
  } finally {
    busy(loginForm, false);
  }
});

changeForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = $("#change-error");
  error.hidden = true;
  const fresh = $("#new-password").value;
  if (!fresh) {
    error.textContent = "请输入新密码";
    error.hidden = false;
    return;
  }
  if (fresh !== $("#new-password-again").value) {
    error.textContent = "两次输入的新密码不一致";
    error.hidden = false;
    $("#new-password-again").select();
    return;
  }
  busy(changeForm, true);
  try {
    await post("/auth/password", { work_id: pending.work_id, old_password: pending.password, new_password: fresh });
    await enter(pending.work_id, fresh);
  } catch (err) {
    showError(err, error);
  } finally {
    busy(changeForm, false);
  }
});

$("#change-cancel").addEventListener("click", () => {
  pending = null;
  changeForm.hidden = true;
  loginForm.hidden = false;
  $("#password").value = "";
  $("#password").focus();
});

// Already logged in (one login per work ID): go straight to the role's page.
get("/auth/me").then(
  (me) => location.assign(homeOf(me.role)),
  () => {},
);
