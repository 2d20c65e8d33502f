// The trial's last step (uji coba, remote_tuk/trial): a ~10 s self-test recorded with MediaRecorder and played back to
// the candidate on their own device; its length is reported once it played to the end, and the candidate may send it
// to the LSP as trial evidence (the trial's own chain, never the session's). Mirrored in #tuk's data-selftest
// (recording, recorded, played, sent, failed) and data-selftest-seconds.
import { $, data, root, sleep, t, urls } from "./page.js";
import { postBytes, postJson } from "./http.js";
import { currentCheckId } from "./check.js";
import { openDevices } from "./devices.js";
import { recordClip } from "./recorder.js";
import { errText, show, showError } from "./ui.js";

let clip = null;

async function showSelftest() {
  show("selftest");
  showError("");
  try {
    const stream = await openDevices();
    const v = $("[data-selftest-live]");
    v.srcObject = stream;
    v.play().catch(() => {});
  } catch (err) {
    showError(t("camera_failed") + " " + errText(err));
  }
}

// A MediaRecorder WebM has no duration in its header: the browser reports Infinity until it has seen the end, so the
// player is sent to the end once and back to the start before playing.
async function knownDuration(video) {
  if (video.readyState < 1) await new Promise((r) => video.addEventListener("loadedmetadata", r, { once: true }));
  if (Number.isFinite(video.duration)) return video.duration;
  await new Promise((resolve) => {
    const done = () => { if (Number.isFinite(video.duration)) { video.removeEventListener("durationchange", done); resolve(); } };
    video.addEventListener("durationchange", done);
    video.currentTime = 1e9;
    setTimeout(() => { video.removeEventListener("durationchange", done); resolve(); }, 5000);
  });
  video.currentTime = 0;
  await sleep(50);
  return video.duration;
}

async function record() {
  const note = $("[data-selftest-note]");
  const bar = $("[data-selftest-progress]");
  const button = $("[data-action=selftest-record]");
  const send = $("[data-action=selftest-send]");
  const player = $("[data-selftest-playback]");
  button.disabled = true;
  send.hidden = true;
  player.hidden = true;
  root.dataset.selftest = "recording";
  const seconds = (data.trial && data.trial.selftest_seconds) || 10;
  try {
    clip = await recordClip(seconds, (left, done) => {
      bar.value = Math.round(100 * done);
      if (left > 0) note.textContent = t("selftest_recording", { s: Math.ceil(left) });
    });
    root.dataset.selftest = "recorded";
    if (player.src) URL.revokeObjectURL(player.src);
    player.src = URL.createObjectURL(clip);
    player.hidden = false;
    const duration = await knownDuration(player);
    root.dataset.selftestDuration = String(duration);
    note.textContent = t("selftest_playing");
    player.onended = async () => {
      const played = Number.isFinite(player.duration) ? player.duration : duration;
      root.dataset.selftestSeconds = String(played);
      note.textContent = t("selftest_played", { s: Math.round(played) });
      try {
        await postJson(urls.played, { check_id: currentCheckId(), seconds: played });
        root.dataset.selftest = "played";
        send.hidden = false;
      } catch (err) {
        root.dataset.selftest = "failed";
        note.textContent = t("error") + " " + errText(err);
      }
    };
    // played with sound where the browser allows it; otherwise the candidate presses play on the player
    await player.play().catch(() => {});
  } catch (err) {
    note.textContent = t("error") + " " + errText(err);
    root.dataset.selftest = "failed";
  } finally {
    button.disabled = false;
  }
}

async function sendClip() {
  const note = $("[data-selftest-note]");
  const send = $("[data-action=selftest-send]");
  if (!clip) return;
  send.disabled = true;
  try {
    await postBytes(urls.recording + "?check=" + encodeURIComponent(currentCheckId()), clip, "video/webm",
      (done, all) => { note.textContent = t("uploading") + " " + Math.round((100 * done) / all) + "%"; });
    note.textContent = t("selftest_sent");
    root.dataset.selftest = "sent";
    send.hidden = true;
  } catch (err) {
    note.textContent = t("error") + " " + errText(err);
    send.disabled = false;
  }
}

export function setupTrial() {
  $("[data-action=to-selftest]").addEventListener("click", showSelftest);
  $("[data-action=selftest-record]").addEventListener("click", record);
  $("[data-action=selftest-send]").addEventListener("click", sendClip);
}
