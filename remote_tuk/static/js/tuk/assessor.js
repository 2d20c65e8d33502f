// The assessor's side of the check page: the candidate's results with an override (written reason) for a failed
// requirement, the KTP photo and the room scan with their confirmations, and the moves towards live. The room scan is
// played here before the room can be confirmed: the page enables the button once the player reached the end having
// played (at normal speed) most of it, and the server refuses a confirmation without the view token it handed out
// with the recording, at least the recording's length before (docs/TUK-CHECK.md).
import { $, $$, api, root, t, urls } from "./page.js";
import { getResponse, postJson } from "./http.js";
import { errText, resultRow, showError } from "./ui.js";
import { onStatus, pollNow } from "./status.js";

const room = {
  video: $("[data-room-review]"),
  play: $("[data-action=room-play]"),
  note: $("[data-room-review-note]"),
  ref: null,
  token: null,
  seconds: 0,
  played: false,
};

function overrideCell(cell, r, overridden) {
  if (r.pass) return;
  if (r.hint) {
    const hint = document.createElement("div");
    hint.className = "small muted";
    hint.textContent = r.hint;
    cell.append(hint);
  }
  if (overridden[r.key]) {
    const p = document.createElement("div");
    p.className = "small tuk-overridden";
    p.textContent = t("overridden") + " " + overridden[r.key].reason;
    cell.append(p);
    return;
  }
  const form = document.createElement("form");
  form.className = "tuk-override";
  form.dataset.overrideKey = r.key;
  const area = document.createElement("textarea");
  area.name = "reason";
  area.rows = 2;
  area.maxLength = 2000;
  area.placeholder = t("override_reason");
  area.setAttribute("aria-label", t("override_reason") + ": " + (r.label || r.key));
  const button = document.createElement("button");
  button.type = "submit";
  button.textContent = t("override");
  const msg = document.createElement("small");
  msg.className = "error";
  form.append(area, button, msg);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const reason = area.value.trim();
    if (reason.length < 10) {
      msg.textContent = t("override_reason_short");
      return;
    }
    button.disabled = true;
    try {
      await postJson(urls.override, { key: r.key, reason });
      msg.className = "small";
      msg.textContent = t("override_done");
      pollNow();
    } catch (err) {
      msg.textContent = errText(err);
      button.disabled = false;
    }
  });
  cell.append(form);
}

function drawResultsReview(st) {
  const summary = $("[data-review-summary]");
  const table = $("[data-review-table]");
  const check = st.check;
  const overridden = {};
  for (const o of st.overrides || []) overridden[o.key] = o;
  if (!check) {
    summary.textContent = t("no_check");
    table.hidden = true;
    return;
  }
  summary.textContent = check.passed ? t("passed") : t("failed");
  summary.className = check.passed ? "gate-open" : "gate-waiting";
  table.hidden = false;
  const body = table.querySelector("tbody");
  // Keep a half-written reason: redraw only when the results or overrides changed.
  const sig = JSON.stringify([check.id, check.results, st.overrides]);
  if (body.dataset.sig !== sig) {
    body.dataset.sig = sig;
    body.replaceChildren(...(check.results || []).map((r) => resultRow(r, (cell, res) => overrideCell(cell, res, overridden))));
  }
}

// --- the room scan -------------------------------------------------------------------------------------------------
const playedSeconds = (video) => {
  let total = 0;
  for (let i = 0; i < video.played.length; i++) total += video.played.end(i) - video.played.start(i);
  return total;
};

async function loadRoom(url, ref) {
  if (!room.video || ref === room.ref) return;
  room.ref = ref;
  room.token = null;
  room.played = false;
  root.dataset.roomReview = "loading";
  room.note.textContent = t("room_loading");
  try {
    const res = await getResponse(url);
    if (!res.ok) throw new Error(String(res.status));
    room.token = res.headers.get("X-Room-View");
    room.seconds = parseFloat(res.headers.get("X-Room-Seconds") || "0");
    const blob = await res.blob();
    if (room.video.src) URL.revokeObjectURL(room.video.src);
    room.video.src = URL.createObjectURL(blob);
    room.video.hidden = false;
    room.play.hidden = false;
    room.note.textContent = t("room_play_first");
    root.dataset.roomReview = "loaded";
  } catch (err) {
    room.ref = null; // try again at the next status
    room.note.textContent = t("error") + " " + errText(err);
    root.dataset.roomReview = "failed";
  }
}

function setupRoomPlayer() {
  if (!room.video) return;
  room.play.addEventListener("click", () => {
    room.video.currentTime = 0;
    room.video.play().catch((err) => { room.note.textContent = errText(err); });
  });
  // the scan is watched at its own pace: the server holds the confirmation to the recording's length anyway
  room.video.addEventListener("ratechange", () => { if (room.video.playbackRate !== 1) room.video.playbackRate = 1; });
  room.video.addEventListener("play", () => { if (!room.played) root.dataset.roomReview = "playing"; });
  room.video.addEventListener("ended", () => {
    if (room.played || playedSeconds(room.video) < 0.9 * room.seconds) return;
    room.played = true;
    root.dataset.roomReview = "played";
    room.note.textContent = t("room_played");
    pollNow();
  });
}

function drawIdentityReview(ident) {
  const yesNo = (v, word) => (v ? word : t("not_yet"));
  $('[data-ident="ktp"]').textContent = yesNo(ident.ktp, t("sent"));
  $('[data-ident="room"]').textContent = yesNo(ident.room, t("sent"));
  $('[data-ident="id_confirmed"]').textContent = yesNo(ident.id_confirmed, t("confirmed"));
  $('[data-ident="room_confirmed"]').textContent = yesNo(ident.room_confirmed, t("confirmed"));
  const idBtn = $('[data-action=confirm][data-what="id"]');
  const roomBtn = $('[data-action=confirm][data-what="room"]');
  if (idBtn && !idBtn.dataset.busy) idBtn.disabled = !ident.ktp || !!ident.id_confirmed;
  if (roomBtn && !roomBtn.dataset.busy) {
    roomBtn.disabled = !ident.room || !!ident.room_confirmed || !(room.played && room.ref === ident.room_ref);
  }
  const img = $("[data-ktp-review]");
  if (img) {
    // a new photo has a new reference: load it (the URL alone stays the same)
    const src = ident.ktp_url ? ident.ktp_url + "?v=" + encodeURIComponent(ident.ktp_ref || "") : null;
    img.hidden = !src;
    if (src && img.getAttribute("src") !== src) img.src = src;
  }
  if (ident.room_url) loadRoom(ident.room_url, ident.room_ref);
}

function drawReview(st) {
  drawResultsReview(st);
  drawIdentityReview(st.identity || {});
  const gateOpen = st.gate && st.gate.open;
  const toReady = $('[data-action=move][data-to="ready"]');
  const toLive = $('[data-action=move][data-to="live"]');
  if (toReady) toReady.hidden = !(gateOpen && st.state === "checking");
  if (toLive) toLive.hidden = !(gateOpen && st.state === "ready");
  if (st.assessor_check) root.dataset.assessorCheck = st.assessor_check.passed ? "passed" : "failed";
}

export function setupAssessor() {
  onStatus(drawReview);
  setupRoomPlayer();
  $$("[data-action=confirm]").forEach((btn) => {
    btn.addEventListener("click", async () => {
      const what = btn.dataset.what;
      const note = $('[data-confirm-note="' + what + '"]');
      btn.disabled = true;
      btn.dataset.busy = "1";
      showError("");
      try {
        const body = { what, confirmed: true, note: note ? note.value.trim() : "" };
        if (what === "room") body.view = room.token;
        await postJson(urls.confirm, body);
        root.dataset["confirmed" + (what === "id" ? "Id" : "Room")] = "1";
      } catch (err) {
        showError(errText(err));
        btn.disabled = false;
      } finally {
        delete btn.dataset.busy;
        pollNow();
      }
    });
  });
  $$("[data-action=move]").forEach((btn) => {
    btn.addEventListener("click", async () => {
      btn.disabled = true;
      showError("");
      try {
        await postJson(api + "/transition", { to: btn.dataset.to });
      } catch (err) {
        showError(errText(err));
      } finally {
        btn.disabled = false;
        pollNow();
      }
    });
  });
}
