//! The documented API against a real server: the app started in-process on 127.0.0.1:0
//! over a temporary data directory (the bundled plugins loaded, as in production), driven
//! over real HTTP and a real Socket.IO websocket: chat (HTTP and streamed over Socket.IO),
//! sessions surviving a restart, terminal rooms shared by two clients, workspace updates,
//! the scout agent on a real git repository, and batches.

mod analytics;
mod batch;
mod chat;
mod health;
mod rooms;
mod scout;
mod support;
