// The gate status both pages poll (GET urls.status every 3 s): the state badge, what the gate still waits for, and
// the way to the live page once it is open. Other modules subscribe to each new status (the assessor's review).
import { $, data, hasString, labelOf, root, t, urls } from "./page.js";
import { getJson } from "./http.js";
import { item } from "./ui.js";

const gateBox = $("[data-gate]");
const listeners = [];
let pollTimer = null;
let lastStatus = null;

export const latestStatus = () => lastStatus;
export const onStatus = (fn) => listeners.push(fn);

export function startPolling() {
  if (gateBox) gateBox.hidden = false;
  if (!pollTimer) pollNow();
}

export async function pollNow() {
  clearTimeout(pollTimer);
  try {
    const st = await getJson(urls.status);
    lastStatus = st;
    drawStatus(st);
  } catch (err) {
    console.warn("tuk: status", err);
  }
  pollTimer = setTimeout(pollNow, 3000);
}

function missingText(code) {
  if (code.startsWith("tuk_requirements:")) {
    const keys = code.slice("tuk_requirements:".length).split(",").filter(Boolean);
    return t("missing_tuk_requirements") + " " + keys.map(labelOf).join(", ");
  }
  return hasString("missing_" + code) ? t("missing_" + code) : code;
}

export function drawState(state, label) {
  const stateEl = $("[data-tuk-state]");
  data.state = state;
  root.dataset.state = state;
  if (!stateEl) return;
  stateEl.className = "badge state-" + state;
  stateEl.textContent = label || (hasString("state_" + state) ? t("state_" + state) : state);
}

function drawStatus(st) {
  if (st.state) drawState(st.state, st.state_label);
  const gate = st.gate || { open: false, missing: [] };
  root.dataset.gate = gate.open ? "open" : "closed";
  const list = $("[data-gate-list]");
  if (list) {
    list.replaceChildren();
    const ident = st.identity || {};
    const missing = gate.missing || [];
    const has = (code) => missing.some((m) => m === code || m.startsWith(code + ":"));
    item(list, has("consent") ? "bad" : "ok", t("missing_consent"), has("consent") ? t("not_yet") : t("yes"));
    item(list, has("assessor_signature") ? "bad" : "ok", t("missing_assessor_signature"),
      has("assessor_signature") ? t("not_yet") : t("yes"));
    const checkOk = !has("tuk_check") && !has("tuk_requirements") && !has("tuk_check_expired");
    item(list, checkOk ? "ok" : "bad", t("missing_tuk_check"),
      checkOk ? t("pass") : missing.filter((m) => m.startsWith("tuk_")).map(missingText).join("; "));
    item(list, ident.ktp ? "ok" : "bad", t("ktp"), ident.ktp ? t("sent") : t("not_yet"));
    item(list, ident.id_confirmed ? "ok" : "bad", t("missing_id_confirmation"),
      ident.id_confirmed ? t("confirmed") : t("not_yet"));
    item(list, ident.room ? "ok" : "bad", t("room"), ident.room ? t("sent") : t("not_yet"));
    item(list, ident.room_confirmed ? "ok" : "bad", t("missing_room_confirmation"),
      ident.room_confirmed ? t("confirmed") : t("not_yet"));
  }
  const note = $("[data-gate-note]");
  if (note) {
    note.className = gate.open ? "gate-open" : "gate-waiting";
    note.textContent = gate.open ? t("gate_open") : t("gate_waiting");
  }
  const live = $("[data-live-link]");
  if (live) live.hidden = !(gate.open || ["live", "paused"].includes(st.state));
  for (const fn of listeners) fn(st);
}
