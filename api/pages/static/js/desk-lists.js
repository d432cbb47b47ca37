// 客户名单: a campaign's lead lists (each import makes one, or adds to a named one) with their leads by status,
// and 暂停 / 恢复 per list (a paused list's leads are not dialed, callbacks included, until it is resumed).
// Opened from a campaign row's 名单 button; refreshed with the campaign table while open. List names are the
// uploader's text: they are only ever inserted as text.
import { $, api, fill, get, h, showError, toast } from "./api.js";
import { empty, when } from "./desk-common.js";

/** The table's count columns: the API's lead status, in the order of the header. */
const COUNTS = ["dialable", "done", "dnc", "refused", "exhausted"];
const COLUMNS = 10;

export class Lists {
  constructor(desk) {
    this.desk = desk;
    this.can = desk.can;
    this.campaign = null; // the campaign the panel is open for
    this.lists = [];
    this.shownJson = null; // what the table shows, so a refresh that changed nothing leaves the rows alone
    this.seq = 0; // the latest load; an older answer (another campaign, a slower request) is dropped
    $("#btn-lists-refresh").addEventListener("click", () => this.refresh());
    $("#btn-lists-close").addEventListener("click", () => this.close());
    $("#lists-panel").addEventListener("keydown", (e) => {
      if (e.key === "Escape") this.close();
    });
  }

  get open() {
    return this.campaign !== null && !$("#lists-panel").hidden;
  }

  /** Opens the panel for campaign `c` (from its row's 名单 button). */
  async show(c) {
    const again = this.campaign && this.campaign.id === c.id;
    this.campaign = c;
    fill($("#lists-campaign"), `活动 ${c.id} · ${c.name}`);
    $("#lists-panel").hidden = false;
    if (!again) {
      this.lists = [];
      this.shownJson = null;
      fill($("#list-rows"), empty("加载中…", COLUMNS));
    }
    $("#lists-title").focus(); // into view, and Esc closes from here
    await this.refresh();
  }

  close() {
    $("#lists-panel").hidden = true;
    const c = this.campaign;
    this.campaign = null;
    this.shownJson = null;
    const back = c && document.querySelector(`#campaign-rows tr[data-id="${c.id}"] button[data-action="lists"]`);
    if (back) back.focus();
  }

  /** Keeps the open panel's campaign name current (the campaign table was refreshed); refreshes the counts. */
  campaignsChanged(campaigns) {
    if (!this.open) return;
    const c = campaigns.find((x) => x.id === this.campaign.id);
    if (c) {
      this.campaign = c;
      fill($("#lists-campaign"), `活动 ${c.id} · ${c.name}`);
    }
    this.refresh();
  }

  async refresh() {
    if (!this.campaign) return;
    const seq = ++this.seq;
    const id = this.campaign.id;
    try {
      const lists = await get(`/campaigns/${id}/lists`);
      if (seq !== this.seq || !this.campaign || this.campaign.id !== id) return;
      this.lists = lists;
      this.render();
    } catch (err) {
      if (seq === this.seq) showError(err);
    }
  }

  render() {
    const json = JSON.stringify(this.lists);
    if (json === this.shownJson) return;
    this.shownJson = json;
    const rows = this.lists.map((l) => this.row(l));
    fill($("#list-rows"), rows.length ? rows : empty("该活动还没有名单：导入客户名单后出现在这里", COLUMNS));
    const paused = this.lists.filter((l) => !l.active).length;
    fill(
      $("#lists-summary"),
      this.lists.length ? `共 ${this.lists.length} 个名单${paused ? `，其中 ${paused} 个已暂停` : ""}` : "",
    );
  }

  row(l) {
    const leads = l.leads || {};
    const state = l.active ? "running" : "paused";
    const cells = COUNTS.map((status) => h("td", { class: "num", dataset: { status } }, String(leads[status] || 0)));
    const actions = [];
    if (this.can("campaign.launch")) {
      actions.push(
        h(
          "button",
          {
            class: `btn btn-small ${l.active ? "btn-warn" : "btn-ok"}`,
            type: "button",
            dataset: { action: l.active ? "pause" : "resume" },
            onclick: (e) => this.toggle(l, e.currentTarget),
          },
          l.active ? "暂停" : "恢复",
        ),
      );
    }
    return h(
      "tr",
      { dataset: { id: String(l.id), active: String(l.active) } },
      h("td", { class: "list-name" }, l.name),
      h("td", {}, h("span", { class: "badge", dataset: { state } }, l.active ? "进行中" : "已暂停")),
      h("td", { class: "num", dataset: { status: "total" } }, String(l.total)),
      cells,
      h("td", { class: "small" }, when(l.created_at), l.created_by ? h("span", { class: "muted" }, ` ${l.created_by}`) : null),
      h("td", { class: "actions-cell" }, actions),
    );
  }

  /** PATCHes the list to the other state, then shows the lists as the server has them. */
  async toggle(l, button) {
    if (button) button.disabled = true;
    const id = this.campaign.id;
    try {
      const out = await api("PATCH", `/campaigns/${id}/lists/${l.id}`, { active: !l.active });
      toast(`名单「${out.name}」${out.active ? "已恢复外呼" : "已暂停"}`, "ok");
    } catch (err) {
      showError(err);
      if (button) button.disabled = false;
    }
    this.shownJson = null; // redraw even if nothing changed (the button was disabled)
    await this.refresh();
  }
}
