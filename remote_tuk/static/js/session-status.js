// Live status of one session over Socket.IO (/sesi namespace): the badge changes as soon as the state does.
(function () {
  "use strict";
  const head = document.querySelector("[data-session]");
  if (!head || typeof io === "undefined") return;
  const sessionId = head.dataset.session;
  const socket = io("/sesi", { transports: ["websocket", "polling"] });
  const indicator = document.querySelector("[data-live-indicator]");
  socket.on("connect", () => {
    socket.emit("follow", { session: sessionId }, (reply) => {
      if (reply && reply.ok && indicator) indicator.hidden = false;
    });
  });
  socket.on("disconnect", () => { if (indicator) indicator.hidden = true; });
  socket.on("state", (msg) => {
    if (msg.session !== sessionId) return;
    document.querySelectorAll(`[data-state-badge="${sessionId}"]`).forEach((el) => {
      el.textContent = msg.label;
      el.className = `badge state-${msg.state}`;
    });
  });
})();
