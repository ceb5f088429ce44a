// Drives a running Sanctuary server with the official socket.io-client (npm).
//
// Usage: node socketio_client.mjs http://127.0.0.1:PORT websocket|polling
//
// The same seed flows as socketio_client.py; exits non-zero on the first mismatch.

import { io } from "socket.io-client";

const [url, transport] = process.argv.slice(2);
const TIMEOUT = 30_000;
const events = [];
const waiters = [];

function check(cond, message) {
  if (!cond) throw new Error(message);
}

function wait(name, pred = () => true) {
  const found = events.find(([n, d]) => n === name && pred(d));
  if (found) return Promise.resolve(found[1]);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no ${name} within ${TIMEOUT} ms; saw ${events.map(([n]) => n)}`)),
      TIMEOUT,
    );
    waiters.push({ name, pred, resolve: (d) => { clearTimeout(timer); resolve(d); } });
  });
}

const socket = io(url, { path: "/socket.io/", transports: [transport], reconnection: false, timeout: TIMEOUT });
socket.onAny((name, data) => {
  events.push([name, data]);
  for (const w of [...waiters]) {
    if (w.name === name && w.pred(data)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(data);
    }
  }
});

try {
  const connected = await wait("connected");
  check(socket.io.engine.transport.name === transport, `transport ${socket.io.engine.transport.name}`);
  check(connected.status === "success" && "database" in connected.services, JSON.stringify(connected));

  socket.emit("test_event", { hello: "node" });
  const response = await wait("test_response");
  check(response.message === "Test event processed successfully", JSON.stringify(response));
  check(response.data.hello === "node", JSON.stringify(response));

  const session = `node-${transport}`;
  socket.emit("mama_bear_chat", { message: "Which tools are installed?", session_id: session, user_id: "node", timestamp: new Date().toISOString() });
  const reply = await wait("mama_bear_response", (d) => d.session_id === session);
  check(reply.response && reply.metadata, JSON.stringify(reply));
  const chunks = events.filter(([n, d]) => n === "ai_progress" && d.session_id === session).map(([, d]) => d);
  check(chunks.length > 0, "no ai_progress chunks");
  const joined = chunks.sort((a, b) => a.index - b.index).map((c) => c.chunk).join("");
  check(joined.trim() === reply.response.trim(), "chunks do not add up to the response");

  const term = `term-node-${transport}`;
  socket.emit("join_terminal", { session_id: term });
  await wait("terminal_joined");
  socket.emit("terminal_input", { session_id: term, command: "help", timestamp: "x" });
  const help = await wait("terminal_output", (d) => d.command === "help");
  check(help.success && help.output.length > 0, JSON.stringify(help));
  socket.emit("leave_terminal", { session_id: term });
  await wait("terminal_left");

  socket.emit("workspace_subscribe", { workspace_id: "demo" });
  await wait("workspace_subscribed");

  socket.emit("ping", "not an object");
  const err = await wait("error");
  check(err.message, JSON.stringify(err));
  socket.emit("ping", { timestamp: Date.now() });
  await wait("pong");

  socket.disconnect();
  console.log(`socket.io-client over ${transport}: ok`);
  process.exit(0);
} catch (e) {
  console.error(`socket.io-client over ${transport}: FAILED: ${e.message}`);
  process.exit(1);
}
