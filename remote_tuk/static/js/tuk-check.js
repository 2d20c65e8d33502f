// The guided remote TUK check (docs/TUK-CHECK.md): consent, browser and devices, network by real transfers, a media
// test over WebRTC with the server, results with thresholds and hints, then the KTP snapshot and the room recording,
// and the gate status. The assessor gets their own connection check, the candidate's results and the confirmations.
// Texts come translated from the template (data-i18n); the page's progress is mirrored in #tuk's data attributes.
(function () {
  "use strict";

  const root = document.getElementById("tuk");
  if (!root) return;
  const data = JSON.parse(root.dataset.tuk);
  const strings = JSON.parse(root.dataset.i18n || "{}");
  const urls = data.urls || {};
  const api = "/api/v1/sessions/" + encodeURIComponent(data.session);
  urls.confirm = urls.confirm || api + "/identity/confirm";
  urls.override = urls.override || api + "/tuk/override";
  const isCandidate = data.role === "candidate";
  const $ = (sel) => root.querySelector(sel);
  const $$ = (sel) => Array.from(root.querySelectorAll(sel));
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  function t(key, vars) {
    let s = strings[key] || key;
    if (vars) for (const [k, v] of Object.entries(vars)) s = s.split("{" + k + "}").join(String(v));
    return s;
  }

  const requirements = {};
  for (const r of (data.profile && data.profile.requirements) || []) requirements[r.key] = r;

  // --- HTTP ---------------------------------------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, code, message, details) {
      super(message || code || String(status));
      this.status = status;
      this.code = code;
      this.details = details;
    }
  }

  function csrfHeaders(extra) {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return Object.assign({ "X-CSRFToken": data.csrf || (meta && meta.content) || "", Accept: "application/json" },
      extra || {});
  }

  async function answer(res) {
    let payload = null;
    try { payload = await res.json(); } catch (e) { payload = null; }
    if (!res.ok) {
      throw new ApiError(res.status, payload && payload.error, payload && payload.message, payload && payload.details);
    }
    return payload;
  }

  async function postJson(url, body) {
    let res;
    try {
      res = await fetch(url, {
        method: "POST", credentials: "same-origin", cache: "no-store",
        headers: csrfHeaders({ "Content-Type": "application/json" }), body: JSON.stringify(body || {}),
      });
    } catch (err) {
      throw new ApiError(0, "offline", t("offline"));
    }
    return answer(res);
  }

  async function getJson(url) {
    let res;
    try {
      res = await fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } });
    } catch (err) {
      throw new ApiError(0, "offline", t("offline"));
    }
    return answer(res);
  }

  // A POST of raw bytes with upload progress (fetch cannot report it).
  function postBytes(url, body, contentType, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.withCredentials = true;
      const headers = csrfHeaders({ "Content-Type": contentType });
      for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
      if (onProgress) xhr.upload.onprogress = (ev) => { if (ev.lengthComputable) onProgress(ev.loaded, ev.total); };
      xhr.onload = () => {
        let payload = null;
        try { payload = JSON.parse(xhr.responseText); } catch (e) { payload = null; }
        if (xhr.status >= 200 && xhr.status < 300) resolve(payload);
        else reject(new ApiError(xhr.status, payload && payload.error, payload && payload.message, payload && payload.details));
      };
      xhr.onerror = () => reject(new ApiError(0, "offline", t("offline")));
      xhr.send(body);
    });
  }

  // --- the stepper ----------------------------------------------------------------------------------------------
  const STEPS = isCandidate
    ? ["consent", "devices", "network", "media", "results", "identity"]
    : ["devices", "network", "media", "results"];
  const overall = $("[data-tuk-overall]");
  const errorBox = $("[data-tuk-error]");

  function show(step) {
    root.dataset.step = step;
    $$("[data-step]").forEach((el) => { el.hidden = el.dataset.step !== step; });
    const index = STEPS.indexOf(step);
    $$("[data-step-tab]").forEach((li) => {
      const i = STEPS.indexOf(li.dataset.stepTab);
      li.classList.toggle("done", index >= 0 && i < index);
      li.classList.toggle("current", i === index);
      if (i === index) li.setAttribute("aria-current", "step");
      else li.removeAttribute("aria-current");
    });
    if (overall) overall.value = index < 0 ? 100 : Math.round((100 * index) / (STEPS.length - 1));
    const section = $('[data-step="' + step + '"]');
    if (section && section.scrollIntoView) section.scrollIntoView({ block: "nearest" });
  }

  function showError(message) {
    if (!errorBox) return;
    errorBox.hidden = !message;
    errorBox.textContent = message ? t("error") + " " + message : "";
  }

  function errText(err) {
    return (err && (err.message || err.code || err.name)) || String(err);
  }

  function item(list, cls, label, value, note) {
    const li = document.createElement("li");
    li.className = "tuk-item " + (cls || "info");
    const name = document.createElement("span");
    name.className = "tuk-item-label";
    name.textContent = label;
    const val = document.createElement("span");
    val.className = "tuk-item-value";
    val.textContent = value;
    li.append(name, val);
    if (note) {
      const n = document.createElement("small");
      n.className = "muted";
      n.textContent = note;
      li.append(" ", n);
    }
    list.append(li);
    return li;
  }

  function labelOf(key) {
    return (requirements[key] && requirements[key].label) || key;
  }

  // --- 1. consent (candidate) -----------------------------------------------------------------------------------
  function setupConsent() {
    const accept = $("[data-action=consent-accept]");
    const decline = $("[data-action=consent-decline]");
    const checks = $$("[data-consent-check]");
    const texts = (data.consent && data.consent.texts) || [];
    // FR.AK.01 names the TUK: the candidate declares where they take the assessment (remote_tuk/consent).
    const location = $("[data-consent-location]");
    const place = () => (location ? location.value.trim() : "");
    const sync = () => { accept.disabled = !checks.every((c) => c.checked) || (location && place().length < 3); };
    checks.forEach((c) => c.addEventListener("change", sync));
    if (location) location.addEventListener("input", sync);
    sync();
    accept.addEventListener("click", async () => {
      accept.disabled = decline.disabled = true;
      showError("");
      try {
        for (const text of texts) {
          const answer = { kind: text.kind, version: text.version, accept: true };
          if (text.kind === "fr_ak_01") answer.location = place();
          await postJson(urls.consent, answer);
        }
        data.consent.given = true;
        root.dataset.consent = "given";
        show("devices");
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

  // --- 2. browser and devices -------------------------------------------------------------------------------------
  let stream = null;
  let audioCtx = null;
  let checkId = null;
  let running = false;
  const devicesList = $("[data-devices-list]");

  function wantedVideo() {
    const r = requirements.camera_resolution;
    const w = Math.max(640, (r && r.min) || 0);
    const h = Math.max(480, (r && r.min_height) || 0);
    return { width: { ideal: w }, height: { ideal: h }, frameRate: { ideal: 30 } };
  }

  const picked = { videoinput: "", audioinput: "" };

  async function openDevices() {
    if (stream && stream.getTracks().every((tr) => tr.readyState === "live")) return stream;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) throw new Error("getUserMedia");
    const video = isCandidate ? wantedVideo() : false;
    if (video && picked.videoinput) video.deviceId = { exact: picked.videoinput };
    const audio = { echoCancellation: false, noiseSuppression: false, autoGainControl: false };
    if (picked.audioinput) audio.deviceId = { exact: picked.audioinput };
    stream = await navigator.mediaDevices.getUserMedia({ video, audio });
    for (const track of stream.getVideoTracks()) track.contentHint = "detail";
    await listDevices();
    return stream;
  }

  // The cameras and microphones the browser offers (labels are known once permission is given): the candidate picks
  // the physical camera if there are several; a new pick is used from the next run ("Periksa ulang").
  async function listDevices() {
    const box = $("[data-device-pick]");
    if (!box || !navigator.mediaDevices.enumerateDevices) return;
    let devices = [];
    try { devices = await navigator.mediaDevices.enumerateDevices(); } catch (e) { return; }
    let several = false;
    for (const select of $$("[data-pick]")) {
      const kind = select.dataset.pick;
      const track = kind === "videoinput" ? stream.getVideoTracks()[0] : stream.getAudioTracks()[0];
      const current = (track && track.getSettings && track.getSettings().deviceId) || picked[kind];
      const options = devices.filter((d) => d.kind === kind && d.deviceId !== "default" && d.deviceId !== "communications");
      several = several || options.length > 1;
      select.replaceChildren(...options.map((d, i) => {
        const o = document.createElement("option");
        o.value = d.deviceId;
        o.textContent = d.label || kind + " " + (i + 1);
        o.selected = d.deviceId === current;
        return o;
      }));
      if (!select.dataset.bound) {
        select.dataset.bound = "1";
        select.addEventListener("change", () => {
          picked[kind] = select.value;
          if (stream) stream.getTracks().forEach((tr) => tr.stop());
          stream = null;
        });
      }
    }
    box.hidden = !several;
  }

  // Must be called synchronously from a click: fullscreen needs the user's gesture.
  function requestFullscreen() {
    if (!document.fullscreenEnabled || !requirements.fullscreen) return Promise.resolve(false);
    if (document.fullscreenElement) return Promise.resolve(true);
    try {
      return document.documentElement.requestFullscreen().then(() => true, () => false);
    } catch (err) {
      return Promise.resolve(false);
    }
  }

  function ensureAudioContext() {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return null;
    if (!audioCtx) audioCtx = new Ctx();
    if (audioCtx.state === "suspended") audioCtx.resume().catch(() => {});
    return audioCtx;
  }

  // Microphone level over ~3 s: RMS in 50 ms windows (dBFS); the noise floor is the quiet end (10th percentile), the
  // signal the loud end (95th percentile); the answer is how many dB the signal stands above the floor.
  async function measureMicrophone(seconds) {
    const box = $("[data-mic-box]");
    const meter = $("[data-mic-meter]");
    const note = $("[data-mic-note]");
    box.hidden = false;
    note.textContent = t("mic_measuring");
    const ctx = ensureAudioContext();
    if (!ctx || !stream.getAudioTracks().length) return null;
    const source = ctx.createMediaStreamSource(new MediaStream(stream.getAudioTracks()));
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 2048;
    source.connect(analyser);
    const buf = new Float32Array(analyser.fftSize);
    const levels = [];
    const end = performance.now() + seconds * 1000;
    while (performance.now() < end) {
      await sleep(50);
      analyser.getFloatTimeDomainData(buf);
      let sum = 0;
      for (let i = 0; i < buf.length; i++) sum += buf[i] * buf[i];
      const rms = Math.sqrt(sum / buf.length);
      const db = Math.max(-100, 20 * Math.log10(rms || 1e-10));
      levels.push(db);
      const sorted = levels.slice().sort((a, b) => a - b);
      meter.value = Math.max(0, db - sorted[Math.floor(sorted.length * 0.1)]);
    }
    source.disconnect();
    if (levels.length < 10) return null;
    levels.sort((a, b) => a - b);
    const floor = levels[Math.floor(levels.length * 0.1)];
    const signal = levels[Math.min(levels.length - 1, Math.floor(levels.length * 0.95))];
    const level = Math.round((signal - floor) * 10) / 10;
    meter.value = level;
    note.textContent = t("mic_result", { db: level });
    return level;
  }

  function playTone() {
    const ctx = ensureAudioContext();
    if (!ctx) return;
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = 660;
    gain.gain.setValueAtTime(0, ctx.currentTime);
    gain.gain.linearRampToValueAtTime(0.25, ctx.currentTime + 0.05);
    gain.gain.setValueAtTime(0.25, ctx.currentTime + 1.4);
    gain.gain.linearRampToValueAtTime(0, ctx.currentTime + 1.5);
    osc.connect(gain).connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 1.55);
  }

  function speakerCheck() {
    const box = $("[data-speaker-box]");
    box.hidden = false;
    root.dataset.speaker = "asking";
    playTone();
    return new Promise((resolve) => {
      const yes = $("[data-action=speaker-yes]");
      const no = $("[data-action=speaker-no]");
      const replay = $("[data-action=speaker-replay]");
      const done = (heard) => {
        yes.onclick = no.onclick = replay.onclick = null;
        box.hidden = true;
        root.dataset.speaker = heard ? "heard" : "not-heard";
        resolve(heard);
      };
      yes.onclick = () => done(true);
      no.onclick = () => done(false);
      replay.onclick = () => playTone();
    });
  }

  async function battery() {
    if (!navigator.getBattery) return null;
    try {
      const b = await navigator.getBattery();
      return { level: b.level, charging: !!b.charging };
    } catch (err) {
      return null;
    }
  }

  async function deviceChecks(fullscreenPromise) {
    devicesList.replaceChildren();
    const values = {};
    const yn = (v) => (v ? t("yes") : t("no"));
    const cls = (v) => (v ? "ok" : "bad");
    values.browser_webrtc = typeof RTCPeerConnection === "function";
    item(devicesList, cls(values.browser_webrtc), labelOf("browser_webrtc"), yn(values.browser_webrtc), t("by_browser"));
    values.browser_mediarecorder = typeof MediaRecorder === "function" &&
      (!MediaRecorder.isTypeSupported || MediaRecorder.isTypeSupported("video/webm;codecs=vp8,opus") ||
       MediaRecorder.isTypeSupported("video/webm"));
    item(devicesList, cls(values.browser_mediarecorder), labelOf("browser_mediarecorder"),
      yn(values.browser_mediarecorder), t("by_browser"));

    const asking = item(devicesList, "info", t("camera_mic"), t("camera_asking"));
    try {
      await openDevices();
      asking.className = "tuk-item ok";
      asking.querySelector(".tuk-item-value").textContent = t("camera_ok");
    } catch (err) {
      asking.className = "tuk-item bad";
      asking.querySelector(".tuk-item-value").textContent = t("camera_failed") + " " + errText(err);
      throw err;
    }
    const video = stream.getVideoTracks()[0];
    const audio = stream.getAudioTracks()[0];
    if (video) {
      values.camera_labels = [video.label];
      const st = video.getSettings ? video.getSettings() : {};
      item(devicesList, "info", t("camera"), video.label + (st.width ? " · " + st.width + "×" + st.height : ""),
        t("by_browser"));
    }
    if (audio) item(devicesList, "info", t("microphone"), audio.label, t("by_browser"));

    const ext = window.screen && typeof window.screen.isExtended === "boolean" ? window.screen.isExtended : null;
    if (ext !== null) values.single_display = !ext;
    item(devicesList, ext === null ? "info" : cls(!ext), labelOf("single_display"),
      ext === null ? t("not_measured") : yn(!ext), t("by_browser"));

    if (requirements.fullscreen) {
      values.fullscreen = !!(document.fullscreenEnabled && (await fullscreenPromise));
      item(devicesList, cls(values.fullscreen), labelOf("fullscreen"), yn(values.fullscreen),
        values.fullscreen ? t("fullscreen_on") : t("fullscreen_off"));
    }

    const bat = await battery();
    values.battery = bat;
    const batMin = requirements.battery && requirements.battery.min != null ? requirements.battery.min / 100 : 0;
    item(devicesList, bat ? (bat.charging || bat.level >= batMin ? "ok" : "bad") : "info", labelOf("battery"),
      bat ? Math.round(bat.level * 100) + "%" + (bat.charging ? " ⚡" : "") : t("not_measured"), t("by_browser"));

    // The microphone and the speaker need the candidate's attention: only when the LSP's profile asks for them.
    const req = requirements.microphone_level;
    if (req) {
      const level = await measureMicrophone(3);
      if (level !== null) values.microphone_level = level;
      item(devicesList, level !== null && (req.min == null || level >= req.min) ? "ok" : "bad",
        labelOf("microphone_level"), level === null ? t("not_measured") : level + " dB", t("by_browser"));
    }
    if (requirements.speaker_check) {
      values.speaker_check = await speakerCheck();
      item(devicesList, cls(values.speaker_check), labelOf("speaker_check"), yn(values.speaker_check), t("by_browser"));
    }
    return values;
  }

  // --- 3. network -------------------------------------------------------------------------------------------------
  function randomBytes(n) {
    const buf = new Uint8Array(n);
    for (let i = 0; i < n; i += 65536) crypto.getRandomValues(buf.subarray(i, Math.min(n, i + 65536)));
    return buf;
  }

  const mb = (n) => (n / 1e6).toFixed(1);

  async function measureUpload(id) {
    const bar = $("[data-upload-progress]");
    const note = $("[data-upload-note]");
    const total = (data.measure && data.measure.upload_bytes) || 2000000;
    bar.value = 0;
    note.textContent = t("upload_running");
    const body = randomBytes(total);
    const res = await postBytes(urls.upload + "?check=" + encodeURIComponent(id), body, "application/octet-stream",
      (done, all) => {
        bar.value = Math.round((100 * done) / all);
        note.textContent = t("upload_running") + " " + t("progress_bytes", { done: mb(done), total: mb(all) });
      });
    bar.value = 100;
    note.textContent = t("kbps", { kbps: res.upload_kbps });
    root.dataset.uploadKbps = String(res.upload_kbps);
    return res.upload_kbps;
  }

  async function measureDownload(id) {
    const bar = $("[data-download-progress]");
    const note = $("[data-download-note]");
    const total = (data.measure && data.measure.download_bytes) || 4000000;
    bar.value = 0;
    note.textContent = t("download_running");
    const t0 = performance.now();
    let res;
    try {
      res = await fetch(urls.download + "?check=" + encodeURIComponent(id), { credentials: "same-origin", cache: "no-store" });
    } catch (err) {
      throw new ApiError(0, "offline", t("offline"));
    }
    if (!res.ok) await answer(res);
    let got = 0;
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      got += value.byteLength;
      bar.value = Math.round((100 * got) / total);
      note.textContent = t("download_running") + " " + t("progress_bytes", { done: mb(got), total: mb(total) });
    }
    const elapsed = performance.now() - t0;
    const out = await postJson(urls.download_result, { check_id: id, bytes: got, elapsed_ms: elapsed });
    bar.value = 100;
    note.textContent = t("kbps", { kbps: out.download_kbps });
    root.dataset.downloadKbps = String(out.download_kbps);
    return out.download_kbps;
  }

  // --- 4. media test over WebRTC ----------------------------------------------------------------------------------
  function connectSocket() {
    return new Promise((resolve, reject) => {
      if (typeof io === "undefined") return reject(new Error("socket.io"));
      const socket = io("/live", { transports: ["websocket", "polling"], reconnection: false, forceNew: true });
      // The server measures the round trip by calling `probe` on this socket: answer at once.
      socket.on("probe", (msg, ack) => { if (typeof ack === "function") ack({ ok: true }); });
      const timer = setTimeout(() => { socket.close(); reject(new ApiError(0, "offline", t("offline"))); }, 15000);
      socket.on("connect", () => { clearTimeout(timer); resolve(socket); });
      socket.on("connect_error", (err) => { clearTimeout(timer); socket.close(); reject(err); });
    });
  }

  function emitAck(socket, event, payload, timeoutMs) {
    return new Promise((resolve, reject) => {
      socket.timeout(timeoutMs || 20000).emit(event, payload, (err, ack) => {
        if (err) return reject(new ApiError(0, "timeout", t("offline")));
        if (!ack || ack.ok !== true) return reject(new ApiError(0, ack && ack.error, ack && ack.message));
        resolve(ack);
      });
    });
  }

  function waitGathering(pc, timeoutMs) {
    if (pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => { if (pc.iceGatheringState === "complete") done(); };
      const done = () => { clearTimeout(timer); pc.removeEventListener("icegatheringstatechange", check); resolve(); };
      const timer = setTimeout(done, timeoutMs || 5000);
      pc.addEventListener("icegatheringstatechange", check);
    });
  }

  function waitConnected(pc, timeoutMs) {
    return new Promise((resolve) => {
      if (pc.connectionState === "connected") return resolve(true);
      const onChange = () => {
        if (pc.connectionState === "connected") finish(true);
        else if (pc.connectionState === "failed" || pc.connectionState === "closed") finish(false);
      };
      const finish = (ok) => { clearTimeout(timer); pc.removeEventListener("connectionstatechange", onChange); resolve(ok); };
      const timer = setTimeout(() => finish(pc.connectionState === "connected"), timeoutMs);
      pc.addEventListener("connectionstatechange", onChange);
    });
  }

  async function mediaTest(id) {
    const bar = $("[data-media-progress]");
    const note = $("[data-media-note]");
    const preview = $("[data-preview]");
    bar.value = 0;
    note.textContent = t("media_connecting");
    if (preview) {
      preview.hidden = !stream.getVideoTracks().length;
      preview.srcObject = stream;
      preview.play().catch(() => {});
    }
    const socket = await connectSocket();
    let pc = null;
    try {
      await emitAck(socket, "join", { session: data.session }, 10000);
      pc = new RTCPeerConnection({ iceServers: data.ice_servers || [] });
      window.tukPc = pc;
      for (const track of stream.getTracks()) pc.addTrack(track, stream);
      if (!isCandidate) pc.addTransceiver("video", { direction: "recvonly" });
      await pc.setLocalDescription(await pc.createOffer());
      await waitGathering(pc, data.ice_gathering_timeout_ms || 5000);
      const ack = await emitAck(socket, "offer", { session: data.session, sdp: pc.localDescription.sdp }, 30000);
      await pc.setRemoteDescription({ type: "answer", sdp: ack.sdp });
      if (!(await waitConnected(pc, 20000))) throw new ApiError(0, "media_failed", t("media_failed") + " ICE");
      root.dataset.media = "connected";
      const seconds = (data.measure && data.measure.media_seconds) || 8;
      const start = performance.now();
      for (;;) {
        const left = seconds - (performance.now() - start) / 1000;
        bar.value = Math.min(100, Math.round((100 * (seconds - left)) / seconds));
        if (left <= 0) break;
        note.textContent = t("media_running", { s: Math.ceil(left) });
        await sleep(Math.min(250, left * 1000));
      }
      note.textContent = t("media_measuring");
      const res = await postJson(urls.media, { check_id: id, socket_id: socket.id });
      bar.value = 100;
      root.dataset.media = "measured";
      return res;
    } finally {
      if (pc) pc.close();
      try { await emitAck(socket, "leave", { session: data.session }, 5000); } catch (e) { /* gone anyway */ }
      socket.close();
    }
  }

  // --- 5. results -------------------------------------------------------------------------------------------------
  function formatValue(r) {
    const v = r.value;
    if (v === null || v === undefined) return t("not_measured");
    if (typeof v === "boolean") return v ? t("yes") : t("no");
    if (typeof v === "number") return (r.unit ? v + " " + r.unit : String(v));
    return String(v);
  }

  function badge(ok, text) {
    const b = document.createElement("span");
    b.className = "badge " + (ok ? "tuk-pass" : "tuk-fail");
    b.textContent = text;
    return b;
  }

  function resultRow(r, extra) {
    const tr = document.createElement("tr");
    tr.dataset.key = r.key;
    tr.dataset.pass = r.pass ? "1" : "0";
    tr.className = r.pass ? "row-pass" : r.mandatory ? "row-fail" : "row-warn";
    const cells = [];
    for (let i = 0; i < 6; i++) cells.push(document.createElement("td"));
    cells[0].textContent = r.label || labelOf(r.key);
    const kind = document.createElement("small");
    kind.className = "muted";
    kind.textContent = " (" + (r.mandatory ? t("mandatory") : t("advisory")) + ")";
    cells[0].append(kind);
    cells[1].append(badge(r.pass, r.pass ? t("pass") : t("fail")));
    cells[2].textContent = formatValue(r);
    cells[2].className = "tuk-value";
    cells[3].textContent = r.threshold || "";
    cells[4].textContent = r.source === "browser" ? t("by_browser") : t("by_server");
    if (extra) extra(cells[5], r);
    else cells[5].textContent = r.pass ? "" : r.hint || "";
    cells[5].className = "tuk-hint";
    tr.append(...cells);
    return tr;
  }

  function drawResults(res) {
    const banner = $("[data-results-banner]");
    banner.className = "banner " + (res.passed ? "banner-ok" : "banner-fail");
    let text = res.passed ? t("passed") : t("failed");
    if (res.valid_until && res.passed) text += " " + t("valid_until", { t: new Date(res.valid_until).toLocaleString(document.documentElement.lang || undefined) });
    banner.textContent = text;
    const body = $("[data-results-table] tbody");
    body.replaceChildren(...(res.results || []).map((r) => resultRow(r)));
    root.dataset.passed = res.passed ? "1" : "0";
  }

  // --- the whole check --------------------------------------------------------------------------------------------
  async function runCheck(fullscreenPromise) {
    if (running) return;
    running = true;
    root.dataset.check = "running";
    delete root.dataset.media;
    delete root.dataset.passed;
    const buttons = $$("[data-action=start], [data-action=recheck], [data-action=to-identity]");
    buttons.forEach((b) => { b.disabled = true; });
    showError("");
    const began = performance.now();
    try {
      show("devices");
      item(devicesList, "info", t("starting"), "");
      checkId = (await postJson(urls.start, {})).check_id;
      root.dataset.checkId = String(checkId);
      if (isCandidate && data.state === "scheduled") drawState("checking");
      const values = await deviceChecks(fullscreenPromise);
      await postJson(urls.browser, { check_id: checkId, values });

      show("network");
      try { await measureUpload(checkId); } catch (err) { $("[data-upload-note]").textContent = errText(err); }
      try { await measureDownload(checkId); } catch (err) { $("[data-download-note]").textContent = errText(err); }

      show("media");
      try {
        await mediaTest(checkId);
      } catch (err) {
        const note = $("[data-media-note]");
        if (!isCandidate && err.code === "invalid_state") note.textContent = t("assessor_media_later");
        else note.textContent = t("media_failed") + " " + errText(err);
        root.dataset.media = "failed";
        await sleep(1500);
      }

      if (root.dataset.media === "measured") $("[data-media-note]").textContent = t("finishing");
      const res = await postJson(urls.finish, { check_id: checkId });
      drawResults(res);
      root.dataset.elapsedMs = String(Math.round(performance.now() - began));
      show("results");
      root.dataset.check = "done";
      startPolling();
    } catch (err) {
      root.dataset.check = "error";
      showError(errText(err));
    } finally {
      running = false;
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  const startBtn = $("[data-action=start]");
  if (startBtn) {
    startBtn.addEventListener("click", () => {
      const fs = requestFullscreen();
      ensureAudioContext();
      runCheck(fs);
    });
  }
  const recheckBtn = $("[data-action=recheck]");
  if (recheckBtn) {
    recheckBtn.addEventListener("click", () => {
      const fs = requestFullscreen();
      ensureAudioContext();
      runCheck(fs);
    });
  }

  // --- 6. ID and room (candidate) ---------------------------------------------------------------------------------
  let ktpBlob = null;

  async function showIdentity() {
    show("identity");
    showError("");
    try {
      await openDevices();
    } catch (err) {
      showError(t("camera_failed") + " " + errText(err));
      return;
    }
    const v = $("[data-id-preview]");
    v.srcObject = stream;
    v.play().catch(() => {});
    startPolling();
  }

  function takeKtp() {
    const v = $("[data-id-preview]");
    const canvas = $("[data-ktp-canvas]");
    const w = v.videoWidth || 640;
    const h = v.videoHeight || 480;
    canvas.width = w;
    canvas.height = h;
    canvas.getContext("2d").drawImage(v, 0, 0, w, h);
    return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
  }

  async function sendKtp() {
    const note = $("[data-ktp-note]");
    const send = $("[data-action=ktp-send]");
    if (!ktpBlob) return;
    send.disabled = true;
    try {
      await postBytes(urls.ktp, ktpBlob, "image/jpeg", (done, all) => {
        note.textContent = t("uploading") + " " + Math.round((100 * done) / all) + "%";
      });
      note.textContent = t("ktp_sent");
      root.dataset.ktp = "sent";
      pollNow();
    } catch (err) {
      note.textContent = t("error") + " " + errText(err);
      send.disabled = false;
    }
  }

  async function recordRoom(seconds) {
    const note = $("[data-room-note]");
    const bar = $("[data-room-progress]");
    const button = $("[data-action=room-record]");
    if (typeof MediaRecorder !== "function") {
      note.textContent = t("recorder_missing");
      return;
    }
    button.disabled = true;
    root.dataset.room = "recording";
    try {
      await openDevices();
      const types = ["video/webm;codecs=vp8,opus", "video/webm;codecs=vp8", "video/webm"];
      const mimeType = types.find((m) => !MediaRecorder.isTypeSupported || MediaRecorder.isTypeSupported(m));
      if (!mimeType) throw new Error(t("recorder_missing"));
      const rec = new MediaRecorder(stream, { mimeType, videoBitsPerSecond: 1000000, audioBitsPerSecond: 48000 });
      const parts = [];
      rec.ondataavailable = (ev) => { if (ev.data && ev.data.size) parts.push(ev.data); };
      const stopped = new Promise((resolve) => { rec.onstop = resolve; });
      rec.start(1000);
      const start = performance.now();
      for (;;) {
        const left = seconds - (performance.now() - start) / 1000;
        bar.value = Math.min(100, Math.round((100 * (seconds - left)) / seconds));
        if (left <= 0) break;
        note.textContent = t("room_recording", { s: Math.ceil(left) });
        await sleep(Math.min(250, left * 1000));
      }
      rec.stop();
      await stopped;
      note.textContent = t("room_recorded");
      const blob = new Blob(parts, { type: "video/webm" });
      await postBytes(urls.room, blob, "video/webm", (done, all) => {
        note.textContent = t("uploading") + " " + Math.round((100 * done) / all) + "%";
        bar.value = Math.round((100 * done) / all);
      });
      note.textContent = t("room_sent");
      root.dataset.room = "sent";
      pollNow();
    } catch (err) {
      note.textContent = t("error") + " " + errText(err);
      root.dataset.room = "failed";
    } finally {
      button.disabled = false;
    }
  }

  if (isCandidate) {
    const toId = $("[data-action=to-identity]");
    if (toId) toId.addEventListener("click", showIdentity);
    $("[data-action=ktp-take]").addEventListener("click", async () => {
      const note = $("[data-ktp-note]");
      ktpBlob = await takeKtp();
      const img = $("[data-ktp-image]");
      if (img.src) URL.revokeObjectURL(img.src);
      img.src = URL.createObjectURL(ktpBlob);
      img.hidden = false;
      note.textContent = t("ktp_taken");
      $("[data-action=ktp-send]").disabled = false;
      root.dataset.ktp = "taken";
    });
    $("[data-action=ktp-send]").addEventListener("click", sendKtp);
    $("[data-action=room-record]").addEventListener("click", () => recordRoom(10));
  }

  // --- the gate status (both pages) and the assessor's review ----------------------------------------------------
  const gateBox = $("[data-gate]");
  let pollTimer = null;
  let lastStatus = null;

  function startPolling() {
    if (gateBox) gateBox.hidden = false;
    if (!pollTimer) pollNow();
  }

  async function pollNow() {
    clearTimeout(pollTimer);
    try {
      const st = await getJson(urls.status);
      lastStatus = st;
      drawStatus(st);
    } catch (err) {
      console.warn("tuk: status", err);
    }
    pollTimer = setTimeout(pollNow, 3000);
  }

  function missingText(code) {
    if (code.startsWith("tuk_requirements:")) {
      const keys = code.slice("tuk_requirements:".length).split(",").filter(Boolean);
      return t("missing_tuk_requirements") + " " + keys.map(labelOf).join(", ");
    }
    return strings["missing_" + code] || code;
  }

  function drawState(state, label) {
    const stateEl = $("[data-tuk-state]");
    data.state = state;
    root.dataset.state = state;
    if (!stateEl) return;
    stateEl.className = "badge state-" + state;
    stateEl.textContent = label || strings["state_" + state] || state;
  }

  function drawStatus(st) {
    if (st.state) drawState(st.state, st.state_label);
    const gate = st.gate || { open: false, missing: [] };
    root.dataset.gate = gate.open ? "open" : "closed";
    const list = $("[data-gate-list]");
    if (list) {
      list.replaceChildren();
      const ident = st.identity || {};
      const missing = gate.missing || [];
      const has = (code) => missing.some((m) => m === code || m.startsWith(code + ":"));
      item(list, has("consent") ? "bad" : "ok", t("missing_consent"), has("consent") ? t("not_yet") : t("yes"));
      item(list, has("assessor_signature") ? "bad" : "ok", t("missing_assessor_signature"),
        has("assessor_signature") ? t("not_yet") : t("yes"));
      const checkOk = !has("tuk_check") && !has("tuk_requirements") && !has("tuk_check_expired");
      item(list, checkOk ? "ok" : "bad", t("missing_tuk_check"),
        checkOk ? t("pass") : missing.filter((m) => m.startsWith("tuk_")).map(missingText).join("; "));
      item(list, ident.ktp ? "ok" : "bad", t("ktp"), ident.ktp ? t("sent") : t("not_yet"));
      item(list, ident.id_confirmed ? "ok" : "bad", t("missing_id_confirmation"),
        ident.id_confirmed ? t("confirmed") : t("not_yet"));
      item(list, ident.room ? "ok" : "bad", t("room"), ident.room ? t("sent") : t("not_yet"));
      item(list, ident.room_confirmed ? "ok" : "bad", t("missing_room_confirmation"),
        ident.room_confirmed ? t("confirmed") : t("not_yet"));
    }
    const note = $("[data-gate-note]");
    if (note) {
      note.className = gate.open ? "gate-open" : "gate-waiting";
      note.textContent = gate.open ? t("gate_open") : t("gate_waiting");
    }
    const live = $("[data-live-link]");
    if (live) live.hidden = !(gate.open || ["live", "paused"].includes(st.state));
    if (!isCandidate) drawReview(st);
  }

  // Assessor: the candidate's results, overrides, ID and room confirmations, and the moves towards live.
  function drawReview(st) {
    const summary = $("[data-review-summary]");
    const table = $("[data-review-table]");
    const check = st.check;
    const overridden = {};
    for (const o of st.overrides || []) overridden[o.key] = o;
    if (!check) {
      summary.textContent = t("no_check");
      table.hidden = true;
    } else {
      summary.textContent = check.passed ? t("passed") : t("failed");
      summary.className = check.passed ? "gate-open" : "gate-waiting";
      table.hidden = false;
      const body = table.querySelector("tbody");
      // Keep a half-written reason: redraw only when the results or overrides changed.
      const sig = JSON.stringify([check.id, check.results, st.overrides]);
      if (body.dataset.sig !== sig) {
        body.dataset.sig = sig;
        body.replaceChildren(...(check.results || []).map((r) => resultRow(r, (cell, res) => overrideCell(cell, res, overridden))));
      }
    }
    const ident = st.identity || {};
    const yesNo = (v, word) => (v ? word : t("not_yet"));
    $('[data-ident="ktp"]').textContent = yesNo(ident.ktp, t("sent"));
    $('[data-ident="room"]').textContent = yesNo(ident.room, t("sent"));
    $('[data-ident="id_confirmed"]').textContent = yesNo(ident.id_confirmed, t("confirmed"));
    $('[data-ident="room_confirmed"]').textContent = yesNo(ident.room_confirmed, t("confirmed"));
    const idBtn = $('[data-action=confirm][data-what="id"]');
    const roomBtn = $('[data-action=confirm][data-what="room"]');
    if (idBtn && !idBtn.dataset.busy) idBtn.disabled = !ident.ktp || !!ident.id_confirmed;
    if (roomBtn && !roomBtn.dataset.busy) roomBtn.disabled = !ident.room || !!ident.room_confirmed;
    const img = $("[data-ktp-review]");
    const ktpUrl = ident.ktp_url || ident.ktp_image || null;
    if (img) {
      img.hidden = !ktpUrl;
      if (ktpUrl && img.getAttribute("src") !== ktpUrl) img.src = ktpUrl;
    }
    const gateOpen = st.gate && st.gate.open;
    const toReady = $('[data-action=move][data-to="ready"]');
    const toLive = $('[data-action=move][data-to="live"]');
    if (toReady) toReady.hidden = !(gateOpen && st.state === "checking");
    if (toLive) toLive.hidden = !(gateOpen && st.state === "ready");
    if (st.assessor_check) root.dataset.assessorCheck = st.assessor_check.passed ? "passed" : "failed";
  }

  function overrideCell(cell, r, overridden) {
    if (r.pass) return;
    if (r.hint) {
      const hint = document.createElement("div");
      hint.className = "small muted";
      hint.textContent = r.hint;
      cell.append(hint);
    }
    if (overridden[r.key]) {
      const p = document.createElement("div");
      p.className = "small tuk-overridden";
      p.textContent = t("overridden") + " " + overridden[r.key].reason;
      cell.append(p);
      return;
    }
    const form = document.createElement("form");
    form.className = "tuk-override";
    form.dataset.overrideKey = r.key;
    const area = document.createElement("textarea");
    area.name = "reason";
    area.rows = 2;
    area.maxLength = 2000;
    area.placeholder = t("override_reason");
    area.setAttribute("aria-label", t("override_reason") + ": " + (r.label || r.key));
    const button = document.createElement("button");
    button.type = "submit";
    button.textContent = t("override");
    const msg = document.createElement("small");
    msg.className = "error";
    form.append(area, button, msg);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const reason = area.value.trim();
      if (reason.length < 10) {
        msg.textContent = t("override_reason_short");
        return;
      }
      button.disabled = true;
      try {
        await postJson(urls.override, { key: r.key, reason });
        msg.className = "small";
        msg.textContent = t("override_done");
        pollNow();
      } catch (err) {
        msg.textContent = errText(err);
        button.disabled = false;
      }
    });
    cell.append(form);
  }

  if (!isCandidate) {
    $$("[data-action=confirm]").forEach((btn) => {
      btn.addEventListener("click", async () => {
        const what = btn.dataset.what;
        const note = $('[data-confirm-note="' + what + '"]');
        btn.disabled = true;
        btn.dataset.busy = "1";
        showError("");
        try {
          await postJson(urls.confirm, { what, confirmed: true, note: note ? note.value.trim() : "" });
          root.dataset["confirmed" + (what === "id" ? "Id" : "Room")] = "1";
        } catch (err) {
          showError(errText(err));
          btn.disabled = false;
        } finally {
          delete btn.dataset.busy;
          pollNow();
        }
      });
    });
    $$("[data-action=move]").forEach((btn) => {
      btn.addEventListener("click", async () => {
        btn.disabled = true;
        showError("");
        try {
          await postJson(api + "/transition", { to: btn.dataset.to });
        } catch (err) {
          showError(errText(err));
        } finally {
          btn.disabled = false;
          pollNow();
        }
      });
    });
  }

  // A candidate who comes back (reload, another day) with a check still valid goes on from its results.
  async function resumeFromStatus() {
    let st;
    try { st = await getJson(urls.status); } catch (e) { return; }
    const missing = (st.gate && st.gate.missing) || [];
    if (!st.check || running || missing.some((m) => m === "tuk_check_expired" || m === "tuk_check")) return;
    drawResults({ passed: st.check.passed, valid_until: st.check.valid_until, results: st.check.results });
    root.dataset.check = "done";
    show("results");
    lastStatus = st;
    startPolling();
  }

  // --- start ------------------------------------------------------------------------------------------------------
  // Once the session is live (or over) the check is not run again: its media test would replace the live connection.
  const PAST_CHECK = ["live", "paused", "ended", "decided", "cancelled"];
  if (PAST_CHECK.includes(data.state)) {
    root.dataset.step = "closed";
    $$("[data-step], [data-step-tab]").forEach((el) => { el.hidden = true; });
    if (overall) overall.hidden = true;
    const info = document.createElement("p");
    info.className = "flash flash-info";
    info.textContent = t("session_started");
    errorBox.after(info);
    startPolling();
  } else if (isCandidate) {
    setupConsent();
    if (data.consent && data.consent.given) {
      root.dataset.consent = "given";
      show("devices");
      resumeFromStatus();
    } else {
      show("consent");
    }
  } else {
    show("devices");
    startPolling();
  }
  if (!window.isSecureContext || !navigator.mediaDevices) showError(t("insecure"));

  window.tukCheck = {
    data, measureUpload, measureDownload, pollNow,
    get checkId() { return checkId; }, get status() { return lastStatus; }, get stream() { return stream; },
  };
})();
