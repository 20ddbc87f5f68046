//! Who reads, and what they may read and write.

use agora_model::{Access, Grant, Name, Principal};

/// Who is reading, and what they may read.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub principal: Principal,
    pub grants: Vec<Grant>,
    /// Domains this principal owns: owners read and write all their domain's products.
    pub owned_domains: Vec<Name>,
}

impl Viewer {
    pub fn may(&self, access: Access, domain: &Name, product: &Name, table: &Name) -> bool {
        self.principal.is_admin
            || self.owned_domains.contains(domain)
            || self
                .grants
                .iter()
                .any(|g| g.covers(domain, product, table, access))
    }
}
