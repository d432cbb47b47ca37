// The capture fields of a script step (an appointment time, the child's grade …), checked as they are
// typed against the field's type from the script: text (max_length), int (min/max), choice, datetime.
// The server checks again (flows.runtime); its answer is shown beside the field the same way.
import { fill, h } from "./api.js";

const pad = (n) => String(n).padStart(2, "0");

/** "2026-11-28T19:30" (the datetime-local format, which the server's fromisoformat reads) in local time. */
export function localValue(date) {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function at(daysAhead, hour, minute = 0) {
  const d = new Date();
  d.setDate(d.getDate() + daysAhead);
  d.setHours(hour, minute, 0, 0);
  return d;
}

/** Quick picks for an appointment or a callback time. */
function quickTimes() {
  const inAnHour = new Date(Date.now() + 3600 * 1000);
  inAnHour.setMinutes(inAnHour.getMinutes() < 30 ? 30 : 60, 0, 0);
  const picks = [["1小时后", inAnHour]];
  const tonight = at(0, 19);
  if (tonight > new Date()) picks.push(["今晚 19:00", tonight]);
  picks.push(["明天 10:00", at(1, 10)], ["明天 19:00", at(1, 19)], ["周末 10:00", at((6 - new Date().getDay() + 7) % 7 || 7, 10)]);
  return picks;
}

function control(field, step) {
  const attrs = { name: field.name, id: `cap-${field.name}`, "aria-describedby": `err-${field.name}` };
  const already = step.captured && step.captured[field.name];
  if (already) attrs.placeholder = `已记录：${already}`;
  if (field.type === "choice") {
    return h(
      "select",
      attrs,
      h("option", { value: "" }, already ? `已记录：${already}` : "请选择"),
      field.choices.map((c) => h("option", { value: c }, c)),
    );
  }
  if (field.type === "datetime") {
    return h("input", { ...attrs, type: "datetime-local", step: 60, min: localValue(new Date()) });
  }
  if (field.type === "int") {
    return h("input", { ...attrs, type: "text", inputmode: "numeric", autocomplete: "off" });
  }
  return h("input", { ...attrs, type: "text", maxlength: field.max_length || null, autocomplete: "off" });
}

/** The step's fields, or nothing (the form is hidden). */
export function renderCapture(form, step) {
  const fields = step.capture || [];
  form.hidden = fields.length === 0;
  fill(
    form,
    fields.map((field) => {
      const input = control(field, step);
      const picks =
        field.type === "datetime"
          ? h(
              "span",
              { class: "quick" },
              quickTimes().map(([label, date]) =>
                h(
                  "button",
                  {
                    type: "button",
                    class: "btn btn-small",
                    tabindex: -1,
                    onclick: () => {
                      input.value = localValue(date);
                      checkField(input, step);
                    },
                  },
                  label,
                ),
              ),
            )
          : null;
      return h(
        "div",
        { class: "field", dataset: { name: field.name, type: field.type } },
        h("label", { for: input.id }, field.label, field.required ? h("span", { class: "req" }, " *") : null),
        input,
        picks,
        h("p", { class: "field-error", id: `err-${field.name}`, hidden: true }),
      );
    }),
  );
}

/** What is wrong with one value of a field ("" when it is right); empty values are checked elsewhere. */
export function problemOf(field, raw) {
  const value = raw.trim();
  if (!value) return "";
  if (field.type === "int") {
    if (!/^-?\d+$/.test(value)) return "请输入整数";
    const n = Number(value);
    if (field.min !== null && field.min !== undefined && n < field.min) return `不能小于 ${field.min}`;
    if (field.max !== null && field.max !== undefined && n > field.max) return `不能大于 ${field.max}`;
  } else if (field.type === "datetime") {
    const when = new Date(value);
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(value) || Number.isNaN(when.getTime())) return "请输入日期和时间";
    if (when.getTime() < Date.now() - 60 * 1000) return "时间不能早于现在";
  } else if (field.type === "choice") {
    if (!field.choices.includes(value)) return "请从列表中选择";
  } else if (field.max_length && value.length > field.max_length) {
    return `最多 ${field.max_length} 个字`;
  }
  return "";
}

function mark(form, name, problem) {
  const box = form.querySelector(`.field[data-name="${name}"]`);
  if (!box) return;
  const err = box.querySelector(".field-error");
  box.classList.toggle("invalid", Boolean(problem));
  err.hidden = !problem;
  fill(err, problem || "");
}

/** Checks one input as it is typed. */
export function checkField(input, step) {
  const field = (step.capture || []).find((f) => f.name === input.name);
  if (!field) return;
  mark(input.form, field.name, problemOf(field, input.value));
}

/** The values to send with an option, and the problems that stop it ({name: message}). */
export function collectValues(form, step, option) {
  const values = {};
  const errors = {};
  const sets = new Set(option.sets || []);
  for (const field of step.capture || []) {
    const input = form.elements.namedItem(field.name);
    const raw = input ? input.value : "";
    const problem = problemOf(field, raw);
    if (problem) errors[field.name] = problem;
    else if (raw.trim()) values[field.name] = raw.trim();
    else if (
      field.required &&
      !option.skip_capture &&
      !sets.has(field.name) &&
      !(step.captured && field.name in step.captured)
    ) {
      errors[field.name] = "必填";
    }
    mark(form, field.name, errors[field.name]);
  }
  if (option.skip_capture) {
    // the customer declined: nothing typed is needed, and what is half-typed is not sent
    for (const name of Object.keys(errors)) mark(form, name, "");
    return { values: {}, errors: {} };
  }
  return { values, errors };
}

/** Shows problems the server found ({name: message}). */
export function showFieldErrors(form, errors) {
  for (const [name, problem] of Object.entries(errors)) mark(form, name, problem);
  const first = Object.keys(errors)[0];
  if (first && form.elements.namedItem(first)) form.elements.namedItem(first).focus();
}
