"""Reads an Agora share as a second, independent client would: the Delta Sharing REST
protocol spoken with the standard library, and the files the server hands out read by
DuckDB's own HTTP reader (httpfs: HEAD, then ranged GETs on the pre-signed file URLs).

usage: duckdb_sharing_read.py PROFILE SHARE.SCHEMA.TABLE

Prints the rows as JSON on stdout; on a refusal, the error on stderr and exit status 1.
"""
import json
import pathlib
import sys
import urllib.error
import urllib.request

import duckdb
import duckdb_extension_httpfs


def file_urls(profile, table):
    share, schema, name = table.split(".")
    request = urllib.request.Request(
        f"{profile['endpoint'].rstrip('/')}/shares/{share}/schemas/{schema}/tables/{name}/query",
        data=b"{}",
        headers={
            "Authorization": f"Bearer {profile['bearerToken']}",
            "Content-Type": "application/json",
        },
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        lines = [json.loads(line) for line in response.read().splitlines() if line.strip()]
    return [line["file"]["url"] for line in lines if "file" in line]


def main():
    profile = json.loads(pathlib.Path(sys.argv[1]).read_text())
    try:
        urls = file_urls(profile, sys.argv[2])
    except urllib.error.HTTPError as error:
        print(f"HTTP {error.code}: {error.read().decode()}", file=sys.stderr)
        sys.exit(1)
    if not urls:
        print("[]")
        return
    extension = (
        pathlib.Path(duckdb_extension_httpfs.__file__).parent
        / "extensions"
        / f"v{duckdb.__version__}"
        / "httpfs.duckdb_extension"
    )
    connection = duckdb.connect()
    connection.execute(f"LOAD '{extension}'")
    result = connection.execute("SELECT * FROM read_parquet(?)", [urls])
    columns = [c[0] for c in result.description]
    rows = [dict(zip(columns, row)) for row in result.fetchall()]
    print(json.dumps(rows, default=str))


main()
