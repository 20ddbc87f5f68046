//! Real PostgreSQL drivers against `agora serve`, each as a user would use it: a parameterised
//! query, a prepared statement reused with other values, a masked read as a principal without
//! clearance, and a refused query; each the driver's default protocol (the extended one for all
//! but psql's).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::governance::crm;
use crate::harness::{Mesh, python_venv};
use crate::server::{Served, serve, token};

/// The client scripts beside this crate's tests.
pub(crate) fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients")
        .join(name)
}

struct Matrix {
    mesh: Mesh,
    served: Served,
    carol: String,
    dan: String,
}

/// crm with carol reading crm.people (without clearance: emails masked) and dan reading nothing.
fn matrix() -> Matrix {
    let mesh = crm();
    let carol = token(&mesh, "carol");
    mesh.ok(&["grant", "carol", "read", "crm.people"]);
    let dan = token(&mesh, "dan");
    let served = serve(&mesh);
    Matrix {
        mesh,
        served,
        carol,
        dan,
    }
}

impl Matrix {
    /// `program` run with the port and both principals' names and tokens as arguments.
    fn run(&self, mut program: Command) -> serde_json::Value {
        let out = program
            .args([&self.served.pg_port, "carol", &self.carol, "dan", &self.dan])
            .output()
            .expect("the client runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str(stdout.lines().last().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}: {stdout}"))
    }

    /// What every client must have seen.
    fn check(&self, answers: &serde_json::Value) {
        assert_eq!(
            answers["parameterised"],
            serde_json::json!([[2, "EU"]]),
            "{answers}"
        );
        let prepared: Vec<i64> = serde_json::from_value(answers["prepared"].clone()).unwrap();
        assert_eq!(prepared[..3], [1, 4, 3], "{answers}");
        let masked = answers["masked"]
            .as_str()
            .expect("the masked email is text");
        assert!(
            !masked.is_empty() && masked != "anna.rossi@example.org" && !masked.contains("rossi"),
            "{answers}"
        );
        let expected: i64 = self
            .mesh
            .csv("select count(*) as n from crm.customers where region = 'EU' and id > 1")
            .lines()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(answers["typed"], expected, "{answers}");
        let refused = answers["refused"].as_str().expect("dan's query is refused");
        assert!(
            refused.contains("permission denied: dan may not read product crm.people"),
            "{answers}"
        );
    }
}

/// A Python with the drivers, made once for the tests that share it.
pub(crate) fn python() -> &'static PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        python_venv(
            "pg-clients-venv",
            &[
                "psycopg[binary]==3.3.9",
                "asyncpg==0.32.0",
                "sqlalchemy==2.1.9",
                "pandas==3.1.1",
            ],
            "psycopg, asyncpg, sqlalchemy, pandas",
        )
    })
}

#[test]
fn psycopg3_with_its_extended_protocol() {
    let m = matrix();
    let mut command = Command::new(python());
    command.arg(script("psycopg_client.py"));
    let answers = m.run(command);
    m.check(&answers);
    assert_eq!(answers["version"], 160000, "{answers}");
}

#[test]
fn asyncpg_with_binary_results_and_a_cursor() {
    let m = matrix();
    let mut command = Command::new(python());
    command.arg(script("asyncpg_client.py"));
    let answers = m.run(command);
    m.check(&answers);
    let cursor: Vec<i64> = serde_json::from_value(answers["cursor"].clone()).unwrap();
    assert_eq!(cursor, (1..=12).collect::<Vec<_>>(), "{answers}");
}

#[test]
fn sqlalchemy_and_pandas_read_sql() {
    let m = matrix();
    let mut command = Command::new(python());
    command.arg(script("sqlalchemy_client.py"));
    m.check(&m.run(command));
}

#[test]
fn node_postgres_with_parameters_and_named_statements() {
    let modules = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("node-pg");
    if !modules.join("node_modules/pg").exists() {
        let installed = Command::new("npm")
            .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
            .arg(&modules)
            .arg("pg@8.23.1")
            .status()
            .expect("npm is installed");
        assert!(installed.success(), "npm install pg failed");
    }
    let m = matrix();
    let mut command = Command::new("node");
    command
        .env("NODE_PATH", modules.join("node_modules"))
        .arg(script("node_client.js"));
    m.check(&m.run(command));
}

#[test]
fn jdbc_prepared_statements_with_default_settings() {
    let jar = Path::new("/usr/share/java/postgresql.jar");
    assert!(
        jar.exists(),
        "pgJDBC is missing: install Debian's libpostgresql-jdbc-java (.ci/run does)"
    );
    let m = matrix();
    let mut command = Command::new("java");
    command.arg("-cp").arg(jar).arg(script("JdbcClient.java"));
    let answers = m.run(command);
    m.check(&answers);
    let prepared: Vec<i64> = serde_json::from_value(answers["prepared"].clone()).unwrap();
    assert_eq!(
        prepared,
        [1, 4, 3, 1, 4, 3],
        "reused past pgJDBC's prepare threshold"
    );
    assert_eq!(answers["version"], "16.0", "{answers}");
}
