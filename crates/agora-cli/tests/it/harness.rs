//! Running `agora` against a mesh in a temporary directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub struct Mesh {
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/testdata")
        .join(name)
}

pub fn agora_cmd(data: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_agora"));
    cmd.arg("--data")
        .arg(data)
        .env_remove("AGORA_DATA")
        .env_remove("AGORA_LOG");
    cmd
}

fn finish(out: Output) -> Run {
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl Mesh {
    /// A fresh mesh with principals alice (owner of `sales` and `customers`) and bob.
    pub fn new() -> Mesh {
        let mesh = Mesh {
            dir: tempfile::tempdir().expect("a temporary directory"),
        };
        let init = mesh.ok(&["init"]);
        let token = init
            .rsplit(": ")
            .next()
            .expect("init prints the token")
            .trim();
        std::fs::write(mesh.dir.path().join("admin.token"), token).expect("a writable temp dir");
        mesh.ok(&["principal", "create", "alice"]);
        mesh.ok(&["principal", "create", "bob"]);
        mesh.ok(&["domain", "create", "sales", "--owner", "alice"]);
        mesh.ok(&["domain", "create", "customers", "--owner", "alice"]);
        mesh
    }

    /// A byte-for-byte copy of this mesh in another directory (keys included): stands for an
    /// operator who forks the log.
    pub fn fork(&self) -> Mesh {
        let copy = Mesh {
            dir: tempfile::tempdir().expect("a temporary directory"),
        };
        let status = Command::new("cp")
            .args([
                "-a",
                self.data().to_str().unwrap(),
                copy.data().to_str().unwrap(),
            ])
            .status()
            .expect("cp runs");
        assert!(status.success());
        copy
    }

    /// The administrator's API token, as `agora init` printed it.
    pub fn admin_token(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("admin.token")).expect("Mesh::new keeps it")
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("mesh")
    }

    pub fn run(&self, args: &[&str]) -> Run {
        finish(
            agora_cmd(&self.data())
                .args(args)
                .output()
                .expect("agora runs"),
        )
    }

    /// Runs a command with `env` set: a failpoint (`AGORA_FAILPOINT`) for crash tests.
    pub fn run_env(&self, env: &[(&str, &str)], args: &[&str]) -> Run {
        finish(
            agora_cmd(&self.data())
                .envs(env.iter().copied())
                .args(args)
                .output()
                .expect("agora runs"),
        )
    }

    pub fn run_with_stdin(&self, args: &[&str], input: &[u8]) -> Run {
        use std::io::Write;
        let mut child = agora_cmd(&self.data())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("agora starts");
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(input)
            .expect("stdin accepts input");
        finish(child.wait_with_output().expect("agora finishes"))
    }

    /// Runs a command that must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let run = self.run(args);
        assert_eq!(
            run.code, 0,
            "agora {args:?} failed:\n{}{}",
            run.stdout, run.stderr
        );
        run.stdout
    }

    /// Runs a command that must fail with `code`; returns its stderr.
    pub fn fails(&self, code: i32, args: &[&str]) -> String {
        let run = self.run(args);
        assert_eq!(
            run.code, code,
            "agora {args:?}: expected exit {code}\nstdout: {}\nstderr: {}",
            run.stdout, run.stderr
        );
        assert!(
            run.stderr.starts_with("error: "),
            "one error line expected: {}",
            run.stderr
        );
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        run.stderr
    }

    /// A query's result as CSV.
    pub fn csv(&self, sql: &str) -> String {
        self.ok(&["sql", sql, "--format", "csv"])
    }

    /// A query's result in a binary format (parquet, arrow), as bytes.
    pub fn query_bytes(&self, sql: &str, format: &str) -> Vec<u8> {
        let out = agora_cmd(&self.data())
            .args(["sql", sql, "--format", format])
            .output()
            .expect("agora runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// The orders product with the test contract applied.
    pub fn with_orders() -> Mesh {
        let mesh = Mesh::new();
        mesh.ok(&[
            "product",
            "apply",
            testdata("orders.yaml").to_str().unwrap(),
        ]);
        mesh
    }

    /// Replaces the temporary path in output so snapshots are stable.
    pub fn redact(&self, text: &str) -> String {
        text.replace(&testdata("").display().to_string(), "<testdata>/")
            .replace(&self.data().display().to_string(), "<mesh>")
    }
}

/// The Python of a virtualenv under the test target directory with `packages` installed from
/// PyPI (reachable on the machines this runs on), made on first use; `modules` is what it
/// imports to tell the install is done.
pub fn python_venv(name: &str, packages: &[&str], modules: &str) -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let python = venv.join("bin/python");
    let ready = |p: &PathBuf| {
        Command::new(p)
            .args(["-c", &format!("import {modules}")])
            .status()
            .is_ok_and(|s| s.success())
    };
    if !ready(&python) {
        let made = Command::new("python3")
            .args(["-m", "venv", venv.to_str().unwrap()])
            .status()
            .expect("python3 is installed");
        assert!(made.success(), "python3 -m venv failed");
        let pip = Command::new(venv.join("bin/pip"))
            .args(["install", "-q"])
            .args(packages)
            .status()
            .expect("pip runs");
        assert!(pip.success(), "pip install {packages:?} failed");
    }
    python
}
