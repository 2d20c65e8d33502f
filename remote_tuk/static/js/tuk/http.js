// The check page's HTTP calls: JSON with the CSRF token, raw bytes with upload progress; errors as ApiError.
import { data, t } from "./page.js";

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message || code || String(status));
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export function csrfHeaders(extra) {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return Object.assign({ "X-CSRFToken": data.csrf || (meta && meta.content) || "", Accept: "application/json" },
    extra || {});
}

export async function answer(res) {
  let payload = null;
  try { payload = await res.json(); } catch (e) { payload = null; }
  if (!res.ok) {
    throw new ApiError(res.status, payload && payload.error, payload && payload.message, payload && payload.details);
  }
  return payload;
}

export async function getResponse(url, init) {
  try {
    return await fetch(url, Object.assign({ credentials: "same-origin", cache: "no-store" }, init || {}));
  } catch (err) {
    throw new ApiError(0, "offline", t("offline"));
  }
}

export async function postJson(url, body) {
  const res = await getResponse(url, {
    method: "POST", headers: csrfHeaders({ "Content-Type": "application/json" }), body: JSON.stringify(body || {}),
  });
  return answer(res);
}

export async function getJson(url) {
  return answer(await getResponse(url, { headers: { Accept: "application/json" } }));
}

// A POST of raw bytes with upload progress (fetch cannot report it); extra headers optional.
export function postBytes(url, body, contentType, onProgress, extraHeaders) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.withCredentials = true;
    const headers = csrfHeaders(Object.assign({ "Content-Type": contentType }, extraHeaders || {}));
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
