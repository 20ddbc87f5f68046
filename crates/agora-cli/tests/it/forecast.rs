//! `agora forecast`: a product metric forecast through the reader's governed view, with its
//! seasons found, its model chosen by backtest, and bad requests refused naming the flag.

use serde_json::Value;

use crate::governance::write;
use crate::harness::Mesh;
use crate::server::serve;

const CONTRACT: &str = "\
apiVersion: v3.0.2
kind: DataContract
id: shop-sales
name: sales
version: 1.0.0
status: active
domain: shop
schema:
  - name: daily
    properties:
      - name: day
        logicalType: date
        required: true
      - name: region
        logicalType: string
      - name: amount
        logicalType: number
      - name: cost
        logicalType: number
        classification: confidential
      - name: note
        logicalType: string
";

const POLICY: &str = "\
kind: AgoraPolicy
domain: shop
columns:
  - column: shop.daily.cost
    action: mask
rows:
  - table: shop.daily
    filter: region = principal.region
";

/// 140 days from Monday 2024-01-01 for two regions (EU about 100 a day, US about 1,000), with
/// a weekly pattern and no data for 2024-03-01..03 (a gap of three days).
fn sales_csv() -> String {
    let week = [1.0, 1.1, 1.2, 1.15, 1.3, 0.6, 0.5];
    let start = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
    let mut csv = String::from("day,region,amount,cost,note\n");
    for d in 0..140u64 {
        if (60..63).contains(&d) {
            continue;
        }
        let day = start + chrono::Days::new(d);
        for (region, base) in [("EU", 100.0), ("US", 1000.0)] {
            let noise = ((d * 7919 + base as u64) % 11) as f64 / 100.0;
            let amount = base * (week[(d % 7) as usize] + noise);
            csv.push_str(&format!(
                "{day},{region},{amount:.2},{:.2},day {d}\n",
                amount * 0.6
            ));
        }
    }
    csv
}

/// The shop's sales without its policy: nothing filters their rows.
fn open_shop() -> Mesh {
    let mesh = Mesh::new();
    mesh.ok(&["domain", "create", "shop", "--owner", "alice"]);
    mesh.ok(&[
        "policy",
        "apply",
        &write(
            &mesh,
            "global.yaml",
            "kind: AgoraPolicy\nattributes:\n  region: [EU, US]\n",
        ),
    ]);
    mesh.ok(&["product", "apply", &write(&mesh, "sales.yaml", CONTRACT)]);
    mesh.ok(&[
        "ingest",
        "shop.daily",
        &write(&mesh, "daily.csv", &sales_csv()),
    ]);
    mesh
}

/// The shop mesh: the sales product ingested, its policy applied, erin (region EU) granted
/// read (her token returned).
fn shop() -> (Mesh, String) {
    let mesh = open_shop();
    mesh.ok(&[
        "--as",
        "alice",
        "policy",
        "apply",
        &write(&mesh, "shop.yaml", POLICY),
    ]);
    let erin = mesh.ok(&["principal", "create", "erin", "--attr", "region=EU"]);
    mesh.ok(&["grant", "erin", "read", "shop.sales"]);
    let token = erin.rsplit(": ").next().unwrap().trim().to_string();
    (mesh, token)
}

fn forecast_json(mesh: &Mesh, who: Option<&str>, args: &[&str]) -> Value {
    let mut all: Vec<&str> = who.map(|w| vec!["--as", w]).unwrap_or_default();
    all.extend(["forecast", "shop.daily", "--time", "day"]);
    all.extend(args);
    all.extend(["--format", "json"]);
    serde_json::from_str(&mesh.ok(&all)).unwrap()
}

#[test]
fn a_reader_forecasts_only_the_rows_they_may_see_with_the_weekly_season_found() {
    let (mesh, _) = shop();
    let args = ["--value", "sum(amount)", "--every", "1d", "--horizon", "14"];
    let erin = forecast_json(&mesh, Some("erin"), &args);
    let f = &erin["forecasts"][0];
    assert!(
        f["seasons"].as_array().unwrap().contains(&Value::from(7)),
        "{f}"
    );
    assert_eq!(f["filled_periods"], 3, "{f}");
    assert!(
        f["notes"][0]
            .as_str()
            .unwrap()
            .contains("3 of 140 periods had no data"),
        "{f}"
    );
    assert!(f["model"].as_str().unwrap().len() > 3, "{f}");
    assert!(f["backtest"]["mase"].as_f64().unwrap().is_finite(), "{f}");
    let rows = f["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 14);
    assert_eq!(
        rows[0]["ts"], "2024-05-20 00:00:00",
        "the day after the last"
    );
    for row in rows {
        let v = |k: &str| row[k].as_f64().unwrap();
        assert!(
            v("lower_95") <= v("lower_80") && v("lower_80") <= v("forecast"),
            "{row}"
        );
        assert!(
            v("forecast") <= v("upper_80") && v("upper_80") <= v("upper_95"),
            "{row}"
        );
        // EU sells about 100 a day; with the US rows it would be about 1,100.
        assert!(
            v("forecast") > 30.0 && v("forecast") < 200.0,
            "erin sees only EU: {row}"
        );
    }
    // Saturday and Sunday sell about half a weekday: the forecast knows the week.
    let saturday = rows[5]["forecast"].as_f64().unwrap();
    let thursday = rows[3]["forecast"].as_f64().unwrap();
    assert!(saturday < 0.8 * thursday, "{saturday} vs {thursday}");

    let admin = forecast_json(&mesh, None, &args);
    assert!(
        admin["forecasts"][0]["rows"][0]["forecast"]
            .as_f64()
            .unwrap()
            > 500.0
    );

    // The chart names what it shows: the table, the value, the model and its backtest.
    let svg = mesh.dir.path().join("forecast.svg");
    let mut plotted: Vec<&str> = vec!["--as", "erin", "forecast", "shop.daily", "--time", "day"];
    plotted.extend(args);
    plotted.extend(["--plot", svg.to_str().unwrap()]);
    mesh.ok(&plotted);
    let drawn = std::fs::read_to_string(&svg).unwrap();
    assert!(drawn.starts_with("<svg"), "{drawn}");
    let model = f["model"].as_str().unwrap();
    for text in [
        "shop.daily: sum(amount) per 1d",
        model,
        "backtest MASE",
        "95% prediction interval",
        "80% prediction interval",
        "forecast, 14 periods",
        "history (70 periods, the last of 140)",
    ] {
        assert!(drawn.contains(text), "the chart lacks `{text}`");
    }
}

#[test]
fn each_group_is_forecast_and_a_partial_last_period_is_left_out_and_named() {
    let (mesh, _) = shop();
    let out = forecast_json(
        &mesh,
        None,
        &[
            "--value",
            "sum(amount)",
            "--every",
            "1mo",
            "--horizon",
            "2",
            "--by",
            "region",
        ],
    );
    let forecasts = out["forecasts"].as_array().unwrap();
    assert_eq!(
        forecasts
            .iter()
            .map(|f| f["group"].clone())
            .collect::<Vec<_>>(),
        vec![Value::from("EU"), Value::from("US")]
    );
    for f in forecasts {
        // January to April are whole months; May ends on the 19th.
        assert_eq!(f["history_periods"], 4, "{f}");
        assert!(
            f["notes"]
                .to_string()
                .contains("the last period (from 2024-05-01 00:00:00) is left out"),
            "{f}"
        );
        assert_eq!(f["rows"][0]["ts"], "2024-05-01 00:00:00");
    }
    let csv = mesh.ok(&[
        "forecast",
        "shop.daily",
        "--time",
        "day",
        "--value",
        "count(*)",
        "--every",
        "1w",
        "--horizon",
        "3",
        "--by",
        "region",
        "--format",
        "csv",
        "--level",
        "90",
    ]);
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("group,ts,forecast,lower_90,upper_90"));
    assert_eq!(lines.count(), 6, "{csv}");
}

#[test]
fn a_masked_column_is_neither_value_nor_group_nor_time() {
    let (mesh, _) = shop();
    for (args, flag) in [
        (vec!["--value", "sum(cost)"], "--value"),
        (vec!["--value", "sum(amount) + max(\"cost\")"], "--value"),
        (vec!["--value", "sum(daily.cost)"], "--value"),
        (vec!["--value", "count(*)", "--by", "cost"], "--by"),
    ] {
        let mut all = vec!["--as", "erin", "forecast", "shop.daily", "--time", "day"];
        all.extend(&args);
        all.extend(["--every", "1d", "--horizon", "3"]);
        let err = mesh.fails(2, &all);
        assert!(
            err.contains(flag) && err.contains("`cost` of shop.daily is masked for you"),
            "{args:?}: {err}"
        );
    }
    let err = mesh.fails(
        2,
        &[
            "--as",
            "erin",
            "forecast",
            "shop.daily",
            "--time",
            "cost",
            "--value",
            "count(*)",
            "--every",
            "1d",
            "--horizon",
            "3",
        ],
    );
    assert!(
        err.contains("--time") && err.contains("`cost` of shop.daily is masked"),
        "{err}"
    );
    // The administrator sees cost and may forecast it.
    let admin = forecast_json(
        &mesh,
        None,
        &["--value", "sum(cost)", "--every", "1w", "--horizon", "2"],
    );
    assert_eq!(admin["forecasts"][0]["rows"].as_array().unwrap().len(), 2);
}

/// A request's time, value, every, horizon, more flags, and what its error says.
type BadRequest = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static str,
);

#[test]
fn bad_requests_name_what_is_wrong_and_a_constant_series_says_so() {
    let (mesh, _) = shop();
    let cases: [BadRequest; 10] = [
        (
            "region",
            "sum(amount)",
            "1d",
            "3",
            &[],
            "`region` of shop.daily is not a time or date",
        ),
        (
            "day",
            "max(note)",
            "1d",
            "3",
            &[],
            "`max(note)` is not numeric",
        ),
        (
            "day",
            "sum(amount)",
            "1d",
            "0",
            &[],
            "between 1 and 10000 periods, not 0",
        ),
        ("day", "sum(amount)", "1d", "99999999", &[], "not 99999999"),
        (
            "day",
            "sum(amount)",
            "1m",
            "3",
            &[],
            "`--every 1m`: the unit must be",
        ),
        ("day", "sum(amount)", "5mo", "3", &[], "must divide a year"),
        (
            "day",
            "sum(amount)",
            "1d",
            "3",
            &["--level", "100"],
            "between 1 and 99, not 100",
        ),
        (
            "day",
            "sum(amount), count(*)",
            "1d",
            "3",
            &[],
            "is not one SQL expression",
        ),
        (
            "when",
            "sum(amount)",
            "1d",
            "3",
            &[],
            "shop.daily has no column `when`",
        ),
        (
            "day",
            "sum(amount)",
            "1d",
            "3",
            &["--by", "nope"],
            "shop.daily has no column `nope`",
        ),
    ];
    for (time, value, every, horizon, more, expected) in cases {
        let mut args = vec![
            "forecast",
            "shop.daily",
            "--time",
            time,
            "--value",
            value,
            "--every",
            every,
            "--horizon",
            horizon,
        ];
        args.extend(more);
        let err = mesh.fails(2, &args);
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // Each note is its own group of one day: nothing can be forecast, so nothing is drawn.
    let svg = mesh.dir.path().join("none.svg");
    let err = mesh.fails(
        2,
        &[
            "forecast",
            "shop.daily",
            "--time",
            "day",
            "--value",
            "sum(amount)",
            "--every",
            "1d",
            "--horizon",
            "3",
            "--by",
            "note",
            "--plot",
            svg.to_str().unwrap(),
        ],
    );
    assert!(err.contains("--plot: no group could be forecast"), "{err}");
    assert!(!svg.exists());
    // One row a day per region: the count is constant, and the forecast says so.
    let out = forecast_json(
        &mesh,
        None,
        &[
            "--value",
            "count(*)",
            "--every",
            "1d",
            "--horizon",
            "2",
            "--by",
            "region",
        ],
    );
    let f = &out["forecasts"][0];
    assert!(
        f["notes"].to_string().contains("the series is constant"),
        "{f}"
    );
    assert_eq!(f["rows"][0]["forecast"], 1.0);
    assert_eq!(f["rows"][0]["lower_95"], 1.0);
}

#[test]
fn the_same_forecast_over_http_within_the_callers_view() {
    let (mesh, erin) = shop();
    let served = serve(&mesh);
    let post = |body: Value| {
        let r = reqwest::blocking::Client::new()
            .post(format!("{}/api/v1/forecast", served.http))
            .bearer_auth(&erin)
            .json(&body)
            .send()
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().unwrap())
    };
    let (status, body) = post(serde_json::json!({
        "table": "shop.daily", "time": "day", "value": "sum(amount)", "every": "1w",
        "horizon": 3, "levels": [90]
    }));
    assert_eq!(status, 200, "{body}");
    let rows = body["forecasts"][0]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert!(
        rows[0]["lower_90"].is_number() && rows[0].get("lower_95").is_none(),
        "{body}"
    );
    assert!(
        rows[0]["forecast"].as_f64().unwrap() < 1500.0,
        "erin's view only: {body}"
    );
    for (request, status, says) in [
        (
            serde_json::json!({"table": "shop.daily", "time": "day", "value": "sum(cost)", "every": "1d", "horizon": 3}),
            400,
            "masked for you",
        ),
        (
            serde_json::json!({"table": "shop.daily", "time": "day", "value": "sum(amount)", "every": "1d", "horizon": 0}),
            400,
            "horizon",
        ),
        (
            serde_json::json!({"table": "shop.daily", "time": "day", "value": "sum(amount)", "every": "1d", "horizon": 3, "levels": [0]}),
            400,
            "not 0",
        ),
        (
            serde_json::json!({"table": "shop.daily", "time": "day", "value": "sum(amount)", "every": "1d", "horizon": 3, "oops": 1}),
            400,
            "oops",
        ),
        (
            serde_json::json!({"table": "shop.nothing", "time": "day", "value": "sum(amount)", "every": "1d", "horizon": 3}),
            404,
            "nothing",
        ),
        (
            serde_json::json!({"table": "shop.daily", "time": "day", "value": "sum(amount)", "every": "1w", "horizon": 3, "save": true}),
            400,
            "shop.daily has a row filter",
        ),
    ] {
        let (got, body) = post(request.clone());
        assert_eq!(got, status, "{request}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(says),
            "{request}: {body}"
        );
    }
}

#[test]
fn a_saved_forecast_is_a_derived_table_with_lineage_from_the_version_it_read() {
    let mesh = open_shop();
    let args = [
        "--as",
        "alice",
        "forecast",
        "shop.daily",
        "--time",
        "day",
        "--value",
        "sum(amount)",
        "--every",
        "1w",
        "--horizon",
        "4",
        "--by",
        "region",
        "--save",
    ];
    let out = mesh.ok(&args);
    let saved = out.lines().last().unwrap();
    let made: u64 = saved
        .strip_prefix("saved: shop.daily_forecast version ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        saved
            .contains(" (8 rows, contract 1.0.0 applied) from shop.daily version 1; ledger entry "),
        "{out}"
    );
    assert_eq!(
        mesh.csv("select region, count(*) as n, min(lower_95 <= forecast and forecast <= upper_95) as ordered from shop.daily_forecast group by region order by region"),
        "region,n,ordered\nEU,4,true\nUS,4,true\n"
    );
    // The saved rows are the forecast printed: the same numbers, model and period starts.
    let printed: Value = serde_json::from_str(&mesh.ok(&[
        "--as",
        "alice",
        "forecast",
        "shop.daily",
        "--time",
        "day",
        "--value",
        "sum(amount)",
        "--every",
        "1w",
        "--horizon",
        "4",
        "--by",
        "region",
        "--format",
        "json",
    ]))
    .unwrap();
    let eu = &printed["forecasts"][0];
    assert_eq!(eu["group"], "EU");
    assert_eq!(printed["table_version"], 1);
    let first = mesh.csv("select cast(ts as varchar) as ts, forecast, model from shop.daily_forecast where region = 'EU' order by ts limit 1");
    let row: Vec<&str> = first.lines().nth(1).unwrap().split(',').collect();
    assert!(row[0].starts_with("2024-05-20"), "{first}");
    let stored: f64 = row[1].parse().unwrap();
    let shown = eu["rows"][0]["forecast"].as_f64().unwrap();
    assert!(
        (stored - shown).abs() < 1e-6 * shown.abs().max(1.0),
        "{stored} vs {shown}"
    );
    assert_eq!(row[2], eu["model"].as_str().unwrap());

    // The lineage runs from the sales table to the forecast, column by column, and the
    // ledger entry names the version read and the version made.
    let up: Value = serde_json::from_str(&mesh.ok(&[
        "lineage",
        "shop.daily_forecast",
        "--upstream",
        "--verify",
        "--format",
        "json",
    ]))
    .unwrap();
    let edges: Vec<(String, String)> = up["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["from"].as_str().unwrap().into(),
                e["via"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(
        edges.contains(&(
            "shop.daily".into(),
            "job agora/forecast shop.daily_forecast".into()
        )),
        "{up:#}"
    );
    assert_eq!(up["verified"], true, "{up:#}");
    let column: Value = serde_json::from_str(&mesh.ok(&[
        "lineage",
        "shop.daily_forecast.upper_80",
        "--upstream",
        "--format",
        "json",
    ]))
    .unwrap();
    assert!(
        column["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["from"] == "shop.daily.amount"),
        "{column:#}"
    );
    let job = up["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["from"] == "shop.daily")
        .unwrap();
    assert_eq!(job["signer"], "shop");
    let index = job["entry"].to_string();
    let entry: Value = serde_json::from_str(&mesh.ok(&["ledger", "show", &index])).unwrap();
    let body = &entry["entry"]["body"];
    assert_eq!(body["inputs"][0]["table"], "shop.daily", "{entry:#}");
    assert_eq!(body["inputs"][0]["version"], 1, "{entry:#}");
    assert_eq!(body["outputs"][0]["version"], made, "{entry:#}");
    assert_eq!(body["forecast"]["value"], "sum(amount)", "{entry:#}");
    assert_eq!(body["by"], "alice", "{entry:#}");

    // A second save overwrites the forecast (Delta keeps the first), under the same contract.
    let out = mesh.ok(&args);
    assert!(
        out.lines().last().unwrap().starts_with(&format!(
            "saved: shop.daily_forecast version {} (8 rows) from shop.daily version 1",
            made + 1
        )),
        "{out}"
    );
    assert_eq!(
        mesh.csv("select count(*) as n from shop.daily_forecast"),
        "n\n8\n"
    );
    // Other levels reshape the table: a new major version of its contract.
    let mut other = args.to_vec();
    other.extend(["--level", "90"]);
    let out = mesh.ok(&other);
    assert!(
        out.lines()
            .last()
            .unwrap()
            .contains("contract 2.0.0 applied"),
        "{out}"
    );
    assert_eq!(
        mesh.csv("select count(*) as n, min(lower_90 <= upper_90) as ok from shop.daily_forecast"),
        "n,ok\n8,true\n"
    );
}

#[test]
fn a_saved_forecast_shows_its_readers_no_more_than_the_source_does() {
    let mesh = open_shop();
    mesh.ok(&["principal", "create", "erin", "--attr", "region=EU"]);
    mesh.ok(&["grant", "erin", "read", "shop.sales"]);
    let save = |who: Option<&str>, value: &str| {
        let mut args: Vec<&str> = who.map(|w| vec!["--as", w]).unwrap_or_default();
        args.extend([
            "forecast",
            "shop.daily",
            "--time",
            "day",
            "--value",
            value,
            "--every",
            "1w",
            "--horizon",
            "4",
            "--save",
        ]);
        mesh.run(&args)
    };
    // A reader may forecast but not create a product in the domain.
    let denied = save(Some("erin"), "sum(amount)");
    assert_eq!(denied.code, 4, "{}", denied.stderr);
    assert!(denied.stderr.contains("erin"), "{}", denied.stderr);

    // The confidential cost (masked even for alice, the owner) is forecast by the
    // administrator; its forecast is confidential too: erin, granted the forecast, sees it
    // masked as she sees the cost itself.
    let saved = save(None, "sum(cost)");
    assert_eq!(saved.code, 0, "{}", saved.stderr);
    mesh.ok(&["grant", "erin", "read", "shop.daily_forecast"]);
    let owner_view = mesh.csv("select forecast from shop.daily_forecast order by ts limit 1");
    let value: f64 = owner_view.lines().nth(1).unwrap().parse().unwrap();
    assert!(value > 100.0, "{owner_view}");
    let erin = mesh.ok(&[
        "--as",
        "erin",
        "sql",
        "select forecast, upper_95 from shop.daily_forecast order by ts limit 1",
        "--format",
        "csv",
    ]);
    assert!(!erin.contains(&format!("{value}")), "{erin}");
    let cost = mesh.ok(&[
        "--as",
        "erin",
        "sql",
        "select cost from shop.daily limit 1",
        "--format",
        "csv",
    ]);
    assert!(
        cost.lines().nth(1).unwrap().parse::<f64>().is_err(),
        "cost is masked for erin: {cost}"
    );
    assert!(
        erin.lines()
            .nth(1)
            .unwrap()
            .split(',')
            .all(|v| v.parse::<f64>().is_err()),
        "{erin}"
    );

    // A value that reads another table would escape the lineage and the labels.
    let subquery = save(
        None,
        "sum(amount) + (select count(*) from shop.daily_forecast)",
    );
    assert_eq!(subquery.code, 2, "{}", subquery.stderr);
    assert!(
        subquery.stderr.contains("reads other tables"),
        "{}",
        subquery.stderr
    );
    // A policy rule on a column the forecast uses would not follow it into the saved table.
    let rule = "kind: AgoraPolicy\ndomain: shop\ncolumns:\n  - column: shop.daily.amount\n    action: mask\n";
    mesh.ok(&[
        "--as",
        "alice",
        "policy",
        "apply",
        &write(&mesh, "rule.yaml", rule),
    ]);
    let named = save(None, "sum(amount)");
    assert_eq!(named.code, 2, "{}", named.stderr);
    assert!(
        named
            .stderr
            .contains("a policy rule names `shop.daily.amount`, which the forecast uses"),
        "{}",
        named.stderr
    );
    // With a row filter on the source, its readers would read totals over rows it hides,
    // even from the administrator, who sees every row.
    mesh.ok(&[
        "--as",
        "alice",
        "policy",
        "apply",
        &write(&mesh, "shop.yaml", POLICY),
    ]);
    let refused = save(None, "sum(amount)");
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("shop.daily has a row filter: its readers would read totals over rows it hides from them"),
        "{}",
        refused.stderr
    );
    // The earlier forecast is untouched.
    assert_eq!(
        mesh.csv("select count(*) as n from shop.daily_forecast"),
        "n\n4\n"
    );
}
