// The team-lead desk's shared bits: Chinese names for the API's codes, percentages, and the charts
// (plain CSS bars drawn with elements; widths set through the CSSOM, which the page's CSP allows).
import { ERROR_TEXT, h } from "./api.js";

/** Chinese for the errors a lead can meet on the desk (added to the shared table where it has none). */
const DESK_ERRORS = {
  "dialer.campaign_invalid": "活动设置有误",
  "dialer.campaign_not_found": "找不到该活动",
  "dialer.campaign_state": "活动当前状态下不能这样操作",
  "dialer.agent_assignment": "坐席工号不可用",
  "dialer.import_failed": "名单导入失败",
  "dialer.list_not_found": "找不到该名单",
  "dialer.list_name": "名单名称应为 1–128 个可见字符",
  "dialer.pacing_invalid": "外呼参数有误",
  "dialer.backend_failed": "话务系统连接失败，活动已暂停",
  "api.vendor_required": "请填写公司编号",
  "api.upload_too_large": "文件超过 20 MB，请拆分后上传",
  "api.import_failed": "名单导入失败",
  "api.month_invalid": "月份格式应为 YYYY-MM",
  "agents.not_found": "找不到该工号或记录",
  "agents.rule_violation": "不符合现场管理规定",
  "agents.offboarding_incomplete": "还有物品未归还",
};
for (const [id, text] of Object.entries(DESK_ERRORS)) if (!(id in ERROR_TEXT)) ERROR_TEXT[id] = text;

export const CAMPAIGN_STATE = {
  draft: "草稿",
  running: "进行中",
  paused: "已暂停",
  stopped: "已停止",
  completed: "已完成",
};
export const DIAL_MODE = { preview: "预览式", progressive: "渐进式", predictive: "预测式" };
export const AGENT_STATE = {
  ready: "空闲",
  reserved: "预占",
  on_call: "通话中",
  wrap_up: "话后整理",
  paused: "示忙",
};
export const LEAD_STATUS = {
  dialable: "待拨",
  done: "已完成",
  dnc: "免打扰",
  refused: "拒绝",
  exhausted: "已拨满",
};
export const CALL_STATE = {
  queued: "排队",
  dialing: "拨号",
  ringing: "振铃",
  answered: "已接通",
  bridged: "通话",
  wrap_up: "整理",
};
export const ROLE = {
  team_lead: "外包主管/班组长",
  ops_manager: "运营经理",
  qa: "质检",
  admin: "XX方管理员",
  agent: "话务员",
  trainee: "培训工号",
};
export const ASSET_KIND = {
  computer: "电脑",
  monitor: "显示器",
  headset: "耳麦",
  phone: "话机",
  work_id: "工号",
  desk: "办公桌",
  chair: "座椅",
  cabinet: "文件柜",
};
export const DAMAGE_KIND = { damage: "损坏", loss: "丢失" };
export const CAUSE = { human: "人为", wear: "正常损耗", unknown: "待查明" };
export const COMPENSATION = { pending: "待裁定", charged: "照价赔偿", waived: "免赔" };
export const LAST_USER_SOURCE = { holder: "领用人", seat_session: "座席登录记录", none: "无记录" };

/** Chinese for an import row problem (the API's reasons are English and stable). */
export function importReason(reason) {
  const rules = [
    [/^not a valid phone number/, () => "号码无效"],
    [/^missing$/, () => "缺少必填值"],
    [/^duplicate of row (\d+)/, (m) => `与第 ${m[1]} 行重复`],
    [/^already in the campaign/, () => "已在本活动名单中"],
    [/^expected yes\/no/, () => "应为是/否（1/0）"],
    [/^expected (\d+) fields, found (\d+)/, (m) => `列数不对：应为 ${m[1]} 列，实际 ${m[2]} 列`],
    [/^longer than (\d+) characters/, (m) => `超过 ${m[1]} 个字符`],
    [/^malformed CSV line/, () => "CSV 格式错误"],
    [/^unknown time zone/, () => "未知时区"],
  ];
  for (const [re, fn] of rules) {
    const m = re.exec(reason);
    if (m) return fn(m);
  }
  return reason;
}

/** "3.2%" for 0.032. */
export function pct(rate, digits = 1) {
  return `${(Number(rate || 0) * 100).toFixed(digits)}%`;
}

export const zh = (table, code) => (code in table ? table[code] : code);

/** "11-27 09:30" in the browser's clock. */
export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const two = (n) => String(n).padStart(2, "0");
  return `${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}`;
}

/** One horizontal bar: label, a track filled to value/max, and the value's text. */
export function bar(label, value, max, text, kind = "") {
  const fill = h("div", { class: `bar-fill ${kind}` });
  fill.style.width = `${max > 0 ? Math.min(100, (value / max) * 100) : 0}%`;
  return h(
    "div",
    { class: "bar-row", dataset: { label: String(label) } },
    h("span", { class: "bar-label", title: String(label) }, label),
    h("div", { class: "bar-track" }, fill),
    h("span", { class: "bar-value" }, text === undefined ? String(value) : text),
  );
}

/** Bars for [label, value, text?, kind?] rows, scaled to the largest (or to `max`). */
export function bars(rows, max) {
  const top = max || Math.max(1, ...rows.map((r) => r[1]));
  return rows.map(([label, value, text, kind]) => bar(label, value, top, text, kind));
}

/** A stacked bar of parts [label, value, cls] with a legend. */
export function stack(track, legend, parts) {
  const total = parts.reduce((n, p) => n + p[1], 0);
  track.replaceChildren();
  legend.replaceChildren();
  for (const [label, value, cls] of parts) {
    if (!value) continue;
    const seg = h("div", { class: `stack-seg ${cls}`, title: `${label} ${value}` });
    seg.style.width = `${(value / total) * 100}%`;
    track.append(seg);
    legend.append(h("li", {}, h("span", { class: `swatch ${cls}` }), `${label} ${value}`));
  }
  return total;
}

/** The first day of a "YYYY-MM" month and of the next, as Date (browser's clock). */
export function monthSpan(month) {
  const [y, m] = month.split("-").map(Number);
  return [new Date(y, m - 1, 1), new Date(y, m, 1)];
}

export const empty = (text, cols) =>
  cols ? h("tr", {}, h("td", { colspan: cols, class: "muted" }, text)) : h("p", { class: "muted" }, text);
