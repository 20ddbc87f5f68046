//! Who may do what: principals, access levels and grants.

use std::collections::BTreeMap;
use std::fmt;

use crate::{ModelError, Name, Sensitivity};

/// The name of the mesh administrator: the local CLI acts as it unless `--as` says otherwise.
pub const ADMIN: &str = "admin";

/// Someone (a person or a service) who reads or writes products.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub name: Name,
    pub is_admin: bool,
    /// The most sensitive data this principal reads unmasked (the administrator: everything).
    pub clearance: Sensitivity,
    /// What row filters compare against, e.g. `region` → `EU`.
    pub attributes: BTreeMap<String, String>,
}

impl Principal {
    pub fn admin() -> Self {
        Principal {
            name: Name::strict("principal", ADMIN).expect("INVARIANT: `admin` is an identifier"),
            is_admin: true,
            clearance: Sensitivity::Restricted,
            attributes: BTreeMap::new(),
        }
    }
}

/// What a grant allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Access {
    Read,
    Write,
}

impl Access {
    pub fn parse(raw: &str) -> Result<Self, ModelError> {
        match raw {
            "read" => Ok(Access::Read),
            "write" => Ok(Access::Write),
            other => Err(ModelError::InvalidName {
                what: "access",
                name: other.to_string(),
                reason: "expected `read` or `write`".into(),
            }),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
        }
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a grant covers: a whole product (all its tables) or one table of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GrantTarget {
    Product {
        domain: Name,
        product: Name,
    },
    Table {
        domain: Name,
        product: Name,
        table: Name,
    },
}

impl GrantTarget {
    pub fn domain(&self) -> &Name {
        match self {
            GrantTarget::Product { domain, .. } | GrantTarget::Table { domain, .. } => domain,
        }
    }

    pub fn product(&self) -> &Name {
        match self {
            GrantTarget::Product { product, .. } | GrantTarget::Table { product, .. } => product,
        }
    }

    pub fn table(&self) -> Option<&Name> {
        match self {
            GrantTarget::Product { .. } => None,
            GrantTarget::Table { table, .. } => Some(table),
        }
    }
}

impl fmt::Display for GrantTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GrantTarget::Product { domain, product } => write!(f, "product {domain}.{product}"),
            GrantTarget::Table { domain, table, .. } => write!(f, "table {domain}.{table}"),
        }
    }
}

/// A principal's right to read or write a target. Write implies read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Grant {
    pub principal: Name,
    pub access: Access,
    pub target: GrantTarget,
}

impl Grant {
    /// Whether this grant lets its principal access `table` of `product` in `domain` at `access`.
    pub fn covers(&self, domain: &Name, product: &Name, table: &Name, access: Access) -> bool {
        let level_ok = self.access >= access;
        let target_ok = self.target.domain() == domain
            && self.target.product() == product
            && self.target.table().is_none_or(|t| t == table);
        level_ok && target_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::strict("test", s).unwrap()
    }

    #[test]
    fn product_grant_covers_all_tables_and_write_implies_read() {
        let g = Grant {
            principal: n("bob"),
            access: Access::Write,
            target: GrantTarget::Product {
                domain: n("sales"),
                product: n("orders"),
            },
        };
        assert!(g.covers(&n("sales"), &n("orders"), &n("lines"), Access::Read));
        assert!(!g.covers(&n("sales"), &n("returns"), &n("lines"), Access::Read));
        let t = Grant {
            access: Access::Read,
            target: GrantTarget::Table {
                domain: n("sales"),
                product: n("orders"),
                table: n("orders"),
            },
            ..g
        };
        assert!(t.covers(&n("sales"), &n("orders"), &n("orders"), Access::Read));
        assert!(!t.covers(&n("sales"), &n("orders"), &n("lines"), Access::Read));
        assert!(!t.covers(&n("sales"), &n("orders"), &n("orders"), Access::Write));
    }
}
