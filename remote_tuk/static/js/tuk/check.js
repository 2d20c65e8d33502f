// The whole check, step by step (devices, network, media, results) as one run started by a click, and a candidate's
// return to a still valid result. Each step reports to the server as it goes (docs/TUK-CHECK.md).
import { $, $$, data, isCandidate, isTrial, root, sleep, t, urls } from "./page.js";
import { getJson, postJson } from "./http.js";
import { currentStream, deviceChecks, ensureAudioContext, requestFullscreen } from "./devices.js";
import { measureDownload, measureUpload } from "./network.js";
import { mediaTest } from "./media.js";
import { drawResults, errText, item, show, showError } from "./ui.js";
import { drawState, startPolling } from "./status.js";

let running = false;
let checkId = null;

export const currentCheckId = () => checkId;

async function runCheck(fullscreenPromise) {
  if (running) return;
  running = true;
  root.dataset.check = "running";
  delete root.dataset.media;
  delete root.dataset.passed;
  const buttons = $$("[data-action=start], [data-action=recheck], [data-action=to-identity]");
  buttons.forEach((b) => { b.disabled = true; });
  showError("");
  const began = performance.now();
  const list = $("[data-devices-list]");
  try {
    show("devices");
    item(list, "info", t("starting"), "");
    checkId = (await postJson(urls.start, {})).check_id;
    root.dataset.checkId = String(checkId);
    if (isCandidate && !isTrial && ["scheduled", "ready"].includes(data.state)) drawState("checking");
    const values = await deviceChecks(list, fullscreenPromise);
    await postJson(urls.browser, { check_id: checkId, values });

    show("network");
    try {
      await measureUpload(checkId);
    } catch (err) {
      $("[data-upload-note]").textContent = (err.code === "measurement_inconsistent" ? t("upload_inconsistent") + " " : "") +
        errText(err);
    }
    try { await measureDownload(checkId); } catch (err) { $("[data-download-note]").textContent = errText(err); }

    if (isTrial) {
      // a trial never joins the session's live room: its camera and microphone are tried by the self-test recording
      root.dataset.media = "skipped";
    } else {
      show("media");
      try {
        await mediaTest(checkId, currentStream());
      } catch (err) {
        const note = $("[data-media-note]");
        if (!isCandidate && err.code === "invalid_state") note.textContent = t("assessor_media_later");
        else note.textContent = t("media_failed") + " " + errText(err);
        root.dataset.media = "failed";
        await sleep(1500);
      }
    }

    if (root.dataset.media === "measured") $("[data-media-note]").textContent = t("finishing");
    const res = await postJson(urls.finish, { check_id: checkId });
    drawResults(res);
    root.dataset.elapsedMs = String(Math.round(performance.now() - began));
    show("results");
    root.dataset.check = "done";
    if (isTrial && !$("[data-trial-media-note]")) {
      const note = document.createElement("p");
      note.className = "small muted";
      note.dataset.trialMediaNote = "";
      note.textContent = t("trial_media_skipped");
      $("[data-results-banner]").after(note);
    } else if (!isTrial) startPolling();
  } catch (err) {
    root.dataset.check = "error";
    showError(errText(err));
  } finally {
    running = false;
    buttons.forEach((b) => { b.disabled = false; });
  }
}

export function setupCheck() {
  for (const sel of ["[data-action=start]", "[data-action=recheck]"]) {
    const btn = $(sel);
    if (!btn) continue;
    btn.addEventListener("click", () => {
      const fs = requestFullscreen(); // synchronously in the click: fullscreen needs the user's gesture
      ensureAudioContext();
      runCheck(fs);
    });
  }
}

// A candidate who comes back (reload, another day) with a check still valid goes on from its results.
export async function resumeFromStatus() {
  let st;
  try { st = await getJson(urls.status); } catch (e) { return; }
  const missing = (st.gate && st.gate.missing) || [];
  if (!st.check || running || missing.some((m) => m === "tuk_check_expired" || m === "tuk_check")) return;
  drawResults({ passed: st.check.passed, valid_until: st.check.valid_until, results: st.check.results });
  root.dataset.check = "done";
  show("results");
  startPolling();
}
