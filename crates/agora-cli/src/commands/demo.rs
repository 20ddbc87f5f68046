//! `agora demo`: a mesh with generated data and a tour of it (see `crate::demo`).

use std::path::Path;

use agora_mesh::MeshError;
use clap::Args;

use crate::print;

#[derive(Args)]
pub struct DemoArgs {
    /// Number of orders to generate (customers and shipments scale with it).
    #[arg(long, default_value_t = 200_000)]
    rows: usize,
}

pub async fn run(data: &Path, args: DemoArgs) -> Result<(), MeshError> {
    let tour = crate::demo::create(data, args.rows).await?;
    print(format!("Demo mesh created in {}\n", data.display()))?;
    for step in tour.steps {
        print(format!("== {}\n{}", step.title, step.body))?;
    }
    print(format!(
        "Try it yourself:\n  agora --data {d} sql \"select region, sum(amount) from sales.orders group by 1\"\n  agora --data {d} --as bob sql \"select * from customers.profiles\"\n  agora --data {d} serve   # then: PGPASSWORD={t} psql -h 127.0.0.1 -p 6543 -U bob agora",
        d = data.display(),
        t = tour.analyst_token
    ))
}
