// Step 3: bandwidth by real transfers to the LSP's server (docs/TUK-CHECK.md, steps 4 and 5).
// Upload: a chain of chunks, each sent only after the server answered the previous one (its answer carries the token
// the next chunk must present); the server times each chunk from its answer to the end of its own read, so a proxy that
// buffers requests cannot make the link look faster. The page times each chunk too (send to answer) and reports it:
// the server refuses a result the two clocks disagree on. Download: the body's last bytes are a token that the page
// echoes with its own timing; the server never accepts a rate faster than its own clock allows.
import { $, data, root, t, urls } from "./page.js";
import { answer, getResponse, postBytes, postJson } from "./http.js";
import { formatMbit, formatMegabytes } from "./numbers.js";

const measure = () => data.measure || {};

function randomBytes(n) {
  const buf = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(buf.subarray(i, Math.min(n, i + 65536)));
  return buf;
}

export async function measureUpload(id) {
  const bar = $("[data-upload-progress]");
  const note = $("[data-upload-note]");
  const m = measure();
  const budget = m.upload_bytes || 2000000;
  const max = m.upload_chunk_max || 1048576;
  let size = m.upload_chunk || 262144;
  const pool = randomBytes(max); // made before the first chunk: nothing slow happens between chunks
  const timings = [];
  let sent = 0;
  let token = null;
  bar.value = 0;
  note.textContent = t("upload_running");
  for (let seq = 0; sent < budget && seq < 63; seq++) {
    const n = seq === 0 ? (m.upload_first_chunk || 65536) : size;
    const url = urls.upload + "?check=" + encodeURIComponent(id) + "&seq=" + seq;
    const t0 = performance.now();
    const res = await postBytes(url, pool.subarray(0, n), "application/octet-stream", (done) => {
      bar.value = Math.min(100, Math.round((100 * (sent + done)) / budget));
    }, token ? { "X-Upload-Token": token } : null);
    const ms = performance.now() - t0;
    timings.push({ seq, bytes: n, ms: Math.max(0.1, Math.round(ms * 10) / 10) });
    token = res.token;
    sent += n;
    bar.value = Math.min(100, Math.round((100 * sent) / budget));
    note.textContent = t("upload_running") + " " +
      t("progress_bytes", { done: formatMegabytes(sent), total: formatMegabytes(budget) });
    // a fast link gets larger chunks, so that a chunk's transfer, not its round trip, is what is timed
    if (seq > 0 && ms < 250 && size < max) size = Math.min(max, size * 2);
  }
  const res = await postJson(urls.upload_result, { check_id: id, token, chunks: timings });
  bar.value = 100;
  note.textContent = formatMbit(res.upload_kbps);
  root.dataset.uploadKbps = String(res.upload_kbps);
  return res.upload_kbps;
}

export async function measureDownload(id) {
  const bar = $("[data-download-progress]");
  const note = $("[data-download-note]");
  const m = measure();
  const total = m.download_bytes || 4000000;
  const tailLen = m.download_tail || 256;
  bar.value = 0;
  note.textContent = t("download_running");
  const t0 = performance.now();
  const res = await getResponse(urls.download + "?check=" + encodeURIComponent(id));
  if (!res.ok) await answer(res);
  let got = 0;
  let tail = new Uint8Array(0);
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    got += value.byteLength;
    if (value.byteLength >= tailLen) {
      tail = value.slice(value.byteLength - tailLen);
    } else {
      const joined = new Uint8Array(tail.byteLength + value.byteLength);
      joined.set(tail);
      joined.set(value, tail.byteLength);
      tail = joined.slice(Math.max(0, joined.byteLength - tailLen));
    }
    bar.value = Math.round((100 * got) / total);
    note.textContent = t("download_running") + " " +
      t("progress_bytes", { done: formatMegabytes(got), total: formatMegabytes(total) });
  }
  const elapsed = performance.now() - t0;
  const token = new TextDecoder().decode(tail).trim();
  const out = await postJson(urls.download_result, { check_id: id, bytes: got, elapsed_ms: elapsed, token });
  bar.value = 100;
  note.textContent = formatMbit(out.download_kbps);
  root.dataset.downloadKbps = String(out.download_kbps);
  return out.download_kbps;
}
