"""psycopg 3 sessions that the protocol tests steer: the login method, a cancelled query, a statement prepared
before a grant is revoked and executed after, several commands in one prepared statement."""
import json
import sys
import threading
import time

import psycopg

mode, port, user, token = sys.argv[1:5]
out = {}
if mode == "auth":
    # libpq refuses the server's request unless it is the method named: which one it asked for.
    for method in ("scram-sha-256", "password"):
        try:
            with psycopg.connect(host="127.0.0.1", port=port, user=user, password=token, dbname="agora",
                                 require_auth=method) as c:
                out[method] = c.execute("select current_user").fetchone()[0]
        except psycopg.Error as e:
            out[method] = "refused: " + str(e)
    # SCRAM-SHA-256-PLUS: the login bound to the TLS certificate; without TLS there is none.
    for name, sslmode in (("channel_binding", "require"), ("channel_binding_without_tls", "disable")):
        try:
            with psycopg.connect(host="127.0.0.1", port=port, user=user, password=token, dbname="agora",
                                 sslmode=sslmode, channel_binding="require") as c:
                out[name] = c.execute("select current_user").fetchone()[0]
        except psycopg.Error as e:
            out[name] = "refused: " + str(e)
    print(json.dumps(out), flush=True)
    sys.exit(0)
conn = psycopg.connect(host="127.0.0.1", port=port, user=user, password=token, dbname="agora", autocommit=True)
if mode == "cancel":
    def cancel_soon():
        time.sleep(1)
        conn.cancel_safe()

    threading.Thread(target=cancel_soon).start()
    try:
        conn.execute("select sum(value) from range(100000000000)")
        out["cancelled"] = None
    except psycopg.errors.QueryCanceled as e:
        out["cancelled"] = str(e)
    out["after"] = conn.execute("select 41 + %s", (1,)).fetchone()[0]
elif mode == "revoke":
    query = "select id from crm.customers where id = %s"
    out["before"] = conn.execute(query, (1,), prepare=True).fetchone()[0]
    print("prepared", flush=True)
    sys.stdin.readline()
    try:
        conn.execute(query, (2,), prepare=True)
        out["after"] = None
    except psycopg.Error as e:
        out["after"] = str(e)
elif mode == "multiple":
    try:
        conn.execute("select 1; select 2", prepare=True)
        out["multiple"] = None
    except psycopg.Error as e:
        out["multiple"] = str(e)
print(json.dumps(out), flush=True)
