//! Window aggregations end to end: readings tailed from a file are folded into one-minute
//! event-time windows per device while the agent is killed after buffering them and again
//! after handing closed windows to the window table's buffer; the window table at the node
//! ends with each window once, with the right figures, and a reading that comes after its
//! window closed is counted late without changing it.

use std::path::Path;
use std::time::Duration;

use crate::harness::{Agent, Node, edge, free_port, register_agent, wait_until};

const READINGS: &str = r#"
apiVersion: v3.0.2
kind: DataContract
id: readings
name: readings
version: 1.0.0
status: active
domain: iot
schema:
  - name: readings
    properties:
      - name: seq
        logicalType: integer
        required: true
        primaryKey: true
      - name: device
        logicalType: string
        required: true
      - name: at
        logicalType: timestamp
        required: true
      - name: temperature
        logicalType: number
"#;

const PER_MINUTE: &str = r#"
apiVersion: v3.0.2
kind: DataContract
id: readings_1m
name: readings_1m
version: 1.0.0
status: active
domain: iot
schema:
  - name: readings_1m
    properties:
      - name: device
        logicalType: string
        required: true
        primaryKey: true
      - name: window_start
        logicalType: timestamp
        required: true
        primaryKey: true
      - name: window_end
        logicalType: timestamp
        required: true
      - name: count
        logicalType: integer
        required: true
      - name: temperature_mean
        logicalType: number
      - name: temperature_max
        logicalType: number
      - name: temperature_p50
        logicalType: number
"#;

fn mesh(dir: &Path) -> Node {
    let node = Node::new(dir);
    node.ok(&["principal", "create", "olivia"]);
    node.ok(&["domain", "create", "iot", "--owner", "olivia"]);
    for (name, text) in [("readings", READINGS), ("readings_1m", PER_MINUTE)] {
        let path = dir.join(format!("{name}.yaml"));
        std::fs::write(&path, text).unwrap();
        node.ok(&["--as", "olivia", "product", "apply", path.to_str().unwrap()]);
    }
    register_agent(&node, dir, &["iot.readings", "iot.readings_1m"]);
    node
}

/// Ten readings a minute from each of two devices for minutes 0–4 of 2026-01-01, the
/// temperature `minute * 10 + i`; `seq` numbers them from `first`.
fn readings(minutes: std::ops::Range<u64>, first: u64) -> String {
    let mut text = String::new();
    let mut seq = first;
    for minute in minutes {
        for device in ["d1", "d2"] {
            for i in 0..10 {
                text += &format!(
                    "{{\"seq\": {seq}, \"device\": \"{device}\", \"at\": \"2026-01-01T00:{minute:02}:{:02}Z\", \"temperature\": {}}}\n",
                    i * 5,
                    minute * 10 + i
                );
                seq += 1;
            }
        }
    }
    text
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

#[test]
fn windows_are_emitted_once_with_their_figures_through_kills_and_late_readings_do_not_change_them()
{
    let dir = tempfile::tempdir().unwrap();
    let mut node = mesh(dir.path());
    node.start();
    let log = dir.path().join("readings.jsonl");
    let metrics = free_port();
    let config = dir.path().join("edge.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[agent]
name = "gw1"
key = "gw1.key"
data_dir = "edge-data"

[node]
url = "{}"
table = "iot.readings"

[[file]]
path = "{}"
poll_ms = 20

[[window]]
table = "iot.readings_1m"
size = "1m"
time = "at"
by = ["device"]
aggregates = ["count", "mean(temperature)", "max(temperature)", "p50(temperature)"]

[delivery]
batch_events = 50
linger_ms = 50
initial_backoff_ms = 50
max_backoff_ms = 1000

[metrics]
listen = "127.0.0.1:{metrics}"
"#,
            node.url(),
            log.display()
        ),
    )
    .unwrap();
    // A config whose aggregate names a column the window table lacks fails at start.
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        std::fs::read_to_string(&config)
            .unwrap()
            .replace("\"p50(temperature)\"", "\"min(temperature)\""),
    )
    .unwrap();
    let refused = edge(&["check-config", bad.to_str().unwrap()]);
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && message.contains("temperature_min"),
        "{message}"
    );

    // Minutes 0–2 buffered, then a kill right after the buffer's commit (the windows' state
    // was in that commit).
    append(&log, &readings(0..3, 1));
    let mut agent = Agent::stopped(&config);
    agent.crash_at("edge.after_buffer_commit");
    // Minutes 3–4 and one reading of minute 6, which closes minutes 0–4 (event time); a kill
    // right after the closed windows reach the window table's buffer.
    append(&log, &readings(3..5, 61));
    append(
        &log,
        "{\"seq\": 200, \"device\": \"d1\", \"at\": \"2026-01-01T00:06:00Z\", \"temperature\": 1}\n",
    );
    agent.crash_at("edge.after_window_emit");
    agent.restart();
    let rows = || {
        node.ok(&[
            "sql",
            "select device, cast(window_start as varchar) as s, \"count\", temperature_mean, temperature_max, temperature_p50 from iot.readings_1m order by device, s",
            "--format",
            "csv",
        ])
    };
    wait_until("ten windows at the node", Duration::from_secs(60), || {
        rows().lines().count() >= 11
    });
    std::thread::sleep(Duration::from_secs(1));
    let table = rows();
    let lines: Vec<&str> = table.lines().skip(1).collect();
    assert_eq!(lines.len(), 10, "{table}");
    for (i, line) in lines.iter().enumerate() {
        let device = if i < 5 { "d1" } else { "d2" };
        let minute = (i % 5) as f64;
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f[0], device, "{table}");
        assert!(
            f[1].starts_with(&format!("2026-01-01T00:0{minute}:00")),
            "{table}"
        );
        assert_eq!(f[2], "10", "each reading counted once: {table}");
        assert_eq!(f[3].parse::<f64>().unwrap(), minute * 10.0 + 4.5, "{table}");
        assert_eq!(f[4].parse::<f64>().unwrap(), minute * 10.0 + 9.0, "{table}");
        let median = f[5].parse::<f64>().unwrap();
        assert!((median - (minute * 10.0 + 4.5)).abs() <= 1.0, "{table}");
    }
    // Every reading reached the events' table too, once.
    wait_until("the readings at the node", Duration::from_secs(60), || {
        node.scalar("select count(*) from iot.readings") == "101"
    });

    // A reading of minute 1 after its window closed: kept as an event, counted late, and the
    // window's row stays as it was.
    append(
        &log,
        "{\"seq\": 201, \"device\": \"d1\", \"at\": \"2026-01-01T00:01:30Z\", \"temperature\": 99}\n",
    );
    let client = reqwest::blocking::Client::new();
    let late = || {
        client
            .get(format!("http://127.0.0.1:{metrics}/metrics"))
            .send()
            .and_then(|r| r.text())
            .unwrap_or_default()
    };
    wait_until("the late reading counted", Duration::from_secs(60), || {
        late().contains("agora_edge_window_late_total{table=\"iot.readings\"} 1")
    });
    wait_until(
        "the late reading at the node",
        Duration::from_secs(60),
        || node.scalar("select count(*) from iot.readings") == "102",
    );
    assert_eq!(rows(), table);
    let text = late();
    assert!(
        text.contains("agora_edge_sent_total{table=\"iot.readings_1m\"}"),
        "{text}"
    );
    // The window of minute 6 is still open.
    assert!(
        text.contains("agora_edge_windows_open{table=\"iot.readings_1m\"} 1"),
        "{text}"
    );
    // The ledger names the agent on every batch of the window table, none refused there.
    let tail = node.ok(&["ledger", "tail", "--limit", "1000"]);
    let mut window_batches = 0;
    for line in tail.lines().filter(|l| l.contains("ingest.committed")) {
        let index = line.split_whitespace().next().unwrap();
        let entry = node.ok(&["ledger", "show", index]);
        if entry.contains("iot.readings_1m") {
            window_batches += 1;
            assert!(entry.contains("edge agent gw1 batch"), "{entry}");
            assert!(entry.contains("\"rows_quarantined\": 0"), "{entry}");
        }
    }
    assert!(window_batches > 0, "{tail}");
}
