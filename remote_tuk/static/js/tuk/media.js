// Step 4: the media test over WebRTC with the server (docs/TUK-CHECK.md, step 6). The page joins the session on the
// /live Socket.IO namespace, sends an offer with its camera and microphone, keeps the connection up for
// measure.media_seconds and then asks the server for what it measured; it answers the server's `probe` calls at once.
import { $, data, isCandidate, root, sleep, t, urls } from "./page.js";
import { ApiError, postJson } from "./http.js";

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

export async function mediaTest(id, stream) {
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
