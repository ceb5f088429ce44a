//! HTTP JSON helpers over `reqwest`: an answer's status, headers and JSON body.

use reqwest::header::HeaderMap;
use serde_json::Value;

/// Status, headers and JSON body (`null` when the body is not JSON) of `response`.
pub async fn read(response: reqwest::Response) -> (u16, HeaderMap, Value) {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("the body arrives");
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, headers, body)
}

/// `GET url`: status and JSON body.
pub async fn get(client: &reqwest::Client, url: &str) -> (u16, Value) {
    let response = client
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let (status, _, body) = read(response).await;
    (status, body)
}

/// `GET url`, expecting 200 and JSON.
pub async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    let (status, body) = get(client, url).await;
    assert_eq!(status, 200, "GET {url}: {body}");
    body
}

/// `POST url` with a JSON body: status, headers and JSON body.
pub async fn post(client: &reqwest::Client, url: &str, body: &Value) -> (u16, HeaderMap, Value) {
    let response = client
        .post(url)
        .json(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    read(response).await
}
