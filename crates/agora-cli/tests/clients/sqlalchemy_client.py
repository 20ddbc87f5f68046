"""SQLAlchemy (psycopg 3 dialect) and pandas `read_sql` against `agora serve`."""
import json
import sys

import pandas as pd
import sqlalchemy as sa

port, user, token, other, other_token = sys.argv[1:6]


def engine(name, password):
    return sa.create_engine(f"postgresql+psycopg://{name}:{password}@127.0.0.1:{port}/agora")


out = {}
with engine(user, token).connect() as conn:
    query = sa.text("select id, region from crm.customers where id = :id")
    out["parameterised"] = [list(r) for r in conn.execute(query, {"id": 2})]
    out["prepared"] = [conn.execute(sa.text("select id from crm.customers where id = :id"), {"id": i}).scalar() for i in (1, 4, 3)]
    frame = pd.read_sql(sa.text("select id, email from crm.customers where id = :id"), conn, params={"id": 1})
    out["masked"] = frame["email"][0]
    out["typed"] = int(pd.read_sql(sa.text("select count(*) as n from crm.customers where region = :r and id > :i"), conn, params={"r": "EU", "i": 1})["n"][0])
try:
    with engine(other, other_token).connect() as conn:
        conn.execute(sa.text("select email from crm.customers where id = :id"), {"id": 1}).all()
    out["refused"] = None
except sa.exc.DBAPIError as e:
    out["refused"] = str(e.orig)
print(json.dumps(out))
