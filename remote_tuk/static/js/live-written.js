// The candidate's written test on the live page (FR.IA.05/06, docs/LIVE-PROTOCOL.md "Written test and oral questions").
// The assessor opens it; the page learns of it through the `written` event of /live (status and counts only) and
// reads the questions from the API, which never sends a key. Every answer is saved as it is given (a choice at once,
// an essay 800 ms after the last keystroke, and on leaving the field); a reload shows the answers as last saved.
// The time left is the server's, on the session media clock: it stops while the session is paused.
(function () {
  "use strict";
  const L = window.Live;
  const box = document.querySelector("[data-written]");
  if (!L || !box) return;
  const strings = JSON.parse(box.dataset.i18nWritten || "{}");
  const t = (k, vars) => {
    let s = strings[k] || k;
    if (vars) for (const [n, v] of Object.entries(vars)) s = s.split("{" + n + "}").join(String(v));
    return s;
  };
  const q = (sel) => box.querySelector(sel);
  const list = q("[data-written-questions]");
  const timerEl = q("[data-written-timer]");
  const progress = q("[data-written-progress]");
  const status = q("[data-written-status]");
  const submit = q("[data-written-submit]");
  const confirm = q("[data-written-confirm]");
  let test = null;
  let clock = { remaining: 0, running: false, at: performance.now() };
  let loading = null;
  const pending = new Map(); // uid -> timer of a pending essay save
  const saving = new Map(); // uid -> promise of the save in flight (saves of one question go one after another)

  function remaining() {
    return Math.max(0, clock.remaining - (clock.running ? (performance.now() - clock.at) / 1000 : 0));
  }

  function drawTimer() {
    if (!test) return;
    const s = Math.ceil(remaining());
    timerEl.textContent = String(Math.floor(s / 60)).padStart(2, "0") + ":" + String(s % 60).padStart(2, "0");
    timerEl.classList.toggle("stopped", !clock.running);
    timerEl.title = clock.running ? "" : t("time_stopped");
    box.dataset.remaining = String(s);
    if (test.status === "open" && clock.running && s <= 0) {
      clock.running = false;
      load(); // the server closes the test at its deadline; the page follows
    }
  }
  setInterval(drawTimer, 500);

  function answeredCount() {
    return test ? test.questions.filter((x) => x.answer).length : 0;
  }

  function drawProgress() {
    progress.textContent = t("answered", { n: answeredCount(), total: test.total });
    box.dataset.answered = String(answeredCount());
  }

  function setSaveState(li, state, message) {
    li.dataset.save = state;
    const out = li.querySelector("[data-save-state]");
    out.textContent = state === "saving" ? t("saving") : state === "saved" ? t("saved")
      : state === "error" ? t("save_failed") + " " + (message || "") : "";
    out.classList.toggle("error", state === "error");
  }

  async function save(li, question, body) {
    const prev = saving.get(question.uid) || Promise.resolve();
    const run = prev.catch(() => {}).then(async () => {
      setSaveState(li, "saving");
      try {
        const res = await L.postJson(box.dataset.url + "/answers", Object.assign({ uid: question.uid }, body));
        question.answer = Object.assign({ version: res.version }, body);
        li.dataset.version = String(res.version);
        clock = { remaining: Number(res.remaining_s) || 0, running: clock.running, at: performance.now() };
        setSaveState(li, "saved");
        drawProgress();
      } catch (err) {
        setSaveState(li, "error", err.message || err.code);
        if (err.code === "test_closed") load();
      }
    });
    saving.set(question.uid, run);
    return run;
  }

  function questionItem(question) {
    const li = document.createElement("li");
    li.className = "written-question";
    li.dataset.uid = question.uid;
    li.dataset.kind = question.kind;
    if (question.answer) li.dataset.version = String(question.answer.version);
    const prompt = document.createElement("p");
    prompt.className = "written-prompt";
    prompt.textContent = question.prompt;
    li.append(prompt);
    const closed = test.status !== "open";
    if (question.kind === "multiple_choice") {
      const opts = document.createElement("div");
      opts.className = "written-options";
      question.options.forEach((text, i) => {
        const label = document.createElement("label");
        label.className = "check";
        const input = document.createElement("input");
        input.type = "radio";
        input.name = "q-" + question.uid;
        input.value = String(i);
        input.dataset.choice = String(i);
        input.checked = !!question.answer && question.answer.choice === i;
        input.disabled = closed;
        input.addEventListener("change", () => save(li, question, { choice: i }));
        label.append(input, " " + "ABCDEF"[i] + ". " + text);
        opts.append(label);
      });
      li.append(opts);
    } else {
      const area = document.createElement("textarea");
      area.rows = 5;
      area.maxLength = 10000;
      area.value = question.answer ? question.answer.text : "";
      area.disabled = closed;
      area.setAttribute("aria-label", t("question") + " " + question.number);
      const flush = () => {
        clearTimeout(pending.get(question.uid));
        pending.delete(question.uid);
        const text = area.value;
        if (question.answer && question.answer.text === text) return;
        if (!question.answer && !text) return;
        save(li, question, { text });
      };
      area.addEventListener("input", () => {
        clearTimeout(pending.get(question.uid));
        pending.set(question.uid, setTimeout(flush, 800));
      });
      area.addEventListener("blur", flush);
      const hint = document.createElement("p");
      hint.className = "muted small";
      hint.textContent = t("essay_hint");
      li.append(area, hint);
    }
    const state = document.createElement("span");
    state.className = "small muted";
    state.dataset.saveState = "";
    li.append(state);
    return li;
  }

  function draw() {
    box.hidden = !test;
    if (!test) return;
    box.dataset.status = test.status;
    clock = { remaining: Number(test.remaining_s) || 0, running: !!test.running, at: performance.now() };
    // keep what the candidate is typing: redraw only when the set of questions or the status changed
    const key = test.status + ":" + test.questions.map((x) => x.uid).join(",");
    if (list.dataset.key !== key) {
      list.dataset.key = key;
      list.replaceChildren(...test.questions.map(questionItem));
    }
    const closed = test.status !== "open";
    submit.hidden = closed;
    confirm.hidden = true;
    status.hidden = !closed;
    if (closed) status.textContent = test.closed_reason === "time_up" ? t("time_up") : t("closed");
    drawProgress();
    drawTimer();
  }

  async function load() {
    if (loading) return loading;
    loading = (async () => {
      try {
        const body = await L.getJson(box.dataset.url);
        const had = !!test;
        test = body.test;
        draw();
        if (test && !had && test.status === "open") box.scrollIntoView({ block: "start" });
      } catch (err) {
        /* tried again on the next event */
      } finally {
        loading = null;
      }
    })();
    return loading;
  }

  submit.addEventListener("click", () => { submit.hidden = true; confirm.hidden = false; });
  q("[data-written-confirm-no]").addEventListener("click", () => { submit.hidden = false; confirm.hidden = true; });
  q("[data-written-confirm-yes]").addEventListener("click", async () => {
    confirm.hidden = true;
    // what is still being typed is saved first
    box.querySelectorAll("textarea").forEach((a) => a.dispatchEvent(new Event("blur")));
    await Promise.all([...saving.values()].map((p) => p.catch(() => {})));
    try {
      await L.postJson(box.dataset.url + "/submit", {});
    } catch (err) {
      L.notice("error", err.message || err.code);
    }
    load();
  });

  L.socket.on("written", (ev) => {
    if (ev.session && ev.session !== L.data.session) return;
    if (ev.type === "opened") L.notice("info", t("opened"));
    if (ev.type !== "progress") load();
  });
  L.onJoined(load);
  L.onState(load);
  window.liveWritten = { get test() { return test; }, load };
})();
