//! A client of the `/ws/jobs` WebSocket (job events as JSON text messages).

use std::net::SocketAddr;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::PATIENCE;

/// A `/ws/jobs` client.
pub struct JobsSocket {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl JobsSocket {
    /// Opens `/ws/jobs` on the server at `addr`.
    pub async fn connect(addr: SocketAddr) -> JobsSocket {
        let url = format!("ws://{addr}/ws/jobs");
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("the job WebSocket opens");
        JobsSocket { ws }
    }

    /// The next message from the server, as JSON.
    pub async fn next(&mut self) -> Value {
        let message = tokio::time::timeout(PATIENCE, async {
            loop {
                match self.ws.next().await {
                    Some(Ok(Message::Text(text))) => return text.to_string(),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    other => panic!("the job WebSocket ended: {other:?}"),
                }
            }
        })
        .await
        .expect("a message from the server");
        serde_json::from_str(&message).expect("a JSON message")
    }

    /// The next event about job `job_id`, skipping other jobs'.
    pub async fn next_about(&mut self, job_id: &str) -> Value {
        loop {
            let message = self.next().await;
            if message["job"]["job_id"] == job_id {
                return message;
            }
        }
    }

    /// Sends a text message.
    pub async fn send(&mut self, text: &str) {
        self.ws
            .send(Message::text(text.to_string()))
            .await
            .expect("send on the job WebSocket");
    }
}
