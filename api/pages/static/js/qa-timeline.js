// The replay's timeline beside the audio player: each script screen (and each customer answer, objection,
// telephony event) at its second on the call, a bar of the screens under the player, a click seeks the
// audio there, and the screen being heard lights up. The light follows the audio element's own
// `timeupdate` / `seeked` events (no timers: a background tab keeps it right).
import { fill, h } from "./api.js";
import { CAUSE_TEXT, EVENT_TEXT, SCRIPT_TEXT, offset } from "./qa-text.js";

/** Seconds into the recording of a timeline entry, or null when it is not on the recording. */
function audioAt(entry, recording) {
  if (entry.audio_at !== undefined && entry.audio_at !== null) return entry.audio_at;
  if (!recording || recording.answer_offset === null || recording.answer_offset === undefined) return null;
  const at = recording.answer_offset + entry.at;
  return at >= 0 ? Math.round(at * 1000) / 1000 : null;
}

function describe(entry) {
  if (entry.source === "telephony") {
    const cause = entry.cause ? `（${CAUSE_TEXT[entry.cause] || entry.cause}）` : "";
    return `${EVENT_TEXT[entry.kind] || entry.kind}${cause}`;
  }
  switch (entry.kind) {
    case "choose":
      return `客户回答：${entry.label || ""}`;
    case "objection":
      return `异议处理：${entry.label || entry.title || entry.state}`;
    case "outcome":
      return `通话结果：${entry.outcome_label || entry.label || ""}`;
    case "tag":
      return `客户类型：${entry.label || ""}`;
    default:
      return `${SCRIPT_TEXT[entry.kind] || entry.kind}${entry.label ? `：${entry.label}` : ""}`;
  }
}

export class Timeline {
  /**
   * @param {HTMLAudioElement} audio the player
   * @param {{list: HTMLElement, track: HTMLElement, playhead: HTMLElement}} els
   */
  constructor(audio, els) {
    this.audio = audio;
    this.els = els;
    this.steps = []; // {at, el, bar}: the screens, in recording order
    this.current = -1;
    this.duration = null;
    const follow = () => this.follow();
    audio.addEventListener("timeupdate", follow);
    audio.addEventListener("seeked", follow);
    audio.addEventListener("loadedmetadata", () => {
      if (Number.isFinite(audio.duration) && audio.duration > 0) this.duration = audio.duration;
      this.layout();
      this.follow();
    });
  }

  /** Draws a call's timeline; ``playable``: the recording can be played (else no seeking). */
  show(replay, playable) {
    const recording = replay.recording;
    const outcomeLabel = replay.outcome ? replay.outcome.label : null;
    this.steps = [];
    this.current = -1;
    this.playable = playable;
    this.duration = recording && recording.duration_seconds ? recording.duration_seconds : null;
    const items = [];
    for (const entry of replay.timeline) {
      const at = audioAt(entry, recording);
      const isStep = entry.source === "script" && (entry.kind === "enter" || entry.kind === "return");
      const seekable = playable && at !== null;
      const label = isStep
        ? [
            h("span", { class: "tl-kind" }, entry.kind === "return" ? "返回原步骤" : entry.objection ? "异议处理" : "话术步骤"),
            h("strong", { class: "tl-title" }, entry.title || entry.state),
            entry.text ? h("span", { class: "tl-text" }, entry.text) : null,
          ]
        : describe(entry.kind === "outcome" ? { ...entry, outcome_label: outcomeLabel } : entry);
      const el = h(
        "li",
        {
          class: `tl ${isStep ? "tl-step" : entry.source === "telephony" ? "tl-event" : "tl-note"}`,
          dataset: { at: at === null ? "" : String(at), kind: entry.kind, source: entry.source },
        },
        h(
          seekable ? "button" : "div",
          seekable
            ? { type: "button", class: "tl-seek", title: "从这里播放", onclick: () => this.seek(at, true) }
            : { class: "tl-seek" },
          h("span", { class: "tl-time mono" }, offset(entry.at)),
          h("span", { class: "tl-body" }, label),
        ),
      );
      if (isStep && at !== null) this.steps.push({ at, el, title: entry.title || entry.state });
      items.push(el);
    }
    fill(this.els.list, items);
    this.steps.sort((a, b) => a.at - b.at);
    this.layout();
    this.follow();
  }

  /** The bar under the player: one segment per screen, as wide as the time spent on it. */
  layout() {
    const track = this.els.track;
    const total = this.duration || (this.steps.length ? this.steps[this.steps.length - 1].at + 10 : 0);
    const bars = this.steps.map((step, i) => {
      const end = i + 1 < this.steps.length ? this.steps[i + 1].at : total;
      const bar = h(
        "button",
        {
          type: "button",
          class: "track-step",
          title: `${i + 1}. ${step.title}（${offset(step.at)}）`,
          disabled: !this.playable,
          onclick: () => this.seek(step.at, true),
        },
        String(i + 1),
      );
      if (total > 0) {
        // CSSOM, not a style attribute: allowed by the page's CSP (no inline styles)
        bar.style.left = `${(100 * step.at) / total}%`;
        bar.style.width = `${(100 * Math.max(end - step.at, 0)) / total}%`;
      }
      step.bar = bar;
      return bar;
    });
    fill(this.els.track.querySelector(".track-steps"), bars);
    track.hidden = this.steps.length === 0;
    this.total = total;
  }

  /** Plays from ``seconds`` into the recording. */
  seek(seconds, play) {
    if (!this.playable) return;
    this.audio.currentTime = seconds;
    if (play) this.audio.play().catch(() => {});
    this.follow(seconds);
  }

  /** Moves to the previous (-1) or next (+1) screen. */
  step(delta) {
    if (!this.steps.length) return;
    const i = Math.min(Math.max((this.current < 0 ? 0 : this.current) + delta, 0), this.steps.length - 1);
    this.seek(this.steps[i].at, !this.audio.paused);
  }

  /** Lights the screen being heard (the last one entered at or before the audio's position). */
  follow(at) {
    const t = at === undefined ? this.audio.currentTime : at;
    let index = -1;
    for (let i = 0; i < this.steps.length; i += 1) {
      if (this.steps[i].at <= t + 0.05) index = i;
    }
    if (this.total > 0) this.els.playhead.style.left = `${Math.min((100 * t) / this.total, 100)}%`;
    if (index === this.current) return;
    const old = this.steps[this.current];
    if (old) {
      old.el.classList.remove("current");
      old.el.removeAttribute("aria-current");
      if (old.bar) old.bar.classList.remove("current");
    }
    this.current = index;
    const now = this.steps[index];
    if (now) {
      now.el.classList.add("current");
      now.el.setAttribute("aria-current", "step");
      if (now.bar) now.bar.classList.add("current");
      if (!this.audio.paused) now.el.scrollIntoView({ block: "nearest" });
    }
  }
}
