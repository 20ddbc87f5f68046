//! What an edge agent signs when it sends a batch to its node, and what it signs to fetch its
//! product's contract: the agent (`agora-edge`) and the node (`agora-mesh`) both build the
//! message here, so the two can never disagree on a byte of it.

/// The header carrying an Ed25519 signature (64 bytes, hex) over [`batch_message`] or
/// [`contract_message`].
pub const SIGNATURE_HEADER: &str = "agora-signature";
/// The header carrying the time (RFC 3339) a contract request was signed at.
pub const SIGNED_AT_HEADER: &str = "agora-signed-at";
/// The header carrying a batch's id, which is also its idempotency key at the node.
pub const BATCH_HEADER: &str = "idempotency-key";

/// The message an agent signs for one batch: the agent, the target table (`domain.table`),
/// the batch's id and the SHA-256 (hex) of the request body. A signature over one batch
/// therefore cannot be replayed with another body, table or agent, and a replay of the same
/// batch is the same idempotency key, which the node commits once.
pub fn batch_message(agent: &str, table: &str, batch: &str, body_sha256: &str) -> String {
    format!("agora-edge-batch\n{agent}\n{table}\n{batch}\n{body_sha256}\n")
}

/// The message an agent signs to fetch the contract of `table`'s product at `signed_at`.
pub fn contract_message(agent: &str, table: &str, signed_at: &str) -> String {
    format!("agora-edge-contract\n{agent}\n{table}\n{signed_at}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_field_is_on_its_own_line_so_none_can_bleed_into_the_next() {
        // Without separators these two would sign the same bytes ("abc.d1ff").
        assert_ne!(
            batch_message("ab", "c.d", "1", "ff"),
            batch_message("a", "bc.d", "1", "ff")
        );
        assert_eq!(
            batch_message("gw", "iot.readings", "7", "ab"),
            "agora-edge-batch\ngw\niot.readings\n7\nab\n"
        );
    }
}
