// The Spaces console's only script (no library, no build step): dialogs,
// the approval countdown, polling a run's status while it is busy, and a
// chat turn streaming in (messages and task statuses; text only, never markup).
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

const messages = document.querySelector("[data-chat-events]");
const sendForm = document.querySelector("form[data-chat-send]");
const turnStatus = document.querySelector("[aria-label=Turn]");
const renderedLive = messages !== null && messages.hasAttribute("data-live");
const lastOf = (role) => {
  const items = messages.querySelectorAll(`li.msg.${role}:not(.live)`);
  return items.length ? items[items.length - 1].querySelector("div").textContent : null;
};
const addMessage = (role, label, text, id) => {
  const item = document.createElement("li");
  item.className = `msg ${role}`;
  if (id) item.dataset.id = id;
  const meta = document.createElement("span");
  meta.className = "meta";
  meta.textContent = label;
  const body = document.createElement("div");
  body.textContent = text;
  item.append(meta, body);
  messages.append(item);
  return item;
};
const setTask = (taskId, status) => {
  for (const item of document.querySelectorAll(`li[data-task="${CSS.escape(taskId)}"] .badge`)) {
    item.textContent = status;
  }
  for (const node of document.querySelectorAll(`g.node[data-task="${CSS.escape(taskId)}"]`)) {
    node.setAttribute("class", `node ${status}`);
    const st = node.querySelector("text.st");
    if (st) st.textContent = status;
  }
};
const TASK_STATUS = { "task.started": "running", "task.completed": "completed",
  "task.failed": "failed", "tool.requested": "waiting" };
const follow = (url) => {
  const stream = new EventSource(url);
  let asks = false;
  if (turnStatus) turnStatus.textContent = "working…";
  stream.onmessage = (event) => {
    const doc = JSON.parse(event.data);
    if (doc.kind === "message") {
      const role = doc.role;
      if (messages.querySelector(`li[data-id="${CSS.escape(doc.id)}"]:not(.live)`)) return;
      for (const live of messages.querySelectorAll("li.live")) if (role === "assistant") live.remove();
      // A page opened mid-turn may show this turn's messages already.
      if (renderedLive && !messages.querySelector("li[data-id]") && lastOf(role) === doc.content) return;
      addMessage(role, doc.name ? `${role} · ${doc.name}` : role, doc.content, doc.id || "turn");
    } else if (doc.kind === "token") {
      let live = messages.querySelector(`li.live[data-id="${CSS.escape(doc.id)}"]`);
      if (!live) {
        live = addMessage("assistant", `writing… (${doc.node})`, "", doc.id);
        live.classList.add("live");
      }
      live.querySelector("div").textContent += doc.content;
    } else if (doc.kind === "event") {
      const id = (doc.payload || {}).task_id;
      if (id && TASK_STATUS[doc.type]) setTask(id, TASK_STATUS[doc.type]);
      if (doc.type === "approval.required") asks = true;
      if (doc.type === "approval.resolved") asks = false;
      if (turnStatus && doc.type) turnStatus.textContent = `working… (${doc.type})`;
    }
  };
  stream.addEventListener("end", () => {
    stream.close();
    // A question for the user (a plan, a tool call) is answered on the page: show it.
    if (asks) { window.location.reload(); return; }
    for (const live of messages.querySelectorAll("li.live")) live.remove();
    if (turnStatus) turnStatus.textContent = "";
    if (sendForm) sendForm.querySelector("fieldset").disabled = false;
  });
};
if (renderedLive && window.EventSource) {
  follow(messages.dataset.chatEvents);
}
if (sendForm && messages && window.EventSource && window.fetch) {
  sendForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = new URLSearchParams(new FormData(sendForm));
    const fields = sendForm.querySelector("fieldset");
    fields.disabled = true;
    const reply = await fetch(sendForm.action, {
      method: "POST", body, credentials: "same-origin", headers: { Accept: "application/json" },
    });
    if (!reply.ok) { fields.disabled = false; sendForm.submit(); return; }
    sendForm.querySelector("input[name=message]").value = "";
    follow((await reply.json()).events);
  });
}
