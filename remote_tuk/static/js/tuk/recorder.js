// A short WebM clip of the candidate's camera and microphone with the browser's MediaRecorder (the room scan, the
// trial's self-test): `onLeft(secondsLeft, fractionDone)` is called about every 250 ms while it records.
import { sleep, t } from "./page.js";
import { currentStream, openDevices } from "./devices.js";

export async function recordClip(seconds, onLeft) {
  if (typeof MediaRecorder !== "function") throw new Error(t("recorder_missing"));
  await openDevices();
  const stream = currentStream();
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
    if (left <= 0) break;
    onLeft(left, Math.min(1, (seconds - left) / seconds));
    await sleep(Math.min(250, left * 1000));
  }
  onLeft(0, 1);
  rec.stop();
  await stopped;
  return new Blob(parts, { type: "video/webm" });
}
