// Drawing the check: the stepper, the error box, the device and gate lists, and the results table.
import { $, $$, isCandidate, isTrial, labelOf, root, t } from "./page.js";
import { formatMbit, formatNumber } from "./numbers.js";

export const STEPS = isTrial
  ? ["consent", "devices", "network", "results", "selftest"]
  : isCandidate
  ? ["consent", "devices", "network", "media", "results", "identity"]
  : ["devices", "network", "media", "results"];
export const overall = $("[data-tuk-overall]");
export const errorBox = $("[data-tuk-error]");

export function show(step) {
  root.dataset.step = step;
  $$("[data-step]").forEach((el) => { el.hidden = el.dataset.step !== step; });
  const index = STEPS.indexOf(step);
  $$("[data-step-tab]").forEach((li) => {
    const i = STEPS.indexOf(li.dataset.stepTab);
    li.classList.toggle("done", index >= 0 && i < index);
    li.classList.toggle("current", i === index);
    if (i === index) li.setAttribute("aria-current", "step");
    else li.removeAttribute("aria-current");
  });
  if (overall) overall.value = index < 0 ? 100 : Math.round((100 * index) / (STEPS.length - 1));
  const section = $('[data-step="' + step + '"]');
  if (section && section.scrollIntoView) section.scrollIntoView({ block: "nearest" });
}

export function showError(message) {
  if (!errorBox) return;
  errorBox.hidden = !message;
  errorBox.textContent = message ? t("error") + " " + message : "";
}

export function errText(err) {
  return (err && (err.message || err.code || err.name)) || String(err);
}

// One line of a list: a dot (ok, bad, info), the label, the value and an optional note.
export function item(list, cls, label, value, note) {
  const li = document.createElement("li");
  li.className = "tuk-item " + (cls || "info");
  const name = document.createElement("span");
  name.className = "tuk-item-label";
  name.textContent = label;
  const val = document.createElement("span");
  val.className = "tuk-item-value";
  val.textContent = value;
  li.append(name, val);
  if (note) {
    const n = document.createElement("small");
    n.className = "muted";
    n.textContent = note;
    li.append(" ", n);
  }
  list.append(li);
  return li;
}

export function setItem(li, cls, value) {
  li.className = "tuk-item " + cls;
  li.querySelector(".tuk-item-value").textContent = value;
}

// --- results -------------------------------------------------------------------------------------------------------
function formatValue(r) {
  const v = r.value;
  if (r.status === "unmeasurable") return t("unmeasurable");
  if (v === null || v === undefined) return t("not_measured");
  if (typeof v === "boolean") return v ? t("yes") : t("no");
  if (typeof v === "number" && r.unit === "kbps") return formatMbit(v);
  if (typeof v === "number") {
    const shown = formatNumber(v, Number.isInteger(v) ? 0 : 1);
    return r.unit ? shown + " " + r.unit : shown;
  }
  return String(v);
}

function formatThreshold(r) {
  if (r.unit === "kbps" && typeof r.min === "number") return "≥ " + formatMbit(r.min);
  if (r.unit === "kbps" && typeof r.max === "number") return "≤ " + formatMbit(r.max);
  return r.threshold || "";
}

function badge(cls, text) {
  const b = document.createElement("span");
  b.className = "badge " + cls;
  b.textContent = text;
  return b;
}

// A row of a results table; `extra(cell, r)` fills the last cell (the assessor's override form), else the hint.
export function resultRow(r, extra) {
  const tr = document.createElement("tr");
  const unmeasurable = r.status === "unmeasurable";
  tr.dataset.key = r.key;
  tr.dataset.pass = r.pass ? "1" : "0";
  tr.dataset.status = r.status || (r.pass ? "pass" : "fail");
  tr.className = r.pass ? "row-pass" : (r.mandatory && !unmeasurable ? "row-fail" : "row-warn");
  const cells = [];
  for (let i = 0; i < 6; i++) cells.push(document.createElement("td"));
  cells[0].textContent = r.label || labelOf(r.key);
  const kind = document.createElement("small");
  kind.className = "muted";
  kind.textContent = " (" + (r.mandatory ? t("mandatory") : t("advisory")) + ")";
  cells[0].append(kind);
  if (unmeasurable) {
    cells[1].append(badge("tuk-unknown", t("unmeasurable_badge")));
    if (r.pass) cells[1].append(" ", badge("tuk-pass", t("accepted")));
  } else {
    cells[1].append(badge(r.pass ? "tuk-pass" : "tuk-fail", r.pass ? t("pass") : t("fail")));
  }
  cells[2].textContent = formatValue(r);
  cells[2].className = "tuk-value";
  cells[3].textContent = formatThreshold(r);
  cells[4].textContent = r.source === "browser" ? t("by_browser") : t("by_server");
  if (extra) extra(cells[5], r);
  else cells[5].textContent = r.pass && !unmeasurable ? "" : r.hint || "";
  cells[5].className = "tuk-hint";
  tr.append(...cells);
  return tr;
}

export function drawResults(res) {
  const banner = $("[data-results-banner]");
  banner.className = "banner " + (res.passed ? "banner-ok" : "banner-fail");
  let text = res.passed ? t("passed") : t("failed");
  if (res.valid_until && res.passed) {
    text += " " + t("valid_until", { t: window.RtukFormat.dateTime(res.valid_until) });
  }
  banner.textContent = text;
  const body = $("[data-results-table] tbody");
  body.replaceChildren(...(res.results || []).map((r) => resultRow(r)));
  root.dataset.passed = res.passed ? "1" : "0";
}
