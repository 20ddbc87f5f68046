"""asyncpg against `agora serve`: binary results, statements prepared and reused."""
import asyncio
import json
import sys

import asyncpg

port, user, token, other, other_token = sys.argv[1:6]


async def main():
    out = {}
    conn = await asyncpg.connect(host="127.0.0.1", port=int(port), user=user, password=token, database="agora")
    rows = await conn.fetch("select id, region from crm.customers where id = $1", 2)
    out["parameterised"] = [list(r.values()) for r in rows]
    statement = await conn.prepare("select id from crm.customers where id = $1")
    out["prepared"] = [await statement.fetchval(i) for i in (1, 4, 3)]
    out["masked"] = await conn.fetchval("select email from crm.customers where id = $1", 1)
    out["typed"] = await conn.fetchval("select count(*) from crm.customers where region = $1 and id > $2", "EU", 1)
    # A cursor fetches a portal in pieces (Execute with a row limit, PortalSuspended).
    async with conn.transaction():
        out["cursor"] = [r["id"] async for r in conn.cursor("select id from crm.customers order by id", prefetch=2)]
    await conn.close()
    other_conn = await asyncpg.connect(
        host="127.0.0.1", port=int(port), user=other, password=other_token, database="agora"
    )
    try:
        await other_conn.fetch("select email from crm.customers where id = $1", 1)
        out["refused"] = None
    except asyncpg.PostgresError as e:
        out["refused"] = str(e)
    await other_conn.close()
    print(json.dumps(out))


asyncio.run(main())
