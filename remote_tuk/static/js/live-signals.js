// Browser signals from the candidate's live page (issue 14, docs/LIVE-PROTOCOL.md "Proctoring"): what the browser
// itself can tell (page hidden, focus lost, fullscreen left, copy/cut/paste, print, context menu, a second screen,
// camera/microphone ended/muted/changed, a virtual camera's device label, the page unloading). Each goes to the
// server with this page's own sequence number; the server stamps its time and records it as "reported by the
// browser" — a browser can be made to say anything, so the assessor is never told these were measured.
(function () {
  "use strict";
  const L = window.Live;
  if (!L || L.data.role !== "candidate") return;
  const rnd = new Uint8Array(8);
  crypto.getRandomValues(rnd);
  const page = "page-" + Array.from(rnd, (b) => b.toString(16).padStart(2, "0")).join("");
  const REPORTED = ["live", "paused"];
  const ENDS = ["tab_visible", "window_focus", "fullscreen_enter", "screen_share_started"];
  const VIRTUAL = /\b(obs|manycam|snap camera|xsplit|virtual|droidcam|splitcam|camtwist|mmhmm|e2esoft|vcam)\b/i;
  let seq = 0;
  const last = {};
  window.liveSignals = { sent: [], refused: [] };

  function report(kind, detail) {
    if (!REPORTED.includes(L.state)) return;
    const now = Date.now();
    if (!ENDS.includes(kind) && last[kind] && now - last[kind] < 1000) return; // one per kind per second
    last[kind] = now;
    const payload = { page, seq: seq++, kind, detail: String(detail || "").slice(0, 200), client_ms: now };
    window.liveSignals.sent.push(payload);
    L.emit("signal", payload, 10000).catch((err) => {
      // refused or offline: the server keeps what it accepted (kept here for diagnostics)
      window.liveSignals.refused.push([payload.seq, (err && err.code) || String(err)]);
    });
  }

  window.liveSignals.report = report; // the screen share (live-sources.js) reports its end through here

  document.addEventListener("visibilitychange", () => report(document.hidden ? "tab_hidden" : "tab_visible"));
  window.addEventListener("blur", () => report("window_blur"));
  window.addEventListener("focus", () => report("window_focus"));
  let wasFullscreen = !!document.fullscreenElement;
  document.addEventListener("fullscreenchange", () => {
    if (document.fullscreenElement) {
      wasFullscreen = true;
      report("fullscreen_enter");
    } else if (wasFullscreen) {
      report("fullscreen_exit");
    }
  });
  for (const kind of ["copy", "cut", "paste"]) document.addEventListener(kind, () => report(kind));
  window.addEventListener("beforeprint", () => report("print"));
  document.addEventListener("contextmenu", () => report("context_menu"));
  window.addEventListener("pagehide", () => report("page_unload"));

  // a second screen: Window Management API's screen.isExtended (Chromium); not available elsewhere
  if (window.screen && "isExtended" in window.screen) {
    let extended = false;
    const checkScreens = () => {
      if (window.screen.isExtended && !extended) report("extra_screen", "screen.isExtended");
      extended = !!window.screen.isExtended;
    };
    if (window.screen.addEventListener) window.screen.addEventListener("change", checkScreens);
    setInterval(checkScreens, 5000);
    checkScreens();
  }

  // devices: a change, and a camera whose label names a virtual camera
  async function checkVirtualCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return;
    try {
      const devices = await navigator.mediaDevices.enumerateDevices();
      const virtual = devices.find((d) => d.kind === "videoinput" && VIRTUAL.test(d.label || ""));
      if (virtual) report("virtual_camera", virtual.label);
    } catch (err) { /* not allowed: nothing to report */ }
  }
  if (navigator.mediaDevices && navigator.mediaDevices.addEventListener) {
    navigator.mediaDevices.addEventListener("devicechange", () => {
      report("device_change");
      checkVirtualCamera();
    });
  }

  // the tracks the page sends: ended (device unplugged, permission revoked) or muted
  const watched = new WeakSet();
  function watchTracks() {
    const pc = window.liveCandidate && window.liveCandidate.pc;
    if (!pc) return;
    for (const sender of pc.getSenders()) {
      const track = sender.track;
      if (!track || watched.has(track)) continue;
      watched.add(track);
      track.addEventListener("ended", () => report("track_ended", track.kind));
      track.addEventListener("mute", () => report("track_muted", track.kind));
    }
  }
  setInterval(watchTracks, 2000);

  // the profile's gentle prompts while an incident lasts ("Wajah tidak terlihat…"), one line, the latest on top
  const promptEl = document.querySelector("[data-proctor-prompt]");
  const prompts = new Map();
  L.socket.on("prompt", (p) => {
    if (!promptEl || !p || typeof p.kind !== "string") return;
    if (p.on) prompts.set(p.kind, document.documentElement.lang === "en" ? p.text_en : p.text_id);
    else prompts.delete(p.kind);
    const texts = Array.from(prompts.values());
    promptEl.textContent = texts.length ? texts[texts.length - 1] : "";
    promptEl.hidden = !texts.length;
  });
  L.onState((state) => { if (state === "live") checkVirtualCamera(); });
})();
