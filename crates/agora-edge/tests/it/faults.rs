//! Exactly once under faults: numbered events published through a real Mosquitto while the
//! agent is killed with SIGKILL twice, the node is stopped and restarted, and the broker is
//! restarted; the product ends with every event once, the ledger names the agent on every
//! batch, malformed payloads are in the agent's quarantine with their reasons, and a config
//! naming an unknown product or column fails at start with the name.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
use sha2::Digest as _;

use crate::harness::{Agent, Broker, Node, edge, register_agent, wait_until};

const CONTRACT: &str = r#"
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
      - name: temperature
        logicalType: number
      - name: contact
        logicalType: string
      - name: note
        logicalType: string
"#;

/// Events that must reach the product, each exactly once.
const N: u64 = 1200;
/// Malformed payloads published among them: three every 400 events.
const MALFORMED: u64 = 3 * (N / 400);

fn config(
    dir: &Path,
    node: &Node,
    broker: &Broker,
    table: &str,
    extra: &str,
) -> std::path::PathBuf {
    let mqtt = format!(
        "[mqtt]\nport = {}\ntopics = [\"sensors/#\"]\nqos = 1\nclient_id = \"test-agent\"\n",
        broker.port
    );
    config_with(dir, node, &mqtt, table, extra)
}

/// An agent's config with `sources` (the `[mqtt]` and `[http]` sections).
fn config_with(
    dir: &Path,
    node: &Node,
    sources: &str,
    table: &str,
    extra: &str,
) -> std::path::PathBuf {
    let path = dir.join(format!("edge-{}.toml", table.replace('.', "-")));
    std::fs::write(
        &path,
        format!(
            r#"
[agent]
name = "gw1"
key = "gw1.key"
data_dir = "edge-data"

[node]
url = "{}"
table = "{table}"

{sources}

[delivery]
batch_events = 100
linger_ms = 50
initial_backoff_ms = 50
max_backoff_ms = 1000
{extra}
"#,
            node.url(),
        ),
    )
    .unwrap();
    path
}

/// A mesh with the `iot.readings` product and the agent `gw1` registered with write access;
/// returns the node (not started) and the agent's key file.
fn mesh(dir: &Path) -> Node {
    let node = Node::new(dir);
    node.ok(&["principal", "create", "olivia"]);
    node.ok(&["domain", "create", "iot", "--owner", "olivia"]);
    let contract = dir.join("readings.yaml");
    std::fs::write(&contract, CONTRACT).unwrap();
    node.ok(&[
        "--as",
        "olivia",
        "product",
        "apply",
        contract.to_str().unwrap(),
    ]);
    register_agent(&node, dir, &["iot.readings"]);
    node
}

/// Publishes events 1..=N (and a few malformed payloads) at QoS 1 from a persistent session,
/// counting the broker's acknowledgements; keeps going across broker restarts.
fn publisher(port: u16, published: Arc<AtomicU64>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut options = MqttOptions::new("test-publisher", "127.0.0.1", port);
        options
            .set_keep_alive(Duration::from_secs(5))
            .set_clean_session(false);
        let (client, mut connection) = Client::new(options, 64);
        let acked = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&acked);
        let events = std::thread::spawn(move || {
            for notification in connection.iter() {
                match notification {
                    Ok(Event::Incoming(Packet::PubAck(_))) => {
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(_) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(200)),
                }
                if counter.load(Ordering::SeqCst) >= N + MALFORMED {
                    break;
                }
            }
        });
        for seq in 1..=N {
            let payload = format!(
                r#"{{"seq": {seq}, "device": "d{}", "temperature": {}}}"#,
                seq % 7,
                20.0 + (seq % 10) as f64 / 10.0
            );
            client
                .publish("sensors/room1", QoS::AtLeastOnce, false, payload)
                .expect("the publisher's queue takes the event");
            if seq % 400 == 0 {
                for bad in [
                    &b"{not json"[..],
                    br#"{"device": "d1"}"#,
                    br#"{"seq": 9999999, "device": "d1", "humidity": 3}"#,
                ] {
                    client
                        .publish("sensors/room1", QoS::AtLeastOnce, false, bad.to_vec())
                        .unwrap();
                }
            }
            published.store(seq, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(4));
        }
        let _ = events.join();
    })
}

/// Waits up to `limit` for `done`; whether it came.
fn wait_until_or_report(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while !done() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    true
}

fn wait_published(published: &AtomicU64, at_least: u64) {
    wait_until(
        &format!("event {at_least} to be published"),
        Duration::from_secs(120),
        || published.load(Ordering::SeqCst) >= at_least,
    );
}

#[test]
fn every_event_arrives_exactly_once_through_kills_a_node_outage_and_a_broker_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut broker = Broker::start();
    let mut node = mesh(dir.path());
    node.start();
    let config = config(dir.path(), &node, &broker, "iot.readings", "");
    let check = edge(&["check-config", config.to_str().unwrap()]);
    assert!(check.status.success(), "{check:?}");

    let mut agent = Agent::start(&config);
    // The agent subscribes before anything is published, so the broker keeps its session.
    std::thread::sleep(Duration::from_millis(1500));
    let published = Arc::new(AtomicU64::new(0));
    let publishing = publisher(broker.port, Arc::clone(&published));

    // SIGKILL, then a crash right after events are in the buffer and before their messages
    // are acknowledged: the broker sends them again.
    wait_published(&published, 150);
    agent.kill();
    agent.crash_at("edge.after_buffer_commit");
    agent.restart();

    wait_published(&published, 350);
    node.kill();
    std::thread::sleep(Duration::from_secs(2));
    node.start();

    // SIGKILL, then a crash right after the node committed a batch and before the buffer let
    // it go: the next start sends it again under the same id.
    wait_published(&published, 600);
    agent.kill();
    agent.crash_at("edge.after_node_commit");
    agent.restart();

    wait_published(&published, 850);
    broker.restart();

    publishing.join().expect("the publisher finishes");
    let count = || {
        node.scalar("select count(*) from iot.readings")
            .parse::<u64>()
            .unwrap_or(0)
    };
    let committed = wait_until_or_report(Duration::from_secs(120), || count() >= N);
    if !committed {
        let held: std::collections::BTreeSet<u64> = node
            .ok(&["sql", "select seq from iot.readings", "--format", "csv"])
            .lines()
            .skip(1)
            .filter_map(|l| l.parse().ok())
            .collect();
        let missing: Vec<u64> = (1..=N).filter(|s| !held.contains(s)).collect();
        panic!(
            "not every event was committed: {} of {N}; missing {missing:?}",
            held.len()
        );
    }
    // A little longer: a duplicate would land after the last original.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        node.scalar("select count(*), count(distinct seq), min(seq), max(seq) from iot.readings"),
        format!("{N},{N},1,{N}")
    );

    // Every batch's ledger entry names the agent.
    let tail = node.ok(&["ledger", "tail", "--limit", "100000"]);
    let ingests: Vec<&str> = tail
        .lines()
        .filter(|l| l.contains("ingest.committed"))
        .collect();
    assert!(!ingests.is_empty(), "{tail}");
    let mut rows = 0;
    for line in &ingests {
        let index = line.split_whitespace().next().unwrap();
        let entry = node.ok(&["ledger", "show", index]);
        assert!(entry.contains("\"by\": \"gw1\""), "{entry}");
        assert!(entry.contains("edge agent gw1 batch"), "{entry}");
        // The product's primary key would quarantine a second copy at the node: none came.
        assert!(
            entry.contains("\"rows_quarantined\": 0"),
            "{entry}\n{}",
            node.ok(&[
                "sql",
                "select * from iot.readings__quarantine limit 5",
                "--format",
                "csv"
            ])
        );
        let accepted = entry
            .split("\"rows_accepted\": ")
            .nth(1)
            .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap();
        rows += accepted;
    }
    assert_eq!(rows, N, "the committed batches hold every event once");

    // The malformed payloads are in the agent's quarantine, with their reasons.
    agent.kill();
    let listed = edge(&["quarantine", "--config", config.to_str().unwrap()]);
    assert!(listed.status.success(), "{listed:?}");
    let listed = String::from_utf8(listed.stdout).unwrap();
    let reasons: Vec<&str> = listed.lines().collect();
    assert_eq!(reasons.len() as u64, MALFORMED, "{listed}");
    for named in [
        "not JSON",
        "required field `seq`",
        "`humidity` is not a column",
    ] {
        assert!(listed.contains(named), "{named}: {listed}");
    }
}

#[test]
fn a_config_naming_an_unknown_product_or_column_fails_at_start_with_the_name() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start();
    let mut node = mesh(dir.path());
    node.start();
    for (table, extra, named) in [
        ("iot.nosuch", "", "nosuch"),
        (
            "iot.readings",
            "[buffer]\ndedup_key = [\"serial\"]",
            "serial",
        ),
        (
            "iot.readings",
            "[anomaly]\ncolumns = [\"humidity\"]\nflag = \"note\"",
            "humidity",
        ),
        (
            "iot.readings",
            "[anomaly]\ncolumns = [\"temperature\"]\nflag = \"seq\"",
            "not a text column",
        ),
    ] {
        let config = config(dir.path(), &node, &broker, table, extra);
        for command in [
            vec!["check-config", config.to_str().unwrap()],
            vec!["run", "--config", config.to_str().unwrap()],
        ] {
            let out = edge(&command);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                !out.status.success() && stderr.contains(named),
                "{command:?}: {stderr}"
            );
        }
    }
    // A misspelt key: its name and line.
    let config = config(
        dir.path(),
        &node,
        &broker,
        "iot.readings",
        "[buffer]\nmax_byte = 1",
    );
    let out = edge(&["check-config", config.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("max_byte") && stderr.contains("line"),
        "{stderr}"
    );
    // A batch signed by another key is refused by the node, and commits nothing.
    let other = dir.path().join("other.key");
    assert!(
        edge(&["keygen", "--key", other.to_str().unwrap()])
            .status
            .success()
    );
    let other = agora_edge::keys::AgentKey::load(&other).unwrap();
    let body = b"not arrow".to_vec();
    let sha = hex::encode(sha2::Sha256::digest(&body));
    let message = agora_model::edge_batch::batch_message("gw1", "iot.readings", "b1", &sha);
    for signature in [other.sign(&message), "00".repeat(64), "zz".into()] {
        let r = reqwest::blocking::Client::new()
            .post(format!(
                "{}/api/v1/edge/gw1/batches?table=iot.readings",
                node.url()
            ))
            .header("idempotency-key", "b1")
            .header("agora-signature", signature)
            .body(body.clone())
            .send()
            .unwrap();
        assert_eq!(r.status(), 403);
        assert!(r.text().unwrap().contains("signature"));
    }
    assert_eq!(node.scalar("select count(*) from iot.readings"), "0");
}

#[test]
fn an_acknowledged_http_post_survives_a_kill_and_reaches_the_node_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = mesh(dir.path());
    node.start();
    let port = crate::harness::free_port();
    let metrics = crate::harness::free_port();
    let http = format!("[http]\nlisten = \"127.0.0.1:{port}\"\n");
    let config = config_with(
        dir.path(),
        &node,
        &http,
        "iot.readings",
        &format!("[metrics]\nlisten = \"127.0.0.1:{metrics}\"\n"),
    );
    let mut agent = Agent::start(&config);
    let url = format!("http://127.0.0.1:{port}/events");
    let client = reqwest::blocking::Client::new();
    wait_until("the agent's HTTP source", Duration::from_secs(30), || {
        client.post(&url).body("").send().is_ok()
    });
    // The node goes away; the agent still takes events, and answers once they are on disk.
    node.kill();
    let body = "{\"seq\": 1, \"device\": \"d1\", \"temperature\": 20.5}\n\
                {\"seq\": 2, \"device\": \"d1\"}\n\
                {\"seq\": 3}\n\
                \n\
                {\"seq\": 1, \"device\": \"d1\", \"temperature\": 20.5}\n";
    let answer: serde_json::Value = client.post(&url).body(body).send().unwrap().json().unwrap();
    assert_eq!(answer["accepted"], 2, "{answer}");
    assert_eq!(answer["duplicates"], 1, "{answer}");
    assert_eq!(answer["quarantined"][0]["line"], 3, "{answer}");
    assert!(
        answer["quarantined"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("`device`"),
        "{answer}"
    );
    // The running agent shows its quarantine beside its metrics.
    let quarantine = client
        .get(format!("http://127.0.0.1:{metrics}/quarantine"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(quarantine.lines().count(), 1, "{quarantine}");
    assert!(
        quarantine.contains("required field `device`") && quarantine.contains("http line 3"),
        "{quarantine}"
    );
    // Killed outright after its answer, restarted while the node is still away (the contract
    // from its cache), it sends what it acknowledged once the node is back.
    agent.kill();
    agent.restart();
    std::thread::sleep(Duration::from_millis(500));
    node.start();
    let count = || node.scalar("select count(*) from iot.readings");
    wait_until(
        "the acknowledged events at the node",
        Duration::from_secs(60),
        || count() == "2",
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        node.scalar("select count(*), count(distinct seq) from iot.readings"),
        "2,2"
    );
}

fn jsonl(range: std::ops::RangeInclusive<u64>) -> String {
    range
        .map(|seq| format!("{{\"seq\": {seq}, \"device\": \"f\", \"temperature\": 19.5}}\n"))
        .collect()
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
fn tailed_files_arrive_once_through_a_kill_a_rotation_and_a_half_written_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = mesh(dir.path());
    node.start();
    let log = dir.path().join("readings.jsonl");
    let csv = dir.path().join("readings.csv");
    append(&log, &jsonl(1..=300));
    append(
        &csv,
        "seq,device,temperature\n1001,c,18.5\n1002,c,\nx,c,18\n1003,\"c, north\",17.25\n",
    );
    let files = format!(
        "[[file]]\npath = \"{}\"\npoll_ms = 20\n\n[[file]]\npath = \"{}\"\nformat = \"csv\"\npoll_ms = 20\n",
        log.display(),
        csv.display()
    );
    let config = config_with(dir.path(), &node, &files, "iot.readings", "");
    let mut agent = Agent::start(&config);
    let count = || {
        node.scalar("select count(*) from iot.readings")
            .parse::<u64>()
            .unwrap_or(0)
    };
    wait_until(
        "the first lines at the node",
        Duration::from_secs(60),
        || count() > 0,
    );
    // Killed mid-way; the file grows, is rotated (renamed, a new one started) while the agent
    // is down, and the new file's last line is half written.
    agent.kill();
    append(&log, &jsonl(301..=500));
    std::fs::rename(&log, dir.path().join("readings.jsonl.1")).unwrap();
    append(&log, &jsonl(501..=700));
    append(&log, "{\"seq\": 701, \"device\": ");
    agent.restart();
    wait_until(
        "the lines before the half-written one",
        Duration::from_secs(60),
        || count() >= 703,
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(count(), 703, "the half-written line is not read yet");
    append(&log, "\"f\", \"temperature\": 20}\n");
    wait_until("the completed line", Duration::from_secs(60), || {
        count() >= 704
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        node.scalar("select count(*), count(distinct seq), min(seq), max(seq) from iot.readings"),
        "704,704,1,1003"
    );
    // CSV fields took their columns' types; the bad row is in the quarantine with its place.
    assert_eq!(
        node.scalar("select device || '|' || cast(temperature as varchar) from iot.readings where seq = 1003"),
        "\"c, north|17.25\""
    );
    agent.kill();
    let listed = edge(&["quarantine", "--config", config.to_str().unwrap()]);
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(
        listed.contains("type") && listed.contains("readings.csv at byte"),
        "{listed}"
    );
}

/// Whether any file under `dir` holds `needle` (the node's tables, quarantine, ledger, caches).
fn any_file_holds(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if std::fs::read(&path)
                .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
            {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

#[test]
fn what_the_policy_says_to_redact_never_leaves_the_device() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = mesh(dir.path());
    let policy = dir.path().join("edge-policy.yaml");
    std::fs::write(
        &policy,
        "kind: AgoraPolicy\nedge:\n  redact: [email, payment_card]\n",
    )
    .unwrap();
    node.ok(&["policy", "apply", policy.to_str().unwrap()]);
    node.ok(&[
        "tag",
        "set",
        "iot.readings.contact",
        "email",
        "--reason",
        "drivers' addresses",
    ]);
    // A policy naming a category that does not exist is refused, naming where.
    std::fs::write(&policy, "kind: AgoraPolicy\nedge:\n  redact: [secrets]\n").unwrap();
    let refused = node.run(&["policy", "apply", policy.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("edge.redact[0]"),
        "{refused:?}"
    );
    node.start();
    let port = crate::harness::free_port();
    let http = format!("[http]\nlisten = \"127.0.0.1:{port}\"\n");
    let config = config_with(dir.path(), &node, &http, "iot.readings", "");
    let _agent = Agent::start(&config);
    let url = format!("http://127.0.0.1:{port}/events");
    let client = reqwest::blocking::Client::new();
    wait_until("the agent's HTTP source", Duration::from_secs(30), || {
        client.post(&url).body("").send().is_ok()
    });
    let body = "{\"seq\": 1, \"device\": \"d1\", \"contact\": \"call the depot\", \
                \"note\": \"paid 4111 1111 1111 1111, receipt to bo.lee@mail.example.com.\"}\n\
                {\"seq\": 2, \"device\": \"d1\", \"note\": \"door open\"}\n";
    let answer: serde_json::Value = client.post(&url).body(body).send().unwrap().json().unwrap();
    assert_eq!(answer["accepted"], 2, "{answer}");
    wait_until("the events at the node", Duration::from_secs(60), || {
        node.scalar("select count(*) from iot.readings") == "2"
    });
    assert_eq!(
        node.scalar("select contact || ' / ' || note from iot.readings where seq = 1"),
        "\"[redacted email] / paid [redacted payment_card], receipt to [redacted email].\""
    );
    assert_eq!(
        node.scalar("select note from iot.readings where seq = 2"),
        "door open"
    );
    // Nothing of the raw values reached the node: not its tables, not its ledger.
    for raw in [
        "4111 1111 1111 1111",
        "bo.lee@mail.example.com",
        "call the depot",
    ] {
        assert_eq!(
            any_file_holds(&node.data, raw),
            Vec::<String>::new(),
            "{raw}"
        );
    }
}

#[test]
fn an_event_the_detector_finds_new_is_flagged_before_it_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = mesh(dir.path());
    node.start();
    let port = crate::harness::free_port();
    let sources = format!("[http]\nlisten = \"127.0.0.1:{port}\"\n");
    let anomaly = "[anomaly]\ncolumns = [\"temperature\"]\nby = \"device\"\nflag = \"note\"\n";
    let config = config_with(dir.path(), &node, &sources, "iot.readings", anomaly);
    let _agent = Agent::start(&config);
    let url = format!("http://127.0.0.1:{port}/events");
    let client = reqwest::blocking::Client::new();
    wait_until("the agent's HTTP source", Duration::from_secs(30), || {
        client.post(&url).body("").send().is_ok()
    });
    // Two devices with a repeating pattern each; then one spike on device a.
    let mut body = String::new();
    for seq in 1..=400u64 {
        let device = if seq % 2 == 0 { "a" } else { "b" };
        let t = 20.0 + (seq / 2 % 10) as f64 * 0.1;
        body.push_str(&format!(
            "{{\"seq\": {seq}, \"device\": \"{device}\", \"temperature\": {t}}}\n"
        ));
    }
    body.push_str("{\"seq\": 402, \"device\": \"a\", \"temperature\": 95.0}\n");
    let answer: serde_json::Value = client.post(&url).body(body).send().unwrap().json().unwrap();
    assert_eq!(answer["accepted"], 401, "{answer}");
    wait_until("the events at the node", Duration::from_secs(60), || {
        node.scalar("select count(*) from iot.readings") == "401"
    });
    let flagged = node.ok(&[
        "sql",
        "select seq from iot.readings where note is not null order by seq",
        "--format",
        "csv",
    ]);
    let flagged: Vec<&str> = flagged.lines().skip(1).collect();
    assert_eq!(flagged, vec!["402"], "only the spike is flagged");
    assert!(
        node.scalar("select note from iot.readings where seq = 402")
            .contains("temperature: "),
        "the flag says which column and why"
    );
}

#[test]
fn one_batch_delivered_many_times_at_once_is_committed_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = mesh(dir.path());
    node.start();
    let validator = agora_edge::contract::Validator::new(CONTRACT, "iot.readings", None).unwrap();
    let lines: Vec<String> = (1..=50)
        .map(|seq| format!("{{\"seq\": {seq}, \"device\": \"r\"}}"))
        .collect();
    let batch = validator.batch(&lines).unwrap();
    let mut body = Vec::new();
    {
        let mut writer =
            arrow::ipc::writer::StreamWriter::try_new(&mut body, validator.schema()).unwrap();
        writer.write(&batch).unwrap();
        writer.finish().unwrap();
    }
    let key = agora_edge::keys::AgentKey::load(&dir.path().join("gw1.key")).unwrap();
    let sha = hex::encode(sha2::Sha256::digest(&body));
    let signature = key.sign(&agora_model::edge_batch::batch_message(
        "gw1",
        "iot.readings",
        "race-1",
        &sha,
    ));
    let url = format!("{}/api/v1/edge/gw1/batches?table=iot.readings", node.url());
    let answers: Vec<serde_json::Value> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    let r = reqwest::blocking::Client::new()
                        .post(&url)
                        .header("idempotency-key", "race-1")
                        .header("agora-signature", &signature)
                        .body(body.clone())
                        .send()
                        .unwrap();
                    assert_eq!(r.status(), 200);
                    r.json().unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let first: Vec<_> = answers.iter().filter(|a| a["duplicate"] == false).collect();
    assert_eq!(first.len(), 1, "{answers:?}");
    assert!(
        answers.iter().all(|a| a["version"] == first[0]["version"]),
        "{answers:?}"
    );
    assert_eq!(
        node.scalar("select count(*), count(distinct seq) from iot.readings"),
        "50,50"
    );
}
