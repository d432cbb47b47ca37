// 现场管理 (issue 9): yesterday's missing inspections, damage and loss with the last user, the month's three
// rates with the assets behind each number, and off-boarding items still out (the work IDs of pending or
// approved deletions, or any work ID looked up), each item checked back with one button. A work ID with
// damage.decide (the client's admin) decides a pending record's compensation in the 决定赔偿 dialog; the others
// see the decision read-only (the API checks again, and refuses the reporter: agents.sod).
import { $, ApiError, fill, get, h, messageOf, post, showError, toast } from "./api.js";
import {
  ASSET_KIND,
  CAUSE,
  COMPENSATION,
  DAMAGE_KIND,
  LAST_USER_SOURCE,
  empty,
  pct,
  when,
  zh,
} from "./desk-common.js";

/** The refusals of POST /damage/{id}/decision, said for this dialog (the shared texts are more general). */
const DECIDE_ERRORS = {
  "agents.sod": "不能裁定自己上报的损坏记录，请由其他管理员裁定",
  "agents.already_decided": "该记录已经裁定过，不能重复裁定",
  "agents.damage_amount": "赔偿金额须大于 0；资产未登记价值时须填写金额",
  "agents.damage_invalid": "裁定内容有误：免赔须填写说明",
};

/** The decision's fields, for the API's validation problems (loc ["body", field]). */
const DECIDE_FIELDS = { charge: "裁定结果", amount: "赔偿金额", cause: "原因", note: "说明" };
/** What DecisionIn's amount takes: at most 10 digits, 2 after the point. */
const AMOUNT = /^\d{1,8}(\.\d{1,2})?$/;

const RATE_NAMES = {
  it_loss_rate: ["IT 资产月丢失率", "目标 < 1%"],
  human_damage: ["人为损坏", "目标 0 件"],
  fixed_damage_rate: ["固定资产损坏率", "目标 0%"],
};

export class Site {
  constructor(desk) {
    this.desk = desk;
    this.extra = new Set(); // work IDs looked up by hand
    $("#st-month").value = desk.month;
    $("#btn-site").addEventListener("click", () => this.load());
    $("#st-vendor-box").hidden = desk.config.role !== "admin";
    $("#st-off-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const workId = $("#st-off-work-id").value.trim();
      if (workId) {
        this.extra.add(workId);
        this.offboarding();
      }
    });
    $("#st-off-form").hidden = !desk.can("offboarding.check");
    this.deciding = null; // the damage record the 决定赔偿 dialog is open for
    this.opener = null; // the button that opened it (focus goes back there)
    $("#st-decide-form").addEventListener("submit", (e) => this.submitDecision(e));
    $("#st-decide-cancel").addEventListener("click", () => $("#st-decide").close());
    $("#st-decide").addEventListener("close", () => this.decisionClosed());
    for (const radio of [$("#st-decide-charge"), $("#st-decide-waive")]) {
      radio.addEventListener("change", () => this.syncChoice());
    }
  }

  show() {
    this.load();
  }

  hide() {
    if ($("#st-decide").open) $("#st-decide").close();
  }

  vendorQuery(prefix = "&") {
    const v = $("#st-vendor").value.trim();
    return v ? `${prefix}vendor_id=${encodeURIComponent(v)}` : "";
  }

  async load() {
    await Promise.all([this.missing(), this.rates(), this.damage(), this.offboarding()]);
  }

  async missing() {
    const box = $("#st-missing");
    const yesterday = new Date(`${this.desk.config.today}T00:00:00`);
    yesterday.setDate(yesterday.getDate() - 1);
    try {
      const rows = await get(`/inspections/missing${this.vendorQuery("?")}`);
      const day = rows.length ? rows[0].day : yesterday.toLocaleDateString("sv-SE");
      fill($("#st-missing-day"), day);
      fill(
        box,
        rows.length
          ? h(
              "table",
              { class: "grid" },
              h("thead", {}, h("tr", {}, h("th", {}, "公司"), h("th", {}, "日期"), h("th", {}, "应巡检座席"))),
              h(
                "tbody",
                { id: "st-missing-rows" },
                rows.map((m) =>
                  h(
                    "tr",
                    { class: "issue-error", dataset: { vendor: m.vendor_code } },
                    h("td", {}, m.vendor_code),
                    h("td", {}, m.day),
                    h("td", {}, `${m.seat_codes.length} 个：${m.seat_codes.join("、")}`),
                  ),
                ),
              ),
            )
          : h("p", { class: "good-text" }, "昨日巡检已全部完成"),
      );
    } catch (err) {
      fill(box, h("p", { class: "form-error" }, showError(err)));
    }
  }

  async rates() {
    const box = $("#st-rates");
    const month = $("#st-month").value || this.desk.month;
    if (this.desk.config.role === "admin" && !$("#st-vendor").value.trim()) {
      fill(box, empty("管理员请先填写公司编号"));
      return;
    }
    let rates;
    try {
      rates = await get(`/asset-rates?month=${month}${this.vendorQuery()}`);
    } catch (err) {
      fill(box, h("p", { class: "form-error" }, showError(err)));
      return;
    }
    fill(
      box,
      ["it_loss_rate", "human_damage", "fixed_damage_rate"].map((key) => {
        const line = rates[key];
        const [title, target] = RATE_NAMES[key];
        const value = key === "human_damage" ? `${line.count} 件` : pct(line.rate, 2);
        return h(
          "div",
          { class: "rate-card", dataset: { key, met: String(line.met) } },
          h("div", { class: "rate-head" }, h("strong", {}, title), h("span", { class: "badge" }, line.met ? "达标" : "未达标")),
          h("div", { class: "rate-value" }, value),
          h("div", { class: "muted small" }, `${line.count} / ${line.base} 件 · ${target}`),
          line.assets.length
            ? h(
                "table",
                { class: "grid compact" },
                h("thead", {}, h("tr", {}, h("th", {}, "资产"), h("th", {}, "情况"), h("th", {}, "原因"), h("th", {}, "最后使用人"))),
                h(
                  "tbody",
                  {},
                  line.assets.map((a) =>
                    h(
                      "tr",
                      {},
                      h("td", {}, `${a.tag}（${zh(ASSET_KIND, a.kind)}）`),
                      h("td", {}, a.kinds.map((k) => zh(DAMAGE_KIND, k)).join("、")),
                      h("td", {}, a.causes.map((c) => zh(CAUSE, c)).join("、")),
                      h("td", {}, a.last_work_ids.map((w) => w || "无记录").join("、")),
                    ),
                  ),
                ),
              )
            : h("p", { class: "muted small" }, "无相关资产"),
        );
      }),
    );
  }

  async damage() {
    const body = $("#st-damage");
    let rows;
    try {
      rows = await get(`/damage${this.vendorQuery("?")}`);
    } catch (err) {
      fill(body, empty(showError(err), 8));
      return;
    }
    fill(body, rows.length ? rows.map((d) => this.damageRow(d)) : empty("没有损坏或丢失记录", 8));
  }

  damageRow(d) {
    return h(
      "tr",
      { dataset: { id: String(d.id), compensation: d.compensation } },
      h("td", {}, d.asset_tag),
      h("td", {}, zh(ASSET_KIND, d.asset_kind)),
      h("td", {}, zh(DAMAGE_KIND, d.kind), h("div", { class: "muted small" }, d.description)),
      h("td", {}, zh(CAUSE, d.cause)),
      h("td", {}, d.seat_code || "—"),
      h("td", {}, when(d.occurred_at)),
      h(
        "td",
        {},
        h("strong", {}, d.last_work_id || "—"),
        h("div", { class: "muted small" }, zh(LAST_USER_SOURCE, d.last_user_source)),
      ),
      this.compensationCell(d),
    );
  }

  /** 赔偿: the decision (who, when, the note), or 待裁定 with the 决定赔偿 button for damage.decide. */
  compensationCell(d) {
    const pending = d.compensation === "pending";
    return h(
      "td",
      { class: "comp-cell", tabindex: "-1" },
      h("span", { class: pending ? "comp-text warn-text" : "comp-text" }, zh(COMPENSATION, d.compensation), d.amount ? ` ¥${d.amount}` : ""),
      !pending && d.decided_by ? h("div", { class: "muted small comp-by" }, `${d.decided_by} 裁定 · ${when(d.decided_at)}`) : null,
      !pending && d.decision_note ? h("div", { class: "muted small comp-note" }, d.decision_note) : null,
      pending && this.desk.can("damage.decide")
        ? h(
            "button",
            {
              class: "btn btn-small decide-btn",
              type: "button",
              "aria-label": `决定赔偿：${d.asset_tag}`,
              "aria-haspopup": "dialog",
              onclick: (e) => this.openDecision(d, e.currentTarget),
            },
            "决定赔偿",
          )
        : null,
    );
  }

  // -- 决定赔偿 ------------------------------------------------------------------------------------------

  openDecision(record, opener) {
    const dialog = $("#st-decide");
    if (dialog.open) return;
    this.deciding = record;
    this.opener = opener;
    $("#st-decide-form").reset();
    fill($("#st-decide-asset"), `${record.asset_tag}（${zh(ASSET_KIND, record.asset_kind)}）`);
    fill(
      $("#st-decide-summary"),
      `${zh(DAMAGE_KIND, record.kind)} · 原因：${zh(CAUSE, record.cause)} · 上报人 ${record.reported_by}` +
        ` · 最后使用人 ${record.last_work_id || "无记录"}`,
    );
    $("#st-decide-cause").options[0].textContent = `不变（当前：${zh(CAUSE, record.cause)}）`;
    this.clearDecisionError();
    this.syncChoice();
    this.assetValue(record);
    dialog.showModal();
    $("#st-decide-charge").focus();
  }

  /** The amount's hint: the asset's registered value, which 照价赔偿 charges when the amount is left empty. */
  async assetValue(record) {
    const hint = $("#st-decide-amount-hint");
    fill(hint, "留空则按资产登记价值收取");
    try {
      const asset = await get(`/assets/${record.asset_id}`);
      if (this.deciding !== record) return;
      fill(
        hint,
        asset.value ? `资产登记价值 ¥${asset.value}，留空即按此金额` : "该资产未登记价值：照价赔偿须填写金额",
      );
    } catch {
      // only the hint depends on it; the API charges the value it has
    }
  }

  syncChoice() {
    const waive = $("#st-decide-waive").checked;
    $("#st-decide-amount").disabled = waive;
    $("#st-decide-amount-box").classList.toggle("is-off", waive);
    $("#st-decide-note").required = waive;
    fill($("#st-decide-note-need"), waive ? "（免赔必填）" : "（选填）");
  }

  clearDecisionError() {
    const box = $("#st-decide-error");
    fill(box);
    box.hidden = true;
  }

  /** The API's refusal in the dialog: the Chinese text, then the error_id and the server's message. */
  decisionError(err) {
    const box = $("#st-decide-error");
    const text = (err instanceof ApiError && DECIDE_ERRORS[err.errorId]) || messageOf(err);
    const lines = [h("strong", {}, text)];
    if (err instanceof ApiError) {
      const problems = Array.isArray(err.details.problems) ? err.details.problems : [];
      const fields = problems
        .map((p) => (Array.isArray(p.loc) ? DECIDE_FIELDS[p.loc[p.loc.length - 1]] : null))
        .filter(Boolean);
      if (fields.length) lines.push(h("div", {}, `请检查：${[...new Set(fields)].join("、")}`));
      const server = err.message && err.message !== text ? ` · ${err.message}` : "";
      lines.push(h("div", { class: "muted small error-code" }, `错误代码 ${err.errorId}${server}`));
    }
    fill(box, lines);
    box.hidden = false;
  }

  /** A mistake found before asking the API: the message, and the field to fix focused. */
  localError(text, field) {
    const box = $("#st-decide-error");
    fill(box, h("strong", {}, text));
    box.hidden = false;
    field.focus();
  }

  async submitDecision(event) {
    event.preventDefault();
    const record = this.deciding;
    if (!record) return;
    this.clearDecisionError();
    const charge = $("#st-decide-charge").checked;
    const amount = $("#st-decide-amount").value.trim().replace(/^¥\s*/, "");
    const note = $("#st-decide-note").value.trim();
    const cause = $("#st-decide-cause").value;
    if (charge && amount && !AMOUNT.test(amount)) {
      this.localError("金额格式不对：请填写数字，最多两位小数，如 120 或 99.50", $("#st-decide-amount"));
      return;
    }
    if (!charge && !note) {
      this.localError("免赔须填写说明", $("#st-decide-note"));
      return;
    }
    const body = { charge };
    if (charge && amount) body.amount = amount;
    if (cause) body.cause = cause;
    if (note) body.note = note;
    const submit = $("#st-decide-submit");
    submit.disabled = true;
    let decided;
    try {
      decided = await post(`/damage/${record.id}/decision`, body);
    } catch (err) {
      this.decisionError(err);
      // decided meanwhile, or gone: the table shows what is true now
      if (err instanceof ApiError && (err.errorId === "agents.already_decided" || err.status === 404)) this.damage();
      return;
    } finally {
      submit.disabled = false;
    }
    this.decided(decided);
  }

  decided(record) {
    const row = this.damageRow(record);
    const old = $(`#st-damage tr[data-id="${record.id}"]`);
    if (old) old.replaceWith(row);
    this.opener = null; // it is gone with the old row
    $("#st-decide").close();
    row.querySelector(".comp-cell").focus();
    toast(`${record.asset_tag}：${zh(COMPENSATION, record.compensation)}${record.amount ? ` ¥${record.amount}` : ""}`, "ok");
  }

  decisionClosed() {
    // the close event comes a task later: Esc then Enter at once may have opened the dialog again already
    if ($("#st-decide").open) return;
    this.deciding = null;
    if (this.opener && this.opener.isConnected) this.opener.focus();
    this.opener = null;
  }

  /** The work IDs whose deletion waits for off-boarding, and those looked up. */
  async leaving() {
    const ids = new Set(this.extra);
    if (this.desk.can("user.view")) {
      try {
        for (const r of await get("/user-requests")) {
          if (r.kind === "delete" && (r.status === "pending" || r.status === "approved")) ids.add(r.work_id);
        }
      } catch (err) {
        showError(err);
      }
    }
    return [...ids].sort();
  }

  async offboarding() {
    const box = $("#st-offboarding");
    if (!this.desk.can("offboarding.check")) {
      fill(box, empty("需要离职交接权限"));
      return;
    }
    const ids = await this.leaving();
    const lists = await Promise.all(
      ids.map((w) =>
        get(`/offboarding/${encodeURIComponent(w)}`).catch((err) => ({ work_id: w, failed: err })),
      ),
    );
    const blocks = lists.map((c) => {
      if (c.failed) {
        const text = c.failed instanceof ApiError && c.failed.status === 404 ? "找不到该工号" : showError(c.failed);
        return h("div", { class: "off-card" }, h("strong", {}, c.work_id), h("p", { class: "form-error" }, text));
      }
      return h(
        "div",
        { class: "off-card", dataset: { workId: c.work_id, complete: String(c.complete) } },
        h("div", { class: "rate-head" }, h("strong", {}, c.work_id), h("span", { class: "badge" }, c.complete ? "已交接完毕" : `未归还 ${c.outstanding.length} 项`)),
        c.outstanding.length
          ? h(
              "ul",
              { class: "off-items" },
              c.outstanding.map((item) =>
                h(
                  "li",
                  {},
                  h("span", {}, `${item.kind === "asset" ? "资产" : "资料"}：${item.label}`),
                  h(
                    "button",
                    { class: "btn btn-small", type: "button", onclick: () => this.checkBack(c.work_id, item) },
                    "收回",
                  ),
                ),
              ),
            )
          : null,
      );
    });
    fill(box, blocks.length ? blocks : empty("没有待离职的工号"));
  }

  async checkBack(workId, item) {
    if (!window.confirm(`确认已收回 ${workId} 的「${item.label}」（完好）？`)) return;
    try {
      await post(`/offboarding/${encodeURIComponent(workId)}/check-back`, { kind: item.kind, id: item.id, condition: "ok" });
      toast(`已收回：${item.label}`, "ok");
    } catch (err) {
      showError(err);
    }
    await this.offboarding();
  }
}
