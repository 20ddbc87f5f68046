use thiserror::Error;

/// What is wrong with a policy, or with a principal's attributes under the policies.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PolicyError {
    #[error("invalid policy at {at}: {reason}")]
    Invalid { at: String, reason: String },
    #[error(
        "unknown principal attribute `{attribute}` in {context}; the global policy declares: {}",
        if declared.is_empty() { "none (declare attributes under `attributes:` in the global policy)" } else { declared.as_str() }
    )]
    UnknownAttribute {
        attribute: String,
        context: String,
        declared: String,
    },
}

impl PolicyError {
    pub(crate) fn invalid(at: &str, reason: impl Into<String>) -> PolicyError {
        PolicyError::Invalid {
            at: at.to_string(),
            reason: reason.into(),
        }
    }
}
