//! Terminal sessions: a terminal is the room `terminal:<session_id>`.
//!
//! - `join_terminal {session_id}` joins it and answers `terminal_joined`;
//! - `terminal_input {session_id, command, timestamp}` from a member of the room runs the
//!   command ([`crate::terminal`]: plugin tools, never a shell) and sends `terminal_output
//!   {session_id, command, output, success, timestamp}` to everyone in the room; from a
//!   client that has not joined it, nothing runs and the sender gets `error {message,
//!   event, session_id}`;
//! - `leave_terminal {session_id}` leaves it and answers `terminal_left`.

use serde_json::{Value, json};

use super::events::{Ctx, bad_payload, required_str};
use crate::clock;

/// The room of terminal session `id`.
pub fn room(id: &str) -> String {
    format!("terminal:{id}")
}

/// `join_terminal`.
pub async fn join(ctx: &Ctx, data: Value) {
    let session_id = match required_str(&data, "session_id") {
        Ok(id) => id,
        Err(err) => return bad_payload(&ctx.socket, "join_terminal", "{session_id}", &err),
    };
    let room = room(session_id);
    ctx.socket.join(room.clone());
    let members = ctx
        .io
        .of("/")
        .map(|ns| ns.within(room.clone()).sockets().len())
        .unwrap_or(1);
    super::emit(
        &ctx.socket,
        "terminal_joined",
        &json!({
            "session_id": session_id,
            "room": room,
            "members": members,
            "message": format!("Joined terminal session {session_id}; type `help` for the commands"),
            "timestamp": clock::timestamp(),
        }),
    );
}

/// `terminal_input`.
pub async fn input(ctx: &Ctx, data: Value) {
    const EXPECTED: &str = "{session_id, command, timestamp}";
    let session_id = match required_str(&data, "session_id") {
        Ok(id) => id,
        Err(err) => return bad_payload(&ctx.socket, "terminal_input", EXPECTED, &err),
    };
    let command = match data.get("command") {
        Some(Value::String(command)) => command.as_str(),
        _ => {
            let err = "`command` must be a string";
            return bad_payload(&ctx.socket, "terminal_input", EXPECTED, &err);
        }
    };
    let room = room(session_id);
    if !ctx.socket.rooms().iter().any(|r| *r == room) {
        return super::emit(
            &ctx.socket,
            "error",
            &json!({
                "message": format!(
                    "not a member of terminal session `{}`: send `join_terminal` first",
                    crate::logsafe::safe(session_id)
                ),
                "event": "terminal_input",
                "session_id": session_id,
            }),
        );
    }
    // A command sent while the plugins load at start-up waits for them (bounded).
    super::events::wait_for_plugins(ctx).await;
    if !crate::auth::guard::socket_may_use_tools(&ctx.socket, &ctx.state) {
        let refused = json!({
            "session_id": session_id,
            "command": command,
            "output": "Terminal commands call plugin tools, which need a credential here ([auth] open_tools = false): connect with a `sid` session cookie or `Authorization: Bearer <key>`",
            "success": false,
            "timestamp": clock::timestamp(),
        });
        return super::emit(&ctx.socket, "terminal_output", &refused);
    }
    let result = crate::terminal::run(&ctx.state.plugins, command).await;
    let output = json!({
        "session_id": session_id,
        "command": command,
        "output": result.output,
        "success": result.success,
        "timestamp": clock::timestamp(),
    });
    if let Some(ns) = ctx.io.of("/")
        && let Err(err) = ns.within(room).emit("terminal_output", &output).await
    {
        tracing::debug!(%err, "terminal output did not reach every member");
    }
}

/// `leave_terminal`.
pub async fn leave(ctx: &Ctx, data: Value) {
    let session_id = match required_str(&data, "session_id") {
        Ok(id) => id,
        Err(err) => return bad_payload(&ctx.socket, "leave_terminal", "{session_id}", &err),
    };
    ctx.socket.leave(room(session_id));
    super::emit(
        &ctx.socket,
        "terminal_left",
        &json!({ "session_id": session_id, "timestamp": clock::timestamp() }),
    );
}
