// The candidate's extra sources on the live page (issue 19; docs/LIVE-PROTOCOL.md "Extra sources").
// Candidate: the phone's QR code (a single-use link made by the server) and, when the scheme asks for it, the whole
// screen shared (a window or a tab is refused), relayed to the server and recorded in chunks of its own stream.
// Assessor and witnesses: the phone camera and the screen beside the webcam, with the phone's state and battery.
(function () {
  "use strict";

  // Whether a display-capture track may be used: only the whole screen ("monitor"). Pure, so it can be tested with
  // a stubbed settings object (headless Chromium cannot produce a tab or window surface).
  function screenSurfaceVerdict(settings) {
    const surface = (settings && settings.displaySurface) || "unknown";
    if (surface === "monitor") return { ok: true, surface };
    return { ok: false, surface: ["window", "browser", "application"].includes(surface) ? surface : "unknown" };
  }
  window.RtukSources = { screenSurfaceVerdict };

  const L = window.Live;
  if (!L) return;
  const { data, t, root } = L;
  const src = data.sources || {};
  const urls = src.urls || {};
  const panel = root.querySelector("[data-sources]");
  if (!panel) return;

  if (data.role === "candidate") candidate(); else viewer();

  function candidate() {
    // --- the phone's QR code ----------------------------------------------------------------------------------
    const img = panel.querySelector("[data-phone-qr-img]");
    const link = panel.querySelector("[data-phone-link]");
    const stateEl = panel.querySelector("[data-phone-state]");
    const ACTIVE = ["checking", "ready", "live", "paused"];
    let expiryTimer = null;

    async function newLink() {
      if (!ACTIVE.includes(L.state)) return;
      try {
        const out = await L.postJson(urls.phone_link, {});
        img.src = out.qr;
        img.hidden = false;
        link.href = out.url;
        link.hidden = false;
        panel.dataset.phoneLinkExpires = out.expires_at;
        clearTimeout(expiryTimer);
        expiryTimer = setTimeout(() => { img.hidden = true; link.hidden = true; }, out.expires_in_s * 1000);
      } catch (err) {
        L.notice("error", err.message || err.code);
      }
    }
    panel.querySelector("[data-phone-qr-new]").addEventListener("click", newLink);
    newLink();

    L.socket.on("source", (ev) => {
      if (ev.source === "phone") {
        const st = ev.flowing ? "flowing" : (ev.state || "none");
        stateEl.dataset.phoneState = st;
        stateEl.textContent = t("phone_" + (["flowing", "connected", "connecting"].includes(st) ? st : "left"));
        if (st === "flowing") { img.hidden = true; link.hidden = true; }
      }
    });

    // --- the screen share ---------------------------------------------------------------------------------------
    const shareBtn = panel.querySelector("[data-screen-share]");
    if (!shareBtn) return;
    const screenState = panel.querySelector("[data-screen-state]");
    const preview = panel.querySelector("[data-screen-preview]");
    let screen = null;
    let pc = null;
    let recorder = null;
    let seq = 0;
    let chunkStart = 0;
    const queue = [];
    let pumping = false;

    function setScreen(st, text) {
      screenState.dataset.screenState = st;
      screenState.textContent = text;
      root.dataset.screen = st;
    }

    async function sha256Hex(buf) {
      const d = await crypto.subtle.digest("SHA-256", buf);
      return Array.from(new Uint8Array(d)).map((b) => b.toString(16).padStart(2, "0")).join("");
    }

    async function pump() {
      if (pumping) return;
      pumping = true;
      while (queue.length) {
        const c = queue[0];
        try {
          const resp = await fetch(urls.screen_chunks, { method: "POST", credentials: "same-origin", body: c.buf,
            headers: L.csrfHeaders({ "Content-Type": "application/octet-stream", "X-Chunk-Seq": String(c.seq),
                                     "X-Chunk-SHA256": c.sha, "X-Chunk-Start": String(c.start) }) });
          if (resp.ok || (resp.status >= 400 && resp.status < 500 && resp.status !== 429 && resp.status !== 409)) {
            queue.shift();
            if (resp.ok) root.dataset.screenUploaded = String(Number(root.dataset.screenUploaded || 0) + 1);
          } else {
            await L.sleep(2000);
          }
        } catch (e) { await L.sleep(2000); }
      }
      pumping = false;
    }

    function record() {
      if (!screen || (recorder && recorder.state !== "inactive")) {
        if (recorder && recorder.state === "paused" && L.state === "live") recorder.resume();
        return;
      }
      if (L.state !== "live" || typeof MediaRecorder === "undefined") return;
      recorder = new MediaRecorder(screen, { mimeType: "video/webm;codecs=vp8", videoBitsPerSecond: 400000 });
      chunkStart = Date.now();
      recorder.addEventListener("dataavailable", async (ev) => {
        const start = chunkStart;
        chunkStart = Date.now();
        if (!ev.data || !ev.data.size) return;
        const buf = await ev.data.arrayBuffer();
        queue.push({ seq: seq++, buf, start, sha: await sha256Hex(buf) });
        pump();
      });
      recorder.start(data.chunk_ms || 2000);
    }

    let screenGen = 0;
    async function connect() {
      const gen = ++screenGen;
      if (pc) { try { pc.close(); } catch (e) { /* closed */ } }
      const mine = pc = new RTCPeerConnection({ iceServers: data.ice_servers || [] });
      window.screenPc = mine;
      for (const track of screen.getVideoTracks()) mine.addTrack(track, screen);
      // the network or the media node dropped the share: offer again while the screen is still shared (after a
      // media node died, the server places the session on another node)
      mine.addEventListener("connectionstatechange", () => {
        if (gen !== screenGen || !screen) return;
        if (mine.connectionState === "failed") reconnect(gen);
        else if (mine.connectionState === "disconnected") setTimeout(() => {
          if (gen === screenGen && screen && mine.connectionState !== "connected") reconnect(gen);
        }, 3000);
      });
      await mine.setLocalDescription(await mine.createOffer());
      await new Promise((resolve) => {
        if (mine.iceGatheringState === "complete") return resolve();
        const timer = setTimeout(resolve, data.ice_gathering_timeout_ms || 5000);
        mine.addEventListener("icegatheringstatechange", () => {
          if (mine.iceGatheringState === "complete") { clearTimeout(timer); resolve(); }
        });
      });
      const ack = await L.postJson(urls.screen_offer, { sdp: mine.localDescription.sdp });
      await mine.setRemoteDescription({ type: "answer", sdp: ack.sdp });
    }

    async function reconnect(gen) {
      for (let attempt = 0; gen === screenGen && screen; attempt++) {
        await L.sleep(Math.min(10, 2 ** attempt) * 1000);
        if (gen !== screenGen || !screen) return;
        try {
          await connect();
          return;
        } catch (err) {
          console.warn("sources: screen share reconnect failed", err);
          gen = screenGen;
        }
      }
    }

    function stopped() {
      if (!screen) return;
      screen = null;
      if (recorder && recorder.state !== "inactive") recorder.stop();
      recorder = null;
      if (pc) pc.close();
      pc = null;
      preview.hidden = true;
      setScreen("stopped", t("screen_stopped"));
      if (window.liveSignals && window.liveSignals.report) window.liveSignals.report("screen_share_ended");
    }

    shareBtn.addEventListener("click", async () => {
      let stream;
      try {
        stream = await navigator.mediaDevices.getDisplayMedia({
          video: { displaySurface: "monitor", frameRate: { max: 10 } }, audio: false,
          monitorTypeSurfaces: "include", selfBrowserSurface: "exclude", surfaceSwitching: "exclude" });
      } catch (err) {
        setScreen("failed", t("screen_failed"));
        return;
      }
      const track = stream.getVideoTracks()[0];
      const verdict = screenSurfaceVerdict(track && track.getSettings ? track.getSettings() : {});
      if (!verdict.ok) {
        stream.getTracks().forEach((tr) => tr.stop());
        setScreen("refused", t("screen_refused"));
        L.postJson(urls.screen_event, { kind: "refused", surface: verdict.surface }).catch(() => {});
        return;
      }
      screen = stream;
      preview.srcObject = stream;
      preview.hidden = false;
      track.addEventListener("ended", stopped);
      setScreen("sharing", t("screen_sharing"));
      L.postJson(urls.screen_event, { kind: "started", surface: verdict.surface }).catch(() => {});
      if (window.liveSignals && window.liveSignals.report) window.liveSignals.report("screen_share_started");
      try { await connect(); } catch (err) { L.notice("error", err.message || err.code); }
      record();
    });
    L.onState((s) => {
      if (s === "live") record();
      else if (s === "paused" && recorder && recorder.state === "recording") recorder.pause();
      else if (["ended", "decided", "cancelled"].includes(s) && recorder && recorder.state !== "inactive") recorder.stop();
    });
  }

  function viewer() {
    const pcs = {};
    const ACTIVE = ["checking", "ready", "live", "paused"];
    async function watch(source) {
      if (!ACTIVE.includes(L.state)) return;
      if (pcs[source]) { try { pcs[source].close(); } catch (e) { /* closed */ } }
      const pc = pcs[source] = new RTCPeerConnection({ iceServers: data.ice_servers || [] });
      window.sourcePcs = pcs;
      pc.addTransceiver("video", { direction: "recvonly" });
      const video = panel.querySelector(`[data-source-video="${source}"]`);
      pc.addEventListener("track", (ev) => { video.srcObject = new MediaStream([ev.track]); L.play(video); });
      try {
        await pc.setLocalDescription(await pc.createOffer());
        await new Promise((resolve) => {
          if (pc.iceGatheringState === "complete") return resolve();
          const timer = setTimeout(resolve, data.ice_gathering_timeout_ms || 5000);
          pc.addEventListener("icegatheringstatechange", () => {
            if (pc.iceGatheringState === "complete") { clearTimeout(timer); resolve(); }
          });
        });
        const ack = await L.postJson(urls["watch_" + source], { sdp: pc.localDescription.sdp });
        await pc.setRemoteDescription({ type: "answer", sdp: ack.sdp });
      } catch (err) {
        console.warn("sources: watch failed", source, err);
      }
    }

    function draw(source, s) {
      const fig = panel.querySelector(`[data-source="${source}"]`);
      if (!fig || !s) return;
      const st = s.flowing ? "flowing" : (s.state || "none");
      fig.dataset.state = st;
      // a source the profile does not ask for shows once it has connected at least once
      if (st !== "none") fig.hidden = false;
      panel.hidden = Array.from(panel.querySelectorAll("[data-source]")).every((f) => f.hidden);
      fig.querySelector("[data-source-state-text]").textContent = t("source_" + (
        ["flowing", "connected", "connecting", "left", "stalled", "failed"].includes(st) ? st : "none"));
      if (source === "phone") {
        const label = s.battery === null || s.battery === undefined ? "unknown" : Math.round(s.battery * 100) + "%";
        fig.dataset.battery = label;
        fig.querySelector("[data-source-battery]").textContent = label === "unknown" ? t("battery_unknown") : label;
      }
    }

    L.socket.on("source", (ev) => {
      draw(ev.source, ev);
      // the source (re)connected: subscribe again so the relay starts at its first keyframe
      if (ev.type === "peer.joined") setTimeout(() => watch(ev.source), 300);
    });
    // Subscribe only to a source that is there (a session without a phone or a screen costs the assessor's page and
    // the server nothing): on joining if the status says it is connected, and whenever it (re)connects.
    async function refresh(subscribe) {
      try {
        const st = await L.getJson(urls.status);
        for (const source of ["phone", "screen"]) {
          draw(source, st[source]);
          const s = st[source] || {};
          if (subscribe && (s.flowing || ["connecting", "connected"].includes(s.state))) watch(source);
        }
      } catch (e) { /* next time */ }
    }
    L.onJoined(() => refresh(true));
    setInterval(() => refresh(false), 10000);
  }
})();
