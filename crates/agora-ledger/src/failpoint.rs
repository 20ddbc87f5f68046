//! Named crash points for tests of crash recovery.

/// Stops the process at a named step, when `AGORA_FAILPOINT` names it (debug builds only): the
/// tests kill a change at each step this way and check the next open repairs it. Shared by
/// the log, the ingest pipeline and the mesh, which sit on top of it.
pub fn failpoint(name: &str) {
    #[cfg(debug_assertions)]
    if std::env::var("AGORA_FAILPOINT").is_ok_and(|f| f == name) {
        eprintln!("failpoint {name}: aborting");
        std::process::abort();
    }
    #[cfg(not(debug_assertions))]
    let _ = name;
}
