//! Column-name context: words in a column's name, in the corpus's languages, that hint at a
//! category — and words that say the column is *about* such data without holding it
//! (`email_sent`, `phone_verified`) or holds places and organisations (`city`, `company`).

use agora_model::Category;

/// Keywords per category. A keyword matches a whole word of the name, or — when 4+ letters —
/// any part of it, so compounds (`geburtsdatum`, `kundenemail`) match too.
const KEYWORDS: &[(Category, &[&str])] = &[
    (
        Category::Email,
        &["email", "mail", "courriel", "correo", "epost", "emailadres"],
    ),
    (
        Category::PhoneNumber,
        &[
            "phone",
            "tel",
            "telephone",
            "telefon",
            "telefono",
            "teléfono",
            "telefone",
            "telefoon",
            "mobile",
            "mobil",
            "cell",
            "celular",
            "handy",
            "portable",
            "movil",
            "móvil",
            "cellulare",
            "gsm",
            "fax",
            "msisdn",
            "telefonnummer",
        ],
    ),
    (
        Category::PaymentCard,
        &[
            "card",
            "cc",
            "pan",
            "carte",
            "karte",
            "kreditkarte",
            "tarjeta",
            "carta",
            "kaart",
            "cartao",
            "cartão",
            "karta",
            "kort",
            "kortnummer",
            "creditcard",
        ],
    ),
    (
        Category::Iban,
        &[
            "iban",
            "bank",
            "konto",
            "kontonummer",
            "rib",
            "cuenta",
            "conto",
            "rekening",
            "rekeningnummer",
            "conta",
            "rachunek",
            "bankgiro",
            "account",
        ],
    ),
    (
        Category::NationalId,
        &[
            "ssn",
            "social",
            "nin",
            "nino",
            "national",
            "nir",
            "insee",
            "steuer",
            "steuerid",
            "tax",
            "codice",
            "fiscale",
            "fiscal",
            "bsn",
            "burgerservicenummer",
            "cpf",
            "pesel",
            "personnummer",
            "dni",
            "nie",
            "nif",
            "passport",
            "sofinummer",
            "identity",
            "identifiant",
            "personalausweis",
            "identificacion",
        ],
    ),
    (
        Category::IpAddress,
        &["ip", "ipv4", "ipv6", "ipaddr", "remote", "host"],
    ),
    (
        Category::PersonName,
        &[
            "name",
            "fullname",
            "first",
            "last",
            "surname",
            "given",
            "nom",
            "prenom",
            "prénom",
            "vorname",
            "nachname",
            "nombre",
            "apellido",
            "apellidos",
            "nome",
            "cognome",
            "naam",
            "voornaam",
            "achternaam",
            "sobrenome",
            "imie",
            "imię",
            "nazwisko",
            "namn",
            "fornamn",
            "förnamn",
            "efternamn",
            "contact",
            "patient",
            "customer",
            "person",
            "employee",
            "holder",
        ],
    ),
    (
        Category::PostalAddress,
        &[
            "address",
            "addr",
            "street",
            "adresse",
            "anschrift",
            "strasse",
            "straße",
            "direccion",
            "dirección",
            "calle",
            "indirizzo",
            "adres",
            "straat",
            "endereco",
            "endereço",
            "rua",
            "ulica",
            "adress",
            "gatuadress",
            "mailing",
            "shipping",
            "billing",
            "domicilio",
            "wohnort",
            "residence",
        ],
    ),
    (
        Category::DateOfBirth,
        &[
            "dob",
            "birth",
            "birthday",
            "birthdate",
            "born",
            "naissance",
            "geburtsdatum",
            "geburtstag",
            "geboren",
            "nacimiento",
            "nascita",
            "geboortedatum",
            "nascimento",
            "urodzenia",
            "födelsedatum",
            "fodelsedatum",
            "födelse",
        ],
    ),
    (
        Category::Geolocation,
        &[
            "lat",
            "lng",
            "lon",
            "long",
            "latitude",
            "longitude",
            "geo",
            "location",
            "coords",
            "coordinates",
            "gps",
            "position",
            "breitengrad",
            "längengrad",
            "latitud",
            "longitud",
            "latitudine",
            "longitudine",
            "breedtegraad",
            "lengtegraad",
            "geopoint",
        ],
    ),
    (
        Category::Credential,
        &[
            "password",
            "passwd",
            "pwd",
            "pass",
            "secret",
            "token",
            "apikey",
            "key",
            "credential",
            "credentials",
            "auth",
            "motdepasse",
            "passwort",
            "kennwort",
            "contraseña",
            "contrasena",
            "clave",
            "wachtwoord",
            "senha",
            "haslo",
            "hasło",
            "lösenord",
            "losenord",
        ],
    ),
];

/// Words that make a column a fact *about* sensitive data: a flag, a count, a type, a status.
const ABOUT_WORDS: &[&str] = &[
    "sent",
    "verified",
    "count",
    "flag",
    "enabled",
    "is",
    "has",
    "opt",
    "optin",
    "type",
    "status",
    "valid",
    "confirmed",
    "bounced",
    "consent",
    "num",
    "total",
    "length",
    "hash",
    "provider",
    "brand",
    "expiry",
    "expires",
    "country",
    "version",
    "firmware",
    "build",
    "release",
];

/// Words that name places, organisations and things, whose values look like names and
/// addresses.
const PLACE_OR_ORG_WORDS: &[&str] = &[
    "city",
    "town",
    "ville",
    "stadt",
    "ort",
    "ciudad",
    "citta",
    "città",
    "stad",
    "miasto",
    "cidade",
    "company",
    "firma",
    "societe",
    "société",
    "empresa",
    "azienda",
    "bedrijf",
    "foretag",
    "företag",
    "employer",
    "organisation",
    "organization",
    "org",
    "product",
    "produit",
    "country",
    "land",
    "pays",
    "pais",
    "país",
    "paese",
    "region",
    "state",
    "brand",
    "vendor",
    "supplier",
    "merchant",
    "store",
    "shop",
    "item",
    "category",
    "tag",
    "label",
    "title",
    "keyword",
    "model",
    "team",
    "department",
    "job",
    "position",
    "street_name",
];

/// Words that name a latitude, in the corpus's languages.
const LATITUDE_WORDS: &[&str] = &[
    "lat",
    "latitude",
    "latitud",
    "latitudine",
    "breitengrad",
    "breedtegraad",
    "szerokosc",
    "szerokość",
];

/// Words that name a longitude, in the corpus's languages.
const LONGITUDE_WORDS: &[&str] = &[
    "lon",
    "lng",
    "long",
    "longitude",
    "longitud",
    "longitudine",
    "längengrad",
    "laengengrad",
    "lengtegraad",
    "dlugosc",
    "długość",
];

/// Words that name a position without its axis.
const COORDINATE_WORDS: &[&str] = &[
    "coord",
    "coords",
    "coordinate",
    "coordinates",
    "gps",
    "geo",
    "geopoint",
    "geolocation",
    "latlng",
    "latlon",
    "koordinaten",
    "coordonnees",
    "coordonnées",
    "coordenadas",
];

/// The parts of the placeholder names that tools give columns they know nothing of (`col_7`,
/// `column17`, `x35`, `V3`, `Unnamed: 0`): such a name says nothing either way.
const PLACEHOLDER_WORDS: &[&str] = &[
    "c",
    "col",
    "column",
    "f",
    "field",
    "v",
    "var",
    "variable",
    "value",
    "x",
    "attr",
    "attribute",
    "data",
    "unnamed",
    "feature",
];

/// Which coordinate a column's name gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    Latitude,
    Longitude,
}

/// A column name as lower-case words (splitting `_`, `-`, spaces, digits and camelCase) and as
/// one compact string.
pub struct ColumnName {
    words: Vec<String>,
    compact: String,
}

impl ColumnName {
    pub fn new(name: &str) -> ColumnName {
        let mut words = Vec::new();
        let mut current = String::new();
        let mut prev_lower = false;
        for c in name.chars() {
            if !c.is_alphanumeric() || c.is_ascii_digit() {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
                prev_lower = false;
                continue;
            }
            if c.is_uppercase() && prev_lower && !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            prev_lower = c.is_lowercase();
            current.extend(c.to_lowercase());
        }
        if !current.is_empty() {
            words.push(current);
        }
        let compact = words.concat();
        ColumnName { words, compact }
    }

    fn matches(&self, keyword: &str) -> bool {
        self.words.iter().any(|w| w == keyword)
            || (keyword.chars().count() >= 4 && self.compact.contains(keyword))
    }

    /// Whether the name hints at `category`.
    pub fn hints(&self, category: Category) -> bool {
        KEYWORDS
            .iter()
            .find(|(c, _)| *c == category)
            .is_some_and(|(_, words)| words.iter().any(|k| self.matches(k)))
    }

    /// Whether the name says the column is about such data rather than the data itself.
    pub fn about(&self) -> bool {
        self.words.iter().any(|w| ABOUT_WORDS.contains(&w.as_str()))
    }

    /// The coordinate the name gives (`lat`, `Longitude`, `breitengrad`), if one.
    pub fn coordinate_axis(&self) -> Option<Axis> {
        let any = |words: &[&str]| {
            self.words.iter().any(|w| words.contains(&w.as_str()))
                || words
                    .iter()
                    .any(|k| k.chars().count() >= 8 && self.compact.contains(k))
        };
        if any(LATITUDE_WORDS) {
            Some(Axis::Latitude)
        } else if any(LONGITUDE_WORDS) {
            Some(Axis::Longitude)
        } else {
            None
        }
    }

    /// Whether the name says the column holds coordinates.
    pub fn names_coordinates(&self) -> bool {
        self.coordinate_axis().is_some()
            || self
                .words
                .iter()
                .any(|w| COORDINATE_WORDS.contains(&w.as_str()))
    }

    /// Whether the name is a placeholder that says nothing of the values (`col_7`, `x35`, or
    /// no name at all).
    pub fn is_placeholder(&self) -> bool {
        self.words
            .iter()
            .all(|w| PLACEHOLDER_WORDS.contains(&w.as_str()))
    }

    /// Whether the name is about places or organisations.
    pub fn place_or_org(&self) -> bool {
        self.words
            .iter()
            .any(|w| PLACE_OR_ORG_WORDS.contains(&w.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_several_languages_and_shapes() {
        assert!(ColumnName::new("customerEmail").hints(Category::Email));
        assert!(ColumnName::new("Geburtsdatum").hints(Category::DateOfBirth));
        assert!(ColumnName::new("numero_telefono").hints(Category::PhoneNumber));
        assert!(ColumnName::new("codice_fiscale").hints(Category::NationalId));
        assert!(!ColumnName::new("order_id").hints(Category::NationalId));
        assert!(ColumnName::new("email_sent").about());
        assert!(ColumnName::new("city_name").place_or_org());
        assert_eq!(
            ColumnName::new("pickup_lat").coordinate_axis(),
            Some(Axis::Latitude)
        );
        assert_eq!(
            ColumnName::new("Longitude").coordinate_axis(),
            Some(Axis::Longitude)
        );
        assert_eq!(
            ColumnName::new("Laengengrad").coordinate_axis(),
            Some(Axis::Longitude)
        );
        assert_eq!(ColumnName::new("pop_change_pct").coordinate_axis(), None);
        assert_eq!(ColumnName::new("relation").coordinate_axis(), None);
        assert!(ColumnName::new("gps").names_coordinates());
        assert!(ColumnName::new("col_7").is_placeholder());
        assert!(ColumnName::new("Unnamed: 0").is_placeholder());
        assert!(!ColumnName::new("start").is_placeholder());
    }
}
