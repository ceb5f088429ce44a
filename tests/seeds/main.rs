//! Every seed's frontend, unchanged, against the real binary: seed 000's own ChatService
//! and SocketService under node (`socket.rs`), seed 004's Oropendola method surface with
//! the seed's curl flow (`oropendola.rs`), seed 003's hybrid-backend API behind bearer
//! JWTs (`hybrid.rs`).

mod calendar;
mod hybrid;
mod oropendola;
mod server;
mod socket;
