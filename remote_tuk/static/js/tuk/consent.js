// Step 1 (candidate, before anything is recorded): the consent texts, accepted or declined as a whole.
import { $, $$, data, root, t, urls } from "./page.js";
import { postJson } from "./http.js";
import { errText, overall, show, showError } from "./ui.js";

export function setupConsent(onGiven) {
  const accept = $("[data-action=consent-accept]");
  const decline = $("[data-action=consent-decline]");
  const checks = $$("[data-consent-check]");
  const texts = (data.consent && data.consent.texts) || [];
  // FR.AK.01 names the TUK: the candidate declares where they take the assessment (remote_tuk/consent).
  const location = $("[data-consent-location]");
  const place = () => (location ? location.value.trim() : "");
  const sync = () => { accept.disabled = !checks.every((c) => c.checked) || (location && place().length < 3); };
  checks.forEach((c) => c.addEventListener("change", sync));
  if (location) location.addEventListener("input", sync);
  sync();
  accept.addEventListener("click", async () => {
    accept.disabled = decline.disabled = true;
    showError("");
    try {
      for (const text of texts) {
        const answer = { kind: text.kind, version: text.version, accept: true };
        if (text.kind === "fr_ak_01") answer.location = place();
        await postJson(urls.consent, answer);
      }
      data.consent.given = true;
      root.dataset.consent = "given";
      onGiven();
    } catch (err) {
      showError(errText(err));
      sync();
    } finally {
      decline.disabled = false;
    }
  });
  decline.addEventListener("click", async () => {
    accept.disabled = decline.disabled = true;
    showError("");
    try {
      for (const text of texts) await postJson(urls.consent, { kind: text.kind, version: text.version, accept: false });
    } catch (err) {
      console.warn("tuk: decline not recorded", err);
    }
    root.dataset.consent = "declined";
    show("declined");
    if (overall) overall.hidden = true;
  });
}
