//! Events one by one over HTTP: scored as they arrive (an anomalous value is flagged in the
//! response with its score, expected range and reason), buffered durably and ingested by size,
//! age or request, flagged in `domain.table__events`, quarantined when they do not match the
//! contract, and never lost to a killed server.

use serde_json::{Value, json};

use crate::harness::Mesh;
use crate::quality::csv_file;
use crate::server::{serve, token};

const READINGS: &str = "\
apiVersion: v3.0.2
kind: DataContract
id: plant-readings
name: readings
version: 1.0.0
status: active
domain: sales
schema:
  - name: readings
    properties:
      - name: sensor
        logicalType: string
        required: true
      - name: temperature
        logicalType: number
";

fn readings() -> (Mesh, String) {
    let mesh = Mesh::new();
    mesh.ok(&[
        "product",
        "apply",
        &csv_file(&mesh, "readings.yaml", READINGS),
    ]);
    let wendy = token(&mesh, "wendy");
    mesh.ok(&["grant", "wendy", "write", "sales.readings"]);
    (mesh, wendy)
}

fn post(http: &str, token: &str, body: &str, query: &str) -> (u16, Value) {
    let r = reqwest::blocking::Client::new()
        .post(format!("{http}/api/v1/tables/sales/readings/events{query}"))
        .bearer_auth(token)
        .header("Content-Type", "application/x-ndjson")
        .body(body.to_string())
        .send()
        .unwrap();
    (r.status().as_u16(), r.json().unwrap())
}

/// A day of a sensor's temperature: a slow wave with a little noise, as NDJSON.
fn ordinary(n: usize) -> String {
    (0..n)
        .map(|i| {
            let t = 20.0 + (i as f64 / 12.0).sin() + ((i * 7919) % 13) as f64 / 40.0;
            json!({"sensor": "s1", "temperature": t}).to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn count(mesh: &Mesh, sql: &str) -> String {
    mesh.csv(sql).lines().nth(1).unwrap_or_default().to_string()
}

#[test]
fn an_anomalous_event_is_flagged_in_the_response_and_in_the_table() {
    let (mesh, wendy) = readings();
    let served = serve(&mesh);
    let (status, report) = post(&served.http, &wendy, &ordinary(300), "");
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["accepted"], 300);
    let events = report["events"].as_array().unwrap();
    assert_eq!(events.len(), 300);
    assert!(events.iter().all(|e| e["anomalous"] == false), "{report}");

    let (_, report) = post(
        &served.http,
        &wendy,
        r#"{"sensor": "s1", "temperature": 95.5}"#,
        "",
    );
    let verdict = &report["events"][0];
    assert_eq!(verdict["anomalous"], true, "{report}");
    let flag = &verdict["flags"][0];
    assert_eq!(flag["column"], "temperature");
    assert_eq!(flag["value"], 95.5);
    assert!(flag["score"].as_f64().unwrap() > 1.0, "{flag}");
    assert!(flag["expected_high"].as_f64().unwrap() < 25.0, "{flag}");
    assert!(
        flag["reason"]
            .as_str()
            .unwrap()
            .contains("outside the expected"),
        "{flag}"
    );
    assert_eq!(report["buffered"], 301, "not ingested yet: {report}");
    assert_eq!(
        count(&mesh, "select count(*) as n from sales.readings"),
        "0"
    );

    // An event that does not match the contract is kept, in quarantine with the reason.
    let (_, report) = post(
        &served.http,
        &wendy,
        r#"{"sensor": "s1", "temperature": "hot"}"#,
        "?flush=true",
    );
    let flushed = &report["flushed"];
    assert_eq!(
        (&flushed["rows_accepted"], &flushed["rows_quarantined"]),
        (&json!(301), &json!(1)),
        "{report}"
    );
    assert_eq!(report["buffered"], 0);
    assert_eq!(
        count(&mesh, "select count(*) as n from sales.readings"),
        "301"
    );
    assert_eq!(
        mesh.csv("select _row, temperature, _reason from sales.readings__quarantine"),
        "_row,temperature,_reason\n302,hot,`temperature`: `hot` is not a valid Float64\n"
    );
    // The flag is data, with the row the event took in its ingest.
    assert_eq!(
        mesh.csv("select event_row, column_name, value from sales.readings__events"),
        "event_row,column_name,value\n301,temperature,95.5\n"
    );
    let reason = count(&mesh, "select reason from sales.readings__events");
    assert!(reason.contains("outside the expected"), "{reason}");
    // The flush was an ordinary ingest: one ledger entry signed by the domain.
    let tail = mesh.ok(&["ledger", "tail", "--limit", "50"]);
    assert!(tail.contains("ingest.committed"), "{tail}");
}

#[test]
fn a_bad_request_buffers_nothing_and_a_reader_may_not_send() {
    let (mesh, wendy) = readings();
    let reader = token(&mesh, "rita");
    mesh.ok(&["grant", "rita", "read", "sales.readings"]);
    let served = serve(&mesh);
    for (body, says) in [
        ("{\"sensor\": \"s1\"}\n{\"sensor\": ", "line 2"),
        ("[1, 2]", "event 1 is not a JSON object"),
        ("", "no event"),
    ] {
        let (status, err) = post(&served.http, &wendy, body, "");
        assert_eq!(status, 400, "{body}: {err}");
        assert!(err["error"].as_str().unwrap().contains(says), "{err}");
    }
    let (status, _) = post(&served.http, &reader, r#"{"sensor": "s1"}"#, "");
    assert_eq!(status, 403);
    let (status, report) = post(&served.http, &wendy, r#"{"sensor": "s1"}"#, "?flush=true");
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        report["flushed"]["rows_read"], 1,
        "only the good request's event: {report}"
    );
}

#[test]
fn buffered_events_are_ingested_when_old_enough_and_survive_a_killed_server() {
    let (mesh, wendy) = readings();
    let served = serve(&mesh);
    post(&served.http, &wendy, &ordinary(3), "");
    // No flush asked: the buffer's age brings it in (2 s; polled with a generous deadline).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while count(&mesh, "select count(*) as n from sales.readings") != "3" {
        assert!(
            std::time::Instant::now() < deadline,
            "the aged buffer was never ingested"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // Answered events are on disk before the answer: a killed server loses none of them.
    let (_, report) = post(&served.http, &wendy, &ordinary(5), "");
    assert_eq!(report["buffered"], 5);
    drop(served);
    let restarted = serve(&mesh);
    assert_eq!(
        count(&mesh, "select count(*) as n from sales.readings"),
        "8"
    );
    drop(restarted);
    let tail = mesh.ok(&["ledger", "tail", "--limit", "100"]);
    assert_eq!(tail.matches("ingest.committed").count(), 2, "{tail}");
}

#[test]
fn a_full_buffer_is_ingested_in_the_background_without_holding_the_request() {
    let (mesh, wendy) = readings();
    let served = serve(&mesh);
    let (status, report) = post(&served.http, &wendy, &ordinary(10_000), "");
    assert_eq!(status, 200);
    assert_eq!(report["buffered"], 0, "sealed for ingest");
    assert!(
        report.get("flushed").is_none(),
        "the request did not wait: {}",
        report["flushed"]
    );
    // Events sent meanwhile go to the next buffer, after the sealed one.
    post(&served.http, &wendy, &ordinary(2), "?flush=true");
    assert_eq!(
        count(&mesh, "select count(*) as n from sales.readings"),
        "10002"
    );
    let tail = mesh.ok(&["ledger", "tail", "--limit", "100"]);
    assert_eq!(tail.matches("ingest.committed").count(), 2, "{tail}");
}
