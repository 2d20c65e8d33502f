// The phone as a second camera (issue 19): the rear camera to the server (one RTCPeerConnection, video only, kept
// alive), its own MediaRecorder chunks (numbered per stream, hashed, uploaded in order with retries) while the session
// is live, and its battery level every few seconds. Opened through the single-use QR link; no account.
(function () {
  "use strict";
  const root = document.getElementById("phone");
  if (!root) return;
  const data = JSON.parse(root.dataset.phone);
  const strings = JSON.parse(root.dataset.i18n || "{}");
  const t = (k) => strings[k] || k;
  const statusEl = root.querySelector("[data-phone-status]");
  const recEl = root.querySelector("[data-phone-rec]");
  const preview = root.querySelector("[data-phone-preview]");
  const MIME = "video/webm;codecs=vp8";
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  let stream = null;
  let pc = null;
  let state = data.state;
  let facing = "unknown";

  function say(key) { statusEl.textContent = t(key); }
  function headers(extra) {
    return Object.assign({ "X-CSRFToken": data.csrf, Accept: "application/json" }, extra || {});
  }

  async function postJson(url, body) {
    const resp = await fetch(url, { method: "POST", credentials: "same-origin",
      headers: headers({ "Content-Type": "application/json" }), body: JSON.stringify(body) });
    const out = await resp.json().catch(() => ({}));
    if (!resp.ok) throw Object.assign(new Error(out.message || resp.status), { status: resp.status, code: out.error });
    return out;
  }

  function waitGathering(p) {
    if (p.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, data.ice_gathering_timeout_ms || 5000);
      p.addEventListener("icegatheringstatechange", () => {
        if (p.iceGatheringState === "complete") { clearTimeout(timer); resolve(); }
      });
    });
  }

  // --- media to the server --------------------------------------------------------------------------------------
  let connecting = false;
  async function connect() {
    if (connecting || state === "ended") return;
    connecting = true;
    for (let attempt = 0; ; attempt++) {
      try {
        if (pc) { try { pc.close(); } catch (e) { /* closed */ } }
        const mine = pc = new RTCPeerConnection({ iceServers: data.ice_servers || [] });
        window.phonePc = mine;
        for (const track of stream.getVideoTracks()) mine.addTrack(track, stream);
        mine.addEventListener("connectionstatechange", () => {
          if (mine !== pc) return;
          root.dataset.pc = mine.connectionState;
          if (mine.connectionState === "connected") say("connected");
          if (mine.connectionState === "failed" || mine.connectionState === "disconnected") {
            say("reconnecting");
            setTimeout(() => { if (mine === pc && mine.connectionState !== "connected") connect(); }, 3000);
          }
        });
        await mine.setLocalDescription(await mine.createOffer());
        await waitGathering(mine);
        const ack = await postJson(data.urls.offer, { sdp: mine.localDescription.sdp });
        await mine.setRemoteDescription({ type: "answer", sdp: ack.sdp });
        break;
      } catch (err) {
        console.warn("phone: offer failed", err);
        if (err.status === 403 || err.status === 404) { say("ended"); break; }
        await sleep(Math.min(10, 2 ** attempt) * 1000);
      }
    }
    connecting = false;
  }

  // --- the phone's own recording --------------------------------------------------------------------------------
  let recorder = null;
  let nextSeq = Number(data.next_seq) || 0;
  let chunkStart = 0;
  const queue = [];
  let uploaded = 0;
  let pumping = false;

  function drawRec() {
    const st = recorder ? recorder.state : "idle";
    root.dataset.recorder = st;
    root.dataset.uploaded = String(uploaded);
    root.dataset.pending = String(queue.length);
    const label = { idle: t("rec_idle"), recording: t("rec_on"), paused: t("rec_paused"), inactive: t("rec_stopped") };
    recEl.textContent = (label[st] || st) + " · " + uploaded + " " + t("uploaded");
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
        const resp = await fetch(data.urls.chunks, { method: "POST", credentials: "same-origin", body: c.buf,
          headers: headers({ "Content-Type": "application/octet-stream", "X-Chunk-Seq": String(c.seq),
                             "X-Chunk-SHA256": c.sha, "X-Chunk-Start": String(c.start) }) });
        if (resp.ok || resp.status === 409 && (await resp.clone().json().catch(() => ({}))).error === "chunk_conflict") {
          queue.shift();
          if (resp.ok) uploaded++;
        } else if (resp.status >= 400 && resp.status < 500 && resp.status !== 409 && resp.status !== 429) {
          console.warn("phone: chunk refused", c.seq, resp.status);
          queue.shift();
        } else {
          await sleep(2000);
        }
      } catch (e) {
        await sleep(2000);
      }
      drawRec();
    }
    pumping = false;
  }

  function startRecorder() {
    if (recorder && recorder.state === "recording") return;
    if (recorder && recorder.state === "paused") { recorder.resume(); drawRec(); return; }
    if (typeof MediaRecorder === "undefined" || !MediaRecorder.isTypeSupported(MIME)) return;
    recorder = new MediaRecorder(stream, { mimeType: MIME, videoBitsPerSecond: 500000 });
    chunkStart = Date.now();
    recorder.addEventListener("dataavailable", async (ev) => {
      const start = chunkStart;
      chunkStart = Date.now();
      if (!ev.data || !ev.data.size) return;
      const buf = await ev.data.arrayBuffer();
      const seq = nextSeq++;
      queue.push({ seq, buf, start, sha: await sha256Hex(buf) });
      drawRec();
      pump();
    });
    recorder.addEventListener("stop", drawRec);
    recorder.start(data.chunk_ms || 2000);
    drawRec();
  }

  function followState(s) {
    state = s;
    root.dataset.sessionState = s;
    if (s === "live") startRecorder();
    else if (s === "paused" && recorder && recorder.state === "recording") { recorder.pause(); drawRec(); }
    else if (["ended", "decided", "cancelled"].includes(s)) {
      if (recorder && recorder.state !== "inactive") recorder.stop();
      if (pc) pc.close();
      say("ended");
      state = "ended";
    }
  }

  // --- status (battery) every 5 s: the answer carries the session's state --------------------------------------
  let battery = null;
  async function report() {
    const body = { facing };
    if (battery) { body.battery = Math.round(battery.level * 100) / 100; body.charging = !!battery.charging; }
    try {
      const ack = await postJson(data.urls.status, body);
      if (ack.state) followState(ack.state);
    } catch (e) {
      if (e.status === 403 || e.status === 404) followState("ended");
    }
  }

  async function main() {
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } }, audio: false });
    } catch (err) {
      say("camera_failed");
      root.dataset.state = "camera_failed";
      return;
    }
    const v = stream.getVideoTracks()[0];
    facing = (v && v.getSettings && v.getSettings().facingMode) || "unknown";
    if (!["environment", "user"].includes(facing)) facing = "unknown";
    preview.srcObject = stream;
    root.dataset.state = "camera";
    say("connecting");
    if (navigator.getBattery) {
      try {
        battery = await navigator.getBattery();
        battery.addEventListener("levelchange", report);
      } catch (e) { battery = null; }
    }
    root.dataset.battery = battery ? String(battery.level) : "unknown";
    await connect();
    followState(state);
    report();
    setInterval(report, 5000);
  }
  main();
})();
