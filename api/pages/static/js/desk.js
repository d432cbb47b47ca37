// 组长工作台: four tabs (campaigns, live wallboard, reports, site operations), shown by the work ID's permissions
// (the server passed them in the page's config; the API checks every call again). Alt+1…4 switch tabs, the
// arrow keys move along the tab bar; everything is fetched from the JSON API (see docs/api.md).
import { $, get, logout, showError } from "./api.js";
import { Campaigns } from "./desk-campaigns.js";
import { ROLE, zh } from "./desk-common.js";
import { Reports } from "./desk-reports.js";
import { Site } from "./desk-site.js";
import { Wallboard } from "./desk-wallboard.js";

const config = JSON.parse($("#waihu-config").textContent);
const granted = new Set(config.permissions || []);

/** Which permission shows which tab. */
const TABS = {
  campaigns: (can) => can("campaign.view"),
  wallboard: (can) => can("campaign.view"),
  reports: (can) => can("attendance.view") || can("qa.view"),
  site: (can) => can("asset.view"),
};

class Desk {
  constructor() {
    this.config = config;
    this.can = (permission) => granted.has(permission);
    this.month = config.today.slice(0, 7);
    this.list = [];
    this.flowCache = new Map();
    this.flowList = null;
    this.current = null;
    this.views = {};
    this.tabs = Object.keys(TABS).filter((t) => TABS[t](this.can));
    for (const name of Object.keys(TABS)) $(`#tab-${name}`).hidden = !this.tabs.includes(name);
  }

  start() {
    $("#work-id").textContent = config.work_id;
    $("#role").textContent = zh(ROLE, config.role);
    $("#btn-logout").addEventListener("click", () => logout());
    if (this.can("campaign.view")) {
      this.views.campaigns = new Campaigns(this);
      this.views.wallboard = new Wallboard(this);
    }
    if (TABS.reports(this.can)) this.views.reports = new Reports(this);
    if (TABS.site(this.can)) this.views.site = new Site(this);
    for (const name of this.tabs) {
      const tab = $(`#tab-${name}`);
      tab.addEventListener("click", () => this.open(name));
      tab.addEventListener("keydown", (e) => this.tabKey(e, name));
    }
    document.addEventListener("keydown", (e) => this.key(e));
    const wanted = location.hash.slice(1);
    // QA comes for the reports; everyone else starts at the campaigns
    const first = config.role === "qa" && this.tabs.includes("reports") ? "reports" : this.tabs[0];
    this.open(this.tabs.includes(wanted) ? wanted : first);
    if (this.can("campaign.view") && this.current !== "campaigns") this.views.campaigns.refresh();
  }

  open(name, focus = false) {
    if (!this.tabs.includes(name)) return;
    if (this.current && this.current !== name) this.views[this.current].hide();
    for (const t of Object.keys(TABS)) {
      const tab = $(`#tab-${t}`);
      const on = t === name;
      tab.setAttribute("aria-selected", String(on));
      tab.tabIndex = on ? 0 : -1;
      $(`#panel-${t}`).hidden = !on;
    }
    if (focus) $(`#tab-${name}`).focus();
    if (this.current !== name) {
      this.current = name;
      history.replaceState(null, "", `#${name}`);
      this.views[name].show();
    }
  }

  tabKey(event, name) {
    const i = this.tabs.indexOf(name);
    let next = null;
    if (event.key === "ArrowRight") next = this.tabs[(i + 1) % this.tabs.length];
    else if (event.key === "ArrowLeft") next = this.tabs[(i - 1 + this.tabs.length) % this.tabs.length];
    else if (event.key === "Home") next = this.tabs[0];
    else if (event.key === "End") next = this.tabs[this.tabs.length - 1];
    if (next) {
      event.preventDefault();
      this.open(next, true);
    }
  }

  key(event) {
    if (event.altKey && /^[1-4]$/.test(event.key)) {
      const name = Object.keys(TABS)[Number(event.key) - 1];
      if (this.tabs.includes(name)) {
        event.preventDefault();
        this.open(name, true);
      }
      return;
    }
    const typing = event.target.closest && event.target.closest("input, select, textarea, [contenteditable]");
    if (typing || event.altKey || event.ctrlKey || event.metaKey) return;
    const view = this.views[this.current];
    if (view && view.key) view.key(event);
  }

  // -- what the views share ------------------------------------------------------------------------------

  campaignsChanged(list) {
    this.list = list;
    if (this.views.wallboard) this.views.wallboard.campaigns(list);
  }

  campaign(id) {
    return this.list.find((c) => c.id === id) || null;
  }

  /** Open the wallboard on a campaign. */
  watch(id) {
    this.views.wallboard.select(id);
    this.open("wallboard", true);
  }

  /** The scripts a campaign can use (GET /flows, valid ones). */
  async flows() {
    if (this.flowList === null) {
      try {
        this.flowList = (await get("/flows")).filter((f) => f.ok && f.ref && f.kind === "script");
      } catch (err) {
        showError(err);
        return [];
      }
    }
    return this.flowList;
  }

  flowTitle(ref) {
    const found = (this.flowList || []).find((f) => f.ref === ref);
    return found ? `${found.title}（v${found.version}）` : ref;
  }

  /** A compiled script version (states in file order, outcome labels), cached. */
  async flow(ref) {
    if (!this.flowCache.has(ref)) this.flowCache.set(ref, get(`/flows/${encodeURIComponent(ref)}`));
    try {
      return await this.flowCache.get(ref);
    } catch (err) {
      this.flowCache.delete(ref);
      throw err;
    }
  }

  /** Outcome code → label of a script, once loaded ({} until then). */
  outcomeLabels(ref) {
    const known = this.flowLabels || (this.flowLabels = new Map());
    if (!known.has(ref)) {
      known.set(ref, {});
      this.flow(ref).then(
        (f) => known.set(ref, f.outcomes || {}),
        () => known.delete(ref),
      );
    }
    return known.get(ref);
  }
}

const desk = new Desk();
desk.start();
if (desk.can("flow.view")) desk.flows().then(() => desk.views.campaigns && desk.views.campaigns.render());
