// 我的质检: the agent's reviewed calls (GET /qa/my-reviews: submitted and later, each item with its sheet
// label), and for each one waiting: 确认 (acknowledge, an optional note) or 申诉 (dispute, a reason needed),
// through POST /qa/reviews/{id}/ack.
import { $, fill, get, h, logout, post, showError, toast } from "./api.js";
import { REVIEW_STATE_TEXT, offset, siteTime } from "./qa-text.js";

const config = JSON.parse($("#waihu-config").textContent);
const zone = config.timezone;
let reviews = [];

function summary() {
  const waiting = reviews.filter((r) => r.state === "submitted").length;
  fill(
    $("#summary"),
    reviews.length === 0 ? "暂无质检结果" : waiting ? `共 ${reviews.length} 条，${waiting} 条待你确认` : `共 ${reviews.length} 条，均已处理`,
  );
}

function itemRow(id, item) {
  const deducted = item.points !== null && item.points < item.max;
  return h(
    "tr",
    { class: deducted ? "deducted" : null, dataset: { item: id } },
    h("td", {}, item.label || id, item.source ? h("small", { class: "muted" }, ` ${item.source}`) : null),
    h("td", { class: "pts" }, `${item.points ?? "—"} / ${item.max}`),
    h("td", {}, item.comment || (deducted ? "（无说明）" : "")),
    h("td", { class: "mono" }, item.at === null || item.at === undefined ? "" : offset(item.at)),
  );
}

function card(review) {
  const items = Object.entries(review.items);
  const deducted = items.filter(([, v]) => v.points !== null && v.points < v.max).length;
  const reply = h("textarea", {
    class: "reply",
    rows: 2,
    maxlength: 2000,
    placeholder: "备注（确认时可选；申诉时必须写明理由）",
    "aria-label": "备注或申诉理由",
  });
  const error = h("p", { class: "form-error", role: "alert", hidden: true });
  const actions =
    review.state === "submitted"
      ? h(
          "div",
          { class: "respond" },
          reply,
          error,
          h(
            "div",
            { class: "row" },
            h("button", { type: "button", class: "btn btn-primary btn-ack", onclick: () => respond(review, true, reply, error) }, "确认"),
            h("button", { type: "button", class: "btn btn-warn btn-dispute", onclick: () => respond(review, false, reply, error) }, "申诉"),
          ),
        )
      : review.acknowledged_at
        ? h(
            "p",
            { class: "agent-reply" },
            `${review.state === "disputed" ? "已申诉" : "已确认"}（${siteTime(review.acknowledged_at, zone)}）`,
            review.agent_comment ? `：${review.agent_comment}` : "",
          )
        : null;
  return h(
    "article",
    { class: "panel review-card", dataset: { id: String(review.id), state: review.state } },
    h(
      "header",
      { class: "row review-card-head" },
      h("strong", { class: "score" }, `得分 ${review.total} / ${review.max_total}`),
      h("span", { class: "review-state", dataset: { state: review.state } }, REVIEW_STATE_TEXT[review.state] || review.state),
      h("span", { class: "muted" }, `扣分项 ${deducted} 项`),
    ),
    h(
      "p",
      { class: "muted small" },
      `通话 ${review.call_id} · 话术 ${review.flow_ref || "—"} · 质检员 ${review.reviewer} · 评分时间 ${siteTime(review.submitted_at, zone)}`,
    ),
    h(
      "table",
      { class: "review-items" },
      h("thead", {}, h("tr", {}, h("th", {}, "项目"), h("th", {}, "得分"), h("th", {}, "说明"), h("th", {}, "录音位置"))),
      h(
        "tbody",
        {},
        items.map(([id, item]) => itemRow(id, item)),
      ),
    ),
    actions,
  );
}

function render() {
  summary();
  fill($("#list"), reviews.map(card));
}

async function respond(review, accept, reply, error) {
  error.hidden = true;
  const comment = reply.value.trim() || null;
  if (!accept && !comment) {
    fill(error, "申诉需要写明理由");
    error.hidden = false;
    reply.focus();
    return;
  }
  for (const b of reply.closest(".respond").querySelectorAll("button")) b.disabled = true;
  try {
    const updated = await post(`/qa/reviews/${review.id}/ack`, { accept, comment });
    reviews = reviews.map((r) => (r.id === updated.id ? { ...updated, items: r.items } : r));
    render();
    toast(accept ? "已确认该质检结果" : "申诉已提交，等待组长处理", "ok");
  } catch (err) {
    showError(err, error);
    for (const b of reply.closest(".respond").querySelectorAll("button")) b.disabled = false;
  }
}

async function load() {
  try {
    reviews = await get("/qa/my-reviews");
    render();
  } catch (err) {
    showError(err);
  }
}

fill($("#work-id"), config.work_id);
$("#btn-logout").addEventListener("click", () => logout());
load();
