"""Drives a running Sanctuary server with the official python-socketio client.

Usage: python3 socketio_client.py http://127.0.0.1:PORT websocket|polling

Runs the seed flows (connect, test_event, ping, chat with streaming, terminal room,
workspace subscription, a malformed payload) and exits non-zero with a message on the
first thing that is not as the seeds describe.
"""

import sys
import threading
import time

import socketio

URL, TRANSPORT = sys.argv[1], sys.argv[2]
TIMEOUT = 30


class Inbox:
    """Collects every event the server sends, so the flows can wait for one."""

    def __init__(self):
        self.events = []
        self.cond = threading.Condition()

    def add(self, name, data):
        with self.cond:
            self.events.append((name, data))
            self.cond.notify_all()

    def wait(self, name, pred=lambda d: True):
        deadline = time.time() + TIMEOUT
        with self.cond:
            while True:
                for n, d in self.events:
                    if n == name and pred(d):
                        return d
                left = deadline - time.time()
                if left <= 0:
                    seen = [n for n, _ in self.events]
                    raise AssertionError(f"no {name!r} within {TIMEOUT}s; saw {seen}")
                self.cond.wait(left)

    def all(self, name):
        with self.cond:
            return [d for n, d in self.events if n == name]


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def main():
    inbox = Inbox()
    sio = socketio.Client(reconnection=False)

    @sio.on("*")
    def catch_all(event, data=None):
        inbox.add(event, data)

    sio.connect(URL, socketio_path="/socket.io/", transports=[TRANSPORT], wait_timeout=TIMEOUT)
    check(sio.transport() == TRANSPORT, f"transport is {sio.transport()}, wanted {TRANSPORT}")

    connected = inbox.wait("connected")
    check(connected["status"] == "success", f"connected: {connected}")
    check("database" in connected["services"], f"services: {connected}")

    sio.emit("test_event", {"hello": "python"})
    response = inbox.wait("test_response")
    check(response["message"] == "Test event processed successfully", f"test_response: {response}")
    check(response["data"] == {"hello": "python"}, f"test_response data: {response}")

    sio.emit("ping", {"timestamp": 1})
    inbox.wait("pong")

    session = f"py-{TRANSPORT}"
    sio.emit("mama_bear_chat", {"message": "Which tools are installed?", "session_id": session,
                                "user_id": "python", "timestamp": "2024-01-01T00:00:00Z"})
    reply = inbox.wait("mama_bear_response", lambda d: d.get("session_id") == session)
    check(reply["response"], f"empty response: {reply}")
    check("metadata" in reply, f"no metadata: {reply}")
    chunks = [c for c in inbox.all("ai_progress") if c.get("session_id") == session]
    check(chunks, "no ai_progress chunks before the response")
    joined = "".join(c["chunk"] for c in sorted(chunks, key=lambda c: c["index"]))
    check(joined.strip() == reply["response"].strip(), "chunks do not add up to the response")

    term = f"term-{TRANSPORT}"
    sio.emit("join_terminal", {"session_id": term})
    inbox.wait("terminal_joined")
    sio.emit("terminal_input", {"session_id": term, "command": "plugins", "timestamp": "x"})
    out = inbox.wait("terminal_output", lambda d: d.get("command") == "plugins")
    check(out["success"] and "time" in out["output"], f"plugins: {out}")
    command = 'time.convert_time {"time":"2024-01-15T12:00:00Z","source_timezone":"UTC","target_timezone":"Asia/Tokyo"}'
    sio.emit("terminal_input", {"session_id": term, "command": command, "timestamp": "x"})
    out = inbox.wait("terminal_output", lambda d: d.get("command") == command)
    check(out["success"] and "21:00" in out["output"], f"tool call: {out}")
    sio.emit("leave_terminal", {"session_id": term})
    inbox.wait("terminal_left")

    sio.emit("workspace_subscribe", {"workspace_id": "demo"})
    inbox.wait("workspace_subscribed")
    sio.emit("workspace_unsubscribe", {"workspace_id": "demo"})

    sio.emit("ping", "not an object")
    err = inbox.wait("error")
    check(err.get("message"), f"error event: {err}")
    sio.emit("test_event", {"still": "connected"})
    inbox.wait("test_response", lambda d: d.get("data") == {"still": "connected"})

    sio.disconnect()
    print(f"python-socketio over {TRANSPORT}: ok")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"python-socketio over {TRANSPORT}: FAILED: {e}", file=sys.stderr)
        sys.exit(1)
