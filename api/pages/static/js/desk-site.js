// 现场管理 (issue 9): yesterday's missing inspections, damage and loss with the last user, the month's three
// rates with the assets behind each number, and off-boarding items still out (the work IDs of pending or
// approved deletions, or any work ID looked up), each item checked back with one button.
import { $, ApiError, fill, get, h, post, showError, toast } from "./api.js";
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
  }

  show() {
    this.load();
  }

  hide() {}

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
    fill(
      body,
      rows.length
        ? rows.map((d) =>
            h(
              "tr",
              { dataset: { id: String(d.id) } },
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
              h(
                "td",
                { class: d.compensation === "pending" ? "warn-text" : "" },
                zh(COMPENSATION, d.compensation),
                d.amount ? ` ¥${d.amount}` : "",
              ),
            ),
          )
        : empty("没有损坏或丢失记录", 8),
    );
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
