// The assessor's proctoring console (issue 14): the findings of the session, newest first, appearing live over the
// /live socket ("finding", "finding_label", "quiet"), with the analysis status from the stats poll. Each alert carries
// data-finding-kind and data-finding-media-s; each label control carries data-finding-label (a stable test contract).
// A witness sees the same list without the label controls and the quiet-phase switch.
(function () {
  "use strict";
  const L = window.Live;
  const panel = document.querySelector("[data-proctor]");
  if (!L || !panel) return;
  const { data } = L;
  const S = JSON.parse(panel.dataset.proctorI18n || "{}");
  const tr = (key, fallback) => S[key] || fallback || key;
  const list = panel.querySelector("[data-proctor-alerts]");
  const empty = panel.querySelector("[data-proctor-empty]");
  const status = panel.querySelector("[data-proctor-status]");
  const announce = panel.querySelector("[data-proctor-announce]");
  const quiet = panel.querySelector("[data-proctor-quiet]");
  const byId = new Map();
  window.liveProctoring = { painted: [] }; // when each new finding was painted (bench/bench_proctoring_live.py)

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  function fill(li, f) {
    li.textContent = "";
    li.className = "proctor-alert severity-" + f.severity + (f.label ? " labelled" : "");
    li.dataset.findingKind = f.kind;
    li.dataset.findingMediaS = String(f.media_s);
    li.dataset.findingId = String(f.id);
    li.dataset.findingSource = f.source;
    const head = el("div", "proctor-alert-head");
    const time = el("button", "proctor-time link", L.fmt(f.media_s));
    time.type = "button";
    time.addEventListener("click", () => pointTo(li, f));
    head.append(time, " ", el("strong", null, tr("kind_" + f.kind, f.kind)), " ",
      el("span", "badge severity", tr("severity_" + f.severity, f.severity)), " ",
      el("span", "badge source source-" + f.source, tr("source_" + f.source, f.source)));
    li.append(head);
    const detail = el("p", "small muted");
    const parts = [];
    if (f.message) parts.push(f.message);
    if (f.value !== null && f.value !== undefined && f.source === "server") parts.push(tr("value") + " " + Number(f.value).toFixed(2));
    parts.push(f.end_s === null || f.end_s === undefined ? tr("ongoing") : tr("until") + " " + L.fmt(f.end_s));
    detail.textContent = parts.join(" · ");
    li.append(detail);
    if (f.snapshot) {
      const img = el("img", "proctor-snapshot");
      img.src = f.snapshot;
      img.alt = tr("kind_" + f.kind, f.kind) + " " + L.fmt(f.media_s);
      img.loading = "lazy";
      li.append(img);
    }
    if (f.label) li.append(el("p", "small proctor-label", tr("labelled_" + f.label) + (f.note ? ": " + f.note : "")));
    if (data.can_control) {
      const row = el("div", "row proctor-label-controls");
      const note = el("input", "proctor-note");
      note.maxLength = 2000;
      note.placeholder = tr("note");
      note.setAttribute("aria-label", tr("note"));
      note.value = f.note || "";
      for (const label of ["dismissed", "noted", "confirmed"]) {
        const b = el("button", "small" + (label === "confirmed" ? " danger" : ""), tr("label_" + label));
        b.type = "button";
        b.dataset.findingLabel = label;
        b.setAttribute("aria-pressed", f.label === label ? "true" : "false");
        b.addEventListener("click", () => sendLabel(f.id, label, note.value, b));
        row.append(b);
      }
      row.append(note);
      li.append(row);
    }
  }

  function pointTo(li, f) {
    // the live video cannot be rewound: the alert is opened and its session time is shown against the clock
    for (const other of list.querySelectorAll(".pointed")) other.classList.remove("pointed");
    li.classList.add("pointed");
    L.notice("info", tr("kind_" + f.kind, f.kind) + " — " + L.fmt(f.media_s) + " / " + L.fmt(L.elapsed()));
  }

  async function sendLabel(id, label, note, button) {
    button.disabled = true;
    try {
      const ack = await L.emit("finding_label", { finding: id, label, note: note.slice(0, 2000) });
      show(ack.finding);
    } catch (err) {
      L.notice("error", (err && err.message) || String(err));
    } finally {
      button.disabled = false;
    }
  }

  function show(f, fresh) {
    if (!f || typeof f.id !== "number") return;
    const known = byId.get(f.id);
    const merged = Object.assign({}, known || {}, f);
    byId.set(f.id, merged);
    let li = list.querySelector('[data-finding-id="' + f.id + '"]');
    if (!li) {
      li = el("li");
      // newest first (by session time, then id)
      const after = Array.from(list.children).find((c) => Number(c.dataset.findingMediaS) < merged.media_s ||
        (Number(c.dataset.findingMediaS) === merged.media_s && Number(c.dataset.findingId) < merged.id));
      list.insertBefore(li, after || null);
      if (fresh) {
        // when it was painted (epoch ms on this machine's clock), after the next frame
        requestAnimationFrame(() => window.liveProctoring.painted.push({
          id: f.id, kind: f.kind, source: f.source, painted_ms: performance.timeOrigin + performance.now(),
          sample_utc_ms: f.sample_utc_ms, client_ms: f.client_ms, server_ms: f.server_ms }));
        if (merged.severity === "alert") announce.textContent = tr("new_alert") + " " + tr("kind_" + f.kind, f.kind);
      }
    }
    fill(li, merged);
    empty.hidden = byId.size > 0;
  }

  function drawStatus(a) {
    if (!status) return;
    const behind = a && a.running && a.behind;
    status.textContent = !a || !a.running ? tr("analysis_off") : behind ? tr("analysis_behind") : tr("analysis_ok");
    status.classList.toggle("proctor-behind", !!behind);
    panel.dataset.analysis = !a || !a.running ? "off" : behind ? "behind" : "ok";
  }

  L.onJoined((ack) => {
    const p = ack.proctoring;
    if (!p) return;
    for (const f of (p.findings || []).slice().reverse()) show(f, false);
    drawStatus(p.analysis);
  });
  L.socket.on("finding", (f) => show(f, true));
  L.socket.on("finding_label", (f) => show(f, false));
  const meter = panel.querySelector("[data-proctor-level]");
  const meterText = panel.querySelector("[data-proctor-level-text]");
  L.socket.on("level", (l) => {
    if (!meter || !l || typeof l.dbfs !== "number") return;
    meter.value = Math.max(-60, Math.min(0, l.dbfs));
    meterText.textContent = l.dbfs <= -99 ? "–" : Math.round(l.dbfs) + " dBFS";
  });
  L.socket.on("quiet", (q) => {
    if (quiet) quiet.checked = !!q.on;
    L.notice("info", q.on ? tr("quiet_on") : tr("quiet_off"));
  });
  if (quiet) {
    quiet.addEventListener("change", async () => {
      const want = quiet.checked;
      try {
        await L.emit("quiet", { on: want });
      } catch (err) {
        quiet.checked = !want;
        L.notice("error", (err && err.message) || String(err));
      }
    });
  }
  // the analysis status comes with the connection stats the page already polls; poll it here too, lightly
  setInterval(async () => {
    if (!L.socket.connected || !["live", "paused"].includes(L.state)) return drawStatus(null);
    try {
      const ack = await L.emit("stats", {}, 5000);
      drawStatus(ack.analysis);
    } catch (err) { /* the connection panel reports it */ }
  }, 3000);
})();
