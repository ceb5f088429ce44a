//! A minimal Socket.IO v4 client speaking the wire protocol over a real WebSocket
//! (Engine.IO `0` open, `2`/`3` ping/pong, `40` namespace connect, `42[...]` events), and a
//! real server on `127.0.0.1:0` to point it at.

use std::net::SocketAddr;

use futures::{SinkExt, StreamExt};
use sanctuary::AppState;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::support::WAIT;

/// `sanctuary::app(state)` served on an ephemeral local port; stops when dropped.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Server {
    /// Serves `state`'s app.
    pub async fn start(state: AppState) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = sanctuary::app(state);
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Server { addr, task }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One Socket.IO client on the default namespace.
pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    /// Opens a websocket session and joins `/`.
    pub async fn connect(addr: SocketAddr) -> Client {
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket");
        let mut client = Client { ws };
        let open = client.next_packet().await;
        assert!(open.starts_with('0'), "engine.io open: {open}");
        client.send("40").await;
        client
    }

    async fn send(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.expect("send");
    }

    /// The next Socket.IO packet, answering Engine.IO pings on the way.
    async fn next_packet(&mut self) -> String {
        loop {
            let message = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("a packet within {WAIT:?}"))
                .expect("the socket is open")
                .expect("a frame");
            if let Message::Text(text) = message {
                if text.as_str() == "2" {
                    self.send("3").await;
                    continue;
                }
                return text.as_str().to_owned();
            }
        }
    }

    /// The first argument of the next event `name` whose argument `matches`, skipping
    /// everything else.
    pub async fn event(&mut self, name: &str, matches: impl Fn(&Value) -> bool) -> Value {
        loop {
            let packet = self.next_packet().await;
            let Some(body) = packet.strip_prefix("42") else {
                continue;
            };
            let array: Vec<Value> = serde_json::from_str(body).expect("an event array");
            let data = array.get(1).cloned().unwrap_or(Value::Null);
            if array.first().and_then(Value::as_str) == Some(name) && matches(&data) {
                return data;
            }
        }
    }
}
