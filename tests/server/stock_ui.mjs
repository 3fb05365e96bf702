// A stock UI's calls, through the official JS SDK (@langchain/langgraph-sdk), against one server.
//
// What agent-chat-ui and useStream do: submit {messages} to an assistant
// (runs.stream with values + messages-tuple, resumable), render the reply
// from values.messages, show a HITL interrupt (action_requests /
// review_configs), resume it with {decisions}, rejoin a run late with
// joinStream and Last-Event-ID. Run by tests/js/test_js_sdk.py; every check
// prints one line, and the first failure exits non-zero.
import assert from "node:assert/strict";

const { Client } = await import(process.env.SDK_ENTRY);
const client = new Client({
  apiUrl: process.env.SERVER_URL,
  defaultHeaders: { Authorization: `Bearer ${process.env.TOKEN}` },
});
const assistants = JSON.parse(process.env.ASSISTANTS);
const space = process.env.SPACE_ID;
const QUERY = "How does Raft make ledger blocks final?";

async function submit(threadId, assistantId, payload) {
  // as useStream.submit: every mode a UI renders, resumable, continuing on disconnect
  const stream = client.runs.stream(threadId, assistantId, {
    ...payload,
    streamMode: ["values", "messages-tuple", "updates", "custom"],
    streamResumable: true,
    onDisconnect: "continue",
  });
  const seen = { values: null, runId: null, error: null, messages: [] };
  for await (const part of stream) {
    if (part.event === "metadata") seen.runId = part.data.run_id;
    else if (part.event === "values") seen.values = part.data;
    else if (part.event.startsWith("messages")) seen.messages.push(part.data);
    else if (part.event === "error") seen.error = part.data;
  }
  return seen;
}

function hitl(values, name) {
  const pending = values.__interrupt__;
  assert.ok(pending && pending.length === 1, `one interrupt, got ${JSON.stringify(pending)}`);
  const request = pending[0].value;
  assert.equal(request.action_requests.length, 1);
  assert.equal(request.action_requests[0].name, name);
  assert.deepEqual(request.review_configs, [
    { action_name: name, allowed_decisions: ["approve", "edit", "reject"] },
  ]);
  return request;
}

const last = (values) => values.messages[values.messages.length - 1];
const human = (content) => ({ input: { messages: [{ type: "human", content }] } });
const decide = (decision) => ({ command: { resume: { decisions: [decision] } } });

// 1. An agent's assistant: messages in, the reply in values.messages.
let thread = (await client.threads.create()).thread_id;
let seen = await submit(thread, assistants[`${space} @writer`], human("a haiku"));
assert.equal(seen.error, null);
assert.equal(seen.values.status, "completed");
assert.equal(last(seen.values).type, "ai");
assert.match(last(seen.values).content, /^\[offline model\] @writer on: a haiku/);
assert.ok(!seen.messages.some(([m]) => (m.tool_calls || []).length), "no internal tool calls");
console.log("ok direct reply rendered from values.messages");

// 2. The space's chat assistant: a task plan as a HITL request, approved.
thread = (await client.threads.create()).thread_id;
const chat = assistants[`${space} chat`];
seen = await submit(thread, chat, human("research raft; write a summary"));
let request = hitl(seen.values, "approve_task_plan");
assert.ok(request.expires_at && request.plan.length >= 1);
const late = [];
for await (const part of client.runs.joinStream(thread, seen.runId, { lastEventId: "-1" })) {
  late.push(part);
}
const lateValues = late.filter((p) => p.event === "values").map((p) => p.data);
assert.ok(lateValues.length && lateValues[lateValues.length - 1].__interrupt__, "late join");
console.log("ok late joinStream replays values and the interrupt");
seen = await submit(thread, chat, decide({ type: "approve" }));
assert.equal(seen.values.status, "completed");
assert.match(last(seen.values).content, /^Done \d of \d tasks/);
console.log("ok approve");

// 3. Edit: the tasks are the action's args.
seen = await submit(thread, chat, human("research b; write c"));
hitl(seen.values, "approve_task_plan");
const tasks = [{ id: "w1", agent: "writer", description: "write it" }];
seen = await submit(thread, chat, decide({
  type: "edit", edited_action: { name: "approve_task_plan", args: { tasks } },
}));
assert.equal(seen.values.status, "completed");
assert.deepEqual(Object.keys(seen.values.tasks), ["w1"]);
console.log("ok edit");

// 4. Reject, with a message.
seen = await submit(thread, chat, human("research d; write e"));
hitl(seen.values, "approve_task_plan");
seen = await submit(thread, chat, decide({ type: "reject", message: "not now" }));
assert.equal(seen.values.status, "rejected");
assert.equal(seen.values.error, "not now");
console.log("ok reject");
assert.equal(seen.values.messages.filter((m) => m.type === "human").length, 3);

// 5. rpi through the space's assistant: the question from messages, the plan edited.
thread = (await client.threads.create()).thread_id;
const rpi = assistants[`${space} rpi`];
seen = await submit(thread, rpi, human(QUERY));
request = hitl(seen.values, "approve_plan");
assert.deepEqual(request.action_requests[0].args, request.plan);
assert.ok(Array.isArray(request.repairs));
assert.ok(!seen.messages.some(([, meta]) => meta && meta.langgraph_node === "plan"), "nostream");
const plan = { title: "Short", steps: [{ id: "s1", description: "Say it briefly." }] };
seen = await submit(thread, rpi, decide({
  type: "edit", edited_action: { name: "approve_plan", args: plan },
}));
assert.equal(seen.values.status, "completed");
assert.equal(last(seen.values).type, "ai");
assert.match(last(seen.values).content, /^# Implementation: Short/);
console.log("ok rpi plan edited, answer in values.messages");

// 6. A failed turn is an error the SDK shows, and the run's status says so.
thread = (await client.threads.create()).thread_id;
seen = await submit(thread, chat, human("@nobody hi"));
assert.ok(seen.error, "an error event");
// langgraph dev streams the one-line message; Aegra streams "RunFailed: execution failed"
assert.match(JSON.stringify(seen.error), /RunFailed/);
assert.equal((await client.runs.get(thread, seen.runId)).status, "error");
const failed = (await client.threads.getState(thread)).values;
assert.equal(failed.status, "failed");
assert.equal(failed.error, "no agent 'nobody'");
console.log("ok failure is a run error");

// 7. The graph, as Studio draws it, by assistant id.
const graph = await client.assistants.getGraph(chat);
assert.ok(graph.nodes.length > 3);
console.log("ok getGraph by assistant id");
