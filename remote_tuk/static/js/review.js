// review.js — the review room (issue 15 #1): a timeline item seeks the player to its media time; filters by kind;
// a track under the video with a tick per item; when the browser recording cannot play a moment (it has no picture
// there: before or between its recorder runs, chunks missing inside a run; it ends before it, or fails), the player
// switches to the server's copy at the same media time, and back to the browser recording when playback leaves a hole.
(function () {
  "use strict";
  const player = document.querySelector("[data-review-player]");
  const data = JSON.parse((document.getElementById("review-data") || {}).textContent || "{}");
  const sources = data.sources || {};
  let current = sources.browser ? "browser" : "server";

  function use(source, at) {
    if (!player || !sources[source] || current === source) return false;
    const playing = !player.paused;
    current = source;
    player.dataset.reviewPlaying = source;
    player.src = sources[source].url;
    player.addEventListener("loadedmetadata", () => {
      player.currentTime = at;
      if (playing) player.play().catch(() => {});
    }, { once: true });
    return true;
  }

  // where the browser recording has no picture (before its first run, between runs, chunks missing inside a run):
  // the server's copy plays there; ``autoHole`` is the hole the player switched for, left by playing past its end
  const holes = (sources.browser && sources.browser.holes) || [];
  let autoHole = null;
  function holeAt(t) {
    return holes.find((h) => t >= h[0] && t < h[1]) || null;
  }
  function inHole(t) {
    return holeAt(t) !== null;
  }

  function seek(seconds) {
    if (!player) return;
    const t = Math.max(0, seconds);
    const here = sources[current];
    if (current === "browser" && sources.server && ((here && here.duration_s && t > here.duration_s) || inHole(t))) {
      autoHole = holeAt(t);
      if (use("server", t)) return;
    }
    if (player.readyState >= 1) player.currentTime = t;
    else player.addEventListener("loadedmetadata", () => { player.currentTime = t; }, { once: true });
  }

  document.querySelectorAll("[data-timeline-kind][data-media-s]").forEach((el) => {
    el.addEventListener("click", () => seek(parseFloat(el.dataset.mediaS)));
  });

  document.querySelectorAll("[data-review-source]").forEach((el) => {
    el.addEventListener("click", () => {
      autoHole = null;
      use(el.dataset.reviewSource, player ? player.currentTime : 0);
    });
  });

  if (player) {
    player.dataset.reviewPlaying = current;
    player.addEventListener("timeupdate", () => {
      const t = player.currentTime;
      if (current === "browser" && sources.server) {
        const hole = holeAt(t + 0.25);
        if (hole && use("server", t)) autoHole = hole;
      } else if (current === "server" && autoHole && !player.seeking && !player.paused && t >= autoHole[1]
                 && t < autoHole[1] + 2 && !inHole(t)) {
        autoHole = null;  // played past the hole: the browser recording has the picture again
        use("browser", t);
      }
    });
    player.addEventListener("error", () => {
      if (current === "browser" && sources.server) use("server", player.currentTime || 0);
    });
  }

  const filters = document.querySelectorAll("[data-review-filter]");
  function applyFilters() {
    const shown = new Set(Array.from(filters).filter((f) => f.checked).map((f) => f.value));
    document.querySelectorAll("[data-review-item]").forEach((li) => { li.hidden = !shown.has(li.dataset.reviewItem); });
    document.querySelectorAll("[data-review-track] [data-track-kind]").forEach((t) => { t.hidden = !shown.has(t.dataset.trackKind); });
  }
  filters.forEach((f) => f.addEventListener("change", applyFilters));

  // the track: one tick per item, placed by its media time over the recording's length
  const track = document.querySelector("[data-review-track]");
  const length = Math.max(...Object.values(sources).map((s) => s.duration_s || 0), 1);
  if (track) {
    document.querySelectorAll("[data-review-item] [data-timeline-kind]").forEach((el) => {
      const tick = document.createElement("button");
      tick.type = "button";
      tick.className = "review-tick review-tick-" + el.dataset.timelineKind;
      tick.dataset.trackKind = el.dataset.timelineKind;
      tick.title = el.closest("li").textContent.replace(/\s+/g, " ").trim();
      tick.style.left = Math.min(100, (100 * parseFloat(el.dataset.mediaS)) / length) + "%";
      tick.addEventListener("click", () => seek(parseFloat(el.dataset.mediaS)));
      track.appendChild(tick);
    });
  }

  // a link to a moment (#t=<seconds>, e.g. from the evidence per KUK on the assessor's decision form) seeks there
  function seekToHash() {
    const m = /^#t=(\d+(?:\.\d+)?)$/.exec(window.location.hash);
    if (!m) return;
    seek(parseFloat(m[1]));
    if (player) player.dataset.seekedFromLink = m[1];
  }
  window.addEventListener("hashchange", seekToHash);
  seekToHash();
})();
