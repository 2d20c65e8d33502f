// The candidate's live page: camera + microphone to the server, the assessor's voice back, the primary recording
// (MediaRecorder chunks hashed with SHA-256 and uploaded in order, retried until accepted), reconnect on its own.
(function () {
  "use strict";
  const L = window.Live;
  if (!L) return;
  const { data, t, $, root } = L;

  const selfView = $("#self-view");
  const audioEl = $("#assessor-audio");
  const mediaNote = $("[data-live-media-note]");
  const recBox = $("[data-live-rec]");
  const recStateEl = $("[data-live-rec-state]");
  const recCountsEl = $("[data-live-rec-counts]");
  const ACTIVE = ["checking", "ready", "live", "paused"];
  const MIME = "video/webm;codecs=vp8,opus";
  const REC_FPS = 15;

  let stream = null;
  let conn = null;
  let mediaFailed = false;

  function showNote(text, isError) {
    if (!mediaNote) return;
    mediaNote.textContent = text;
    mediaNote.classList.toggle("error", !!isError);
    mediaNote.hidden = !text;
  }

  // --- media: one RTCPeerConnection to the server, kept alive --------------------------------------------------
  // The small layer for the assessor's classroom tiles (docs/MEDIA.md, "Classroom"): the camera again, scaled down
  // by the encoder to 160x120 at <= 8 fps and <= 100 kbit/s, as a second video track; one clone per page.
  // It is sent only while wanted: once a classroom tile watches this session (the join answer's `small_layer`, or
  // the `layer_wanted` event); a one-to-one session never runs the extra encoder.
  let smallTrack = null;
  let smallSender = null;
  let smallWanted = false;
  async function wantSmall() {
    smallWanted = true;
    if (!smallSender) return;
    const params = smallSender.getParameters();
    if (!params.encodings || !params.encodings.length || params.encodings[0].active) return;
    params.encodings[0].active = true;
    try { await smallSender.setParameters(params); } catch (e) { /* the tile stays dark; the session is unaffected */ }
  }
  L.onJoined((ack) => { if (ack && ack.small_layer) wantSmall(); });
  L.socket.on("layer_wanted", (d) => { if (d && d.session === data.session) wantSmall(); });
  async function setupPc(pc) {
    for (const track of stream.getTracks()) {
      const sender = pc.addTrack(track, stream);
      if (track.kind === "video") {
        const params = sender.getParameters();
        params.degradationPreference = "maintain-resolution";
        try { await sender.setParameters(params); } catch (e) { /* older browsers */ }
      }
    }
    const camera = stream.getVideoTracks()[0];
    if (camera && data.small_layer !== false) {
      try {
        if (!smallTrack || smallTrack.readyState === "ended") smallTrack = camera.clone();
        smallSender = pc.addTransceiver(smallTrack, { direction: "sendonly", streams: [stream],
          sendEncodings: [{ active: smallWanted, scaleResolutionDownBy: 4, maxFramerate: 8, maxBitrate: 100000 }],
        }).sender;
      } catch (e) { /* without the small layer the classroom tile stays dark; the session is unaffected */ }
    }
    pc.addEventListener("track", (ev) => {
      if (ev.track.kind !== "audio") return;
      audioEl.srcObject = new MediaStream([ev.track]);
      L.play(audioEl);
    });
  }

  function ensureMedia() {
    if (!stream || !ACTIVE.includes(L.state)) return;
    if (!conn) {
      conn = L.keepConnected(setupPc);
      conn.start();
      return;
    }
    const pc = conn.pc;
    if (!pc || pc.connectionState === "failed" || pc.connectionState === "closed") conn.reconnect();
  }

  // --- the primary recording ----------------------------------------------------------------------------------
  const seqKey = "rtuk-live-seq:" + data.session;
  let nextSeq = Number(safeGet(seqKey)) || 0; // continues after a reload of the page
  const queue = []; // {id, seq, blob, start, sha, restored}
  // Every chunk is kept in IndexedDB until the server has it (chunk-store.js): a closed tab or a crash loses nothing,
  // the page opened again uploads what was left first. The pump waits until what was left has been read.
  let chunkStore = null;
  let restoredLeft = 0;
  const storeReady = window.RtukChunkStore.open(data.session).then(async (s) => {
    chunkStore = s;
    const left = await s.pending();
    if (left.length) {
      left.forEach((c) => { c.restored = true; });
      queue.unshift(...left);
      restoredLeft = left.length;
      const last = left[left.length - 1].seq;
      if (last >= nextSeq) {
        nextSeq = last + 1;
        safeSet(seqKey, String(nextSeq));
      }
      root.dataset.restored = String(left.length);
      L.notice("info", t("rec_restoring", { n: left.length }));
    }
    drawRec();
    pump();
  });
  let uploaded = 0;
  let skipped = 0;
  let recorder = null;
  // stop() makes the recorder "inactive" at once but hands over the last chunk a moment later, just before its
  // "stop" event: until then the page says "stopping", so nobody takes "inactive, nothing pending" for "all uploaded"
  let stopping = false;
  // the session ended (or was decided or cancelled): what is left is sending the last chunks
  let closed = false;
  const closeNote = $("[data-live-close-note]");
  let chunkStart = 0;
  let pumping = false;
  let wake = null;

  function safeGet(key) { try { return localStorage.getItem(key); } catch (e) { return null; } }
  function safeSet(key, value) { try { localStorage.setItem(key, value); } catch (e) { /* private mode */ } }

  function drawRec() {
    const st = recorder ? (stopping ? "stopping" : recorder.state) : "idle";
    const label = {
      idle: t("rec_idle"), recording: t("rec_on"), paused: t("rec_paused"), stopping: t("rec_stopped"),
      inactive: t("rec_stopped"),
    };
    recStateEl.textContent = st === "idle" && ["checking", "ready"].includes(L.state) ? t("waiting_live") : label[st] || st;
    recBox.className = "rec rec-" + st;
    recCountsEl.textContent = t("rec_counts", { done: uploaded, pending: queue.length });
    if (closed && closeNote) {
      const sent = !stopping && !queue.length;
      closeNote.textContent = sent ? t("closed_done") : t("closed_sending", { n: queue.length + (stopping ? 1 : 0) });
      root.dataset.closeNote = sent ? "done" : "sending";
    }
    root.dataset.recorder = st;
    root.dataset.uploaded = String(uploaded);
    root.dataset.pending = String(queue.length);
    root.dataset.nextSeq = String(nextSeq);
  }

  // The recorder gets its own copy of the camera at 15 frames/s: a second full-rate VP8 encoder in the page halves
  // the frame rate sent to the assessor on a small machine, and 15 frames/s is plenty for the evidence.
  let recStream = null;
  function recordingStream() {
    if (recStream) return recStream;
    const tracks = stream.getAudioTracks().slice();
    for (const v of stream.getVideoTracks()) {
      const copy = v.clone();
      copy.applyConstraints({ frameRate: { max: REC_FPS } }).catch(() => {});
      tracks.unshift(copy);
    }
    recStream = new MediaStream(tracks);
    return recStream;
  }

  function startRecorder() {
    if (!stream) return;
    if (recorder && recorder.state === "recording") return;
    if (recorder && recorder.state === "paused") {
      recorder.resume();
      drawRec();
      return;
    }
    if (typeof MediaRecorder === "undefined" || !MediaRecorder.isTypeSupported(MIME)) {
      showNote(t("rec_failed") + " " + MIME, true);
      return;
    }
    try {
      recorder = new MediaRecorder(recordingStream(), { mimeType: MIME, videoBitsPerSecond: 600000, audioBitsPerSecond: 64000 });
    } catch (err) {
      showNote(t("rec_failed") + " " + err.message, true);
      return;
    }
    recorder.addEventListener("dataavailable", (ev) => {
      const start = chunkStart;
      chunkStart = Date.now();
      if (ev.data && ev.data.size > 0) enqueue(ev.data, start);
    });
    recorder.addEventListener("stop", () => { stopping = false; drawRec(); });
    recorder.addEventListener("pause", drawRec);
    recorder.addEventListener("resume", drawRec);
    recorder.addEventListener("error", (ev) => showNote(t("rec_failed") + " " + (ev.error && ev.error.message), true));
    chunkStart = Date.now();
    recorder.start(data.chunk_ms || 2000);
    drawRec();
  }

  function pauseRecorder() {
    if (recorder && recorder.state === "recording") {
      recorder.requestData(); // what was recorded before the pause is uploaded now
      recorder.pause();
    }
    drawRec();
  }

  function stopRecorder() {
    if (recorder && recorder.state !== "inactive") {
      stopping = true;
      recorder.stop(); // emits the last chunk, then "stop"
    }
    drawRec();
  }

  function followState(state) {
    if (state === "live") startRecorder();
    else if (state === "paused") pauseRecorder();
    else if (state === "ended" || state === "decided" || state === "cancelled") {
      closed = true;
      stopRecorder();
      if (conn) conn.stop();
      L.setMediaState("waiting");
      showNote(t("media_closed"));
      // the camera and microphone go off once the recorder has handed over its last chunk (its "stop" event)
      if (recorder && stopping) recorder.addEventListener("stop", releaseDevices, { once: true });
      else releaseDevices();
      const sources = root.querySelector("[data-sources]");
      if (sources) sources.hidden = true; // no new phone link for a closed session
      if (state !== "ended") { // the assessor may still chat while deciding; after that the chat is closed
        root.querySelectorAll("[data-live-chat-form] input, [data-live-chat-form] button").forEach((el) => {
          el.disabled = true;
        });
      }
      drawRec();
    }
  }

  // The session is over: stop every track this page captured, so the camera light goes off.
  function releaseDevices() {
    for (const track of [...(stream ? stream.getTracks() : []), ...(smallTrack ? [smallTrack] : [])]) track.stop();
    selfView.srcObject = null;
    root.dataset.devices = "released";
  }

  function enqueue(blob, start) {
    const chunk = { seq: nextSeq++, blob, start, sha: null };
    queue.push(chunk);
    safeSet(seqKey, String(nextSeq));
    if (chunkStore) chunkStore.put(chunk);
    else storeReady.then(() => chunkStore.put(chunk));
    drawRec();
    pump();
  }

  // The chunk is on the server (or will never be): forget the copy kept in IndexedDB.
  function done(chunk, accepted) {
    queue.shift();
    if (chunkStore) chunkStore.remove(chunk);
    if (accepted) uploaded++;
    else skipped++;
    if (chunk.restored) {
      restoredLeft--;
      if (restoredLeft === 0) L.notice("info", t("rec_restored"));
    }
    drawRec();
  }

  // Sequence numbers move (a conflict, or the server knowing a later number): the kept copies move with them.
  function renumber(chunks, by) {
    for (const c of chunks) {
      c.seq += by;
      if (chunkStore) chunkStore.put(c);
    }
  }

  async function sha256Hex(blob) {
    const digest = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
    return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function backoff(ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => { clearTimeout(timer); resolve(); };
    });
  }

  // Upload the queue in order, one chunk at a time, until each is accepted (a 200 duplicate counts as accepted).
  async function pump() {
    if (pumping) return;
    pumping = true;
    let failures = 0;
    try {
      await storeReady;
      while (queue.length) {
        const chunk = queue[0];
        if (chunk.blob.size > (data.max_chunk_bytes || 8388608)) {
          done(chunk, false);
          L.notice("error", t("chunk_too_big"));
          continue;
        }
        let res = null;
        let body = null;
        try {
          if (!chunk.sha) {
            chunk.sha = await sha256Hex(chunk.blob);
            if (chunkStore) chunkStore.put(chunk);
          }
          res = await fetch(data.urls.chunks, {
            method: "POST", credentials: "same-origin", body: chunk.blob,
            headers: L.csrfHeaders({
              "Content-Type": "application/octet-stream", "X-Chunk-Seq": String(chunk.seq),
              "X-Chunk-SHA256": chunk.sha, "X-Chunk-Start": String(chunk.start),
            }),
          });
          try { body = await res.json(); } catch (e) { body = null; }
        } catch (err) {
          res = null; // network down: keep the chunk, retry
        }
        if (res && (res.status === 201 || res.status === 200)) {
          done(chunk, true);
          failures = 0;
          continue;
        }
        const code = body && body.error;
        if (res && res.status === 409 && code === "chunk_conflict") {
          // This sequence number is taken (e.g. a reload lost the counter): move this and the rest up by one.
          renumber(queue, 1);
          nextSeq++;
          safeSet(seqKey, String(nextSeq));
          continue;
        }
        if (res && res.status === 413) {
          done(chunk, false);
          L.notice("error", t("chunk_too_big"));
          continue;
        }
        if (res && res.status === 422 && code === "chunk_hash_mismatch") chunk.sha = null;
        if (res) console.warn("live: chunk", chunk.seq, "refused", res.status, body);
        failures++;
        drawRec();
        await backoff(Math.min(10000, 1000 * 2 ** Math.min(failures - 1, 4)));
      }
    } finally {
      pumping = false;
    }
  }

  // The network is back: retry the queue now instead of waiting for the backoff.
  L.socket.on("connect", () => { if (wake) wake(); });
  window.addEventListener("online", () => { if (wake) wake(); });

  // --- start ---------------------------------------------------------------------------------------------------
  let firstJoin = true;
  function onJoined(ack) {
    // The server knows the next number too: without it (a private window forgets localStorage) a reloaded page
    // would start again at 0 and every chunk would first meet a conflict.
    const serverNext = Number(ack.next_seq);
    if (Number.isInteger(serverNext) && serverNext > nextSeq) {
      // chunks kept from before keep their numbers (one the server already has is answered as a duplicate)
      const fresh = queue.filter((c) => !c.restored);
      const shift = serverNext - (fresh.length ? fresh[0].seq : nextSeq);
      if (shift > 0) renumber(fresh, shift);
      nextSeq = queue.length ? queue[queue.length - 1].seq + 1 : serverNext;
      safeSet(seqKey, String(nextSeq));
    }
    drawRec();
    if (firstJoin) {
      firstJoin = false;
      followState(ack.state);
    }
    ensureMedia();
  }
  L.onJoined(onJoined);
  L.onState((state) => {
    followState(state);
    ensureMedia();
    drawRec();
  });

  async function init() {
    if (!window.isSecureContext || !navigator.mediaDevices || !window.crypto || !crypto.subtle) {
      showNote(t("insecure"), true);
      mediaFailed = true;
      return;
    }
    if (["ended", "decided", "cancelled"].includes(L.state)) { // a closed session needs no camera
      followState(L.state);
      return;
    }
    showNote(t("camera_needed"));
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 30 } },
        audio: { echoCancellation: true, noiseSuppression: true },
      });
    } catch (err) {
      mediaFailed = true;
      showNote(t("camera_failed") + " " + (err.message || err.name), true);
      return;
    }
    if (closed) { // the session closed while the browser was asking for the camera
      releaseDevices();
      return;
    }
    for (const track of stream.getVideoTracks()) track.contentHint = "detail";
    selfView.srcObject = stream;
    showNote("");
    drawRec();
    if (L.lastJoin) {
      firstJoin = false;
      followState(L.state);
      ensureMedia();
    }
  }

  // --- fullscreen, when the LSP's TUK profile asks for it (the check asked for it too) -------------------------
  const fsBox = $("[data-live-fullscreen]");
  if (fsBox) {
    const fsText = $("[data-live-fullscreen-text]");
    const fsButton = $("[data-live-fullscreen-enter]");
    const ask = fsBox.dataset.liveFullscreen === "mandatory" ? t("fullscreen_required") : t("fullscreen_advised");
    let wasOn = false;
    const drawFullscreen = () => {
      const on = !!document.fullscreenElement;
      const closed = ["ended", "decided", "cancelled"].includes(L.state);
      fsBox.dataset.state = on ? "on" : wasOn ? "lost" : "off";
      fsBox.hidden = closed;
      fsBox.classList.toggle("fullscreen-lost", !on && wasOn);
      fsText.textContent = on ? t("fullscreen_on") : wasOn ? t("fullscreen_lost") : ask;
      fsButton.hidden = on || !document.fullscreenEnabled;
      root.dataset.fullscreen = fsBox.dataset.state;
    };
    document.addEventListener("fullscreenchange", () => {
      if (document.fullscreenElement) wasOn = true;
      else if (wasOn) L.notice("warn", t("fullscreen_lost"));
      drawFullscreen();
    });
    fsButton.addEventListener("click", () => {
      // needs the click itself (a user gesture)
      document.documentElement.requestFullscreen().catch((err) => {
        L.notice("error", t("fullscreen_failed") + " " + (err && err.message ? err.message : ""));
      });
    });
    L.onState(drawFullscreen);
    drawFullscreen();
  }

  drawRec();
  init();
  window.liveCandidate = {
    get queue() { return queue; }, get uploaded() { return uploaded; }, get skipped() { return skipped; },
    get durable() { return !!(chunkStore && chunkStore.durable); }, get restoredLeft() { return restoredLeft; },
    get recorder() { return recorder; }, get pc() { return conn && conn.pc; }, get mediaFailed() { return mediaFailed; },
  };
})();
