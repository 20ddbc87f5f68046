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

/// The shop mesh: the sales product ingested, its policy applied, erin (region EU) granted
/// read (her token returned).
fn shop() -> (Mesh, String) {
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
    ] {
        let (got, body) = post(request.clone());
        assert_eq!(got, status, "{request}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(says),
            "{request}: {body}"
        );
    }
}
