// Step 1 (candidate, before anything is recorded): the consent texts, accepted or declined as a whole.
import { $, $$, data, root, t, urls } from "./page.js";
import { postJson } from "./http.js";
import { errText, overall, show, showError } from "./ui.js";

export function setupConsent(onGiven) {
  const accept = $("[data-action=consent-accept]");
  const decline = $("[data-action=consent-decline]");
  const checks = $$("[data-consent-check]");
  const texts = (data.consent && data.consent.texts) || [];
  const sync = () => { accept.disabled = !checks.every((c) => c.checked); };
  checks.forEach((c) => c.addEventListener("change", sync));
  sync();
  accept.addEventListener("click", async () => {
    accept.disabled = decline.disabled = true;
    showError("");
    try {
      for (const text of texts) await postJson(urls.consent, { kind: text.kind, version: text.version, accept: true });
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
