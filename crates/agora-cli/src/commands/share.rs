//! `agora share`: Delta Sharing shares — create one with its recipient and profile file, add
//! and remove tables, list, show, rotate the token, revoke, and audit what the recipient
//! received (every share change and read is a ledger entry, each checkable by its inclusion
//! proof).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use agora_mesh::{
    Mesh, MeshError, RecipientToken, ShareSummary, ShareTableOptions, parse_lifetime,
};
use agora_model::{Principal, Sensitivity};
use agora_sharing::Profile;
use clap::Subcommand;

use crate::print;

/// Where `agora serve` answers the protocol by default.
const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:8765/delta-sharing";

#[derive(Subcommand)]
pub enum ShareCommand {
    /// Create a share and its recipient; write the recipient's profile file (`NAME.share`),
    /// which any Delta Sharing client loads unchanged.
    Create {
        name: String,
        /// The most sensitive data the recipient reads unmasked.
        #[arg(long, default_value = "internal")]
        clearance: String,
        /// An attribute row filters compare against, as NAME=VALUE (repeatable).
        #[arg(long = "attr", value_name = "NAME=VALUE")]
        attributes: Vec<String>,
        /// The token stops working after this long: 30d, 12h, 30m (default: never).
        #[arg(long, value_name = "LIFETIME")]
        expires: Option<String>,
        #[command(flatten)]
        profile: ProfileArgs,
    },
    /// Add a table (`domain.table`) to a share: by its domain's owner or the administrator.
    Add {
        share: String,
        table: String,
        /// Share this version of the table only.
        #[arg(long, value_name = "N")]
        as_of_version: Option<u64>,
        /// Let the recipient read earlier versions and the table's changes too.
        #[arg(long)]
        history: bool,
        /// Share only the rows this condition on the table's columns selects, on top of the
        /// recipient's own row filters, e.g. "region = 'EU'".
        #[arg(long, value_name = "CONDITION")]
        partition: Option<String>,
    },
    /// Take a table out of a share.
    Remove { share: String, table: String },
    /// List shares and their tables.
    List,
    /// Show one share: its recipient's clearance and attributes, and its tables.
    Show { name: String },
    /// Give the recipient a new token (the old one stops working) and write a new profile.
    RotateToken {
        name: String,
        #[arg(long, value_name = "LIFETIME")]
        expires: Option<String>,
        #[command(flatten)]
        profile: ProfileArgs,
    },
    /// Revoke a share: its token and every file URL handed out stop working.
    Revoke { name: String },
    /// List what the share's ledger entries record: changes, and every read with the table
    /// version and the files by SHA-256.
    Audit {
        name: String,
        /// Check each entry's inclusion proof against the log's signed checkpoint.
        #[arg(long)]
        verify: bool,
    },
}

#[derive(clap::Args)]
pub struct ProfileArgs {
    /// Where to write the profile file (default: NAME.share in the current directory).
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// The sharing server's URL, as the recipient reaches it.
    #[arg(long, env = "AGORA_SHARING_ENDPOINT", default_value = DEFAULT_ENDPOINT)]
    endpoint: String,
}

fn write_profile(
    args: &ProfileArgs,
    name: &str,
    token: &RecipientToken,
) -> Result<PathBuf, MeshError> {
    let path = args
        .profile
        .clone()
        .unwrap_or_else(|| Path::new(&format!("{name}.share")).to_path_buf());
    let text = Profile::new(
        &args.endpoint,
        token.token.clone(),
        token.expires_at.clone(),
    )
    .to_file_text();
    let io = |source| MeshError::Io {
        path: path.display().to_string(),
        source,
    };
    // The profile holds the bearer token: readable by its owner only.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .map_err(io)?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(io)?;
    Ok(path)
}

fn lifetime(expires: Option<&str>) -> Result<Option<chrono::Duration>, MeshError> {
    expires.map(|e| parse_lifetime("--expires", e)).transpose()
}

fn show(s: &ShareSummary) -> Result<(), MeshError> {
    let attrs: Vec<String> = s
        .attributes
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let mut notes = vec![format!("clearance {}", s.clearance.as_str())];
    if !attrs.is_empty() {
        notes.push(attrs.join(","));
    }
    if let Some(at) = &s.token_expires_at {
        notes.push(format!("token expires {at}"));
    }
    if let Some(at) = &s.revoked_at {
        notes.push(format!("revoked {at}"));
    }
    print(format!("{}  ({})", s.name, notes.join(", ")))?;
    if s.tables.is_empty() {
        print("  no tables yet: `agora share add`")?;
    }
    for t in &s.tables {
        let mut how = Vec::new();
        if let Some(v) = t.as_of_version {
            how.push(format!("version {v}"));
        }
        if t.history {
            how.push("with history".to_string());
        }
        if let Some(p) = &t.partition {
            how.push(format!("rows where {p}"));
        }
        print(format!(
            "  {}.{}{}  (added by {})",
            s.name,
            t.table,
            if how.is_empty() {
                String::new()
            } else {
                format!(" [{}]", how.join(", "))
            },
            t.added_by
        ))?;
    }
    Ok(())
}

pub async fn run(mesh: &Mesh, me: &Principal, command: ShareCommand) -> Result<(), MeshError> {
    match command {
        ShareCommand::Create {
            name,
            clearance,
            attributes,
            expires,
            profile,
        } => {
            let clearance: Sensitivity = clearance.parse()?;
            let attrs = super::principal::attributes(&attributes)?;
            let token = mesh
                .create_share(me, &name, clearance, attrs, lifetime(expires.as_deref())?)
                .await?;
            let path = write_profile(&profile, &name, &token)?;
            print(format!(
                "Created share {name} and its recipient\nProfile written to {} (it holds the token; hand it to the recipient)",
                path.display()
            ))
        }
        ShareCommand::Add {
            share,
            table,
            as_of_version,
            history,
            partition,
        } => {
            let options = ShareTableOptions {
                as_of_version,
                history,
                partition,
            };
            mesh.add_to_share(me, &share, &table, options).await?;
            print(format!(
                "Shared {table} in {share} (the recipient reads it as {share}.{table})"
            ))
        }
        ShareCommand::Remove { share, table } => {
            mesh.remove_from_share(me, &share, &table).await?;
            print(format!("Removed {table} from {share}"))
        }
        ShareCommand::List => {
            let shares = mesh.shares(me).await?;
            if shares.is_empty() {
                return print("No shares: create one with `agora share create`");
            }
            for s in &shares {
                show(s)?;
            }
            Ok(())
        }
        ShareCommand::Show { name } => show(&mesh.share_details(me, &name).await?),
        ShareCommand::RotateToken {
            name,
            expires,
            profile,
        } => {
            let token = mesh
                .rotate_share_token(me, &name, lifetime(expires.as_deref())?)
                .await?;
            let path = write_profile(&profile, &name, &token)?;
            print(format!(
                "New token for share {name}; the old one no longer works\nProfile written to {}",
                path.display()
            ))
        }
        ShareCommand::Revoke { name } => {
            mesh.revoke_share(me, &name).await?;
            print(format!(
                "Revoked share {name}: its token and file URLs no longer work"
            ))
        }
        ShareCommand::Audit { name, verify } => audit(mesh, me, &name, verify),
    }
}

fn audit(mesh: &Mesh, me: &Principal, name: &str, verify: bool) -> Result<(), MeshError> {
    let entries = mesh.share_audit(me, name)?;
    if entries.is_empty() {
        return print(format!("No ledger entries for share {name}"));
    }
    let log = mesh.log();
    for (index, e) in &entries {
        let body = &e.entry.body;
        let masked = match body["masked_columns"].as_array() {
            Some(m) if !m.is_empty() => format!(
                ", masked: {}",
                m.iter()
                    .filter_map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => String::new(),
        };
        let what = match e.entry.kind.as_str() {
            "share.read" if body.get("changes").is_some() => {
                let files: usize = body["versions"].as_array().map_or(0, |vs| {
                    vs.iter()
                        .map(|v| v["files"].as_array().map_or(0, Vec::len))
                        .sum()
                });
                format!(
                    "read the changes of {} versions {} to {}: {files} file(s){masked}",
                    body["table"].as_str().unwrap_or("?"),
                    body["changes"]["starting_version"],
                    body["changes"]["ending_version"],
                )
            }
            "share.read" => format!(
                "read {} version {}: {} file(s), {}{masked}",
                body["table"].as_str().unwrap_or("?"),
                body["version"],
                body["files"].as_array().map_or(0, Vec::len),
                body["files_path"].as_str().unwrap_or("?"),
            ),
            "share.table_added" | "share.table_removed" => format!(
                "{} {}",
                e.entry.kind.trim_start_matches("share."),
                body["table"].as_str().unwrap_or("?")
            ),
            other => other.trim_start_matches("share.").to_string(),
        };
        let proof = if verify {
            log.prove_inclusion(*index, None)
                .and_then(|p| p.verify(&mesh.log_key()))
                .map_err(MeshError::Ledger)?;
            "  inclusion verified"
        } else {
            ""
        };
        print(format!("{index:>6}  {}  {what}{proof}", e.entry.time))?;
    }
    Ok(())
}
