// The Spaces console's only script (no library, no build step): dialogs,
// the approval countdown, and polling a run's status while it is busy.
// Inline scripts are forbidden by the pages' Content-Security-Policy.
"use strict";
document.addEventListener("click", (event) => {
  const opener = event.target.closest("[data-open]");
  if (opener) {
    const dialog = document.getElementById(opener.dataset.open);
    if (dialog) dialog.showModal();
  }
  const closer = event.target.closest("[data-close]");
  if (closer) closer.closest("dialog").close();
});
for (const dialog of document.querySelectorAll("dialog[data-modal-on-load]")) {
  dialog.showModal();
}
for (const clock of document.querySelectorAll("[data-deadline]")) {
  const end = Date.parse(clock.dataset.deadline);
  const tick = () => {
    const left = Math.max(0, Math.round((end - Date.now()) / 1000));
    clock.textContent = left > 0 ? `${left} s left to answer` : "the time to answer is over";
    if (left > 0) setTimeout(tick, 1000);
  };
  tick();
}
const progress = document.querySelector("[data-events]");
if (progress && window.EventSource) {
  const events = new EventSource(progress.dataset.events);
  events.onmessage = (event) => {
    progress.textContent += JSON.parse(event.data) + "\n";
    progress.scrollTop = progress.scrollHeight;
  };
  events.addEventListener("end", () => { events.close(); window.location.reload(); });
}
const poll = document.querySelector("[data-poll]");
if (poll) {
  const known = poll.dataset.status;
  const check = async () => {
    try {
      const reply = await fetch(poll.dataset.poll, { credentials: "same-origin" });
      if (reply.ok) {
        const doc = await reply.json();
        if (doc.status !== known) { window.location.reload(); return; }
      }
    } catch (err) { /* the server is restarting: try again */ }
    setTimeout(check, 1000);
  };
  setTimeout(check, 1000);
}
