// The assessor's classroom (issue 17, docs/CLASSROOM.md): one tile per candidate session of a schedule, each with
// its own viewer connection to the server receiving the candidate's small video layer and audio; the focused
// candidate's connection also forwards the full video (the server pauses it for the others), its audio is heard and
// the assessor's microphone goes to it alone. The focused candidate's chat, alerts, KUK panel and controls come from
// the live page itself, framed in "panel" mode (no media of its own). One /live socket joins every session.
// DOM contract per tile: data-session, data-focused ("1"/"0"), data-alert-count, data-state.
(function () {
  "use strict";
  const root = document.getElementById("classroom");
  if (!root) return;
  const data = JSON.parse(root.dataset.classroom);
  const S = JSON.parse(root.dataset.i18n || "{}");
  const t = (key, vars) => {
    let s = S[key] || key;
    if (vars) for (const [k, v] of Object.entries(vars)) s = s.split("{" + k + "}").join(String(v));
    return s;
  };
  const MEDIA_STATES = ["checking", "ready", "live", "paused"];
  const CLOSED = ["ended", "decided", "cancelled"];
  const grid = root.querySelector("[data-tiles]");
  const focusVideo = root.querySelector("[data-focus-video]");
  const focusPanel = root.querySelector("[data-focus-panel]");
  const focusHint = root.querySelector("[data-focus-hint]");
  const noticeEl = root.querySelector("[data-classroom-notice]");
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  // What tests and the benchmark read (bench/bench_classroom.py).
  const probe = { focusTimes: [], joined: 0 };
  window.classroom = probe;

  function notice(text, level) {
    if (!noticeEl) return;
    noticeEl.textContent = text;
    noticeEl.className = "banner " + (level === "error" ? "banner-down" : "banner-up");
    noticeEl.hidden = !text;
  }

  // --- socket ---------------------------------------------------------------------------------------------------
  const socket = io("/live", { transports: ["websocket", "polling"], reconnectionDelayMax: 5000 });
  let connected = null;
  let connectedResolve = null;
  function resetConnected() { connected = new Promise((r) => { connectedResolve = r; }); }
  resetConnected();

  function rawEmit(event, payload, timeoutMs) {
    return new Promise((resolve, reject) => {
      socket.timeout(timeoutMs || 20000).emit(event, payload, (err, ack) => {
        if (err) return reject(Object.assign(new Error("timeout"), { code: "timeout" }));
        if (!ack || ack.ok !== true) {
          return reject(Object.assign(new Error((ack && ack.message) || "error"), { code: ack && ack.error }));
        }
        resolve(ack);
      });
    });
  }
  async function emit(event, payload, timeoutMs) {
    await connected;
    return rawEmit(event, payload, timeoutMs);
  }

  // Join every session (its room: state, chat, alerts), each retried with back-off like the live page's join; the
  // media offers do not wait for the joins (an offer needs no room).
  async function joinTile(tile, epoch) {
    for (let attempt = 0; socket.connected && epoch === socketEpoch; attempt++) {
      try {
        const ack = await rawEmit("join", { session: tile.id }, 15000);
        probe.joined++;
        tile.readOnly = !!ack.read_only;
        setState(tile, ack.state, ack.label);
        for (const f of ((ack.proctoring && ack.proctoring.findings) || []).slice().reverse()) takeFinding(tile, f);
        return;
      } catch (err) {
        if (err.code && err.code !== "timeout") { tile.note(err.message || err.code); return; }
        await sleep(Math.min(10000, 1000 * 2 ** attempt));
      }
    }
  }
  let socketEpoch = 0;
  socket.on("connect", () => {
    const epoch = ++socketEpoch;
    connectedResolve();
    for (const tile of tiles.values()) joinTile(tile, epoch);
  });
  socket.on("disconnect", () => resetConnected());

  // --- tiles ----------------------------------------------------------------------------------------------------
  const tiles = new Map();
  const order = data.tiles.map((x) => x.session);

  class Tile {
    constructor(info, el) {
      this.id = info.session;
      this.info = info;
      this.el = el;
      this.video = el.querySelector("[data-tile-video]");
      this.audio = el.querySelector("[data-tile-audio]");
      this.audio.muted = true;
      this.light = el.querySelector("[data-tile-light]");
      this.stateEl = el.querySelector("[data-tile-state]");
      this.levelEl = el.querySelector("[data-tile-level]");
      this.alertEl = el.querySelector("[data-tile-alert]");
      this.noteEl = el.querySelector("[data-tile-note]");
      this.link = el.querySelector("[data-tile-link]");
      this.listenBtn = el.querySelector("[data-tile-listen]");
      this.state = info.state;
      this.alerts = new Map();
      this.pc = null;
      this.generation = 0;
      this.fullTrack = null;
      this.fullReceiver = null;
      this.smallReceiver = null;
      this.audioSender = null;
      this.listening = false;
      this.frames = 0;
      this.analyser = null;
      this.openCount = info.open_alerts || 0;
      if (info.latest_alert) this.alertEl.textContent = info.latest_alert.kind + " · " + fmt(info.latest_alert.media_s);
    }

    note(text) {
      this.noteEl.textContent = text || "";
      this.noteEl.hidden = !text;
    }

    async connect() {
      const gen = ++this.generation;
      this.close(false);
      const pc = new RTCPeerConnection({ iceServers: data.ice_servers || [] });
      this.pc = pc;
      const fullT = pc.addTransceiver("video", { direction: "recvonly" });
      const smallT = pc.addTransceiver("video", { direction: "recvonly" });
      const audioT = pc.addTransceiver("audio", { direction: data.can_talk ? "sendrecv" : "recvonly" });
      this.audioSender = data.can_talk ? audioT.sender : null;
      this.fullReceiver = fullT.receiver;
      this.smallReceiver = smallT.receiver;
      this.fullTrack = fullT.receiver.track;
      this.video.srcObject = new MediaStream([smallT.receiver.track]);
      const audioStream = new MediaStream([audioT.receiver.track]);
      this.audio.srcObject = audioStream;
      this.meter(audioStream);
      pc.addEventListener("connectionstatechange", () => {
        if (gen !== this.generation) return;
        this.el.dataset.pc = pc.connectionState;
        if (pc.connectionState === "failed") this.retry(gen);
        if (pc.connectionState === "disconnected") setTimeout(() => {
          if (gen === this.generation && pc.connectionState !== "connected") this.retry(gen);
        }, 3000);
        this.drawLight();
      });
      await pc.setLocalDescription(await pc.createOffer());
      await waitGathering(pc, data.ice_gathering_timeout_ms || 5000);
      const ack = await emit("offer", { session: this.id, sdp: pc.localDescription.sdp, tile: true,
        full: focused === this });
      if (gen !== this.generation) return;
      await pc.setRemoteDescription({ type: "answer", sdp: ack.sdp });
      this.applyTalk();
      playQuietly(this.video);
      playQuietly(this.audio);
      if (focused === this) showFocus(this);
    }

    async retry(gen) {
      if (gen !== this.generation || !MEDIA_STATES.includes(this.state)) return;
      for (let attempt = 0; gen === this.generation && MEDIA_STATES.includes(this.state); attempt++) {
        await sleep(Math.min(10, 2 ** attempt) * 1000);
        if (gen !== this.generation) return;
        try {
          await this.connect();
          return;
        } catch (err) {
          console.warn("classroom: reconnecting tile failed", this.id, err);
          gen = this.generation;
        }
      }
    }

    ensureMedia() {
      if (MEDIA_STATES.includes(this.state)) {
        if (!this.pc || ["failed", "closed"].includes(this.pc.connectionState)) {
          this.connect().catch((err) => {
            this.note(err.message || err.code);
            this.retry(this.generation);
          });
        }
      } else if (this.pc) {
        this.close(true);
      }
    }

    close(tellServer) {
      if (this.pc) {
        try { this.pc.close(); } catch (e) { /* closed */ }
        this.pc = null;
        if (tellServer) emit("leave", { session: this.id, tile: true }).catch(() => {});
      }
      this.drawLight();
    }

    applyTalk() {
      if (!this.audioSender) return;
      const on = mic && (focused === this || voiceToAll);
      this.audioSender.replaceTrack(on ? mic.getAudioTracks()[0] : null).catch(() => {});
      this.el.dataset.talk = on ? "1" : "0";
    }

    applyHearing() {
      const heard = focused === this || this.listening;
      this.audio.muted = !heard;
      this.el.dataset.heard = heard ? "1" : "0";
      this.listenBtn.setAttribute("aria-pressed", String(this.listening));
      this.listenBtn.textContent = this.listening ? t("listening") : t("listen");
    }

    meter(stream) {
      const ctx = audioContext();
      if (!ctx) return;
      try {
        const src = ctx.createMediaStreamSource(stream);
        const an = ctx.createAnalyser();
        an.fftSize = 512;
        src.connect(an);
        this.analyser = an;
      } catch (e) { this.analyser = null; }
    }

    async poll() {
      const pc = this.pc;
      if (!pc || pc.connectionState !== "connected") { this.drawLight(); return; }
      try {
        const stats = await this.smallReceiver.getStats();
        stats.forEach((s) => {
          if (s.type === "inbound-rtp") {
            const frames = s.framesDecoded || 0;
            this.fps = s.framesPerSecond || 0;
            this.fresh = frames > this.frames;
            this.frames = frames;
            this.el.dataset.frames = String(frames);
            this.el.dataset.width = String(s.frameWidth || 0);
          }
        });
      } catch (e) { /* closed meanwhile */ }
      this.drawLight();
    }

    drawLight() {
      const pc = this.pc;
      let cls = "light";
      if (pc && pc.connectionState === "connected") cls += this.fresh ? " light-ok" : " light-waiting";
      else if (pc && ["failed", "disconnected"].includes(pc.connectionState)) cls += " light-down";
      else if (pc) cls += " light-waiting";
      this.light.className = cls;
      this.el.dataset.light = cls.replace("light", "").replace(" light-", "") || "off";
    }
  }

  function playQuietly(el) {
    const p = el.play();
    if (p && p.catch) p.catch(() => {});
  }

  function waitGathering(pc, timeoutMs) {
    if (pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => { clearTimeout(timer); pc.removeEventListener("icegatheringstatechange", check); resolve(); };
      const check = () => { if (pc.iceGatheringState === "complete") done(); };
      const timer = setTimeout(done, timeoutMs);
      pc.addEventListener("icegatheringstatechange", check);
    });
  }

  let ctx = null;
  function audioContext() {
    if (ctx) return ctx;
    try { ctx = new AudioContext(); } catch (e) { return null; }
    const resume = () => { if (ctx.state !== "running") ctx.resume().catch(() => {}); };
    document.addEventListener("click", resume);
    resume();
    return ctx;
  }

  const buf = new Float32Array(512);
  function drawLevels() {
    for (const tile of tiles.values()) {
      if (!tile.analyser) continue;
      tile.analyser.getFloatTimeDomainData(buf);
      let sum = 0;
      for (let i = 0; i < buf.length; i++) sum += buf[i] * buf[i];
      const rms = Math.sqrt(sum / buf.length);
      const pct = Math.min(100, Math.round(rms * 300));
      tile.levelEl.style.width = pct + "%";
      tile.el.dataset.level = String(Math.round(rms * 1000) / 1000);
    }
    setTimeout(drawLevels, 100);
  }

  // --- state, alerts, order -------------------------------------------------------------------------------------
  function setState(tile, state, label) {
    if (!state) return;
    tile.state = state;
    tile.el.dataset.state = state;
    tile.stateEl.textContent = label || t("state_" + state);
    tile.stateEl.className = "badge state-" + state;
    const urls = tile.info.urls;
    if (state === "scheduled" || state === "checking") { tile.link.href = urls.check; tile.link.textContent = t("act_check"); }
    else if (MEDIA_STATES.includes(state)) { tile.link.href = urls.live; tile.link.textContent = t("act_live"); }
    else { tile.link.href = urls.session; tile.link.textContent = t("act_session"); }
    if (state === "checking") tile.note(t("act_ready"));
    else tile.note("");
    tile.el.querySelectorAll("[data-tile-action]").forEach((b) => {
      b.hidden = !((b.dataset.tileAction === "pause" && state === "live") ||
        (b.dataset.tileAction === "resume" && state === "paused"));
    });
    tile.ensureMedia();
  }

  function takeFinding(tile, f) {
    tile.alerts.set(f.id, f);
    const open = [...tile.alerts.values()].filter((x) => !x.label);
    tile.openCount = open.length;
    tile.el.dataset.alertCount = String(tile.openCount);
    tile.el.classList.toggle("alerting", tile.openCount > 0);
    const latest = open.sort((a, b) => b.id - a.id)[0];
    tile.alertEl.textContent = latest ? (latest.kind + " · " + fmt(latest.media_s)) : "";
    reorder();
  }

  function fmt(s) {
    s = Math.max(0, Math.floor(Number(s) || 0));
    const p = (n) => String(n).padStart(2, "0");
    return p(Math.floor(s / 3600)) + ":" + p(Math.floor(s / 60) % 60) + ":" + p(s % 60);
  }

  let pointerInGrid = false;
  let reorderPending = false;
  grid.addEventListener("pointerenter", () => { pointerInGrid = true; });
  grid.addEventListener("pointerleave", () => {
    pointerInGrid = false;
    if (reorderPending) reorder();
  });

  // Open alerts first (most first, then the schedule's order); never while the pointer is over the grid.
  function reorder() {
    if (pointerInGrid) { reorderPending = true; return; }
    reorderPending = false;
    const sorted = [...tiles.values()].sort((a, b) =>
      (b.openCount > 0) - (a.openCount > 0) || b.openCount - a.openCount || order.indexOf(a.id) - order.indexOf(b.id));
    const current = [...grid.children];
    if (sorted.every((tile, i) => current[i] === tile.el)) return;
    for (const tile of sorted) grid.appendChild(tile.el);
  }

  socket.on("state", (m) => {
    const tile = tiles.get(m.session);
    if (tile) setState(tile, m.state, m.label);
  });
  socket.on("finding", (f) => {
    const tile = tiles.get(f.session);
    if (tile) takeFinding(tile, f);
  });
  socket.on("finding_label", (f) => {
    const tile = tiles.get(f.session);
    if (tile) takeFinding(tile, f);
  });
  socket.on("peer", (ev) => {
    const tile = tiles.get(ev.session);
    if (!tile) return;
    if (ev.type === "media.stalled") tile.fresh = false;
    tile.drawLight();
  });

  // --- focus ----------------------------------------------------------------------------------------------------
  let focused = null;
  let mic = null;
  let voiceToAll = false;

  function showFocus(tile) {
    if (tile.fullTrack) focusVideo.srcObject = new MediaStream([tile.fullTrack]);
    playQuietly(focusVideo);
  }

  async function measureFocus(tile, t0) {
    // time to the first full-quality frame decoded after the switch (inbound-rtp of the full layer)
    const receiver = tile.fullReceiver;
    if (!receiver) return;
    const framesOf = async () => {
      let n = 0, w = 0;
      (await receiver.getStats()).forEach((s) => { if (s.type === "inbound-rtp") { n = s.framesDecoded || 0; w = s.frameWidth || 0; } });
      return [n, w];
    };
    const [before] = await framesOf();
    while (focused === tile && performance.now() - t0 < 10000) {
      const [n, w] = await framesOf();
      if (n > before) {
        const ms = performance.now() - t0;
        probe.focusTimes.push({ session: tile.id, ms, width: w });
        root.dataset.focusMs = String(Math.round(ms));
        return;
      }
      await sleep(15);
    }
  }

  async function focus(tile) {
    if (focused === tile) return;
    const t0 = performance.now();
    const prev = focused;
    focused = tile;
    for (const x of tiles.values()) x.el.dataset.focused = x === tile ? "1" : "0";
    root.dataset.focused = tile.id;
    if (prev) {
      prev.applyTalk();
      prev.applyHearing();
      if (prev.pc) emit("layer", { session: prev.id, full: false }).catch(() => {});
    }
    tile.applyTalk();
    tile.applyHearing();
    showFocus(tile);
    focusHint.hidden = true;
    focusPanel.hidden = false;
    focusPanel.src = tile.info.urls.panel;
    if (tile.pc) {
      measureFocus(tile, t0);
      try {
        await emit("layer", { session: tile.id, full: true });
      } catch (err) {
        notice(t("failed") + " " + (err.message || err.code), "error");
      }
    }
  }

  // --- group actions --------------------------------------------------------------------------------------------
  async function each(sessions, fn) {
    const results = await Promise.allSettled(sessions.map(fn));
    const ok = results.filter((r) => r.status === "fulfilled").length;
    const failed = results.find((r) => r.status === "rejected");
    return { ok, total: sessions.length, error: failed && failed.reason };
  }

  const broadcast = root.querySelector("[data-broadcast]");
  if (broadcast) {
    broadcast.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const input = broadcast.querySelector("input");
      const text = input.value.trim().slice(0, 1000);
      if (!text) return;
      const open = [...tiles.values()].filter((x) => !["decided", "cancelled"].includes(x.state));
      const r = await each(open, (x) => emit("chat", { session: x.id, text }, 10000));
      notice(t("sent", { n: r.ok, m: r.total }) + (r.error ? " " + t("failed") + " " + r.error.message : ""),
        r.error ? "error" : "info");
      if (!r.error) input.value = "";
    });
  }

  root.querySelectorAll("[data-group]").forEach((b) => b.addEventListener("click", async () => {
    const what = b.dataset.group;
    if (what === "voice") {
      voiceToAll = !voiceToAll;
      b.setAttribute("aria-pressed", String(voiceToAll));
      for (const x of tiles.values()) x.applyTalk();
      notice(t(voiceToAll ? "voice_all_on" : "voice_all_off"), "info");
      return;
    }
    const from = what === "pause" ? "live" : "paused";
    const targets = [...tiles.values()].filter((x) => x.state === from);
    b.disabled = true;
    const r = await each(targets, (x) => emit("control", { session: x.id, action: what }, 20000)
      .then((ack) => setState(x, ack.state, ack.label)));
    b.disabled = false;
    notice(t("done", { n: r.ok, m: r.total }) + (r.error ? " " + t("failed") + " " + r.error.message : ""),
      r.error ? "error" : "info");
  }));

  // --- wiring ---------------------------------------------------------------------------------------------------
  for (const info of data.tiles) {
    const el = grid.querySelector(`[data-session="${CSS.escape(info.session)}"]`);
    if (!el) continue;
    const tile = new Tile(info, el);
    tiles.set(info.session, tile);
    el.addEventListener("click", (ev) => {
      if (ev.target.closest("button, a")) return;
      focus(tile);
    });
    el.addEventListener("keydown", (ev) => {
      if ((ev.key === "Enter" || ev.key === " ") && ev.target === el) { ev.preventDefault(); focus(tile); }
    });
    tile.listenBtn.addEventListener("click", () => {
      tile.listening = !tile.listening;
      tile.applyHearing();
    });
    el.querySelectorAll("[data-tile-action]").forEach((b) => b.addEventListener("click", async () => {
      b.disabled = true;
      try {
        const ack = await emit("control", { session: tile.id, action: b.dataset.tileAction }, 20000);
        setState(tile, ack.state, ack.label);
      } catch (err) {
        notice(t("failed") + " " + (err.message || err.code), "error");
      } finally {
        b.disabled = false;
      }
    }));
    tile.applyHearing();
    tile.el.classList.toggle("alerting", tile.openCount > 0);
  }
  reorder();
  for (const tile of tiles.values()) setState(tile, tile.info.state, tile.info.label); // media from the page's state

  async function init() {
    if (data.can_talk) {
      try {
        mic = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true } });
      } catch (err) {
        notice(t("mic_failed"), "error");
      }
    }
    for (const tile of tiles.values()) tile.applyTalk();
    drawLevels();
    setInterval(() => { for (const tile of tiles.values()) tile.poll(); }, 1000);
  }
  init();

  window.addEventListener("pagehide", () => {
    if (!socket.connected) return;
    for (const tile of tiles.values()) if (tile.pc) socket.emit("leave", { session: tile.id, tile: true });
  });

  probe.focus = (id) => { const tile = tiles.get(id); if (tile) return focus(tile); };
  probe.tiles = tiles;
})();
