// 外呼活动: the list (refreshed while shown), a new campaign, start / pause / resume / stop, a campaign's lead
// lists (desk-lists.js), and a lead upload into a new or a named lead list with two progress bars (the bytes, by
// XHR upload progress; then the rows, polled), the list the rows went to and the rows it refused.
import { $, ApiError, cookie, fill, get, h, post, showError, toast } from "./api.js";
import { CAMPAIGN_STATE, DIAL_MODE, empty, importReason, pct, zh } from "./desk-common.js";
import { Lists } from "./desk-lists.js";

const LIST_EVERY = 4000; // ms: the list's progress while the tab is open
const IMPORT_EVERY = 400; // ms: an upload's rows

/** The buttons a campaign's state allows: [label, action, class]. */
const MOVES = {
  draft: [["启动", "start", "btn-ok"]],
  running: [
    ["暂停", "pause", "btn-warn"],
    ["停止", "stop", "btn-danger"],
  ],
  paused: [
    ["继续", "resume", "btn-ok"],
    ["停止", "stop", "btn-danger"],
  ],
};
const CONFIRM = { stop: "停止后不能再启动，确定停止该活动？" };

export class Campaigns {
  constructor(desk) {
    this.desk = desk;
    this.can = desk.can;
    this.campaigns = [];
    this.timer = null;
    this.shown = false;
    this.importFor = null;
    this.loadedForm = false;
    this.lists = new Lists(desk);
    $("#btn-refresh-campaigns").addEventListener("click", () => this.refresh());
    $("#btn-new-campaign").addEventListener("click", () => this.openForm());
    $("#btn-create-cancel").addEventListener("click", () => this.closeForm());
    $("#create-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.create();
    });
    $("#create-form").addEventListener("keydown", (e) => {
      if (e.key === "Escape") this.closeForm();
    });
    $("#import-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.upload();
    });
    $("#btn-import-close").addEventListener("click", () => {
      $("#import-panel").hidden = true;
    });
    $("#btn-new-campaign").hidden = !this.can("campaign.manage");
    $("#c-vendor-box").hidden = desk.config.role !== "admin";
  }

  show() {
    this.shown = true;
    this.refresh();
  }

  hide() {
    this.shown = false;
    clearTimeout(this.timer);
  }

  /** Keys while the tab is open (not typing): N opens the new-campaign form. */
  key(event) {
    if (event.key === "n" || event.key === "N") {
      if (this.can("campaign.manage")) {
        event.preventDefault();
        this.openForm();
      }
    }
  }

  async refresh() {
    clearTimeout(this.timer);
    try {
      this.campaigns = await get("/campaigns");
      this.loaded = true;
      this.render();
      this.desk.campaignsChanged(this.campaigns);
      this.lists.campaignsChanged(this.campaigns);
    } catch (err) {
      showError(err);
    }
    if (this.shown) this.timer = setTimeout(() => this.refresh(), LIST_EVERY);
  }

  render() {
    if (!this.loaded) return;
    const rows = this.campaigns.map((c) => this.row(c));
    fill($("#campaign-rows"), rows.length ? rows : empty("还没有外呼活动", 9));
  }

  row(c) {
    const stats = c.stats || { leads: {}, answered: 0, attempts: 0, abandon_rate: 0 };
    const leads = Object.values(stats.leads).reduce((a, b) => a + b, 0);
    const left = stats.leads.dialable || 0;
    const over = stats.abandon_rate > c.max_abandon_rate;
    const progress = h("progress", { max: Math.max(1, leads), value: leads - left });
    const actions = [];
    if (this.can("campaign.launch")) {
      for (const [label, action, cls] of MOVES[c.state] || []) {
        actions.push(
          h(
            "button",
            { class: `btn btn-small ${cls}`, type: "button", dataset: { action }, onclick: () => this.move(c, action) },
            label,
          ),
        );
      }
    }
    if (this.can("lead.import") && c.state !== "stopped" && c.state !== "completed") {
      actions.push(
        h("button", { class: "btn btn-small", type: "button", dataset: { action: "import" }, onclick: () => this.openImport(c) }, "导入名单"),
      );
    }
    actions.push(
      h("button", { class: "btn btn-small", type: "button", dataset: { action: "lists" }, onclick: () => this.lists.show(c) }, "名单"),
      h("button", { class: "btn btn-small", type: "button", dataset: { action: "watch" }, onclick: () => this.desk.watch(c.id) }, "看板"),
    );
    return h(
      "tr",
      { dataset: { id: String(c.id), state: c.state } },
      h("td", {}, String(c.id)),
      h("td", {}, c.name, c.training ? h("span", { class: "tag-small" }, "培训") : null),
      h("td", {}, this.desk.flowTitle(c.flow)),
      h("td", {}, zh(DIAL_MODE, c.dial_mode)),
      h("td", {}, h("span", { class: "badge", dataset: { state: c.state } }, zh(CAMPAIGN_STATE, c.state))),
      h("td", { class: "progress-cell" }, progress, h("small", { class: "muted" }, ` ${leads - left} / ${leads}`)),
      h("td", {}, `${stats.answered} / ${stats.attempts}`),
      h("td", { class: over ? "over" : "" }, `${pct(stats.abandon_rate)} / ${pct(c.max_abandon_rate)}`),
      h("td", { class: "actions-cell" }, actions),
    );
  }

  async move(c, action) {
    if (CONFIRM[action] && !window.confirm(CONFIRM[action])) return;
    try {
      const out = await post(`/campaigns/${c.id}/${action}`);
      toast(`活动 ${c.id}：${zh(CAMPAIGN_STATE, out.state)}`, "ok");
    } catch (err) {
      showError(err);
    }
    await this.refresh();
  }

  // -- a new campaign ---------------------------------------------------------------------------------

  async openForm() {
    const form = $("#create-form");
    form.hidden = false;
    $("#create-error").hidden = true;
    $("#c-name").focus();
    if (this.loadedForm) return;
    this.loadedForm = true;
    const flows = await this.desk.flows();
    fill(
      $("#c-flow"),
      flows.map((f) => h("option", { value: f.ref }, `${f.title || f.id}（${f.ref}）`)),
    );
    let people = [];
    if (this.can("user.view")) {
      try {
        people = (await get("/users")).filter(
          (u) => (u.role === "agent" || u.role === "trainee") && u.status === "active",
        );
      } catch (err) {
        showError(err);
      }
    }
    fill(
      $("#c-agents"),
      people.length
        ? people.map((u) =>
            h(
              "label",
              { class: "agent-pick" },
              h("input", { type: "checkbox", value: u.work_id, name: "agent" }),
              ` ${u.work_id} `,
              h("small", { class: "muted" }, `${u.name_masked || ""}${u.role === "trainee" ? " 培训" : ""}`),
            ),
          )
        : h("span", { class: "muted" }, "（无可选坐席，可在下方输入工号）"),
    );
  }

  closeForm() {
    $("#create-form").hidden = true;
    $("#btn-new-campaign").focus();
  }

  /** The form as a CampaignIn body, or throws a message for the person. */
  body() {
    const name = $("#c-name").value.trim();
    if (!name) throw new Error("请填写活动名称");
    const windows = [];
    for (const part of $("#c-windows").value.split(/[,，;；\s]+/).filter(Boolean)) {
      const m = /^(\d{1,2}):([0-5]\d)\s*[-~至到]\s*(\d{1,2}):([0-5]\d)$/.exec(part);
      if (!m || Number(m[1]) > 23 || Number(m[3]) > 23) throw new Error(`呼叫时段格式应为 09:00-12:00：${part}`);
      const hhmm = (hh, mm) => `${hh.padStart(2, "0")}:${mm}`;
      windows.push([hhmm(m[1], m[2]), hhmm(m[3], m[4])]);
    }
    if (!windows.length) throw new Error("请填写至少一个呼叫时段");
    const rate = Number($("#c-abandon").value);
    if (!(rate > 0 && rate <= 100)) throw new Error("最大放弃率应在 0 到 100 之间");
    const wrap = Number($("#c-wrapup").value);
    if (!Number.isInteger(wrap) || wrap < 0 || wrap > 3600) throw new Error("话后整理时限应为 0–3600 秒");
    const agents = [...document.querySelectorAll('#c-agents input[name="agent"]:checked')].map((i) => i.value);
    for (const w of $("#c-agents-extra").value.split(/[,，\s]+/).filter(Boolean)) {
      if (!agents.includes(w)) agents.push(w);
    }
    const vendor = $("#c-vendor").value.trim();
    if (this.desk.config.role === "admin" && !vendor) throw new Error("管理员创建活动须填写公司编号");
    return {
      ...(vendor ? { vendor_id: Number(vendor) } : {}),
      name,
      flow: $("#c-flow").value,
      dial_mode: $("#c-mode").value,
      calling_windows: windows,
      max_abandon_rate: Math.round(rate * 10) / 1000,
      wrap_up_limit_seconds: wrap,
      training: $("#c-training").checked,
      agents,
    };
  }

  async create() {
    const error = $("#create-error");
    error.hidden = true;
    let body;
    try {
      body = this.body();
    } catch (err) {
      fill(error, err.message);
      error.hidden = false;
      return;
    }
    const button = $("#btn-create");
    button.disabled = true;
    try {
      const created = await post("/campaigns", body);
      toast(`已创建活动 ${created.id}（草稿）`, "ok");
      $("#create-form").reset();
      $("#create-form").hidden = true;
      await this.refresh();
      if (this.can("lead.import")) this.openImport(created);
    } catch (err) {
      const text = showError(err, error);
      if (err instanceof ApiError && err.errorId === "dialer.agent_assignment") {
        fill(error, `坐席工号不可用：${err.details.work_id || ""}`);
      } else if (err instanceof ApiError && err.details.problems) {
        const where = (p) => (Array.isArray(p.loc) ? p.loc.slice(1).join(".") : "");
        fill(error, `${text}：${err.details.problems.map((p) => `${where(p)} ${p.msg || ""}`.trim()).join("；")}`);
      }
    } finally {
      button.disabled = false;
    }
  }

  // -- a lead upload ----------------------------------------------------------------------------------

  openImport(c) {
    this.importFor = c;
    fill($("#import-campaign"), `活动 ${c.id} · ${c.name}`);
    $("#import-panel").hidden = false;
    $("#import-progress").hidden = true;
    $("#import-result").hidden = true;
    $("#import-error").hidden = true;
    $("#import-form").reset();
    $("#import-file").focus();
  }

  /** POST the file with XHR (fetch has no upload progress) into the lead list named `list` (a new list named
   *  after the file when empty); resolves to the 202 answer's job. */
  send(file, list) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      const into = list ? `&list=${encodeURIComponent(list)}` : "";
      xhr.open("POST", `/campaigns/${this.importFor.id}/leads?background=true${into}`);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-CSRF-Token", cookie("waihu_csrf"));
      xhr.upload.addEventListener("progress", (e) => {
        if (e.lengthComputable) this.uploadProgress(e.loaded, e.total);
      });
      xhr.addEventListener("load", () => {
        let data = null;
        try {
          data = xhr.responseText ? JSON.parse(xhr.responseText) : null;
        } catch {
          data = { message: xhr.responseText.slice(0, 200) };
        }
        if (xhr.status >= 200 && xhr.status < 300) resolve(data);
        else reject(new ApiError(xhr.status, data));
      });
      xhr.addEventListener("error", () => reject(new ApiError(0, { error_id: "network", message: "upload failed" })));
      const form = new FormData();
      form.append("file", file);
      xhr.send(form);
    });
  }

  uploadProgress(loaded, total) {
    const share = total ? Math.round((loaded / total) * 100) : 100;
    $("#upload-bar").value = share;
    fill($("#upload-text"), `${share}%`);
  }

  rowsProgress(job) {
    const bar = $("#rows-bar");
    bar.max = Math.max(1, job.total);
    bar.value = job.done;
    const state = { running: "导入中", done: "完成", interrupted: "已中断" }[job.state] || "失败";
    fill($("#rows-text"), `${state} ${job.done} / ${job.total} 行`);
  }

  async upload() {
    const file = $("#import-file").files[0];
    const error = $("#import-error");
    error.hidden = true;
    if (!file) {
      fill(error, "请选择 CSV 文件");
      error.hidden = false;
      return;
    }
    if (file.size > 20 * 1024 * 1024) {
      fill(error, "文件超过 20 MB，请拆分后上传");
      error.hidden = false;
      return;
    }
    const list = $("#import-list").value.trim();
    const button = $("#btn-upload");
    button.disabled = true;
    $("#import-progress").hidden = false;
    $("#import-result").hidden = true;
    this.uploadProgress(0, file.size);
    this.rowsProgress({ state: "running", done: 0, total: 0 });
    try {
      const campaign = this.importFor;
      let job = await this.send(file, list);
      this.uploadProgress(file.size, file.size);
      const campaignId = campaign.id;
      while (job.state === "running") {
        this.rowsProgress(job);
        await new Promise((r) => setTimeout(r, IMPORT_EVERY));
        job = await get(`/campaigns/${campaignId}/imports/${job.import_id}`);
      }
      this.rowsProgress(job);
      if (job.state !== "done") {
        const what = job.state === "interrupted" ? "导入中断（已导入的名单保留，可重新上传同一文件）" : "导入失败";
        fill(error, `${what}：${(job.error && job.error.message) || ""}`);
        error.hidden = false;
      } else {
        this.report(job.report, campaign, Boolean(list));
      }
      await this.refresh();
    } catch (err) {
      showError(err, error);
    } finally {
      button.disabled = false;
    }
  }

  /** The finished import's report for campaign `c`; `named`: the rows were sent to a list the lead named. */
  report(r, c, named) {
    const problems = r.errors.length + r.duplicates.length;
    fill(
      $("#import-summary"),
      `共 ${r.rows} 行：导入 ${r.imported} 行，`,
      h("span", { class: r.errors.length ? "bad" : "" }, `错误 ${r.errors.length} 行`),
      `，重复 ${r.duplicates.length} 行，免打扰跳过 ${r.dnc_skipped} 行。`,
      r.list_name
        ? h(
            "span",
            { id: "import-list-result", dataset: { listId: String(r.list_id ?? "") } },
            named ? "已加入名单「" : "已新建名单「",
            h("strong", {}, r.list_name),
            "」。 ",
            h(
              "button",
              { class: "btn btn-small", type: "button", dataset: { action: "lists" }, onclick: () => this.lists.show(c) },
              "查看名单",
            ),
          )
        : null,
    );
    const issues = [
      ...r.errors.map((i) => ({ ...i, type: "error" })),
      ...r.duplicates.map((i) => ({ ...i, type: "duplicate" })),
    ].sort((a, b) => a.row - b.row);
    fill(
      $("#import-issue-rows"),
      issues.length
        ? issues.map((i) =>
            h(
              "tr",
              { class: i.type === "error" ? "issue-error" : "issue-dup", dataset: { row: String(i.row) } },
              h("td", {}, String(i.row)),
              h("td", {}, i.column),
              h("td", {}, i.type === "duplicate" ? `重复：${importReason(i.reason)}` : importReason(i.reason)),
              h("td", { class: "mono" }, i.value),
            ),
          )
        : empty("没有问题行", 4),
    );
    $("#import-result").hidden = false;
    toast(problems ? `名单已导入，${problems} 行有问题` : "名单已全部导入", problems ? "info" : "ok");
  }
}
