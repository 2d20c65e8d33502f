// The guided remote TUK check (docs/TUK-CHECK.md): consent, browser and devices, network by real transfers, a media
// test over WebRTC with the server, results with thresholds and hints, then the KTP photo and the room scan, and the
// gate status. The assessor gets their own connection check, the candidate's results and the confirmations.
// An ES module (no build step); its parts are in static/js/tuk/. The page's progress is mirrored in #tuk's data
// attributes, which the end-to-end tests read.
import { $, $$, data, isCandidate, isTrial, root, t } from "./tuk/page.js";
import { errorBox, overall, show, showError } from "./tuk/ui.js";
import { currentCheckId, resumeFromStatus, setupCheck } from "./tuk/check.js";
import { setupConsent } from "./tuk/consent.js";
import { currentStream } from "./tuk/devices.js";
import { measureDownload, measureUpload } from "./tuk/network.js";
import { latestStatus, pollNow, startPolling } from "./tuk/status.js";
import { setupIdentity } from "./tuk/identity.js";
import { setupAssessor } from "./tuk/assessor.js";
import { setupTrial } from "./tuk/trial.js";

function boot() {
  setupCheck();
  if (isTrial) setupTrial();
  else if (isCandidate) setupIdentity();
  else setupAssessor();
  // Once the session is live (or over) the check is not run again: its media test would replace the live connection.
  const PAST_CHECK = ["live", "paused", "ended", "decided", "cancelled"];
  if (PAST_CHECK.includes(data.state)) {
    root.dataset.step = "closed";
    $$("[data-step], [data-step-tab]").forEach((el) => { el.hidden = true; });
    if (overall) overall.hidden = true;
    const info = document.createElement("p");
    info.className = "flash flash-info";
    info.textContent = t("session_started");
    errorBox.after(info);
    startPolling();
  } else if (isCandidate) {
    setupConsent(() => show("devices"));
    if (data.consent && data.consent.given) {
      root.dataset.consent = "given";
      show("devices");
      resumeFromStatus();
    } else {
      show("consent");
    }
  } else {
    show("devices");
    startPolling();
  }
  if (!window.isSecureContext || !navigator.mediaDevices) showError(t("insecure"));

  window.tukCheck = {
    data, measureUpload, measureDownload, pollNow,
    get checkId() { return currentCheckId(); }, get status() { return latestStatus(); },
    get stream() { return currentStream(); },
  };
}

if (root) boot();
