//! The classification vocabulary: what kind of sensitive data a column holds (its
//! [`Category`]) and how carefully it must be handled (its [`Sensitivity`]). A principal's
//! clearance is a [`Sensitivity`] too: columns above it are masked by policy.

use std::fmt;
use std::str::FromStr;

use crate::ModelError;

/// What kind of sensitive data a column holds; `None` for ordinary data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    Email,
    PhoneNumber,
    PaymentCard,
    Iban,
    NationalId,
    IpAddress,
    PersonName,
    PostalAddress,
    DateOfBirth,
    Geolocation,
    Credential,
    None,
}

impl Category {
    /// Every category, in a fixed order (the classifier's class order).
    pub const ALL: [Category; 12] = [
        Category::Email,
        Category::PhoneNumber,
        Category::PaymentCard,
        Category::Iban,
        Category::NationalId,
        Category::IpAddress,
        Category::PersonName,
        Category::PostalAddress,
        Category::DateOfBirth,
        Category::Geolocation,
        Category::Credential,
        Category::None,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Email => "email",
            Category::PhoneNumber => "phone_number",
            Category::PaymentCard => "payment_card",
            Category::Iban => "iban",
            Category::NationalId => "national_id",
            Category::IpAddress => "ip_address",
            Category::PersonName => "person_name",
            Category::PostalAddress => "postal_address",
            Category::DateOfBirth => "date_of_birth",
            Category::Geolocation => "geolocation",
            Category::Credential => "credential",
            Category::None => "none",
        }
    }

    /// The sensitivity a column of this category gets unless its contract or an owner says
    /// otherwise:
    ///
    /// | category | sensitivity |
    /// | --- | --- |
    /// | `payment_card`, `iban`, `national_id`, `credential` | restricted |
    /// | `email`, `phone_number`, `person_name`, `postal_address`, `date_of_birth`, `geolocation` | confidential |
    /// | `ip_address` | internal |
    /// | `none` | public |
    pub fn default_sensitivity(self) -> Sensitivity {
        match self {
            Category::PaymentCard
            | Category::Iban
            | Category::NationalId
            | Category::Credential => Sensitivity::Restricted,
            Category::Email
            | Category::PhoneNumber
            | Category::PersonName
            | Category::PostalAddress
            | Category::DateOfBirth
            | Category::Geolocation => Sensitivity::Confidential,
            Category::IpAddress => Sensitivity::Internal,
            Category::None => Sensitivity::Public,
        }
    }

    /// The class index of this category in [`Category::ALL`].
    pub fn index(self) -> usize {
        Category::ALL
            .iter()
            .position(|c| *c == self)
            .expect("INVARIANT: ALL lists every category")
    }
}

impl FromStr for Category {
    type Err = ModelError;

    fn from_str(raw: &str) -> Result<Self, ModelError> {
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == raw)
            .ok_or_else(|| ModelError::UnknownTerm {
                what: "category",
                value: raw.to_string(),
                expected: Category::ALL.map(Category::as_str).join(", "),
            })
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How carefully data must be handled, lowest first; also a principal's clearance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Sensitivity {
    Public,
    Internal,
    Confidential,
    Restricted,
}

impl Sensitivity {
    pub const ALL: [Sensitivity; 4] = [
        Sensitivity::Public,
        Sensitivity::Internal,
        Sensitivity::Confidential,
        Sensitivity::Restricted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Sensitivity::Public => "public",
            Sensitivity::Internal => "internal",
            Sensitivity::Confidential => "confidential",
            Sensitivity::Restricted => "restricted",
        }
    }

    /// Reads an ODCS property's free-text `classification`: the four levels (any case) and
    /// the common synonyms `sensitive`/`pii` (confidential) and `secret` (restricted). Other
    /// schemes (PayPal-style `1`…`5`, say) are not guessed at: `None`.
    pub fn from_contract_classification(raw: &str) -> Option<Sensitivity> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "public" => Some(Sensitivity::Public),
            "internal" => Some(Sensitivity::Internal),
            "confidential" | "sensitive" | "pii" => Some(Sensitivity::Confidential),
            "restricted" | "secret" => Some(Sensitivity::Restricted),
            _ => None,
        }
    }
}

impl FromStr for Sensitivity {
    type Err = ModelError;

    fn from_str(raw: &str) -> Result<Self, ModelError> {
        Sensitivity::ALL
            .into_iter()
            .find(|s| s.as_str() == raw)
            .ok_or_else(|| ModelError::UnknownTerm {
                what: "sensitivity",
                value: raw.to_string(),
                expected: Sensitivity::ALL.map(Sensitivity::as_str).join(", "),
            })
    }
}

impl fmt::Display for Sensitivity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Category {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl serde::Serialize for Sensitivity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Category {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl<'de> serde::Deserialize<'de> for Sensitivity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_terms_list_the_vocabulary() {
        for c in Category::ALL {
            assert_eq!(c.as_str().parse::<Category>().unwrap(), c);
            assert_eq!(Category::ALL[c.index()], c);
        }
        for s in Sensitivity::ALL {
            assert_eq!(s.as_str().parse::<Sensitivity>().unwrap(), s);
        }
        let err = "emails".parse::<Category>().unwrap_err().to_string();
        assert!(err.contains("unknown category `emails`"), "{err}");
        assert!(err.contains("phone_number"), "{err}");
    }

    #[test]
    fn levels_are_ordered_and_contract_synonyms_read() {
        assert!(Sensitivity::Public < Sensitivity::Internal);
        assert!(Sensitivity::Confidential < Sensitivity::Restricted);
        assert_eq!(
            Sensitivity::from_contract_classification(" Restricted"),
            Some(Sensitivity::Restricted)
        );
        assert_eq!(
            Sensitivity::from_contract_classification("sensitive"),
            Some(Sensitivity::Confidential)
        );
        assert_eq!(Sensitivity::from_contract_classification("3"), None);
    }
}
