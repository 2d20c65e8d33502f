// Step 2 of the check: the browser, camera and microphone, the microphone level measured while the candidate speaks,
// the speaker, the display, fullscreen and the battery. Only what only a browser can know is reported from here.
import { $, $$, isCandidate, labelOf, requirements, root, sleep, t } from "./page.js";
import { formatNumber } from "./numbers.js";
import { errText, item, setItem } from "./ui.js";

let stream = null;
let audioCtx = null;
const picked = { videoinput: "", audioinput: "" };

export const currentStream = () => stream;

function wantedVideo() {
  const r = requirements.camera_resolution;
  const w = Math.max(640, (r && r.min) || 0);
  const h = Math.max(480, (r && r.min_height) || 0);
  return { width: { ideal: w }, height: { ideal: h }, frameRate: { ideal: 30 } };
}

export async function openDevices() {
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
export function requestFullscreen() {
  if (!document.fullscreenEnabled || !requirements.fullscreen) return Promise.resolve(false);
  if (document.fullscreenElement) return Promise.resolve(true);
  try {
    return document.documentElement.requestFullscreen().then(() => true, () => false);
  } catch (err) {
    return Promise.resolve(false);
  }
}

export function ensureAudioContext() {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) return null;
  if (!audioCtx) audioCtx = new Ctx();
  if (audioCtx.state === "suspended") audioCtx.resume().catch(() => {});
  return audioCtx;
}

// --- the microphone, measured while the candidate speaks -------------------------------------------------------------
// A silent candidate is not a quiet microphone: the page first listens to the room (the noise floor), counts down,
// asks the candidate to speak, and measures while they do. Levels are RMS in 50 ms windows (dBFS); the floor is the
// quiet end of everything heard (10th percentile); a window is speech when it stands SPEECH_DB above the floor. The
// answer is how many dB the speech stands above the floor (the median of the speech windows), measured as soon as
// SPEECH_S of speech was heard, or at the end of SPEAK_MAX_S; without speech it is what the loudest windows reached.
const QUIET_S = 1.5;
const COUNTDOWN = 3;
const SPEAK_MAX_S = 10;
const SPEECH_S = 1.5;
const SPEECH_DB = 12;
const FRAME_MS = 50;

const percentile = (values, p) => {
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
};

async function measureMicrophone() {
  const box = $("[data-mic-box]");
  const meter = $("[data-mic-meter]");
  const note = $("[data-mic-note]");
  const count = $("[data-mic-count]");
  const say = $("[data-mic-say]");
  const phase = (name, text, n) => {
    box.dataset.micPhase = name;
    root.dataset.mic = name;
    count.textContent = n === undefined ? "" : String(n);
    say.textContent = text;
  };
  box.hidden = false;
  note.textContent = "";
  const ctx = ensureAudioContext();
  if (!ctx || !stream.getAudioTracks().length) return null;
  const source = ctx.createMediaStreamSource(new MediaStream(stream.getAudioTracks()));
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 2048;
  source.connect(analyser);
  const buf = new Float32Array(analyser.fftSize);
  const all = [];
  const listen = async (seconds, onFrame) => {
    const end = performance.now() + seconds * 1000;
    while (performance.now() < end) {
      await sleep(FRAME_MS);
      analyser.getFloatTimeDomainData(buf);
      let sum = 0;
      for (let i = 0; i < buf.length; i++) sum += buf[i] * buf[i];
      const db = Math.max(-100, 20 * Math.log10(Math.sqrt(sum / buf.length) || 1e-10));
      all.push(db);
      const floor = percentile(all, 0.1);
      meter.value = Math.max(0, db - floor);
      if (onFrame && onFrame(db, floor)) return;
    }
  };
  try {
    phase("quiet", t("mic_quiet"));
    await listen(QUIET_S);
    for (let n = COUNTDOWN; n > 0; n--) {
      phase("countdown", t("mic_countdown", { n }), n);
      await listen(1);
    }
    phase("speak", t("mic_speak"));
    const spoken = [];
    const heard = [];
    await listen(SPEAK_MAX_S, (db, floor) => {
      spoken.push(db);
      if (db >= floor + SPEECH_DB) heard.push(db);
      return heard.length * FRAME_MS >= SPEECH_S * 1000;
    });
    const floor = percentile(all, 0.1);
    const speech = spoken.filter((db) => db >= floor + SPEECH_DB);
    const enough = speech.length * FRAME_MS >= 500;
    const signal = enough ? percentile(speech, 0.5) : percentile(spoken, 0.95);
    const level = Math.round(Math.max(0, signal - floor) * 10) / 10;
    meter.value = level;
    phase("done", enough ? "" : t("mic_not_heard"));
    root.dataset.micHeard = enough ? "1" : "0";
    note.textContent = t("mic_result", { db: formatNumber(level, 1) });
    return level;
  } finally {
    source.disconnect();
  }
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

// One display or several: Chromium's Window Management API says it (screen.isExtended). Other browsers have no such
// API; some (Firefox) tell where the current screen lies (screen.left/top): a screen away from the origin is not the
// primary one, so there are several. Anything else is "not measurable in this browser" (null), never a failure.
export function displayCheck() {
  const s = window.screen || {};
  if (typeof s.isExtended === "boolean") return !s.isExtended;
  if ((typeof s.left === "number" && s.left !== 0) || (typeof s.top === "number" && s.top !== 0)) return false;
  return null;
}

export async function deviceChecks(list, fullscreenPromise) {
  list.replaceChildren();
  const values = { unmeasurable: [] };
  const yn = (v) => (v ? t("yes") : t("no"));
  const cls = (v) => (v ? "ok" : "bad");
  values.browser_webrtc = typeof RTCPeerConnection === "function";
  item(list, cls(values.browser_webrtc), labelOf("browser_webrtc"), yn(values.browser_webrtc), t("by_browser"));
  values.browser_mediarecorder = typeof MediaRecorder === "function" &&
    (!MediaRecorder.isTypeSupported || MediaRecorder.isTypeSupported("video/webm;codecs=vp8,opus") ||
     MediaRecorder.isTypeSupported("video/webm"));
  item(list, cls(values.browser_mediarecorder), labelOf("browser_mediarecorder"),
    yn(values.browser_mediarecorder), t("by_browser"));

  const asking = item(list, "info", t("camera_mic"), t("camera_asking"));
  try {
    await openDevices();
    setItem(asking, "ok", t("camera_ok"));
  } catch (err) {
    setItem(asking, "bad", t("camera_failed") + " " + errText(err));
    throw err;
  }
  const video = stream.getVideoTracks()[0];
  const audio = stream.getAudioTracks()[0];
  if (video) {
    values.camera_labels = [video.label];
    const st = video.getSettings ? video.getSettings() : {};
    item(list, "info", t("camera"), video.label + (st.width ? " · " + st.width + "×" + st.height : ""), t("by_browser"));
  }
  if (audio) item(list, "info", t("microphone"), audio.label, t("by_browser"));

  const single = displayCheck();
  if (single === null) values.unmeasurable.push("single_display");
  else values.single_display = single;
  const displayItem = item(list, single === null ? "info" : cls(single), labelOf("single_display"),
    single === null ? t("display_unmeasurable") : yn(single), t("by_browser"));
  displayItem.dataset.display = single === null ? "unmeasurable" : single ? "single" : "extended";

  if (requirements.fullscreen) {
    values.fullscreen = !!(document.fullscreenEnabled && (await fullscreenPromise));
    item(list, cls(values.fullscreen), labelOf("fullscreen"), yn(values.fullscreen),
      values.fullscreen ? t("fullscreen_on") : t("fullscreen_off"));
  }

  const bat = await battery();
  if (bat) values.battery = bat;
  else values.unmeasurable.push("battery");
  const batMin = requirements.battery && requirements.battery.min != null ? requirements.battery.min / 100 : 0;
  item(list, bat ? (bat.charging || bat.level >= batMin ? "ok" : "bad") : "info", labelOf("battery"),
    bat ? Math.round(bat.level * 100) + "%" + (bat.charging ? " ⚡" : "") : t("unmeasurable"), t("by_browser"));

  // The microphone and the speaker need the candidate's attention: only when the LSP's profile asks for them.
  const req = requirements.microphone_level;
  if (req) {
    const level = await measureMicrophone();
    if (level !== null) values.microphone_level = level;
    item(list, level !== null && (req.min == null || level >= req.min) ? "ok" : "bad",
      labelOf("microphone_level"), level === null ? t("not_measured") : formatNumber(level, 1) + " dB", t("by_browser"));
  }
  if (requirements.speaker_check) {
    values.speaker_check = await speakerCheck();
    item(list, cls(values.speaker_check), labelOf("speaker_check"), yn(values.speaker_check), t("by_browser"));
  }
  return values;
}
