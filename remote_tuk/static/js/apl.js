// The candidate's FR.APL.01 / FR.APL.02 page (docs/ARCHITECTURE.md, "FR.APL before the session"): the draft is saved
// as JSON (on change, after a short pause, and before every upload or submission), portfolio files are uploaded with a
// progress bar (the server sniffs their type and stores them as evidence), the submission is sent with the declaration.
// Texts come translated from the template (data-i18n); the page reloads after an upload so the lists come from the
// server. Progress is mirrored in #apl's data attributes (data-saved, data-submitted) for tests and assistive tools.
(function () {
  "use strict";

  const root = document.getElementById("apl");
  if (!root) return;
  const urls = JSON.parse(root.dataset.urls);
  const strings = JSON.parse(root.dataset.i18n || "{}");
  const maxBytes = Number(root.dataset.maxMb || 10) * 1024 * 1024;
  const editable = root.dataset.editable === "1";
  const $ = (sel) => root.querySelector(sel);
  const $$ = (sel) => Array.from(root.querySelectorAll(sel));
  const message = $("[data-apl-message]");
  const errorList = $("[data-apl-errors]");

  function t(key, vars) {
    let s = strings[key] || key;
    if (vars) for (const [k, v] of Object.entries(vars)) s = s.split("{" + k + "}").join(String(v));
    return s;
  }

  function say(text) { message.textContent = text; }

  function csrf() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.message) || String(status));
      this.status = status;
      this.details = body && body.details;
    }
  }

  async function post(url, body) {
    let res;
    try {
      res = await fetch(url, {
        method: "POST", credentials: "same-origin", cache: "no-store",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf() },
        body: JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError(0, { message: t("offline") });
    }
    let payload = null;
    try { payload = await res.json(); } catch (e) { payload = null; }
    if (!res.ok) throw new ApiError(res.status, payload);
    return payload;
  }

  // --- errors shown beside their fields ----------------------------------------------------------------------------
  function clearErrors() {
    $$("[data-error]").forEach((el) => { el.hidden = true; el.textContent = ""; });
    $$(".has-error").forEach((el) => el.classList.remove("has-error"));
    errorList.hidden = true;
    errorList.textContent = "";
  }

  function showErrors(details) {
    clearErrors();
    if (!details || typeof details !== "object") return;
    for (const [field, text] of Object.entries(details)) {
      const holder = root.querySelector('[data-field="' + field + '"]');
      const slot = holder && holder.querySelector("[data-error]");
      if (slot) {
        slot.textContent = text;
        slot.hidden = false;
        holder.classList.add("has-error");
      }
      const li = document.createElement("li");
      li.textContent = (holder && holder.querySelector("span") ? holder.querySelector("span").textContent : field)
        + ": " + text;
      errorList.appendChild(li);
    }
    errorList.hidden = !errorList.children.length;
  }

  // --- the draft -----------------------------------------------------------------------------------------------------
  function collect() {
    const apl01 = {};
    $$("[data-apl01] [name]").forEach((el) => {
      if (el.type === "radio") { if (el.checked) apl01[el.name] = el.value; return; }
      apl01[el.name] = el.value;
    });
    if (!("purpose" in apl01)) apl01.purpose = "";
    const employed = $('input[name="employed"]');
    apl01.employed = !!(employed && employed.checked);
    const apl02 = $$("tr[data-element-id]").map((row) => {
      const id = row.dataset.elementId;
      const verdict = row.querySelector('input[name="verdict-' + id + '"]:checked');
      return {
        element_id: Number(id),
        verdict: verdict ? verdict.value : null,
        evidence: row.querySelector('textarea[name="evidence-' + id + '"]').value,
        portfolio: Array.from(row.querySelectorAll('input[name="portfolio-' + id + '"]:checked')).map((c) => Number(c.value)),
      };
    });
    return { apl01, apl02 };
  }

  function syncEmployment() {
    const employed = $('input[name="employed"]');
    const box = $("[data-employment]");
    if (employed && box) box.hidden = !employed.checked;
    const other = root.querySelector('[data-field="apl01.purpose_other"]');
    const chosen = $('input[name="purpose"]:checked');
    if (other) other.hidden = !(chosen && chosen.value === "lainnya");
  }

  let pending = null;
  async function save() {
    if (!editable) return null;
    clearTimeout(pending);
    say(t("saving"));
    try {
      const res = await post(urls.draft, collect());
      root.dataset.saved = res.saved_at;
      say(t("saved", { t: window.RtukFormat.time(res.saved_at) }));
      clearErrors();
      return res;
    } catch (err) {
      say(t("save_failed") + " " + err.message);
      showErrors(err.details);
      throw err;
    }
  }

  function saveSoon() {
    clearTimeout(pending);
    pending = setTimeout(() => { save().catch(() => {}); }, 1500);
  }

  // --- portfolio -----------------------------------------------------------------------------------------------------
  function upload() {
    const input = $("[data-upload-file]");
    const title = $("[data-upload-title]");
    const bar = $("[data-upload-progress]");
    const file = input.files && input.files[0];
    if (!file || !title.value.trim()) { say(t("choose_file")); return; }
    if (file.size > maxBytes) { say(t("too_big", { mb: root.dataset.maxMb })); return; }
    save().catch(() => null).then(() => {
      const form = new FormData();
      form.append("file", file);
      form.append("title", title.value.trim());
      const xhr = new XMLHttpRequest();
      xhr.open("POST", urls.upload);
      xhr.setRequestHeader("X-CSRFToken", csrf());
      xhr.setRequestHeader("Accept", "application/json");
      bar.hidden = false;
      bar.value = 0;
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) {
          bar.value = Math.round((100 * e.loaded) / e.total);
          say(t("uploading", { p: bar.value + "%" }));
        }
      };
      xhr.onerror = () => { bar.hidden = true; say(t("upload_failed") + " " + t("offline")); };
      xhr.onload = () => {
        let body = null;
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
        if (xhr.status === 201) {
          say(t("upload_done"));
          window.location.reload();
        } else {
          bar.hidden = true;
          say(t("upload_failed") + " " + ((body && body.message) || xhr.status));
        }
      };
      xhr.send(form);
    });
  }

  async function remove(id) {
    if (!window.confirm(t("remove_confirm"))) return;
    try {
      await save();
      await post(urls.upload + "/" + encodeURIComponent(id) + "/hapus", {});
      window.location.reload();
    } catch (err) {
      say(t("save_failed") + " " + err.message);
    }
  }

  // --- submission ----------------------------------------------------------------------------------------------------
  async function submit() {
    const declared = $("[data-declaration]");
    if (!declared.checked) {
      showErrors({ declaration: t("declaration") });
      say(t("declaration"));
      return;
    }
    try {
      await save();
      say(t("submitting"));
      const res = await post(urls.submit, { declaration: true });
      root.dataset.submitted = String(res.version);
      say(t("submitted", { v: res.version }));
      window.location.reload();
    } catch (err) {
      say(t("submit_failed") + " " + err.message);
      showErrors(err.details);
    }
  }

  syncEmployment();
  if (!editable) return;
  root.addEventListener("change", (e) => {
    syncEmployment();
    if (!e.target.closest("[data-upload]") && !e.target.matches("[data-declaration]")) saveSoon();
  });
  root.addEventListener("input", (e) => {
    if (e.target.matches("textarea, input[type=text], input:not([type])") && !e.target.closest("[data-upload]")) {
      saveSoon();
    }
  });
  root.addEventListener("click", (e) => {
    const action = e.target.closest("[data-action]");
    if (action) {
      if (action.dataset.action === "save") save().catch(() => {});
      if (action.dataset.action === "upload") upload();
      if (action.dataset.action === "submit") submit();
    }
    const rm = e.target.closest("[data-remove]");
    if (rm) remove(rm.dataset.remove);
  });
})();
