// 实时看板: one campaign's dialer polled every 1.5 s (GET /campaigns/{id}/live and /campaigns/{id} for the
// list progress), the abandon rate against its limit (red when over), and the script funnel
// (GET /campaigns/{id}/funnel: every answered call of the campaign).
import { $, clock, fill, get, h, showError } from "./api.js";
import {
  AGENT_STATE,
  CALL_STATE,
  CAMPAIGN_STATE,
  LEAD_STATUS,
  bars,
  empty,
  pct,
  stack,
  zh,
} from "./desk-common.js";

const LIVE_EVERY = 1500; // ms
const FUNNEL_EVERY = 10000; // ms

export class Wallboard {
  constructor(desk) {
    this.desk = desk;
    this.campaignId = null;
    this.timer = null;
    this.funnelTimer = null;
    this.shown = false;
    this.round = 0;
    $("#wb-campaign").addEventListener("change", (e) => this.select(Number(e.target.value) || null));
    // a tab hidden for minutes gets its timers slowed to one a minute: catch up at once when it is back
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && this.shown) this.start();
    });
  }

  /** The campaign list changed: keep the picker in step. */
  campaigns(list) {
    const select = $("#wb-campaign");
    const current = this.campaignId;
    fill(
      select,
      h("option", { value: "" }, "—— 选择活动 ——"),
      list.map((c) => h("option", { value: String(c.id) }, `${c.id} · ${c.name}（${zh(CAMPAIGN_STATE, c.state)}）`)),
    );
    if (current === null) {
      const running = list.find((c) => c.state === "running");
      if (running) this.campaignId = running.id;
    }
    select.value = this.campaignId === null ? "" : String(this.campaignId);
    if (current === null && this.campaignId !== null && this.shown) this.start();
  }

  select(id) {
    this.campaignId = id;
    $("#wb-campaign").value = id === null ? "" : String(id);
    if (this.shown) this.start();
  }

  show() {
    this.shown = true;
    this.start();
  }

  hide() {
    this.shown = false;
    this.stop();
  }

  stop() {
    this.round += 1;
    clearTimeout(this.timer);
    clearTimeout(this.funnelTimer);
  }

  start() {
    this.stop();
    const has = this.campaignId !== null;
    $("#wb-empty").hidden = has;
    $("#wb-body").hidden = !has;
    if (!has) return;
    const round = this.round;
    const poll = async () => {
      await this.poll(round);
      if (round === this.round) this.timer = setTimeout(poll, LIVE_EVERY);
    };
    const funnel = async () => {
      await this.funnel(round);
      if (round === this.round) this.funnelTimer = setTimeout(funnel, FUNNEL_EVERY);
    };
    poll();
    funnel();
  }

  async poll(round) {
    const id = this.campaignId;
    let live, campaign;
    try {
      [live, campaign] = await Promise.all([get(`/campaigns/${id}/live`), get(`/campaigns/${id}`)]);
    } catch (err) {
      if (round === this.round) showError(err);
      return;
    }
    if (round !== this.round) return;
    this.render(live, campaign);
  }

  render(live, campaign) {
    const state = $("#wb-state");
    state.dataset.state = campaign.state;
    fill(state, zh(CAMPAIGN_STATE, campaign.state) + (live.running ? " · 拨号中" : ""));
    fill($("#wb-updated"), `更新于 ${new Date().toLocaleTimeString("zh-CN", { hour12: false })}`);
    const inflight = Object.values(live.calls_in_progress).reduce((a, b) => a + b, 0);
    const stats = campaign.stats;
    // the dialer's counters while it runs; the stored totals otherwise
    const placed = live.running ? live.placed : stats.attempts;
    const answered = live.running ? live.answered : stats.answered;
    const abandoned = live.running ? live.abandoned : stats.abandoned;
    const rate = live.running ? live.abandon_rate : stats.abandon_rate;
    const limit = campaign.max_abandon_rate;
    fill($("#wb-talking"), String(live.talking));
    fill($("#wb-inflight"), String(inflight));
    $("#wb-inflight").title = Object.entries(live.calls_in_progress)
      .map(([k, v]) => `${zh(CALL_STATE, k)} ${v}`)
      .join("，");
    fill($("#wb-placed"), String(placed));
    fill($("#wb-answered"), String(answered));
    fill($("#wb-abandoned"), String(abandoned));
    const over = rate > limit || live.hour_abandon_rate > limit;
    $("#wb-abandon-tile").dataset.over = String(over);
    $("#wb-abandon-alert").hidden = !over;
    fill($("#wb-abandon-rate"), pct(rate, 2));
    fill($("#wb-abandon-max"), pct(limit, 1));
    fill($("#wb-hour-rate"), pct(live.hour_abandon_rate, 2));
    // the scale runs to twice the limit, so the limit's mark sits in the middle
    const scale = Math.max(limit * 2, rate, 0.0001);
    $("#wb-abandon-fill").style.width = `${Math.min(100, (rate / scale) * 100)}%`;
    $("#wb-abandon-mark").style.left = `${(limit / scale) * 100}%`;

    fill(
      $("#wb-agents"),
      live.agents.length
        ? live.agents.map((a) =>
            h(
              "tr",
              { dataset: { workId: a.work_id, state: a.state } },
              h("td", {}, a.work_id, a.bot ? h("span", { class: "tag-small" }, "机器人") : null),
              h("td", {}, h("span", { class: "badge", dataset: { state: a.state } }, zh(AGENT_STATE, a.state))),
              h("td", { class: "mono" }, clock(a.seconds_in_state)),
            ),
          )
        : empty(live.running ? "暂无坐席在线" : "活动未在拨号", 3),
    );

    const leadParts = Object.keys(LEAD_STATUS).map((k) => [LEAD_STATUS[k], stats.leads[k] || 0, `lead-${k}`]);
    for (const [k, v] of Object.entries(stats.leads)) {
      if (!(k in LEAD_STATUS)) leadParts.push([k, v, "lead-other"]);
    }
    const total = stack($("#wb-leads"), $("#wb-leads-legend"), leadParts);
    const left = stats.leads.dialable || 0;
    fill($("#wb-leads-total"), total ? `已处理 ${total - left} / ${total}（${pct((total - left) / total, 0)}）` : "名单为空");

    const outcomes = Object.entries({ ...stats.outcomes });
    for (const [k, v] of Object.entries(live.outcomes || {})) {
      if (!outcomes.some(([key]) => key === k)) outcomes.push([k, v]);
    }
    outcomes.sort((a, b) => b[1] - a[1]);
    const labels = this.desk.outcomeLabels(campaign.flow);
    fill(
      $("#wb-outcomes"),
      outcomes.length ? bars(outcomes.map(([k, v]) => [labels[k] || k, v])) : empty("暂无结果"),
    );
  }

  async funnel(round) {
    const campaign = this.desk.campaign(this.campaignId);
    if (!campaign) return;
    try {
      const [flow, counted] = await Promise.all([
        this.desk.flow(campaign.flow),
        get(`/campaigns/${campaign.id}/funnel`),
      ]);
      if (round !== this.round) return;
      const titles = new Map(flow.states.map((s) => [s.key, s.title]));
      const rows = counted.states
        .filter((s) => s.reached)
        .map((s) => [titles.get(s.state) || s.title || s.state, s.reached, `${s.reached}（${pct(s.share, 0)}）`]);
      fill($("#wb-funnel-note"), `${flow.title} · 统计全部 ${counted.calls} 通接通电话`);
      fill($("#wb-funnel"), rows.length ? bars(rows, counted.calls) : empty("暂无接通的通话"));
    } catch (err) {
      if (round === this.round) showError(err);
    }
  }
}
