// 质检页面的中文文字: what the QA replay and the agent's review page show for the API's codes, and the times
// in the site's timezone (the pages never trust the browser's own zone for a call's time).
import { ERROR_TEXT } from "./api.js";

// The QA routes' error_ids, in Chinese (api.js knows the login and console ones).
Object.assign(ERROR_TEXT, {
  "qa.review_refused": "该评分当前不能这样操作（可能已提交或已被处理）",
  "qa.review_not_found": "找不到该评分记录",
  "qa.score_invalid": "评分无效：请检查分数；推翻自动检查结果时须填写说明",
  "qa.sheet_not_found": "找不到该评分表",
  "qa.not_visible": "找不到该记录",
  "api.call_unreviewable": "该通话没有接通坐席，无需质检",
  "recording.reason_required": "请填写调听原因",
  "recording.not_found": "找不到该通话的录音",
  "recording.deleted": "录音已超过保留期限被删除",
  "recording.corrupt": "录音文件校验失败，可能已损坏或被篡改，请报障",
  "api.range_invalid": "录音读取范围无效",
});

// The telephony events as the call record names them (the dialer's event classes), and older lowercase codes.
export const EVENT_TEXT = {
  Originated: "发起呼叫",
  Ringing: "振铃",
  Answered: "客户接听",
  MachineDetected: "答录机",
  Bridged: "接通坐席",
  PlaybackFinished: "播放提示音完毕",
  RecordingStarted: "开始录音",
  RecordingStopped: "录音结束",
  HungUp: "挂机",
  originated: "发起呼叫",
  ringing: "振铃",
  answered: "客户接听",
  bridged: "接通坐席",
  machine: "答录机",
  busy: "忙线",
  no_answer: "无人接听",
  failed: "呼叫失败",
  hungup: "挂机",
};

// Why a call ended (HungUp's cause).
export const CAUSE_TEXT = {
  normal: "正常",
  busy: "忙线",
  no_answer: "无人接听",
  rejected: "拒接",
  invalid_number: "空号",
  congestion: "线路忙",
  failed: "呼叫失败",
  abandoned: "无空闲坐席，已放提示音",
  machine: "答录机",
};

export const SCRIPT_TEXT = {
  enter: "话术步骤",
  choose: "客户回答",
  objection: "异议处理",
  return: "返回原步骤",
  tag: "客户类型",
  outcome: "通话结果",
  hangup: "通话挂断",
  restore: "恢复通话",
};

export const RESULT_TEXT = {
  answered: "已接听",
  no_answer: "无人接听",
  busy: "忙线",
  failed: "呼叫失败",
  machine: "答录机",
  abandoned: "放弃",
  dnc: "免打扰",
};

export const REVIEW_STATE_TEXT = {
  draft: "评分中（草稿）",
  submitted: "已提交 · 待坐席确认",
  acknowledged: "坐席已确认",
  disputed: "坐席已申诉",
  closed: "已关闭",
};

export const CHECKPOINT_TEXT = { met: "达成", late: "超时达成", missed: "未达成", due: "进行中", pending: "未到" };

/** "12:03:07" / "11-27 12:03" in the site's timezone. */
export function siteTime(iso, zone, withDate = true) {
  if (!iso) return "—";
  const options = { timeZone: zone, hour12: false, hour: "2-digit", minute: "2-digit", second: "2-digit" };
  if (withDate) Object.assign(options, { year: "numeric", month: "2-digit", day: "2-digit" });
  return new Intl.DateTimeFormat("zh-CN", options).format(new Date(iso));
}

/** Milliseconds the zone is ahead of UTC at a moment. */
function zoneOffset(ms, zone) {
  const parts = {};
  const format = new Intl.DateTimeFormat("en-US", {
    timeZone: zone,
    hour12: false,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
  for (const p of format.formatToParts(new Date(ms))) parts[p.type] = p.value;
  const wall = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour % 24, +parts.minute, +parts.second);
  return wall - Math.floor(ms / 1000) * 1000;
}

/** A datetime-local value ("2026-11-27T09:00") read as the site's wall time → ISO 8601 in UTC. */
export function wallToIso(value, zone) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value || "");
  if (!m) return null;
  const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
  let utc = wall - zoneOffset(wall, zone);
  utc = wall - zoneOffset(utc, zone); // once more across a DST change
  return new Date(utc).toISOString();
}

/** "1:05" or "-0:06" for seconds on the call's timeline. */
export function offset(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const sign = seconds < 0 ? "-" : "";
  const s = Math.round(Math.abs(seconds));
  return `${sign}${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}
