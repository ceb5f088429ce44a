//! A minimal Socket.IO v4 client speaking the wire protocol over a WebSocket (Engine.IO
//! `0` open, `2`/`3` ping and pong, `40` namespace connect, `42` events).

use std::net::SocketAddr;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::PATIENCE;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A Socket.IO client connected to the `/` namespace.
pub struct SocketIo {
    ws: Ws,
}

impl SocketIo {
    /// Connects over a WebSocket to the server at `addr` and joins the `/` namespace.
    pub async fn connect(addr: SocketAddr) -> SocketIo {
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("the Socket.IO WebSocket opens");
        let mut client = SocketIo { ws };
        let open = client.next_packet().await;
        assert!(open.starts_with('0'), "engine.io open: {open}");
        client.send_raw("40").await;
        loop {
            let packet = client.next_packet().await;
            if packet.starts_with("40") {
                return client;
            }
        }
    }

    /// Sends one raw Engine.IO packet.
    pub async fn send_raw(&mut self, text: &str) {
        self.ws
            .send(Message::text(text.to_string()))
            .await
            .expect("send on the Socket.IO WebSocket");
    }

    /// Emits `event` with `data`.
    pub async fn emit(&mut self, event: &str, data: Value) {
        self.send_raw(&format!("42{}", json!([event, data]))).await;
    }

    /// The next Engine.IO packet; answers pings on the way.
    pub async fn next_packet(&mut self) -> String {
        tokio::time::timeout(PATIENCE, async {
            loop {
                match self.ws.next().await {
                    Some(Ok(Message::Text(text))) if text.as_str() == "2" => {
                        self.ws.send(Message::text("3")).await.expect("pong");
                    }
                    Some(Ok(Message::Text(text))) => return text.to_string(),
                    Some(Ok(_)) => continue,
                    other => panic!("the Socket.IO WebSocket ended: {other:?}"),
                }
            }
        })
        .await
        .expect("a Socket.IO packet in time")
    }

    /// The next event: its name and first argument.
    pub async fn next_event(&mut self) -> (String, Value) {
        loop {
            let packet = self.next_packet().await;
            let Some(payload) = packet.strip_prefix("42") else {
                continue;
            };
            let array: Vec<Value> = serde_json::from_str(payload).expect("an event array");
            let name = array[0].as_str().expect("an event name").to_string();
            return (name, array.get(1).cloned().unwrap_or(Value::Null));
        }
    }

    /// Skips events until one named `name`; its data.
    pub async fn wait_for(&mut self, name: &str) -> Value {
        loop {
            let (event, data) = self.next_event().await;
            if event == name {
                return data;
            }
        }
    }

    /// Skips events until one named `name` whose data satisfies `pred`.
    pub async fn wait_for_where(&mut self, name: &str, pred: impl Fn(&Value) -> bool) -> Value {
        loop {
            let data = self.wait_for(name).await;
            if pred(&data) {
                return data;
            }
        }
    }

    /// Every event until (and including) the first named `last`, in order, skipping
    /// operator notices and plugin events.
    pub async fn events_until(&mut self, last: &str) -> Vec<(String, Value)> {
        let mut events = Vec::new();
        loop {
            let (event, data) = self.next_event().await;
            if matches!(
                event.as_str(),
                "msgprint"
                    | "plugin_loaded"
                    | "plugin_unloaded"
                    | "plugin_error"
                    | "workspace_update"
            ) {
                continue;
            }
            let done = event == last;
            events.push((event, data));
            if done {
                return events;
            }
        }
    }
}
