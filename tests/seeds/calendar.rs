//! Seed 003's calendar against the real binary and the bundled `calendar` plugin, with
//! iCalendar feeds served by a local HTTP server: a weekly event across a daylight-saving
//! change (with an excluded date), time zones, durations and all-day dates; the push
//! channel's callback; the meeting-notes bot; and a feed the plugin was not given.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::routing::get;
use reqwest::Method;
use serde_json::{Value, json};

use super::server::{self, ADMIN, Server};

const TEAM: &str = "BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Sanctuary tests//EN\r
BEGIN:VEVENT\r
UID:standup-1\r
SUMMARY:Team standup\r
DESCRIPTION:Daily-ish sync\\, twice a week\r
LOCATION:Room 4\r
ORGANIZER:mailto:lead@example.com\r
ATTENDEE;CN=Ada:mailto:ada@example.com\r
DTSTART;TZID=America/New_York:20240305T100000\r
DTEND;TZID=America/New_York:20240305T103000\r
RRULE:FREQ=WEEKLY;BYDAY=TU,TH;COUNT=6\r
EXDATE;TZID=America/New_York:20240307T100000\r
BEGIN:VALARM\r
TRIGGER:-PT15M\r
SUMMARY:not the event's summary\r
END:VALARM\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:berlin-review\r
SUMMARY:Design review\r
  (Berlin)\r
DTSTART;TZID=Europe/Berlin:20240306T090000\r
DTEND;TZID=Europe/Berlin:20240306T093000\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:utc-call\r
SUMMARY:Vendor call\r
DTSTART:20240308T120000Z\r
DURATION:PT45M\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:offsite\r
SUMMARY:Offsite\r
DTSTART;VALUE=DATE:20240311\r
END:VEVENT\r
END:VCALENDAR\r
";

const EXTRA: &str = "BEGIN:VEVENT\r
UID:added-later\r
SUMMARY:Added later\r
DTSTART:20240313T160000Z\r
DTEND:20240313T170000Z\r
END:VEVENT\r
";

/// A local feed server: `/team.ics` answers whatever the shared text is.
async fn feed_server(text: Arc<Mutex<String>>) -> String {
    let app = axum::Router::new()
        .route(
            "/team.ics",
            get(|State(text): State<Arc<Mutex<String>>>| async move {
                let body = text.lock().map(|t| t.clone()).unwrap_or_default();
                ([("content-type", "text/calendar")], body)
            }),
        )
        .with_state(text);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(listener, app).await.ok();
    });
    format!("http://{addr}")
}

async fn call(server: &Server, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = server
        .client
        .request(method, server.url(path))
        .bearer_auth(ADMIN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("answer");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn by_title<'a>(meetings: &'a [Value], title: &str) -> Vec<&'a Value> {
    meetings.iter().filter(|m| m["title"] == title).collect()
}

#[tokio::test]
async fn calendar_sync_pulls_recurring_and_zoned_meetings_from_an_ics_feed_through_the_plugin() {
    let text = Arc::new(Mutex::new(TEAM.to_owned()));
    let feeds = feed_server(text.clone()).await;
    let config = format!("[plugins.calendar]\nfeeds = [\"{feeds}/team.ics\"]\n");
    let server = server::start(&config, &[]).await;

    let window = json!({"start": "2024-03-04T00:00:00Z", "end": "2024-03-18T00:00:00Z"});
    let (status, synced) = call(&server, Method::POST, "/api/v1/calendar/sync", Some(window)).await;
    assert_eq!(status, 200, "{synced}");
    assert_eq!(synced["data"]["synced"], 6, "{synced}");

    let (status, listed) = call(
        &server,
        Method::GET,
        "/api/v1/calendar/meetings?start=2024-03-04&end=2024-03-18",
        None,
    )
    .await;
    assert_eq!(status, 200, "{listed}");
    // What the seed's client reads: response.data.meetings.
    let meetings = listed["data"]["meetings"]
        .as_array()
        .expect("meetings")
        .clone();
    assert_eq!(meetings.len(), 6, "{listed}");

    // Weekly on Tuesday and Thursday at 10:00 New York time, the 7th excluded; the local
    // time holds across the change to daylight saving time on March 10.
    let standups = by_title(&meetings, "Team standup");
    let starts: Vec<&str> = standups
        .iter()
        .filter_map(|m| m["start_time"].as_str())
        .collect();
    assert_eq!(
        starts,
        [
            "2024-03-05T15:00:00Z",
            "2024-03-12T14:00:00Z",
            "2024-03-14T14:00:00Z"
        ]
    );
    assert_eq!(standups[0]["end_time"], "2024-03-05T15:30:00Z");
    assert_eq!(standups[0]["timezone"], "America/New_York");
    assert_eq!(standups[0]["recurring"], true);
    assert_eq!(standups[0]["description"], "Daily-ish sync, twice a week");
    assert_eq!(standups[0]["organizer"], "lead@example.com");
    assert_eq!(standups[0]["attendees"], json!(["ada@example.com"]));

    let berlin = by_title(&meetings, "Design review (Berlin)");
    assert_eq!(berlin.len(), 1, "a folded line is unfolded");
    assert_eq!(berlin[0]["start_time"], "2024-03-06T08:00:00Z");
    let call_ = by_title(&meetings, "Vendor call");
    assert_eq!(call_[0]["end_time"], "2024-03-08T12:45:00Z");
    let offsite = by_title(&meetings, "Offsite");
    assert_eq!(offsite[0]["all_day"], true);
    assert_eq!(offsite[0]["end_time"], "2024-03-12T00:00:00Z");

    // One meeting by id; another window holds none of them.
    let id = standups[1]["id"].as_str().expect("id");
    let (status, one) = call(
        &server,
        Method::GET,
        &format!("/api/v1/calendar/meetings/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(one["data"]["meeting"]["start_time"], "2024-03-12T14:00:00Z");
    let (_, none) = call(
        &server,
        Method::GET,
        "/api/v1/calendar/meetings?start=2024-04-01&end=2024-04-08",
        None,
    )
    .await;
    assert_eq!(none["data"]["meetings"], json!([]));

    // The push channel: a POST to its callback syncs again and picks up a new event.
    let (status, channel) = call(
        &server,
        Method::POST,
        "/api/v1/calendar/webhook",
        Some(json!({"start": "2024-03-04", "end": "2024-03-18"})),
    )
    .await;
    assert_eq!(status, 201, "{channel}");
    let callback = channel["data"]["callback_path"]
        .as_str()
        .expect("a callback")
        .to_owned();
    if let Ok(mut feed) = text.lock() {
        *feed = TEAM.replace("END:VCALENDAR", &format!("{EXTRA}END:VCALENDAR"));
    }
    // The callback needs no credential but its token.
    let pushed = server
        .client
        .post(server.url(&callback))
        .send()
        .await
        .expect("answer");
    assert_eq!(pushed.status(), 200);
    let pushed: Value = pushed.json().await.expect("json");
    assert_eq!(pushed["data"]["synced"], 7, "{pushed}");
    let (_, listed) = call(
        &server,
        Method::GET,
        "/api/v1/calendar/meetings?start=2024-03-04&end=2024-03-18",
        None,
    )
    .await;
    assert_eq!(
        by_title(
            listed["data"]["meetings"].as_array().expect("meetings"),
            "Added later"
        )
        .len(),
        1
    );
    let wrong = server
        .client
        .post(server.url("/api/v1/calendar/webhook/not-a-token"))
        .send()
        .await
        .expect("answer");
    assert_eq!(wrong.status(), 404);

    // Bad input gets the envelope; the host keeps serving.
    let (status, body) = call(
        &server,
        Method::GET,
        "/api/v1/calendar/meetings?start=yesterday",
        None,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["success"], false);
    assert_eq!(body["error"]["status"], 400);
    let (status, _) = call(&server, Method::GET, "/api/dev/ping", None).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_plugin_fetches_only_its_configured_feeds() {
    let text = Arc::new(Mutex::new(TEAM.to_owned()));
    let feeds = feed_server(text).await;
    let config = format!("[plugins.calendar]\nfeeds = [\"{feeds}/team.ics\"]\n");
    let server = server::start(&config, &[]).await;
    let (status, body) = call(
        &server,
        Method::POST,
        "/api/mcp/servers/calendar/tools/events",
        Some(json!({"start": "2024-03-04T00:00:00Z", "end": "2024-03-18T00:00:00Z", "url": format!("{feeds}/other.ics")})),
    )
    .await;
    // A tool's refusal is a tool result marked as an error, naming why.
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["error"]["code"], "denied", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("not one of the configured feeds")),
        "{body}"
    );
}

#[tokio::test]
async fn the_meeting_bot_writes_notes_onto_a_meeting_after_it_ends() {
    let text = Arc::new(Mutex::new(TEAM.to_owned()));
    let feeds = feed_server(text).await;
    let config = format!("[plugins.calendar]\nfeeds = [\"{feeds}/team.ics\"]\n");
    let server = server::start(&config, &[]).await;
    call(
        &server,
        Method::POST,
        "/api/v1/calendar/sync",
        Some(json!({"start": "2024-03-04", "end": "2024-03-18"})),
    )
    .await;
    let (_, listed) = call(
        &server,
        Method::GET,
        "/api/v1/calendar/meetings?start=2024-03-08&end=2024-03-09",
        None,
    )
    .await;
    let id = listed["data"]["meetings"][0]["id"]
        .as_str()
        .expect("the vendor call")
        .to_owned();
    let (status, scheduled) = call(
        &server,
        Method::POST,
        &format!("/api/v1/calendar/meetings/{id}/bot"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 202, "{scheduled}");
    assert_eq!(scheduled["data"]["runs_at"], "2024-03-08T12:45:00Z");
    // The meeting has ended, so the job starts now; wait for its notes.
    let mut meeting = Value::Null;
    for _ in 0..600 {
        let (_, got) = call(
            &server,
            Method::GET,
            &format!("/api/v1/calendar/meetings/{id}"),
            None,
        )
        .await;
        meeting = got["data"]["meeting"].clone();
        if meeting["bot_status"] == "completed" || meeting["bot_status"] == "failed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(meeting["bot_status"], "completed", "{meeting}");
    assert!(
        meeting["notes"].as_str().is_some_and(|n| !n.is_empty()),
        "{meeting}"
    );
    let job = meeting["bot_job_id"].as_str().expect("a job");
    let (status, job) = call(&server, Method::GET, &format!("/api/jobs/{job}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(job["data"]["document_id"], format!("meeting:{id}"));

    let (status, body) = call(
        &server,
        Method::POST,
        "/api/v1/calendar/meetings/nope/bot",
        None,
    )
    .await;
    assert_eq!(status, 404, "{body}");
}
