// The assessor's (and a witness's) live page: the candidate's video and audio, the assessor's microphone back,
// the connection-quality graph from the server's stats, pause / resume / end, the FR.IA.01 KUK panel and, after the
// end, the decision per unit. A witness gets the same view without microphone, controls, marks or chat input.
(function () {
  "use strict";
  const L = window.Live;
  if (!L) return;
  const { data, t, $, root } = L;
  const ACTIVE = ["checking", "ready", "live", "paused"];

  const video = $("#candidate-video");
  const videoNote = $("[data-live-video-note]");
  let mic = null;
  let conn = null;
  let remote = null;

  function showVideoNote(text) {
    if (!videoNote) return;
    videoNote.textContent = text || "";
    videoNote.hidden = !text;
  }

  // --- media -------------------------------------------------------------------------------------------------------
  async function setupPc(pc) {
    pc.addTransceiver("video", { direction: "recvonly" });
    if (data.can_talk && mic) {
      for (const track of mic.getAudioTracks()) pc.addTrack(track, mic);
    } else {
      pc.addTransceiver("audio", { direction: "recvonly" });
    }
    remote = new MediaStream();
    video.srcObject = remote;
    pc.addEventListener("track", (ev) => {
      remote.addTrack(ev.track);
      L.play(video);
    });
  }

  video.addEventListener("resize", () => { if (video.videoWidth) showVideoNote(""); });
  video.addEventListener("playing", () => { if (video.videoWidth) showVideoNote(""); });

  let ready = false; // media starts once the microphone question was answered
  function ensureMedia() {
    if (!ready || !ACTIVE.includes(L.state)) return;
    if (!conn) {
      conn = L.keepConnected(setupPc);
      conn.start();
      return;
    }
    const pc = conn.pc;
    if (!pc || pc.connectionState === "failed" || pc.connectionState === "closed") conn.reconnect();
  }

  L.socket.on("peer", (ev) => {
    if (ev.session && ev.session !== data.session) return;
    const d = ev.data || {};
    const role = ev.role || d.role;
    if (ev.clock) L.setClock(ev.clock);
    if (ev.type === "media.stalled") {
      showVideoNote(t("media_stalled"));
      L.notice("warn", t("media_stalled"));
    } else if (ev.type === "media.resumed" || (ev.type === "media.started" && d.downtime_s != null)) {
      showVideoNote("");
      L.notice("info", t("media_resumed", { s: Math.round(Number(d.downtime_s) || 0) }));
    } else if (ev.type === "peer.joined" && role === "candidate") {
      L.notice("info", t("peer_candidate_joined"));
    } else if (ev.type === "peer.left" && role === "candidate") {
      L.notice("warn", t("peer_candidate_left"));
    }
  });

  // --- quality graph ---------------------------------------------------------------------------------------------
  const canvas = $("[data-live-graph]");
  const series = { bitrate: [], loss: [], rtt: [] };
  const COLORS = { bitrate: "#0f766e", loss: "#b91c1c", rtt: "#1d4ed8" };
  const POINTS = 90; // 3 minutes at one point per 2 s
  let lastCounters = null;
  let lastStats = null;

  function push(name, value) {
    series[name].push(value);
    if (series[name].length > POINTS) series[name].shift();
  }

  function setText(sel, text) {
    const el = $(sel);
    if (el) el.textContent = text;
  }

  function takeStats(stats) {
    lastStats = stats;
    const cand = (stats && stats.candidate) || {};
    const v = cand.video || {};
    const viewer = (stats && stats.viewers && Object.values(stats.viewers).find((x) => x.role === data.role)) || {};
    const bitrate = v.bitrate_bps != null ? v.bitrate_bps : viewer.video && viewer.video.bitrate_bps;
    let loss = null;
    if (v.packets_received != null && v.packets_lost != null) {
      if (lastCounters) {
        const got = v.packets_received - lastCounters.received, lost = v.packets_lost - lastCounters.lost;
        loss = got + lost > 0 ? Math.max(0, (100 * lost) / (got + lost)) : 0;
      }
      lastCounters = { received: v.packets_received, lost: v.packets_lost };
    }
    let rtt = cand.rtt_s != null ? cand.rtt_s : viewer.video && viewer.video.rtt_s;
    rtt = rtt != null ? rtt * 1000 : null;
    push("bitrate", bitrate != null ? bitrate : null);
    push("loss", loss);
    push("rtt", rtt);
    const num = (x, digits) => window.RtukFormat.number(x, digits); // the page language's separators (0,5 %)
    setText("[data-live-q-bitrate]", bitrate != null ? num(bitrate / 1000, 0) + " kbit/s" : "–");
    setText("[data-live-q-loss]", loss != null ? num(loss, 1) + " %" : "–");
    setText("[data-live-q-rtt]", rtt != null ? num(rtt, 0) + " ms" : "–");
    setText("[data-live-q-fps]", v.fps != null ? num(Number(v.fps), 0) : "–");
    drawGraph();
  }

  function drawGraph() {
    if (!canvas) return;
    const ratio = window.devicePixelRatio || 1;
    const w = canvas.clientWidth || canvas.width, h = canvas.clientHeight || canvas.height;
    if (canvas.width !== Math.round(w * ratio)) { canvas.width = Math.round(w * ratio); canvas.height = Math.round(h * ratio); }
    const g = canvas.getContext("2d");
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, w, h);
    g.strokeStyle = "#e5e7eb";
    g.lineWidth = 1;
    for (let i = 1; i < 4; i++) {
      const y = Math.round((h * i) / 4) + 0.5;
      g.beginPath(); g.moveTo(0, y); g.lineTo(w, y); g.stroke();
    }
    const floors = { bitrate: 100000, loss: 2, rtt: 50 }; // each line scales to its own maximum, at least this
    for (const name of Object.keys(series)) {
      const vals = series[name];
      const max = 1.15 * Math.max(floors[name], ...vals.filter((x) => x != null));
      g.strokeStyle = COLORS[name];
      g.lineWidth = 2;
      g.beginPath();
      let pen = false;
      vals.forEach((val, i) => {
        if (val == null) { pen = false; return; }
        const x = w - (vals.length - 1 - i) * (w / (POINTS - 1));
        const y = h - 3 - (val / max) * (h - 6);
        if (pen) g.lineTo(x, y); else g.moveTo(x, y);
        pen = true;
      });
      g.stroke();
    }
    if (!series.bitrate.some((x) => x != null)) {
      g.fillStyle = "#6b7280";
      g.font = "13px sans-serif";
      g.fillText(t("no_stats"), 8, h / 2);
    }
  }

  async function pollStats() {
    if (["live", "paused"].includes(L.state)) {
      try {
        const ack = await L.emit("stats", {}, 5000);
        if (ack.clock) L.setClock(ack.clock);
        takeStats(ack.stats);
      } catch (err) {
        push("bitrate", null); push("loss", null); push("rtt", null);
        drawGraph();
      }
    }
    setTimeout(pollStats, 2000);
  }

  // --- controls ----------------------------------------------------------------------------------------------------
  const controls = $("[data-live-controls]");
  const confirmEnd = $("[data-live-confirm-end]");
  const controlProgress = $("[data-live-control-progress]");

  function drawControls() {
    if (!controls) return;
    const s = L.state;
    const show = { start: s === "ready", pause: s === "live", resume: s === "paused", end: s === "live" || s === "paused" };
    controls.querySelectorAll("[data-action]").forEach((b) => {
      if (b.dataset.action in show) b.hidden = !show[b.dataset.action];
    });
    if (!show.end) confirmEnd.hidden = true;
  }

  async function control(action) {
    controls.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    controlProgress.hidden = false;
    try {
      if (action === "start") {
        const body = await L.postJson("/api/v1/sessions/" + encodeURIComponent(data.session) + "/transition",
          { to: "live" });
        L.setState(body.state, body.state_label);
      } else {
        const ack = await L.emit("control", { action }, 20000);
        if (ack.clock) L.setClock(ack.clock);
        if (ack.state) L.setState(ack.state, ack.label || ack.state_label);
      }
    } catch (err) {
      L.notice("error", t("failed") + " " + (err.message || err.code));
    } finally {
      controls.querySelectorAll("button").forEach((b) => { b.disabled = false; });
      controlProgress.hidden = true;
      drawControls();
    }
  }

  if (controls) {
    controls.addEventListener("click", (ev) => {
      const b = ev.target.closest("[data-action]");
      if (!b) return;
      const action = b.dataset.action;
      if (action === "end") { confirmEnd.hidden = false; return; }
      if (action === "end-cancel") { confirmEnd.hidden = true; return; }
      confirmEnd.hidden = true;
      control(action === "end-confirm" ? "end" : action);
    });
  }

  // --- the next step, for the assessor (a session still in its TUK check: declare it ready, then start) -----------
  const next = $("[data-live-next]");
  let gateTimer = null;

  function gateItem(code) {
    const [key, detail] = String(code).split(":");
    const li = document.createElement("li");
    li.dataset.gate = key;
    li.textContent = (t("gate_" + key) !== "gate_" + key ? t("gate_" + key) : key) + (detail ? " " + detail : "");
    return li;
  }

  async function drawNext() {
    if (!next) return;
    clearTimeout(gateTimer);
    const s = L.state;
    const text = $("[data-live-next-text]");
    const missing = $("[data-live-next-missing]");
    const ready = next.querySelector("[data-action=ready]");
    const check = $("[data-live-next-check]");
    next.hidden = !["scheduled", "checking", "ready"].includes(s);
    if (next.hidden) return;
    ready.hidden = true;
    missing.hidden = true;
    check.hidden = s === "ready";
    if (s === "ready") {
      text.textContent = t("next_ready");
    } else if (s === "scheduled") {
      text.textContent = t("next_scheduled");
    } else {
      let gate = null;
      try { gate = (await L.getJson(data.urls.gate)).gate; } catch (err) { gate = null; }
      if (L.state !== "checking") return drawNext();
      const open = !!(gate && gate.open);
      text.textContent = open ? t("next_checking_open") : t("next_checking_closed");
      ready.hidden = !open;
      missing.replaceChildren(...((gate && gate.missing) || []).map(gateItem));
      missing.hidden = open || !missing.children.length;
      next.dataset.gate = open ? "open" : "closed";
      gateTimer = setTimeout(drawNext, 5000); // the candidate may finish meanwhile
    }
  }

  if (next) {
    next.querySelector("[data-action=ready]").addEventListener("click", async (ev) => {
      const b = ev.currentTarget;
      b.disabled = true;
      try {
        const body = await L.postJson(data.urls.transition, { to: "ready" });
        L.setState(body.state, body.state_label);
      } catch (err) {
        L.notice("error", t("failed") + " " + (err.message || err.code));
        drawNext();
      } finally {
        b.disabled = false;
      }
    });
  }

  // --- KUK marks (FR.IA.01) ----------------------------------------------------------------------------------------
  function showMark(mark) {
    const li = root.querySelector(`.kuk-item[data-kuk="${mark.kuk_id}"]`);
    if (!li) return;
    li.dataset.verdict = mark.verdict;
    li.dataset.version = String(mark.version);
    li.dataset.mediaS = String(mark.media_s);
    li.querySelectorAll("[data-verdict]").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.verdict === mark.verdict)));
    const cur = li.querySelector("[data-kuk-current]");
    cur.textContent = `${mark.verdict} · ${t("version")} ${mark.version} · ${t("at_media")} ${L.fmt(mark.media_s)}` +
      (mark.note ? ` · “${mark.note}”` : "");
    cur.classList.remove("error");
    const note = li.querySelector(".kuk-note");
    if (note && document.activeElement !== note && !note.value) note.placeholder = mark.note || note.placeholder;
  }

  async function loadMarks() {
    if (!data.urls.marks || !data.kuk_tree || !data.kuk_tree.length) return;
    try {
      const body = await L.getJson(data.urls.marks);
      (body.marks || []).forEach(showMark);
    } catch (err) { /* shown when marking */ }
  }

  async function mark(li, verdict) {
    const buttons = li.querySelectorAll("[data-verdict]");
    const cur = li.querySelector("[data-kuk-current]");
    const noteEl = li.querySelector(".kuk-note");
    const note = noteEl ? noteEl.value.trim() : "";
    buttons.forEach((b) => { b.disabled = true; });
    cur.textContent = t("saving");
    li.classList.add("saving");
    const body = { kuk_id: Number(li.dataset.kuk), verdict, client_media_s: Math.round(L.elapsed() * 1000) / 1000 };
    if (note) body.note = note;
    try {
      const res = await L.postJson(data.urls.marks, body);
      showMark(res.mark);
      if (noteEl) noteEl.value = "";
      if (L.state === "ended") loadUnitEvidence(); // the evidence per unit changed
    } catch (err) {
      cur.textContent = t("failed") + " " + (err.message || err.code);
      cur.classList.add("error");
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
      li.classList.remove("saving");
    }
  }

  root.querySelectorAll(".kuk-item [data-verdict]").forEach((b) => {
    b.addEventListener("click", () => mark(b.closest(".kuk-item"), b.dataset.verdict));
  });

  // --- decisions after the end: what the evidence says per unit, then K/BK ----------------------------------------
  const decisions = $("[data-live-decisions]");
  let decisionsShown = false;
  function drawDecisions() {
    if (!decisions) return;
    const show = L.state === "ended";
    decisions.hidden = !show;
    if (show) {
      loadUnitEvidence();
      if (!decisionsShown) decisions.scrollIntoView({ block: "start" });
    }
    decisionsShown = show;
  }

  function sourceLabel(e) {
    const key = "source_" + e.source;
    return t(key) !== key ? t(key) : e.label || e.source;
  }

  // One evidence view per KUK (issue 16 #5): every current item from every method, its verdict (a portfolio item
  // has none: it is the candidate's claim), the moment of the recording it points at and its evidence entry.
  function evidenceItem(e) {
    const li = document.createElement("li");
    li.className = "kuk-evidence-item";
    li.dataset.source = e.source;
    li.dataset.verdict = e.verdict || "";
    const badge = document.createElement("b");
    badge.className = "ev-verdict ev-" + (e.verdict || "none").toLowerCase();
    badge.textContent = e.verdict || "–";
    if (!e.verdict) badge.title = t("no_verdict");
    li.append(badge, " " + sourceLabel(e));
    const ref = e.ref || {};
    if (ref.title) li.append(" · " + ref.title);
    if (ref.media_s != null) {
      // the moment opens in the review room (it plays once the session has ended, which is when units are decided)
      const at = document.createElement(data.urls.review ? "a" : "span");
      if (data.urls.review) {
        at.href = data.urls.review + "#t=" + Number(ref.media_s).toFixed(1);
        at.target = "_blank";
        at.rel = "noopener";
      }
      at.className = "ev-moment";
      at.dataset.mediaS = String(ref.media_s);
      at.textContent = " · " + t("at_moment", { t: L.fmt(Number(ref.media_s)) });
      li.append(at);
    }
    if (ref.log_index != null && data.urls.evidence) {
      const a = document.createElement("a");
      a.href = data.urls.evidence + "#e" + ref.log_index;
      a.target = "_blank";
      a.rel = "noopener";
      a.textContent = t("entry", { n: ref.log_index });
      li.append(" · ", a);
    }
    return li;
  }

  function drawUnitEvidence(unit) {
    const fs = decisions.querySelector(`fieldset[data-unit="${unit.unit_id}"]`);
    if (!fs) return;
    const box = fs.querySelector("[data-unit-evidence]");
    const summary = document.createElement("p");
    summary.className = "small " + (unit.k_allowed ? "evidence-ok" : "evidence-lacking");
    summary.textContent = unit.k_allowed ? t("evidence_k_allowed")
      : t("evidence_k_refused") + " " + unit.lacking.join(", ");
    const list = document.createElement("ul");
    list.className = "kuk-evidence small";
    for (const k of unit.kuks) {
      const li = document.createElement("li");
      li.dataset.kukEvidence = String(k.kuk_id);
      li.dataset.supportsK = k.supports_k ? "1" : "0";
      const head = document.createElement("span");
      head.className = "kuk-evidence-head";
      head.textContent = `${k.number}: ` + (k.evidence.length ? "" : t("evidence_none"));
      head.title = k.text || "";
      li.append(head);
      if (k.evidence.length) {
        const items = document.createElement("ul");
        items.className = "kuk-evidence-items";
        k.evidence.forEach((e) => items.append(evidenceItem(e)));
        li.append(items);
      }
      list.append(li);
    }
    const title = document.createElement("p");
    title.className = "small muted";
    title.textContent = t("evidence_for");
    box.replaceChildren(summary, title, list);
    fs.dataset.kAllowed = unit.k_allowed ? "1" : "0";
    const k = fs.querySelector('input[type=radio][value="K"]');
    k.disabled = !unit.k_allowed;
    if (k.disabled && k.checked) k.checked = false;
  }

  async function loadUnitEvidence() {
    if (!decisions || !data.urls.unit_evidence) return;
    try {
      const body = await L.getJson(data.urls.unit_evidence);
      (body.units || []).forEach(drawUnitEvidence);
      decisions.dataset.evidence = "loaded";
    } catch (err) { /* shown when saving */ }
  }
  if (decisions) {
    decisions.querySelectorAll("fieldset").forEach((fs) => {
      fs.querySelectorAll("input[type=radio]").forEach((r) => { r.required = true; });
      fs.querySelector("textarea").required = true;
    });
    decisions.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const button = decisions.querySelector("button");
      const progress = $("[data-live-decision-progress]");
      button.disabled = true;
      progress.hidden = false;
      let ok = true;
      for (const fs of decisions.querySelectorAll("fieldset[data-unit]")) {
        const unit = fs.dataset.unit;
        const verdict = fs.querySelector(`input[name="verdict-${unit}"]:checked`);
        const reason = fs.querySelector(`textarea[name="reason-${unit}"]`).value.trim();
        const out = fs.querySelector("[data-decision-state]");
        if (fs.dataset.saved === verdict.value + "\n" + reason) continue;
        try {
          await L.postJson(data.urls.decisions, { unit_id: Number(unit), verdict: verdict.value, reason });
          fs.dataset.saved = verdict.value + "\n" + reason;
          out.textContent = t("saved");
          out.classList.remove("error");
        } catch (err) {
          ok = false;
          out.textContent = t("failed") + " " + (err.message || err.code);
          out.classList.add("error");
        }
      }
      button.disabled = false;
      progress.hidden = true;
      $("[data-live-decision-done]").hidden = !ok;
    });
  }

  // --- start ---------------------------------------------------------------------------------------------------------
  function onState(state) {
    drawControls();
    drawDecisions();
    drawNext();
    if (state === "ended" || state === "decided" || state === "cancelled") {
      if (conn) conn.stop();
      L.setMediaState("waiting");
      showVideoNote(t("media_closed"));
    }
    ensureMedia();
  }
  L.onState(onState);
  L.onJoined(() => {
    onState(L.state);
    loadMarks();
  });
  window.liveEvidence = { reload: () => { if (L.state === "ended") loadUnitEvidence(); } };

  async function init() {
    if (data.panel) {
      // The classroom's focus panel: the classroom page carries the media (its tile), this frame the rest.
      drawControls(); drawDecisions(); drawNext(); loadMarks();
      if (L.lastJoin) onState(L.state);
      return false;
    }
    if (data.can_talk) {
      try {
        mic = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true } });
      } catch (err) {
        L.notice("warn", t("mic_failed"));
      }
    }
    drawControls();
    drawDecisions();
    drawNext();
    drawGraph();
    if (L.lastJoin) onState(L.state);
    pollStats();
    if (data.role === "witness") setInterval(loadMarks, 10000);
    return true;
  }
  init().then((media) => { ready = media; ensureMedia(); });

  window.liveAssessor = { get pc() { return conn && conn.pc; }, get stats() { return lastStats; } };
})();
