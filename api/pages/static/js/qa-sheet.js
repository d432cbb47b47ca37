// 评分表: a draft review of the open call against a sheet (the discipline sheet of 第三篇 and the automatic
// checks), one row per item: points, a comment, the second of the recording it is about; then submit.
// Each change is saved at once (POST /qa/reviews/{id}/scores), so nothing is lost with the tab.
import { $, fill, get, h, post, showError, toast } from "./api.js";
import { REVIEW_STATE_TEXT, offset } from "./qa-text.js";

const STORE = "waihu.qa.review."; // localStorage: call id -> the reviewer's draft review id

export class Sheet {
  /**
   * @param {{canReview: boolean, workId: string}} who
   * @param {{seek: (s: number) => void, now: () => number}} player the replay's audio
   */
  constructor(who, player) {
    this.who = who;
    this.player = player;
    this.sheets = [];
    this.sheet = null; // the sheet of the review
    this.review = null;
    this.call = null;
    this.saving = Promise.resolve(); // saves go one after another, so answers never arrive out of order
    $("#btn-start").addEventListener("click", () => this.start());
    $("#btn-submit").addEventListener("click", () => this.submit());
  }

  async load() {
    this.sheets = await get("/qa/sheets");
    fill(
      $("#sheet-pick"),
      this.sheets.map((s) => h("option", { value: s.ref }, `${s.title}（${s.max_points} 分）`)),
    );
  }

  /** A call was opened: its draft (this browser's, if any) or the start button. */
  async open(replay) {
    this.call = replay;
    this.review = null;
    $("#review").hidden = true;
    $("#review-error").hidden = true;
    const note = $("#sheet-note");
    if (!replay.agent) {
      fill(note, "该通话没有接通坐席，无需质检");
      $("#sheet-start").hidden = true;
      return;
    }
    if (!this.who.canReview) {
      fill(note, "只读：你的角色可以回放通话，但不能评分");
      $("#sheet-start").hidden = true;
      return;
    }
    const kept = localStorage.getItem(STORE + replay.call_id);
    if (kept) {
      try {
        const review = await get(`/qa/reviews/${kept}`);
        if (review.call_id === replay.call_id && review.reviewer === this.who.workId) {
          this.show(review);
          return;
        }
      } catch {
        // gone or not ours: start afresh
      }
      localStorage.removeItem(STORE + replay.call_id);
    }
    fill(note, `坐席 ${replay.agent} 的通话：选择评分表后开始评分`);
    $("#sheet-start").hidden = false;
  }

  async start() {
    const button = $("#btn-start");
    button.disabled = true;
    try {
      const review = await post("/qa/reviews", { call_id: this.call.call_id, sheet: $("#sheet-pick").value });
      localStorage.setItem(STORE + this.call.call_id, String(review.id));
      this.show(review);
      toast("已开始评分：自动检查项已预评", "ok");
    } catch (err) {
      showError(err);
    } finally {
      button.disabled = false;
    }
  }

  show(review) {
    this.review = review;
    const [id, version] = review.sheet.split("@");
    this.sheet = this.sheets.find((s) => s.id === id && String(s.version) === version) || null;
    $("#sheet-start").hidden = true;
    fill($("#sheet-note"), this.sheet ? this.sheet.title : review.sheet);
    $("#review").hidden = false;
    this.render();
  }

  get editable() {
    return this.review && this.review.state === "draft" && this.review.reviewer === this.who.workId;
  }

  render() {
    const review = this.review;
    const state = $("#review-state");
    state.dataset.state = review.state;
    fill(state, REVIEW_STATE_TEXT[review.state] || review.state);
    fill($("#review-total"), review.total);
    fill($("#review-max"), review.max_total);
    const entries = Object.entries(review.items);
    const scored = entries.filter(([, v]) => v.points !== null && v.points !== undefined).length;
    fill($("#review-progress"), `已评 ${scored} / ${entries.length} 项`);
    const order = this.sheet ? this.sheet.items.map((i) => i.id) : entries.map(([k]) => k);
    fill(
      $("#items"),
      order.filter((id) => review.items[id]).map((id) => this.row(id, review.items[id])),
    );
    const agent = $("#review-agent");
    agent.hidden = !review.acknowledged_at;
    if (review.acknowledged_at) {
      fill(agent, `${review.state === "disputed" ? "坐席申诉" : "坐席确认"}：${review.agent_comment || "（无备注）"}`);
    }
    const submit = $("#btn-submit");
    submit.hidden = !this.editable;
    submit.disabled = scored < entries.length;
    fill(submit, scored < entries.length ? `提交评分（还有 ${entries.length - scored} 项未评）` : "提交评分");
  }

  row(itemId, item) {
    const info = this.sheet ? this.sheet.items.find((i) => i.id === itemId) : null;
    const editable = this.editable;
    const auto = item.auto;
    const points = [];
    for (let p = item.max; p >= 0; p -= 1) {
      const text = p === item.max ? `符合 ${p}` : p === 0 ? "扣分 0" : String(p);
      points.push(
        h(
          "button",
          {
            type: "button",
            class: `pt${item.points === p ? " chosen" : ""}${p < item.max ? " pt-low" : ""}`,
            "aria-pressed": item.points === p ? "true" : "false",
            disabled: !editable,
            dataset: { points: String(p) },
            onclick: () => this.score(itemId, p),
          },
          text,
        ),
      );
    }
    const comment = h("textarea", {
      class: "item-comment",
      rows: 1,
      maxlength: 2000,
      placeholder: auto && auto.passed !== null ? "说明（推翻自动检查时必填）" : "说明（可选）",
      disabled: !editable,
      "aria-label": "说明",
    });
    comment.value = item.comment || "";
    comment.addEventListener("change", () => {
      if (item.points !== null && item.points !== undefined) this.score(itemId, item.points);
    });
    const at = item.at;
    return h(
      "li",
      {
        class: `sheet-item${item.points !== null && item.points < item.max ? " deducted" : ""}`,
        dataset: { item: itemId, scored: item.points === null || item.points === undefined ? "no" : "yes" },
      },
      h("p", { class: "item-label" }, info ? info.label : itemId),
      h(
        "p",
        { class: "item-meta muted small" },
        info && info.source ? info.source : "",
        auto
          ? h(
              "span",
              { class: `auto auto-${auto.passed === null ? "na" : auto.passed ? "pass" : "fail"}`, title: auto.reason || "" },
              auto.passed === null ? "自动检查：不适用" : auto.passed ? "自动检查：通过" : "自动检查：未通过",
            )
          : null,
        at !== null && at !== undefined
          ? h("button", { type: "button", class: "btn btn-small at-link", onclick: () => this.player.seek(at) }, `▶ ${offset(at)}`)
          : null,
      ),
      h("div", { class: "row item-controls" }, h("span", { class: "points", role: "group", "aria-label": "分数" }, points),
        editable
          ? h(
              "button",
              {
                type: "button",
                class: "btn btn-small mark-at",
                title: "把录音当前播放位置记为该项的时间点",
                disabled: item.points === null || item.points === undefined,
                onclick: () => this.score(itemId, item.points, this.player.now()),
              },
              "记录时间点",
            )
          : null,
      ),
      editable || item.comment ? comment : null,
      h("p", { class: "form-error item-error", role: "alert", hidden: true }),
    );
  }

  /** Saves one item; an automatic check overruled needs a comment (said here before the API says it). */
  score(itemId, points, at) {
    this.saving = this.saving.then(() => this.save(itemId, points, at));
    return this.saving;
  }

  async save(itemId, points, at) {
    const li = $(`#items li[data-item="${itemId}"]`);
    const error = li.querySelector(".item-error");
    error.hidden = true;
    const item = this.review.items[itemId];
    const comment = li.querySelector(".item-comment").value.trim() || null;
    const auto = item.auto;
    if (auto && auto.passed !== null && auto.passed !== undefined && points !== (auto.passed ? item.max : 0) && !comment) {
      fill(error, "与自动检查结果不同：请先在说明中写明原因");
      error.hidden = false;
      li.querySelector(".item-comment").focus();
      return;
    }
    const body = { item_id: itemId, points, comment, at: at === undefined ? item.at : at };
    if (body.at !== null && body.at !== undefined) body.at = Math.round(body.at * 10) / 10;
    try {
      this.review = await post(`/qa/reviews/${this.review.id}/scores`, body);
      this.render();
      const again = $(`#items li[data-item="${itemId}"] .pt.chosen`);
      if (again) again.focus();
    } catch (err) {
      showError(err, error);
    }
  }

  async submit() {
    const button = $("#btn-submit");
    button.disabled = true;
    $("#review-error").hidden = true;
    try {
      this.review = await post(`/qa/reviews/${this.review.id}/submit`);
      this.render();
      toast(`评分已提交：${this.review.total} / ${this.review.max_total} 分，等待坐席确认`, "ok");
    } catch (err) {
      showError(err, $("#review-error"));
      button.disabled = false;
    }
  }
}
