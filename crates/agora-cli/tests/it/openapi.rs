//! The OpenAPI document tells the truth: schemathesis (from PyPI) sends generated and
//! malformed requests to every operation of a running `agora serve` and finds no 500 and no
//! status the document does not list.

use std::process::Command;

use crate::governance::crm;
use crate::harness::python_venv;
use crate::server::{serve, token};

#[test]
fn schemathesis_finds_no_server_error_and_no_undocumented_status() {
    let python = python_venv(
        "schemathesis-venv",
        &["schemathesis==4.32.5"],
        "schemathesis",
    );
    let mesh = crm();
    let carol = token(&mesh, "carol");
    mesh.ok(&["grant", "carol", "write", "crm.people"]);
    let served = serve(&mesh);
    let report = tempfile::tempdir().unwrap();
    let out = Command::new(python.with_file_name("st"))
        .arg("run")
        .arg(format!("{}/api/openapi.json", served.http))
        .args(["--checks", "not_a_server_error,status_code_conformance"])
        .args(["--header", &format!("Authorization: Bearer {carol}")])
        .args(["--max-examples", "25", "--seed", "1", "--workers", "2"])
        .args(["--no-color", "--report-dir"])
        .arg(report.path())
        .current_dir(report.path())
        .output()
        .expect("schemathesis runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    // It reached every operation the document lists.
    let doc: serde_json::Value =
        reqwest::blocking::get(format!("{}/api/openapi.json", served.http))
            .unwrap()
            .json()
            .unwrap();
    let operations: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert!(operations >= 18, "{doc}");
    assert!(
        text.contains(&format!("Tested: {operations}")),
        "not every operation was tested:\n{text}"
    );
}
