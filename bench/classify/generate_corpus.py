#!/usr/bin/env python3
"""Generates the labelled corpus the column classifier is trained and evaluated on.

Each line of the output is one column: {"name", "label", "locale", "values"}. Sensitive columns
come from Python Faker in ten locales (national identifiers that Faker does not produce validly
for a locale are generated here with their real check digits); `none` columns are ordinary data
and the decoys that resemble sensitive data: numeric order ids, 16-digit references that fail
Luhn, version strings, hex digests, UUIDs, event timestamps and dates of events (recent or
decades old), company and city names, job titles, upper-case enumerations, entity codes,
amounts, booleans in columns named like `email_sent`, and more.

Column names are realistic in the column's language most of the time and generic (`col_7`)
otherwise, so the classifier has to read the values, not only the name.

    python3 generate_corpus.py --seed 1 --out corpus/train.jsonl
    python3 generate_corpus.py --seed 2 --out corpus/test.jsonl
"""

import argparse
import base64
import datetime
import hashlib
import json
import random
import string
import uuid

from faker import Faker

LOCALES = ["en_US", "en_GB", "fr_FR", "de_DE", "es_ES", "it_IT", "nl_NL", "pt_BR", "pl_PL", "sv_SE"]

NAMES = {
    "email": {"en": ["email", "email_address", "contact_email", "customerEmail", "work_email"],
              "fr": ["courriel", "adresse_email", "email"], "de": ["email", "kunden_email", "e_mail"],
              "es": ["correo", "correo_electronico", "email"], "it": ["email", "posta_elettronica"],
              "nl": ["email", "emailadres"], "pt": ["email", "correio_eletronico"], "pl": ["email", "adres_email"],
              "sv": ["epost", "e_post", "email"]},
    "phone_number": {"en": ["phone", "phone_number", "mobile", "contact_phone", "tel"],
                     "fr": ["telephone", "portable", "tel"], "de": ["telefon", "telefonnummer", "handy"],
                     "es": ["telefono", "movil"], "it": ["telefono", "cellulare"], "nl": ["telefoon", "telefoonnummer"],
                     "pt": ["telefone", "celular"], "pl": ["telefon", "numer_telefonu"], "sv": ["telefon", "mobil"]},
    "payment_card": {"en": ["card_number", "credit_card", "cc_number", "pan"], "fr": ["numero_carte", "carte"],
                     "de": ["kartennummer", "kreditkarte"], "es": ["tarjeta", "numero_tarjeta"], "it": ["carta", "numero_carta"],
                     "nl": ["kaartnummer"], "pt": ["cartao", "numero_cartao"], "pl": ["karta", "numer_karty"], "sv": ["kortnummer"]},
    "iban": {"en": ["iban", "bank_account", "account_iban"], "fr": ["iban", "rib"], "de": ["iban", "kontonummer"],
             "es": ["iban", "cuenta"], "it": ["iban", "conto"], "nl": ["iban", "rekeningnummer"], "pt": ["iban", "conta"],
             "pl": ["iban", "rachunek"], "sv": ["iban", "bankkonto"]},
    "national_id": {"en": ["ssn", "social_security_number", "national_id", "nino", "ni_number"],
                    "fr": ["nir", "numero_securite_sociale", "insee"], "de": ["steuer_id", "steuerid", "tax_id"],
                    "es": ["dni", "nie", "nif"], "it": ["codice_fiscale", "cf"], "nl": ["bsn", "burgerservicenummer"],
                    "pt": ["cpf"], "pl": ["pesel"], "sv": ["personnummer"]},
    "ip_address": {"en": ["ip", "ip_address", "client_ip", "remote_addr", "source_ip"], "fr": ["adresse_ip"],
                   "de": ["ip_adresse"], "es": ["direccion_ip"], "it": ["indirizzo_ip"], "nl": ["ip_adres"],
                   "pt": ["endereco_ip"], "pl": ["adres_ip"], "sv": ["ip_adress"]},
    "person_name": {"en": ["name", "full_name", "customer_name", "first_name", "last_name", "contact"],
                    "fr": ["nom", "prenom", "nom_complet"], "de": ["name", "vorname", "nachname"],
                    "es": ["nombre", "apellido", "nombre_completo"], "it": ["nome", "cognome"],
                    "nl": ["naam", "voornaam", "achternaam"], "pt": ["nome", "sobrenome"], "pl": ["imie", "nazwisko"],
                    "sv": ["namn", "fornamn", "efternamn"]},
    "postal_address": {"en": ["address", "street_address", "shipping_address", "billing_address", "home_address"],
                       "fr": ["adresse", "adresse_postale"], "de": ["adresse", "anschrift", "strasse"],
                       "es": ["direccion", "domicilio"], "it": ["indirizzo"], "nl": ["adres", "straat"],
                       "pt": ["endereco"], "pl": ["adres", "ulica"], "sv": ["adress", "gatuadress"]},
    "date_of_birth": {"en": ["date_of_birth", "dob", "birth_date", "birthday"], "fr": ["date_naissance", "date_de_naissance"],
                      "de": ["geburtsdatum", "geburtstag"], "es": ["fecha_nacimiento"], "it": ["data_nascita"],
                      "nl": ["geboortedatum"], "pt": ["data_nascimento"], "pl": ["data_urodzenia"], "sv": ["fodelsedatum"]},
    "geolocation": {"en": ["latitude", "longitude", "lat", "lng", "location", "coordinates", "gps"],
                    "fr": ["latitude", "longitude", "coordonnees"], "de": ["breitengrad", "laengengrad", "koordinaten"],
                    "es": ["latitud", "longitud"], "it": ["latitudine", "longitudine"], "nl": ["breedtegraad", "lengtegraad"],
                    "pt": ["latitude", "longitude"], "pl": ["szerokosc", "dlugosc"], "sv": ["latitud", "longitud"]},
    "credential": {"en": ["password", "api_key", "secret", "access_token", "auth_token", "client_secret"],
                   "fr": ["mot_de_passe", "jeton"], "de": ["passwort", "kennwort", "api_schluessel"],
                   "es": ["contrasena", "clave"], "it": ["password", "chiave_api"], "nl": ["wachtwoord"],
                   "pt": ["senha"], "pl": ["haslo"], "sv": ["losenord"]},
}

GENERIC = ["col_{}", "field_{}", "c{}", "attr_{}", "value_{}", "data_{}", "column{}", "x{}"]

DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def luhn_ok(digits):
    total = 0
    for i, d in enumerate(reversed(digits)):
        v = int(d)
        if i % 2 == 1:
            v *= 2
            if v > 9:
                v -= 9
        total += v
    return total % 10 == 0


def nino(rng):
    first = rng.choice([c for c in string.ascii_uppercase if c not in "DFIQUV"])
    second = rng.choice([c for c in string.ascii_uppercase if c not in "DFIOQUV"])
    if first + second in ("BG", "GB", "NK", "KN", "TN", "NT", "ZZ"):
        return nino(rng)
    digits = "".join(rng.choice(string.digits) for _ in range(6))
    suffix = rng.choice("ABCD")
    if rng.random() < 0.5:
        return f"{first}{second} {digits[:2]} {digits[2:4]} {digits[4:]} {suffix}"
    return f"{first}{second}{digits}{suffix}"


def steuer_id(rng):
    """A German tax id: 11 digits, one digit of the first ten repeated, ISO 7064 mod 11,10."""
    while True:
        digits = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(9)]
        counts = [digits.count(d) for d in set(digits)]
        if sum(1 for c in counts if c > 1) != 1 or max(counts) > 3:
            continue
        product = 10
        for d in digits:
            s = (d + product) % 10 or 10
            product = (s * 2) % 11
        check = (11 - product) % 10
        return "".join(map(str, digits)) + str(check)


def national_id(f, locale, rng):
    if locale == "en_GB":
        return nino(rng)
    if locale == "de_DE":
        return steuer_id(rng)
    if locale == "es_ES":
        return f.nif() if rng.random() < 0.6 else f.nie()
    if locale == "pt_BR":
        return f.cpf() if rng.random() < 0.5 else f.ssn()
    return f.ssn()


def credential(rng, kind):
    alnum = string.ascii_letters + string.digits
    if kind == "password":
        pool = string.ascii_letters + string.digits + "!@#$%^&*()-_=+?"
        while True:
            p = "".join(rng.choice(pool) for _ in range(rng.randint(10, 20)))
            if any(c.islower() for c in p) and any(c.isupper() for c in p) and any(c.isdigit() for c in p):
                return p
    if kind == "aws":
        return "AKIA" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(16))
    if kind == "github":
        return "ghp_" + "".join(rng.choice(alnum) for _ in range(36))
    if kind == "stripe":
        return "sk_live_" + "".join(rng.choice(alnum) for _ in range(24))
    if kind == "jwt":
        def seg(n):
            return base64.urlsafe_b64encode(bytes(rng.getrandbits(8) for _ in range(n))).decode().rstrip("=")
        header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("=")
        return f"{header}.{seg(rng.randint(20, 60))}.{seg(32)}"
    return base64.urlsafe_b64encode(bytes(rng.getrandbits(8) for _ in range(24))).decode().rstrip("=")


def sensitive_values(label, f, locale, rng, n):
    style = rng.random()
    if label == "email":
        gen = [f.email, f.free_email, f.company_email][rng.randrange(3)]
        return [gen() for _ in range(n)]
    if label == "phone_number":
        return [f.phone_number() for _ in range(n)]
    if label == "payment_card":
        def card():
            c = f.credit_card_number()
            return " ".join(c[i:i + 4] for i in range(0, len(c), 4)) if style < 0.3 else c
        return [card() for _ in range(n)]
    if label == "iban":
        def iban():
            i = f.iban()
            return " ".join(i[k:k + 4] for k in range(0, len(i), 4)) if style < 0.3 else i
        return [iban() for _ in range(n)]
    if label == "national_id":
        return [national_id(f, locale, rng) for _ in range(n)]
    if label == "ip_address":
        gen = [f.ipv4, f.ipv6, f.ipv4_private, f.ipv4_public][rng.randrange(4)]
        return [gen() for _ in range(n)]
    if label == "person_name":
        gen = [f.name, f.name, f.first_name, f.last_name][rng.randrange(4)]
        return [gen() for _ in range(n)]
    if label == "postal_address":
        if style < 0.5:
            return [f.address().replace("\n", ", ") for _ in range(n)]
        return [f.street_address() for _ in range(n)]
    if label == "date_of_birth":
        fmt = rng.choice(["%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%m/%d/%Y"])
        return [f.date_of_birth(minimum_age=18, maximum_age=95).strftime(fmt) for _ in range(n)]
    if label == "geolocation":
        if style < 0.35:
            return [f"{float(f.latitude()):.6f}" for _ in range(n)]
        if style < 0.7:
            return [f"{float(f.longitude()):.6f}" for _ in range(n)]
        return [f"{float(f.latitude()):.5f}, {float(f.longitude()):.5f}" for _ in range(n)]
    if label == "credential":
        kinds = ["password", "aws", "github", "stripe", "jwt", "urlsafe"]
        kind = rng.choice(kinds)
        mixed = style < 0.3
        return [credential(rng, rng.choice(kinds) if mixed else kind) for _ in range(n)]
    raise ValueError(label)


def none_column(f, rng, n):
    """An ordinary or decoy column: (name, values)."""
    kind = rng.randrange(26)
    if kind == 0:
        return rng.choice(["order_id", "bestellnummer", "numero_commande", "pedido_id", "ordine", "id"]), \
            [str(rng.randint(10 ** 5, 10 ** rng.randint(6, 10))) for _ in range(n)]
    if kind == 1:
        def ref():
            while True:
                d = "".join(rng.choice(string.digits) for _ in range(16))
                if not luhn_ok(d):
                    return d
        return rng.choice(["reference", "tracking_number", "ref", "transaction_ref", "invoice_no"]), [ref() for _ in range(n)]
    if kind == 2:
        # Four-part versions parse as IPv4 addresses: the decoy that matters.
        parts = rng.choice([[4], [4], [3], [3, 4]])
        return rng.choice(["version", "app_version", "firmware", "build", "client_version", "release"]), \
            [".".join(str(rng.randint(0, 20)) for _ in range(rng.choice(parts))) for _ in range(n)]
    if kind == 3:
        algo = rng.choice([hashlib.md5, hashlib.sha1, hashlib.sha256])
        return rng.choice(["checksum", "sha256", "hash", "etag", "digest", "file_hash"]), \
            [algo(str(rng.random()).encode()).hexdigest() for _ in range(n)]
    if kind == 4:
        return rng.choice(["id", "uuid", "request_id", "session_id", "correlation_id"]), \
            [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(n)]
    if kind == 5:
        fmt = rng.choice(["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%SZ", "%d/%m/%Y %H:%M"])
        return rng.choice(["created_at", "updated_at", "event_time", "timestamp", "login_time"]), \
            [f.date_time_between("-3y", "now").strftime(fmt) for _ in range(n)]
    if kind == 6:
        # Dates of events: recent or decades old (archives, benchmarks), over a few years.
        fmt = rng.choice(["%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y"])
        start = datetime.date(rng.randint(1985, 2024), 1, 1)
        span = rng.randint(60, 8 * 365)
        return rng.choice(["order_date", "ship_date", "fecha_pedido", "date_commande", "lieferdatum", "due_date",
                           "commit_date", "receipt_date", "start_date", "valid_from", "posting_date"]), \
            [(start + datetime.timedelta(days=rng.randrange(span))).strftime(fmt) for _ in range(n)]
    if kind == 7:
        return rng.choice(["company", "employer", "firma", "empresa", "societe", "supplier"]), [f.company() for _ in range(n)]
    if kind == 8:
        return rng.choice(["city", "ville", "stadt", "ciudad", "citta", "stad", "miasto", "cidade"]), [f.city() for _ in range(n)]
    if kind == 9:
        name = rng.choice(["email_sent", "phone_verified", "has_card", "is_active", "newsletter_opt_in",
                           "ip_blocked", "password_reset_required", "address_confirmed", "email_bounced"])
        style = rng.choice([("true", "false"), ("yes", "no"), ("1", "0"), ("t", "f")])
        return name, [rng.choice(style) for _ in range(n)]
    if kind == 10:
        # Product names, capitalised or not, often in columns just called `name`.
        lower = rng.random() < 0.4
        return rng.choice(["product", "product_name", "item", "category", "name", "item_name", "part_name"]), \
            [" ".join(w if lower else w.capitalize() for w in f.words(rng.randint(1, 5))) for _ in range(n)]
    if kind == 11:
        top = rng.choice([500, 10_000, 500_000])
        return rng.choice(["price", "amount", "total", "unit_price", "betrag", "montant", "extended_price", "balance"]), \
            [f"{rng.uniform(-0.02 * top, top):.2f}" for _ in range(n)]
    if kind == 12:
        return rng.choice(["quantity", "qty", "count", "stock"]), [str(rng.randint(0, 200)) for _ in range(n)]
    if kind == 13:
        # Countries and regions, sometimes upper case, sometimes in a column called `name`.
        upper = rng.random() < 0.4
        return rng.choice(["country", "pays", "land", "pais", "name", "n_name", "nation_name", "r_name"]), \
            [f.country().upper() if upper else f.country() for _ in range(n)]
    if kind == 14:
        return rng.choice(["status", "state", "stage"]), \
            [rng.choice(["pending", "shipped", "delivered", "cancelled", "returned"]) for _ in range(n)]
    if kind == 15:
        return rng.choice(["currency", "ccy"]), [f.currency_code() for _ in range(n)]
    if kind == 16:
        return rng.choice(["job_title", "job", "position", "beruf", "profession"]), [f.job() for _ in range(n)]
    if kind == 17:
        return rng.choice(["comment", "notes", "description", "remarks"]), [f.sentence() for _ in range(n)]
    if kind == 18:
        return rng.choice(["url", "website", "homepage", "link"]), [f.url() for _ in range(n)]
    if kind == 19:
        return rng.choice(["license_plate", "plate", "kennzeichen"]), [f.license_plate() for _ in range(n)]
    if kind == 20:
        return rng.choice(["color", "colour", "farbe", "couleur"]), [f.color_name() for _ in range(n)]
    if kind == 21:
        return rng.choice(["score", "rating", "ratio", "temperature"]), [f"{rng.uniform(-50, 100):.3f}" for _ in range(n)]
    if kind == 22:
        return rng.choice(["sku", "product_code", "part_number"]), \
            ["".join(rng.choice(string.ascii_uppercase) for _ in range(3)) + "-" + str(rng.randint(1000, 99999)) for _ in range(n)]
    if kind == 23:
        return rng.choice(["tag", "keyword", "label"]), [f.word() for _ in range(n)]
    if kind == 24:
        # A few fixed phrases, often upper case: shipping instructions, segments, tiers.
        phrases = rng.choice([
            ["DELIVER IN PERSON", "TAKE BACK RETURN", "COLLECT COD", "NONE"],
            ["AUTOMOBILE", "BUILDING", "FURNITURE", "HOUSEHOLD", "MACHINERY"],
            ["Next Day Air", "Standard Ground", "Second Day", "Freight"],
            ["Gold Member", "Silver Member", "Basic Plan", "Premium Plan"],
            ["1-URGENT", "2-HIGH", "3-MEDIUM", "4-NOT SPECIFIED", "5-LOW"],
            ["SM CASE", "LG BOX", "MED BAG", "JUMBO PKG", "WRAP CASE", "SM PACK", "LG DRUM"],
        ])
        return rng.choice(["ship_instruct", "shipping_method", "segment", "tier", "priority", "plan", "mode", "container"]), \
            [rng.choice(phrases) for _ in range(n)]
    # Entity codes: `Customer#000000042`, `Clerk#000000951`.
    prefix = rng.choice(["Customer", "Clerk", "Supplier", "Part", "Agent"])
    return rng.choice(["code", "clerk", "supplier_name", "account_code", "name", "s_name"]), \
        [f"{prefix}#{rng.randint(1, 10 ** 6):09d}" for _ in range(n)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--per-category", type=int, default=40, help="columns per sensitive category")
    ap.add_argument("--none-columns", type=int, default=260)
    ap.add_argument("--values", type=int, default=100, help="values per column")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    fakers = {loc: Faker(loc) for loc in LOCALES}
    for i, loc in enumerate(LOCALES):
        fakers[loc].seed_instance(args.seed * 100 + i)
    columns = []
    for label in NAMES:
        for k in range(args.per_category):
            locale = LOCALES[k % len(LOCALES)]
            f = fakers[locale]
            lang = locale[:2]
            if rng.random() < 0.7:
                names = NAMES[label].get(lang) or NAMES[label]["en"]
                name = rng.choice(names + NAMES[label]["en"][:2])
            else:
                name = rng.choice(GENERIC).format(rng.randint(1, 40))
            columns.append({"name": name, "label": label, "locale": locale,
                            "values": sensitive_values(label, f, locale, rng, args.values)})
    for k in range(args.none_columns):
        locale = LOCALES[k % len(LOCALES)]
        name, values = none_column(fakers[locale], rng, args.values)
        if rng.random() < 0.2:
            name = rng.choice(GENERIC).format(rng.randint(1, 40))
        columns.append({"name": name, "label": "none", "locale": locale, "values": values})
    rng.shuffle(columns)
    with open(args.out, "w", encoding="utf-8") as out:
        for c in columns:
            out.write(json.dumps(c, ensure_ascii=False) + "\n")
    print(f"wrote {len(columns)} columns to {args.out}")


if __name__ == "__main__":
    main()
