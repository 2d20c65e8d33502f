// The extra sources on the TUK check page (issue 19; docs/TUK-CHECK.md "Phone camera and screen share"): the phone's
// QR code (a single-use link), the phone's state polled from the server (the check's result for `phone_camera` is
// what the server's engine receives), and the whole-screen share when the profile asks for it.
(function () {
  "use strict";
  const box = document.querySelector("[data-sources-check]");
  if (!box) return;
  const src = JSON.parse(box.dataset.sourcesCheck);
  const strings = JSON.parse(box.dataset.i18n || "{}");
  const t = (k) => strings[k] || k;
  const urls = src.urls || {};
  const meta = document.querySelector('meta[name="csrf-token"]');
  const headers = (extra) => Object.assign({ "X-CSRFToken": meta ? meta.content : "", Accept: "application/json" },
    extra || {});
  async function postJson(url, body) {
    const r = await fetch(url, { method: "POST", credentials: "same-origin",
      headers: headers({ "Content-Type": "application/json" }), body: JSON.stringify(body) });
    const out = await r.json().catch(() => ({}));
    if (!r.ok) throw Object.assign(new Error(out.message || r.status), { code: out.error });
    return out;
  }
  const img = box.querySelector("[data-phone-qr-img]");
  const link = box.querySelector("[data-phone-link]");
  const stateEl = box.querySelector("[data-phone-state]");

  const ACTIVE = ["checking", "ready", "live", "paused"];
  let haveLink = false;
  async function newLink() {
    try {
      const out = await postJson(urls.phone_link, {});
      img.src = out.qr;
      img.hidden = false;
      link.href = out.url;
      link.hidden = false;
      haveLink = true;
    } catch (err) {
      box.dataset.linkError = err.code || "error";
    }
  }
  box.querySelector("[data-phone-qr-new]").addEventListener("click", newLink);

  async function poll() {
    try {
      const r = await fetch(urls.status, { credentials: "same-origin", headers: { Accept: "application/json" } });
      const st = await r.json();
      // a link only once the check has started (before that the session is "scheduled" and has none)
      if (!haveLink && ACTIVE.includes(st.session_state)) newLink();
      const phone = st.phone || {};
      const s = phone.flowing ? "flowing" : (phone.state === "connected" ? "connected" : "left");
      stateEl.dataset.phoneState = s;
      stateEl.textContent = t("phone_" + s);
      if (s === "flowing") { img.hidden = true; link.hidden = true; }
    } catch (e) { /* next time */ }
  }
  poll();
  setInterval(poll, 3000);

  // --- the screen share (checked, not recorded: recording starts with the live session) ------------------------
  const shareBtn = box.querySelector("[data-screen-share]");
  if (!shareBtn) return;
  const screenState = box.querySelector("[data-screen-state]");
  const preview = box.querySelector("[data-screen-preview]");
  const ice = (document.getElementById("tuk") && JSON.parse(document.getElementById("tuk").dataset.tuk).ice_servers) || [];
  function setScreen(st) { screenState.dataset.screenState = st; screenState.textContent = t("screen_" + st); }
  shareBtn.addEventListener("click", async () => {
    let stream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({ video: { displaySurface: "monitor", frameRate: { max: 10 } },
        audio: false, monitorTypeSurfaces: "include", selfBrowserSurface: "exclude", surfaceSwitching: "exclude" });
    } catch (e) { setScreen("failed"); return; }
    const track = stream.getVideoTracks()[0];
    const verdict = window.RtukSources.screenSurfaceVerdict(track.getSettings ? track.getSettings() : {});
    if (!verdict.ok) {
      stream.getTracks().forEach((tr) => tr.stop());
      setScreen("refused");
      postJson(urls.screen_event, { kind: "refused", surface: verdict.surface }).catch(() => {});
      return;
    }
    preview.srcObject = stream;
    preview.hidden = false;
    setScreen("sharing");
    postJson(urls.screen_event, { kind: "started", surface: verdict.surface }).catch(() => {});
    const pc = new RTCPeerConnection({ iceServers: ice });
    window.screenPc = pc;
    pc.addTrack(track, stream);
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((resolve) => {
      if (pc.iceGatheringState === "complete") return resolve();
      const timer = setTimeout(resolve, 5000);
      pc.addEventListener("icegatheringstatechange", () => {
        if (pc.iceGatheringState === "complete") { clearTimeout(timer); resolve(); }
      });
    });
    try {
      const ack = await postJson(urls.screen_offer, { sdp: pc.localDescription.sdp });
      await pc.setRemoteDescription({ type: "answer", sdp: ack.sdp });
    } catch (e) { setScreen("failed"); }
  });
})();
