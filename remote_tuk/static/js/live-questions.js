// The assessor's (and a witness's) written test and oral question panels on the live page (FR.IA.05/06/07).
// Written: choose questions and a duration, open the test for the candidate, follow the answers live (the `written`
// event of /live says when to read again), close it, score each essay K/BK. Oral: pick a bank question (its expected
// answer shown) or write one for a KUK, summarise the answer, judge K/BK: the server stamps the session media clock.
(function () {
  "use strict";
  const L = window.Live;
  const root = document.querySelector("[data-questioning]");
  if (!L || !root) return;
  const strings = JSON.parse(root.dataset.i18nWritten || "{}");
  const t = (k, vars) => {
    let s = strings[k] || k;
    if (vars) for (const [n, v] of Object.entries(vars)) s = s.split("{" + n + "}").join(String(v));
    return s;
  };
  const q = (sel) => root.querySelector(sel);
  const canControl = !!L.data.can_control;
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  };

  // --- written test --------------------------------------------------------------------------------------------
  const openForm = q("[data-written-open]");
  const run = q("[data-written-run]");
  const none = q("[data-written-none]");
  const timerEl = q("[data-written-timer]");
  let test = null;
  let clock = { remaining: 0, running: false, at: performance.now() };
  let loading = null;

  function drawTimer() {
    if (!test) return;
    const left = Math.max(0, clock.remaining - (clock.running ? (performance.now() - clock.at) / 1000 : 0));
    const s = Math.ceil(left);
    timerEl.textContent = String(Math.floor(s / 60)).padStart(2, "0") + ":" + String(s % 60).padStart(2, "0");
    timerEl.classList.toggle("stopped", !clock.running);
    if (test.status === "open" && clock.running && s <= 0) { clock.running = false; loadWritten(); }
  }
  setInterval(drawTimer, 500);

  function drawChoices(choosable) {
    const ul = q("[data-written-choices]");
    if (!ul) return;
    ul.replaceChildren(...choosable.map((c) => {
      const li = el("li");
      const label = el("label", "check");
      const box = el("input");
      box.type = "checkbox";
      box.value = c.uid;
      box.checked = true;
      label.append(box, ` ${c.uid.split("@")[0]} · ${c.unit} KUK ${c.kuk} · ${c.prompt}`);
      li.append(label);
      return li;
    }));
    if (!choosable.length) ul.append(el("li", "muted", t("no_questions")));
  }

  function reviewItem(item) {
    const li = el("li", "written-review-item");
    li.dataset.uid = item.uid;
    li.dataset.kind = item.type;
    const head = el("p", null, `${item.code} · ${item.unit} KUK ${item.kuk} · ${item.prompt}`);
    li.append(head);
    const a = item.answer;
    if (item.type === "multiple_choice") {
      const res = el("p");
      res.dataset.correct = item.correct_answer ? "1" : "0";
      const mark = el("b", item.correct_answer ? "ev-k" : "ev-bk",
        a ? (item.correct_answer ? t("right") : t("wrong")) : t("unanswered"));
      res.append(mark, ` · ${t("chosen")}: ${a && a.option ? a.option : "–"} · ${t("key")}: ${item.correct || "–"}`);
      li.append(res);
    } else {
      li.append(el("p", "essay-answer", `${t("chosen")}: ${a && a.text ? a.text : t("unanswered")}`));
      const details = el("details");
      details.append(el("summary", null, t("expected")), el("p", null, item.expected_answer || ""));
      li.append(details);
      const score = el("p", "essay-score");
      score.dataset.scored = item.score ? item.score.verdict : "";
      score.append(item.score ? el("b", "ev-" + item.score.verdict.toLowerCase(), item.score.verdict)
        : el("span", "muted", t("not_scored")));
      if (canControl && test.status === "closed") {
        for (const v of ["K", "BK"]) {
          const b = el("button", "verdict verdict-" + v.toLowerCase(), v);
          b.type = "button";
          b.dataset.essayVerdict = v;
          b.addEventListener("click", () => scoreEssay(item.uid, v, li));
          score.append(" ", b);
        }
        const note = el("input", "essay-note");
        note.maxLength = 2000;
        note.placeholder = t("note_placeholder");
        score.append(" ", note);
      } else if (test.status !== "closed") {
        score.append(" ", el("span", "muted", t("essay_after_close")));
      }
      li.append(score);
    }
    return li;
  }

  function drawWritten(body) {
    test = body.test;
    root.dataset.written = test ? test.status : "none";
    if (openForm) openForm.hidden = !!test || !["live", "paused"].includes(L.state);
    none.hidden = !!test || (openForm && !openForm.hidden);
    run.hidden = !test;
    if (!test) {
      drawChoices(body.choosable || []);
      return;
    }
    clock = { remaining: Number(test.remaining_s) || 0, running: !!test.running, at: performance.now() };
    const badge = q("[data-written-badge]");
    badge.textContent = test.status === "open" ? "●" : t("reason_" + test.closed_reason);
    badge.className = "badge written-" + test.status;
    q("[data-written-progress]").textContent = t("progress", { n: test.answered, total: test.total });
    run.dataset.answered = String(test.answered);
    const sc = test.score;
    q("[data-written-score]").textContent = t("score_mc", { n: sc.mc_correct, total: sc.mc_total }) +
      (sc.essays_total ? " · " + t("score_essays", { n: sc.essays_scored, total: sc.essays_total }) : "");
    run.dataset.mcCorrect = String(sc.mc_correct);
    const close = q("[data-written-close]");
    if (close) close.hidden = test.status !== "open";
    q("[data-written-review]").replaceChildren(...test.questions.map(reviewItem));
    drawTimer();
  }

  async function loadWritten() {
    if (loading) return loading;
    loading = L.getJson(root.dataset.writtenUrl).then(drawWritten).catch(() => {}).finally(() => { loading = null; });
    return loading;
  }

  async function scoreEssay(uid, verdict, li) {
    const note = li.querySelector(".essay-note");
    try {
      await L.postJson(root.dataset.writtenUrl + "/essay-scores", { uid, verdict, note: note ? note.value.trim() : "" });
      await loadWritten();
      if (window.liveEvidence) window.liveEvidence.reload();
    } catch (err) {
      L.notice("error", err.message || err.code);
    }
  }

  if (openForm) {
    const all = q("[data-written-all]");
    all.addEventListener("click", () => {
      const boxes = [...openForm.querySelectorAll("[data-written-choices] input")];
      const on = !boxes.every((b) => b.checked);
      boxes.forEach((b) => { b.checked = on; });
    });
    openForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const state = q("[data-written-open-state]");
      const minutes = Number(openForm.querySelector("[name=minutes]").value);
      const questions = [...openForm.querySelectorAll("[data-written-choices] input:checked")].map((b) => b.value);
      state.textContent = t("saving");
      try {
        drawWritten(await L.postJson(root.dataset.writtenUrl, { duration_s: Math.round(minutes * 60), questions }));
        state.textContent = "";
      } catch (err) {
        state.textContent = t("open_failed") + " " + (err.message || err.code);
      }
    });
    q("[data-written-close]").addEventListener("click", async () => {
      try {
        drawWritten(await L.postJson(root.dataset.writtenUrl + "/close", {}));
      } catch (err) {
        L.notice("error", err.message || err.code);
      }
    });
  }

  // --- oral questions --------------------------------------------------------------------------------------------
  const oralForm = q("[data-oral-form]");
  const oralList = q("[data-oral-list]");
  let bank = [];

  function drawOral(body) {
    bank = body.bank || [];
    const select = q("[data-oral-bank]");
    if (select && select.options.length === 1) {
      bank.forEach((b) => {
        const o = el("option", null, `${b.code} · ${b.unit} KUK ${b.kuk} · ${b.prompt.slice(0, 90)}`);
        o.value = b.uid;
        select.append(o);
      });
    }
    oralList.replaceChildren(...(body.questions || []).map((x) => {
      const li = el("li", "oral-item");
      li.dataset.number = String(x.number);
      li.dataset.version = String(x.version);
      li.dataset.mediaS = String(x.media_s);
      li.append(el("b", "ev-" + x.verdict.toLowerCase(), x.verdict), ` #${x.number} ${x.prompt}`);
      li.append(el("span", "muted", " · " + t("oral_recorded", { t: L.fmt(x.media_s) })));
      if (x.answer_summary) li.append(el("p", "small", x.answer_summary));
      return li;
    }));
  }

  async function loadOral() {
    try { drawOral(await L.getJson(root.dataset.oralUrl)); } catch (err) { /* again on the next change */ }
  }

  if (oralForm) {
    const select = q("[data-oral-bank]");
    const own = q("[data-oral-own]");
    const expected = q("[data-oral-expected]");
    select.addEventListener("change", () => {
      const b = bank.find((x) => x.uid === select.value);
      own.hidden = !!b;
      expected.hidden = !b;
      expected.textContent = b ? t("expected") + ": " + b.expected_answer : "";
    });
    oralForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      // only the K or BK button judges (Enter in a field does not)
      const verdict = ev.submitter && ev.submitter.dataset.oralVerdict;
      if (!verdict) return;
      const state = q("[data-oral-state]");
      const f = new FormData(oralForm);
      const body = { verdict, answer_summary: String(f.get("answer_summary") || "").trim(),
        note: String(f.get("note") || "").trim(), client_media_s: Math.round(L.elapsed() * 1000) / 1000 };
      if (select.value) body.uid = select.value;
      else {
        body.prompt = String(f.get("prompt") || "").trim();
        body.kuk_id = Number(f.get("kuk_id"));
        if (!body.prompt) { state.textContent = t("oral_pick"); return; }
      }
      state.textContent = t("saving");
      try {
        await L.postJson(root.dataset.oralUrl, body);
        state.textContent = t("saved");
        oralForm.reset();
        select.dispatchEvent(new Event("change"));
        await loadOral();
        if (window.liveEvidence) window.liveEvidence.reload();
      } catch (err) {
        state.textContent = t("save_failed") + " " + (err.message || err.code);
      }
    });
  }

  L.socket.on("written", (ev) => {
    if (ev.session && ev.session !== L.data.session) return;
    loadWritten();
  });
  L.onJoined(() => { loadWritten(); loadOral(); });
  L.onState(() => { loadWritten(); });
  if (!canControl) setInterval(() => { loadWritten(); loadOral(); }, 10000);
  window.liveQuestions = { get test() { return test; }, loadWritten, loadOral };
})();
