// 报表: the month's attendance and deductions (GET /attendance/report) and QA scores by agent and the most-missed
// sheet items (GET /qa/reports/scores, /qa/reports/missed), each drawn as bars.
import { $, fill, get, h, showError } from "./api.js";
import { bars, empty, monthSpan } from "./desk-common.js";

const money = (s) => Number(s || 0);

export class Reports {
  constructor(desk) {
    this.desk = desk;
    this.sheetLabels = null;
    $("#rp-month").value = desk.month;
    $("#btn-reports").addEventListener("click", () => this.load());
    $("#rp-month").addEventListener("keydown", (e) => {
      if (e.key === "Enter") this.load();
    });
    $("#rp-attendance").hidden = !desk.can("attendance.view");
    $("#rp-qa").hidden = !desk.can("qa.view");
  }

  show() {
    this.load();
  }

  hide() {}

  month() {
    return $("#rp-month").value || this.desk.month;
  }

  async load() {
    await Promise.all([
      this.desk.can("attendance.view") ? this.attendance() : null,
      this.desk.can("qa.view") ? this.qa() : null,
    ]);
  }

  async attendance() {
    const month = this.month();
    $("#rp-csv").href = `/attendance/report?month=${month}&format=csv`;
    let rows;
    try {
      rows = await get(`/attendance/report?month=${month}&format=json`);
    } catch (err) {
      showError(err);
      return;
    }
    const deduction = (r) => money(r.bonus_deduction) + money(r.lateness_fine) + money(r.base_deduction);
    fill(
      $("#rp-att-chart"),
      rows.length
        ? bars(
            rows.map((r) => [
              r.work_id,
              deduction(r),
              `¥${deduction(r).toFixed(2)}（迟到早退 ${r.late_early_count} 次，旷工 ${r.absence_days} 天）`,
              deduction(r) > 0 ? "bad" : "good",
            ]),
            Math.max(1, ...rows.map(deduction)),
          )
        : empty("本月没有考勤记录"),
    );
    fill(
      $("#rp-att-rows"),
      rows.length
        ? rows.map((r) =>
            h(
              "tr",
              { dataset: { workId: r.work_id } },
              h("td", {}, r.work_id),
              h("td", {}, String(r.working_days)),
              h("td", {}, String(r.late_early_count)),
              h("td", {}, String(r.absence_days)),
              h("td", {}, String(r.personal_leave_days)),
              h("td", {}, String(r.sick_leave_days)),
              h("td", {}, `¥${r.bonus_deduction}`),
              h("td", {}, `¥${r.lateness_fine}`),
              h("td", {}, `¥${r.base_deduction}`),
            ),
          )
        : empty("—", 9),
    );
  }

  async labels() {
    if (this.sheetLabels) return this.sheetLabels;
    const labels = {};
    try {
      for (const sheet of await get("/qa/sheets")) for (const item of sheet.items) labels[item.id] = item.label;
    } catch {
      // the ids stand in for the labels
    }
    this.sheetLabels = labels;
    return labels;
  }

  async qa() {
    const [since, until] = monthSpan(this.month());
    const span = `since=${encodeURIComponent(since.toISOString())}&until=${encodeURIComponent(until.toISOString())}`;
    let scores, missed, labels;
    try {
      [scores, missed, labels] = await Promise.all([
        get(`/qa/reports/scores?${span}&group_by=agent&period=month`),
        get(`/qa/reports/missed?${span}&limit=10`),
        this.labels(),
      ]);
    } catch (err) {
      showError(err);
      return;
    }
    fill(
      $("#rp-qa-chart"),
      scores.length
        ? bars(
            scores.map((r) => [
              r.key,
              r.percent,
              `${r.percent.toFixed(1)}%（${r.points}/${r.max_points}，${r.reviews} 次质检）`,
              r.percent >= 90 ? "good" : r.percent >= 80 ? "" : "bad",
            ]),
            100,
          )
        : empty("本月没有提交的质检"),
    );
    fill(
      $("#rp-missed-chart"),
      missed.length
        ? bars(missed.map((m) => [labels[m.item_id] || m.item_id, m.times, `${m.times} 次`, "bad"]))
        : empty("本月没有失分项"),
    );
  }
}
