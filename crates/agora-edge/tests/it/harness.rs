//! Processes for the tests: a Mosquitto broker of the test's own (so it can be killed and
//! restarted without touching the machine's), a mesh with `agora serve` on a fixed port (so a
//! restarted node is where the agent left it), and agents.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Waits until something accepts connections on `port`.
fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} never listened on port {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The `agora` binary, built beside `agora-edge` by `cargo test --workspace`.
pub fn agora_bin() -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_agora-edge")).with_file_name("agora");
    assert!(
        bin.exists(),
        "{} is missing: the edge tests drive a real node; build it with `cargo build -p agora-cli` (`cargo test --workspace` does)",
        bin.display()
    );
    bin
}

pub fn edge_bin() -> &'static str {
    env!("CARGO_BIN_EXE_agora-edge")
}

/// A Mosquitto of the test's own, persisting its sessions so that a restart keeps what it
/// owes the agent.
pub struct Broker {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Broker {
    pub fn start() -> Broker {
        // Started as root, Mosquitto drops to its own user, which must be able to write its
        // persistence file here.
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let mut b = Broker {
            port: free_port(),
            dir,
            child: None,
        };
        b.restart();
        b
    }

    /// Stops the broker cleanly (it saves its sessions) and starts it again.
    pub fn restart(&mut self) {
        self.stop();
        let conf = self.dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {}/\n",
                self.port,
                self.dir.path().display()
            ),
        )
        .unwrap();
        // Debian installs it in /usr/sbin, which a user's PATH may leave out.
        let binary = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or("mosquitto");
        let child = Command::new(binary)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto is installed (Debian's package)");
        self.child = Some(child);
        wait_for_port(self.port, "mosquitto");
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            signal(&c, "TERM");
            let _ = c.wait();
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

fn signal(child: &Child, name: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status();
}

/// A mesh and, when started, its node.
pub struct Node {
    pub data: PathBuf,
    pub port: u16,
    child: Option<Child>,
}

impl Node {
    pub fn new(dir: &Path) -> Node {
        let node = Node {
            data: dir.join("mesh"),
            port: free_port(),
            child: None,
        };
        node.ok(&["init"]);
        node
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(agora_bin())
            .arg("--data")
            .arg(&self.data)
            .args(args)
            .env_remove("AGORA_DATA")
            .output()
            .expect("agora runs")
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "agora {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn start(&mut self) {
        assert!(self.child.is_none(), "the node runs already");
        let mut child = Command::new(agora_bin())
            .arg("--data")
            .arg(&self.data)
            .args(["serve", "--http", &format!("127.0.0.1:{}", self.port)])
            .args(["--pg", &format!("127.0.0.1:{}", free_port())])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("agora serve starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            if line.expect("utf-8").contains("HTTP API") {
                break;
            }
        }
        std::thread::spawn(move || lines.for_each(drop));
        self.child = Some(child);
        wait_for_port(self.port, "agora serve");
    }

    /// Kills the node outright.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// One value of a SQL query, as the administrator.
    pub fn scalar(&self, sql: &str) -> String {
        let out = self.ok(&["sql", sql, "--format", "csv"]);
        out.lines().nth(1).unwrap_or_default().to_string()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A running `agora-edge run`.
pub struct Agent {
    config: PathBuf,
    child: Option<Child>,
}

impl Agent {
    pub fn start(config: &Path) -> Agent {
        let mut a = Agent::stopped(config);
        a.restart();
        a
    }

    /// An agent of `config` not started yet.
    pub fn stopped(config: &Path) -> Agent {
        Agent {
            config: config.to_path_buf(),
            child: None,
        }
    }

    pub fn restart(&mut self) {
        self.start_with(None);
    }

    /// Starts the agent so that it aborts at the crash point `failpoint` (debug builds), and
    /// waits until it has.
    pub fn crash_at(&mut self, failpoint: &str) {
        self.start_with(Some(failpoint));
        let mut child = self.child.take().expect("started");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait().expect("the agent's status") {
                assert!(
                    !status.success(),
                    "the agent exited instead of crashing at {failpoint}"
                );
                return;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("the agent never reached {failpoint}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn start_with(&mut self, failpoint: Option<&str>) {
        assert!(self.child.is_none(), "the agent runs already");
        let mut command = Command::new(edge_bin());
        if let Some(f) = failpoint {
            command.env("AGORA_FAILPOINT", f);
        }
        let child = command
            .args(["run", "--config"])
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("agora-edge starts");
        self.child = Some(child);
    }

    /// SIGKILL: no chance to flush or acknowledge anything.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn edge(args: &[&str]) -> Output {
    Command::new(edge_bin())
        .args(args)
        .output()
        .expect("agora-edge runs")
}

/// Waits up to `limit` for `done`, failing the test with `what` when it does not come.
pub fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Makes the agent `gw1`'s key (`gw1.key` in `dir`), registers it with the domain `iot` as its
/// owner `olivia`, and gives it write access to `tables`.
pub fn register_agent(node: &Node, dir: &Path, tables: &[&str]) {
    let keygen = edge(&["keygen", "--key", dir.join("gw1.key").to_str().unwrap()]);
    assert!(keygen.status.success(), "{keygen:?}");
    let public = String::from_utf8(keygen.stdout).unwrap();
    let registered = node.ok(&[
        "--as",
        "olivia",
        "edge",
        "register",
        "gw1",
        "--domain",
        "iot",
        "--public-key",
        public.trim(),
    ]);
    assert!(
        registered.contains("Registered edge agent gw1"),
        "{registered}"
    );
    for table in tables {
        node.ok(&["--as", "olivia", "grant", "gw1", "write", table]);
    }
}
