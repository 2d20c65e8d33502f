// Step 6 (candidate): the KTP photo and the room scan, both taken from one camera view. The photo is shown as a small
// thumbnail beside the live view (not a second full-size copy of the camera) so the candidate can check it is legible.
import { $, root, t, urls } from "./page.js";
import { postBytes } from "./http.js";
import { openDevices } from "./devices.js";
import { recordClip } from "./recorder.js";
import { errText, show, showError } from "./ui.js";
import { pollNow, startPolling } from "./status.js";

let ktpBlob = null;

async function showIdentity() {
  show("identity");
  showError("");
  let stream;
  try {
    stream = await openDevices();
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
    const blob = await recordClip(seconds, (left, done) => {
      bar.value = Math.round(100 * done);
      if (left > 0) note.textContent = t("room_recording", { s: Math.ceil(left) });
    });
    note.textContent = t("room_recorded");
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

export function setupIdentity() {
  const toId = $("[data-action=to-identity]");
  if (toId) toId.addEventListener("click", showIdentity);
  $("[data-action=ktp-take]").addEventListener("click", async () => {
    const note = $("[data-ktp-note]");
    ktpBlob = await takeKtp();
    const img = $("[data-ktp-image]");
    if (img.src) URL.revokeObjectURL(img.src);
    img.src = URL.createObjectURL(ktpBlob);
    img.hidden = false;
    $("[data-action=ktp-take]").textContent = t("ktp_retake");
    note.textContent = t("ktp_taken");
    $("[data-action=ktp-send]").disabled = false;
    root.dataset.ktp = "taken";
  });
  $("[data-action=ktp-send]").addEventListener("click", sendKtp);
  $("[data-action=room-record]").addEventListener("click", () => recordRoom(10));
}
