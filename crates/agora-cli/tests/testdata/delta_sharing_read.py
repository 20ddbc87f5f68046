"""Reads an Agora share with the real `delta-sharing` Python client, as a partner would.

usage: delta_sharing_read.py PROFILE list
       delta_sharing_read.py PROFILE load SHARE.SCHEMA.TABLE [--limit N] [--version V] [--format F]
       delta_sharing_read.py PROFILE changes SHARE.SCHEMA.TABLE --from V [--to V] [--format F]

--format delta asks the server for the delta response format, which the client reads with
delta-kernel-rs; without it the client asks for either and reads what the server chose.

Prints JSON on stdout; on a refusal, the client's error on stderr and exit status 1.
"""
import contextlib
import json
import sys

import delta_sharing


def delta_format(options):
    """True for `--format delta`; None (the client's choice) otherwise."""
    return True if options.get("--format") == "delta" else None


def main():
    profile, action = sys.argv[1], sys.argv[2]
    try:
        if action == "list":
            client = delta_sharing.SharingClient(profile)
            names = [f"{t.share}.{t.schema}.{t.name}" for t in client.list_all_tables()]
            print(json.dumps(sorted(names)))
        elif action == "load":
            table = sys.argv[3]
            options = dict(zip(sys.argv[4::2], sys.argv[5::2]))
            limit = int(options["--limit"]) if "--limit" in options else None
            version = int(options["--version"]) if "--version" in options else None
            frame = delta_sharing.load_as_pandas(
                f"{profile}#{table}",
                limit=limit,
                version=version,
                use_delta_format=delta_format(options),
            )
            print(frame.to_json(orient="records", date_format="iso"))
        elif action == "changes":
            table = sys.argv[3]
            options = dict(zip(sys.argv[4::2], sys.argv[5::2]))
            ending = int(options["--to"]) if "--to" in options else None
            # The client prints statistics of a delta-format feed on stdout: keep them apart.
            with contextlib.redirect_stdout(sys.stderr):
                frame = delta_sharing.load_table_changes_as_pandas(
                    f"{profile}#{table}",
                    starting_version=int(options["--from"]),
                    ending_version=ending,
                    use_delta_format=delta_format(options),
                )
            frame = frame.sort_values(["_commit_version", "_change_type"], kind="stable")
            print(frame.to_json(orient="records", date_format="iso"))
        else:
            raise SystemExit(f"unknown action {action}")
    except Exception as error:  # the client's own error types vary by call
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(1)


main()
