// Shared parts of the live session pages (docs/LIVE-PROTOCOL.md): page data, Socket.IO /live with acks, the session
// timer, chat, notices, the connection banner and WebRTC helpers. Texts come translated from the template (data-i18n).
(function () {
  "use strict";

  const root = document.getElementById("live");
  if (!root) return;
  const data = JSON.parse(root.dataset.live);
  const strings = JSON.parse(root.dataset.i18n || "{}");
  const $ = (sel) => root.querySelector(sel);

  function t(key, vars) {
    let s = strings[key] || key;
    if (vars) for (const [k, v] of Object.entries(vars)) s = s.split("{" + k + "}").join(String(v));
    return s;
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  // --- Socket.IO ------------------------------------------------------------------------------------------------
  const socket = io("/live", { transports: ["websocket", "polling"], reconnectionDelayMax: 5000 });
  const listeners = { joined: [], state: [] };
  let joined = null; // Promise of the current connection's join ack
  let joinedResolve = null;
  let lastJoin = null;

  class LiveError extends Error {
    constructor(code, message) {
      super(message || code);
      this.code = code;
    }
  }

  function rawEmit(event, payload, timeoutMs) {
    return new Promise((resolve, reject) => {
      socket.timeout(timeoutMs).emit(event, payload, (err, ack) => {
        if (err) return reject(new LiveError("timeout", t("offline")));
        if (!ack || ack.ok !== true) {
          return reject(new LiveError((ack && ack.error) || "error", (ack && ack.message) || ""));
        }
        resolve(ack);
      });
    });
  }

  function waitJoined() {
    if (!joined) joined = new Promise((r) => { joinedResolve = r; });
    return joined;
  }

  // Emit after this connection has joined the session's room (never buffered across a disconnect).
  async function emit(event, payload, timeoutMs) {
    await waitJoined();
    return rawEmit(event, Object.assign({ session: data.session }, payload || {}), timeoutMs || 20000);
  }

  async function doJoin() {
    for (let attempt = 0; socket.connected; attempt++) {
      try {
        const ack = await rawEmit("join", { session: data.session }, 10000);
        lastJoin = ack;
        if (!joinedResolve) { joined = null; waitJoined(); }
        const resolve = joinedResolve;
        joinedResolve = null;
        resolve(ack);
        listeners.joined.forEach((fn) => fn(ack));
        return;
      } catch (err) {
        if (err.code !== "timeout") {
          notice("error", err.message || err.code);
          if (["not_found", "forbidden"].includes(err.code)) return;
        }
        await sleep(Math.min(10000, 1000 * 2 ** attempt));
      }
    }
  }

  socket.on("connect", () => {
    setServerLink(true);
    doJoin();
  });
  socket.on("disconnect", () => {
    // A join already answered belongs to the lost connection; callers still waiting keep waiting for the next one.
    if (!joinedResolve) joined = null;
    setServerLink(false);
  });

  // --- state and timer --------------------------------------------------------------------------------------------
  let state = data.state;
  let clock = { elapsed_s: 0, running: false, at: performance.now() };
  const stateEl = $("[data-live-state]");
  const timerEl = $("[data-live-timer]");

  function setClock(c) {
    if (!c) return;
    clock = { elapsed_s: Number(c.elapsed_s) || 0, running: !!c.running, at: performance.now() };
    drawTimer();
  }

  function elapsed() {
    return clock.elapsed_s + (clock.running ? (performance.now() - clock.at) / 1000 : 0);
  }

  function fmt(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    return [h, m, s].map((n) => String(n).padStart(2, "0")).join(":");
  }

  function drawTimer() {
    if (!timerEl) return;
    timerEl.textContent = fmt(elapsed());
    timerEl.title = clock.running ? t("timer_running") : t("timer_stopped");
    timerEl.classList.toggle("stopped", !clock.running);
  }
  setInterval(drawTimer, 1000);

  function setState(newState, label) {
    const changed = newState !== state;
    state = newState;
    root.dataset.state = newState;
    if (stateEl) {
      if (label) stateEl.textContent = label;
      stateEl.className = "badge state-" + newState;
    }
    if (changed || label) listeners.state.forEach((fn) => fn(newState));
  }

  socket.on("state", (msg) => {
    if (msg.session && msg.session !== data.session) return;
    if (msg.clock) setClock(msg.clock);
    else if (msg.state !== "live") setClock({ elapsed_s: elapsed(), running: false });
    else if (!clock.running) setClock({ elapsed_s: elapsed(), running: true });
    setState(msg.state, msg.label);
  });

  let toldReadOnly = false;
  listeners.joined.push((ack) => {
    if (ack.read_only && !toldReadOnly) {
      toldReadOnly = true;
      notice("info", t("read_only"));
    }
    root.dataset.readOnly = ack.read_only ? "1" : "";
    setClock(ack.clock);
    if (Array.isArray(ack.chat)) {
      chatLog.replaceChildren();
      ack.chat.forEach(addChat);
    }
    setState(ack.state, ack.state_label || ack.label);
  });

  // --- connection display -----------------------------------------------------------------------------------------
  const connEl = $("[data-live-conn]");
  const banner = $("[data-live-banner]");
  let serverLink = false;
  let mediaState = "connecting";
  let wasDown = false;
  let bannerTimer = null;

  function setServerLink(up) {
    serverLink = up;
    drawConn();
  }

  function setMediaState(s) {
    mediaState = s; // connecting | connected | reconnecting | waiting
    root.dataset.media = s;
    drawConn();
  }

  function drawConn(extra) {
    const down = mediaState === "reconnecting" || (!serverLink && wasStarted() && mediaState !== "waiting");
    let text;
    if (down) text = t("reconnecting");
    else if (!serverLink) text = t("connecting");
    else if (mediaState === "connected") text = t("connected");
    else if (mediaState === "waiting") text = t("media_closed");
    else text = t("connecting");
    if (connEl) {
      connEl.textContent = text;
      connEl.className = "conn conn-" + (down ? "down" : mediaState === "connected" && serverLink ? "up"
        : mediaState === "waiting" ? "closed" : "connecting");
    }
    if (!banner) return;
    if (down) {
      wasDown = true;
      clearTimeout(bannerTimer);
      banner.hidden = false;
      banner.className = "banner banner-down";
      banner.textContent = t("reconnecting") + (extra ? " " + extra : "");
    } else if (wasDown && serverLink && mediaState === "connected") {
      wasDown = false;
      banner.hidden = false;
      banner.className = "banner banner-up";
      banner.textContent = t("reconnected");
      clearTimeout(bannerTimer);
      bannerTimer = setTimeout(() => { banner.hidden = true; }, 6000);
    }
  }

  let started = false;
  const wasStarted = () => started;

  // --- chat and notices -------------------------------------------------------------------------------------------
  const chatLog = $("[data-live-chat-log]") || document.createElement("ol");
  const chatForm = $("[data-live-chat-form]");
  const roleName = { candidate: t("role_candidate"), assessor: t("role_assessor"), witness: t("role_witness") };

  function timeOf(iso) {
    return window.RtukFormat.time(iso || new Date());  // the LSP's zone, named (14:05 WIB), not the browser's
  }

  function addChat(m) {
    const li = document.createElement("li");
    li.className = "chat-msg from-" + (m.from_role || "system") + (m.from_role === data.role ? " mine" : "");
    const who = document.createElement("span");
    who.className = "chat-who";
    who.textContent = (m.from_role === data.role ? t("you") : m.from_name || roleName[m.from_role] || "") +
      (m.from_role && m.from_role !== data.role ? " (" + (roleName[m.from_role] || m.from_role) + ")" : "");
    const when = document.createElement("time");
    when.textContent = timeOf(m.at);
    if (m.at) when.dateTime = m.at;
    const text = document.createElement("span");
    text.className = "chat-text";
    text.textContent = m.text;
    li.append(who, " ", when, text);
    chatLog.append(li);
    chatLog.scrollTop = chatLog.scrollHeight;
  }
  socket.on("chat", (m) => {
    if (m.session && m.session !== data.session) return;
    addChat(m);
  });

  if (chatForm) {
    chatForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const input = chatForm.querySelector("input[name=text]");
      const button = chatForm.querySelector("button");
      const text = input.value.trim();
      if (!text) return;
      button.disabled = true;
      try {
        await emit("chat", { text: text.slice(0, 1000) }, 10000);
        input.value = "";
      } catch (err) {
        notice("error", t("chat_failed") + " " + (err.message || err.code));
      } finally {
        button.disabled = false;
        input.focus();
      }
    });
  }

  const noticesEl = $("[data-live-notices]");
  function notice(level, message) {
    if (!noticesEl || !message) return;
    const p = document.createElement("p");
    p.className = "notice notice-" + (level || "info");
    const when = document.createElement("time");
    when.textContent = timeOf();
    p.append(when, " ", message);
    noticesEl.prepend(p);
    while (noticesEl.children.length > 8) noticesEl.lastChild.remove();
  }
  socket.on("notice", (n) => {
    if (n.session && n.session !== data.session) return;
    notice(n.level, n.code && strings[n.code] ? t(n.code) : n.message);
  });

  // --- WebRTC helpers ---------------------------------------------------------------------------------------------
  function newPeerConnection() {
    return new RTCPeerConnection({ iceServers: data.ice_servers || [] });
  }

  function waitGathering(pc, timeoutMs) {
    if (pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        pc.removeEventListener("icegatheringstatechange", check);
        resolve();
      };
      const check = () => { if (pc.iceGatheringState === "complete") done(); };
      const timer = setTimeout(done, timeoutMs || 5000);
      pc.addEventListener("icegatheringstatechange", check);
    });
  }

  // Offer with complete ICE (the server has no trickle ICE), send it as `event`, apply the answer.
  async function negotiate(pc, event) {
    await pc.setLocalDescription(await pc.createOffer());
    await waitGathering(pc, data.ice_gathering_timeout_ms || 5000);
    const ack = await emit(event, { sdp: pc.localDescription.sdp }, 30000);
    await pc.setRemoteDescription({ type: "answer", sdp: ack.sdp });
    return ack;
  }

  // Keep one RTCPeerConnection alive: build it with `setup(pc)`, negotiate, and on `failed` (or `disconnected`
  // for more than 3 s) replace it with a new one, sent through `restart`, backing off 1, 2, 4 … 10 s.
  function keepConnected(setup, onPc) {
    let pc = null;
    let generation = 0;
    let disconnectTimer = null;
    let reconnecting = false;
    let everConnected = false;

    async function connect(event) {
      const gen = ++generation;
      if (pc) { try { pc.close(); } catch (e) { /* already closed */ } }
      pc = newPeerConnection();
      window.livePc = pc;
      const mine = pc;
      await setup(mine);
      mine.addEventListener("connectionstatechange", () => {
        if (gen !== generation) return;
        const s = mine.connectionState;
        root.dataset.pc = s;
        if (s === "connected") {
          clearTimeout(disconnectTimer);
          everConnected = true;
          started = true;
          setMediaState("connected");
        } else if (s === "failed") {
          clearTimeout(disconnectTimer);
          reconnect();
        } else if (s === "disconnected") {
          clearTimeout(disconnectTimer);
          setMediaState("reconnecting");
          disconnectTimer = setTimeout(() => {
            if (gen === generation && mine.connectionState !== "connected") reconnect();
          }, 3000);
        }
      });
      if (onPc) onPc(mine);
      await negotiate(mine, event);
      return mine;
    }

    async function reconnect() {
      if (reconnecting) return;
      reconnecting = true;
      setMediaState(everConnected ? "reconnecting" : "connecting");
      let event = everConnected ? "restart" : "offer";
      for (let attempt = 0; ; attempt++) {
        try {
          const fresh = await connect(event);
          const ok = await waitConnected(fresh, 15000);
          if (ok) break;
        } catch (err) {
          console.warn("live: reconnect attempt failed", err);
          if (err.code && err.code !== "timeout") event = "offer"; // the server lost us (e.g. restarted): rejoin
          if (err.code === "invalid_state" && !["ready", "live", "paused"].includes(state)) break;
        }
        const delay = Math.min(10, 2 ** attempt);
        drawConn(t("reconnect_in", { s: delay }));
        await sleep(delay * 1000);
      }
      reconnecting = false;
    }

    function waitConnected(p, timeoutMs) {
      return new Promise((resolve) => {
        if (p.connectionState === "connected") return resolve(true);
        const timer = setTimeout(() => { cleanup(); resolve(p.connectionState === "connected"); }, timeoutMs);
        const onChange = () => {
          if (p.connectionState === "connected") { cleanup(); resolve(true); }
          else if (p.connectionState === "failed" || p.connectionState === "closed") { cleanup(); resolve(false); }
        };
        const cleanup = () => { clearTimeout(timer); p.removeEventListener("connectionstatechange", onChange); };
        p.addEventListener("connectionstatechange", onChange);
      });
    }

    return {
      start: async () => {
        try {
          await connect("offer");
        } catch (err) {
          console.warn("live: first offer failed", err);
          if (err.code && err.code !== "timeout") notice("error", err.message || err.code);
          reconnect();
        }
      },
      reconnect,
      stop: () => {
        generation++;
        clearTimeout(disconnectTimer);
        if (pc) pc.close();
        pc = null;
      },
      get pc() { return pc; },
    };
  }

  // Audio/video elements: autoplay may be refused without a gesture; offer a button then.
  function play(el) {
    const p = el.play();
    if (!p || !p.catch) return;
    p.catch(() => {
      const btn = $("[data-live-unmute]");
      if (!btn) return;
      btn.hidden = false;
      btn.onclick = () => { el.play().then(() => { btn.hidden = true; }).catch(() => {}); };
    });
  }

  function csrfHeaders(extra) {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return Object.assign({ "X-CSRFToken": data.csrf || (meta && meta.content) || "", Accept: "application/json" },
      extra || {});
  }

  async function postJson(url, body) {
    const res = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: csrfHeaders({ "Content-Type": "application/json" }), body: JSON.stringify(body),
    });
    let payload = null;
    try { payload = await res.json(); } catch (e) { payload = null; }
    if (!res.ok) throw new LiveError((payload && payload.error) || String(res.status), (payload && payload.message) || "");
    return payload;
  }

  async function getJson(url) {
    const res = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    const payload = await res.json();
    if (!res.ok) throw new LiveError(payload.error || String(res.status), payload.message || "");
    return payload;
  }

  window.addEventListener("pagehide", () => {
    if (socket.connected) socket.emit("leave", data.panel ? { session: data.session, panel: true } : { session: data.session });
  });

  window.Live = {
    data, t, $, root, socket, emit, sleep, fmt, elapsed, notice, setState, setClock, setMediaState, drawConn,
    keepConnected, play,
    csrfHeaders, postJson, getJson, LiveError,
    get state() { return state; },
    get lastJoin() { return lastJoin; },
    onJoined: (fn) => listeners.joined.push(fn),
    onState: (fn) => listeners.state.push(fn),
  };
})();
