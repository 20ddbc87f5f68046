"""psycopg 3 against `agora serve`: its default extended protocol, server-side parameters."""
import json
import sys

import psycopg

port, user, token, other, other_token = sys.argv[1:6]
out = {}
with psycopg.connect(host="127.0.0.1", port=port, user=user, password=token, dbname="agora") as conn:
    out["version"] = conn.info.server_version
    with conn.cursor() as cur:
        cur.execute("select id, region from crm.customers where id = %s", (2,))
        out["parameterised"] = cur.fetchall()
        # prepare=True makes psycopg name the statement and reuse it with each parameter.
        out["prepared"] = [
            cur.execute("select id from crm.customers where id = %s", (i,), prepare=True).fetchone()[0]
            for i in (1, 4, 3)
        ]
        cur.execute("select email from crm.customers where id = %s", (1,))
        out["masked"] = cur.fetchone()[0]
        cur.execute("select count(*) from crm.customers where region = %s and id > %s", ("EU", 1))
        out["typed"] = cur.fetchone()[0]
with psycopg.connect(host="127.0.0.1", port=port, user=other, password=other_token, dbname="agora") as conn:
    try:
        conn.execute("select email from crm.customers where id = %s", (1,))
        out["refused"] = None
    except psycopg.Error as e:
        out["refused"] = str(e)
print(json.dumps(out))
