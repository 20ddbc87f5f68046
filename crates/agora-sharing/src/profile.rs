//! The profile file a recipient loads into its Delta Sharing client (`*.share`): where the
//! server is and the bearer token, as the protocol's "Profile File Format" section gives it.

use serde::{Deserialize, Serialize};

/// The version of the profile format Agora writes: a bearer token.
pub const SHARE_CREDENTIALS_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub share_credentials_version: u32,
    /// The sharing server's URL, ending in its prefix (`http://host:port/delta-sharing`).
    pub endpoint: String,
    pub bearer_token: String,
    /// When the token expires (RFC 3339), if it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_time: Option<String>,
}

impl Profile {
    pub fn new(endpoint: &str, bearer_token: String, expiration_time: Option<String>) -> Profile {
        Profile {
            share_credentials_version: SHARE_CREDENTIALS_VERSION,
            endpoint: endpoint.trim_end_matches('/').to_string(),
            bearer_token,
            expiration_time,
        }
    }

    /// The file's text: pretty JSON with a final newline.
    pub fn to_file_text(&self) -> String {
        let mut text =
            serde_json::to_string_pretty(self).expect("INVARIANT: a profile is plain data");
        text.push('\n');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_has_the_fields_clients_read() {
        let text = Profile::new(
            "http://127.0.0.1:8765/delta-sharing/",
            "agora_x".into(),
            Some("2027-01-01T00:00:00.000Z".into()),
        )
        .to_file_text();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["shareCredentialsVersion"], 1);
        assert_eq!(v["endpoint"], "http://127.0.0.1:8765/delta-sharing");
        assert_eq!(v["bearerToken"], "agora_x");
        assert_eq!(v["expirationTime"], "2027-01-01T00:00:00.000Z");
    }
}
