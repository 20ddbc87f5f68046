// node-postgres (`pg` from npm) against `agora serve`: parameterised and named statements.
const { Client } = require("pg");

const [port, user, token, other, otherToken] = process.argv.slice(2);

async function connect(name, password) {
  const client = new Client({ host: "127.0.0.1", port: Number(port), user: name, password, database: "agora" });
  await client.connect();
  return client;
}

(async () => {
  const out = {};
  const client = await connect(user, token);
  const r = await client.query("select id, region from crm.customers where id = $1", [2]);
  out.parameterised = r.rows.map((row) => [Number(row.id), row.region]);
  out.prepared = [];
  for (const i of [1, 4, 3]) {
    // A named statement is parsed once per connection and bound again for each value.
    const p = await client.query({ name: "by-id", text: "select id from crm.customers where id = $1", values: [i] });
    out.prepared.push(Number(p.rows[0].id));
  }
  out.masked = (await client.query("select email from crm.customers where id = $1", [1])).rows[0].email;
  out.typed = Number((await client.query("select count(*) as n from crm.customers where region = $1 and id > $2", ["EU", 1])).rows[0].n);
  await client.end();
  const refused = await connect(other, otherToken);
  try {
    await refused.query("select email from crm.customers where id = $1", [1]);
    out.refused = null;
  } catch (e) {
    out.refused = e.message;
  }
  await refused.end();
  console.log(JSON.stringify(out));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
