// The check page's context (docs/TUK-CHECK.md): the #tuk element, the server's page data, the translated strings and
// small DOM helpers shared by the other modules. Texts come translated from the template (data-i18n).
export const root = document.getElementById("tuk");
export const data = root ? JSON.parse(root.dataset.tuk) : {};
const strings = root ? JSON.parse(root.dataset.i18n || "{}") : {};
export const urls = data.urls || {};
export const api = "/api/v1/sessions/" + encodeURIComponent(data.session || "");
export const isCandidate = data.role === "candidate";
// The trial (uji coba, remote_tuk/trial): the same steps on the trial's own record; no media test, no gate.
export const isTrial = Boolean(data.trial);

export const $ = (sel) => root.querySelector(sel);
export const $$ = (sel) => Array.from(root.querySelectorAll(sel));
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A translated string, with {name} placeholders filled in.
export function t(key, vars) {
  let s = strings[key] || key;
  if (vars) for (const [k, v] of Object.entries(vars)) s = s.split("{" + k + "}").join(String(v));
  return s;
}

// Whether the template has a string for this key (e.g. a state label).
export const hasString = (key) => Object.prototype.hasOwnProperty.call(strings, key);

export const requirements = {};
for (const r of (data.profile && data.profile.requirements) || []) requirements[r.key] = r;

export function labelOf(key) {
  return (requirements[key] && requirements[key].label) || key;
}
