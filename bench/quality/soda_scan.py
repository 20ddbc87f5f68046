#!/usr/bin/env python3
"""The Soda Core side of bench/quality/batch_faults.py (run in Soda's own virtualenv: soda-core
and soda-duckdb 4.x). Each batch CSV, in order, is loaded into a DuckDB staging table `batch`
(numbers typed, the date kept as text so its format can be checked, plus `o_orderdate_day`, the
date read where it reads), the contract below is verified on it, and it is appended to `loaded`
(every batch before it), which the duplicate-key check reads. Prints, per batch, the failed
checks as `kind:column` names, as a JSON list of lists.

    python soda_scan.py BATCHES.json
"""
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("SODA_CORE_TELEMETRY_ENABLED", "false")

import duckdb  # noqa: E402
from soda_core.contracts import verify_contract_locally  # noqa: E402

# The checks a careful engineer writes for these orders: no column missing, valid statuses and
# priorities, ISO dates, a volume floor, a ceiling on the total price (TPC-H's largest order is
# about 555,000), no key loaded before, and data at most 2 days old.
CONTRACT = """\
dataset: bench/main/batch
checks:
  - row_count:
      threshold:
        must_be_greater_than: 500
  - freshness:
      column: o_orderdate_day
      threshold:
        unit: day
        must_be_less_than: 2
  - failed_rows:
      name: keys loaded before
      query: |
        select b.o_orderkey from main.batch b join main.loaded l on b.o_orderkey = l.o_orderkey
columns:
  - name: o_orderkey
    checks:
      - missing:
      - duplicate:
  - name: o_custkey
    checks:
      - missing:
  - name: o_orderstatus
    checks:
      - missing:
      - invalid:
          valid_values: ["F", "O", "P"]
  - name: o_totalprice
    checks:
      - missing:
      - aggregate:
          function: max
          threshold:
            must_be_less_than: 600000
  - name: o_orderdate
    checks:
      - missing:
      - invalid:
          valid_format:
            name: ISO date
            regex: ^[0-9]{4}-[0-9]{2}-[0-9]{2}$
  - name: o_orderdate_day
  - name: o_orderpriority
    checks:
      - missing:
      - invalid:
          valid_values: ["1-URGENT", "2-HIGH", "3-MEDIUM", "4-NOT SPECIFIED", "5-LOW"]
  - name: o_clerk
    checks:
      - missing:
  - name: o_shippriority
  - name: o_comment
"""


def main():
    files = json.loads(Path(sys.argv[1]).read_text())
    work = Path(tempfile.mkdtemp(prefix="soda-bench-"))
    database = work / "bench.duckdb"
    source = work / "ds.yml"
    source.write_text(f"type: duckdb\nname: bench\nconnection:\n  database: \"{database}\"\n  schema: main\n")
    contract = work / "contract.yml"
    contract.write_text(CONTRACT)
    con = duckdb.connect(str(database))
    con.execute("create table loaded (o_orderkey bigint)")
    failed_per_batch = []
    for f in files:
        con.execute("drop table if exists batch")
        con.execute(f"""
            create table batch as select
              try_cast(nullif(o_orderkey, '') as bigint) as o_orderkey,
              try_cast(nullif(o_custkey, '') as bigint) as o_custkey,
              nullif(o_orderstatus, '') as o_orderstatus,
              try_cast(nullif(o_totalprice, '') as double) as o_totalprice,
              nullif(o_orderdate, '') as o_orderdate,
              try_cast(o_orderdate as date) as o_orderdate_day,
              nullif(o_orderpriority, '') as o_orderpriority,
              nullif(o_clerk, '') as o_clerk,
              try_cast(nullif(o_shippriority, '') as integer) as o_shippriority,
              o_comment
            from read_csv('{f}', all_varchar = true, header = true)""")
        con.close()
        result = verify_contract_locally(data_source_file_path=str(source),
                                         contract_file_path=str(contract))
        failed = []
        for verification in result.contract_verification_results:
            for check in verification.check_results:
                if check.is_failed or getattr(check, "is_not_evaluated", False):
                    failed.append(f"{check.check.type}:{check.check.column_name or ''}:{check.check.name or ''}")
        if result.has_errors if hasattr(result, "has_errors") else False:
            failed.append("error::" + "; ".join(str(e) for e in result.get_errors()[:2]))
        failed_per_batch.append(failed)
        con = duckdb.connect(str(database))
        con.execute("insert into loaded select o_orderkey from batch where o_orderkey is not null")
    print(json.dumps(failed_per_batch))


if __name__ == "__main__":
    main()
