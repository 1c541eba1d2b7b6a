#!/usr/bin/env python3
"""How big the history grows: 30 days of five-minute runs (8640) of `envdash
render` over the shipped fixtures, with one container down for an hour each
day and one maintenance hour a week, on the run's clock (ENVDASH_NOW). Prints
the size of history/*.json (each environment's runs, uptime and incidents) and
history/alerts.json (the notifiers' state) at the end of each week.

    bench/history_size.py [ENVDASH_BIN] [DAYS]     (default target/release/envdash, 30)
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "target/release/envdash")
DAYS = int(sys.argv[2]) if len(sys.argv) > 2 else 30
START = datetime(2026, 11, 1, tzinfo=timezone.utc)
RUNS_PER_DAY = 288


def main():
    work = Path(tempfile.mkdtemp(prefix="envdash-history-"))
    envs, site = work / "envs", work / "site"
    shutil.copytree(ROOT / "fixtures", envs)
    config = envs / "envdash.toml"
    qa = (envs / "qa.txt").read_text()
    (envs / "envdash.toml").unlink()
    text = (ROOT / "fixtures/envdash.toml").read_text()
    # A weekly maintenance hour for qa's cals_app, day 3 of each week, 02:00-03:00.
    for week in range((DAYS + 6) // 7):
        day = START + timedelta(days=7 * week + 3, hours=2)
        text += (f'\n[[known]]\nenvironment = "qa"\ncontainer = "cals_app"\ntext = "weekly maintenance"\n'
                 f'start = "{day:%Y-%m-%dT%H:%M:%SZ}"\nexpires = "{day + timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}"\n')
    config = work / "envdash.toml"
    config.write_text(text)
    started = time.monotonic()
    for run in range(DAYS * RUNS_PER_DAY):
        now = START + timedelta(minutes=5 * run)
        minute_of_day = (run % RUNS_PER_DAY) * 5
        down = 600 <= minute_of_day < 660  # 10:00-11:00: qa's intake_app exited
        maint = (now - START).days % 7 == 3 and 120 <= minute_of_day < 180
        body = qa
        if down:
            body = body.replace("intake_app,registry.cwds.example.io/intake_app:1.3.5_615-RC,running,Up 11 days",
                                "intake_app,registry.cwds.example.io/intake_app:1.3.5_615-RC,exited,Exited (1) 1 minute ago", 1)
        if maint:
            body = body.replace("cals_app,registry.cwds.example.io/cals_app:2.7.0_412-RC,running,Up 2 weeks",
                                "cals_app,registry.cwds.example.io/cals_app:2.7.0_412-RC,exited,Exited (1) 1 minute ago", 1)
        (envs / "qa.txt").write_text(body)
        env = {**os.environ, "ENVDASH_NOW": now.strftime("%Y-%m-%dT%H:%M:%SZ")}
        subprocess.run([BIN, "-q", "render", "--input", str(envs), "--out", str(site), "--config", str(config)],
                       env=env, check=True)
        if (run + 1) % (7 * RUNS_PER_DAY) == 0 or run + 1 == DAYS * RUNS_PER_DAY:
            hist = site / "history"
            sizes = {p.name: p.stat().st_size for p in hist.glob("*.json")}
            alerts = sizes.pop("alerts.json", 0)
            # Each environment's incidents live in its own history file.
            incidents = sum(len(json.loads((hist / name).read_text()).get("alerts", {}).get("incidents", []))
                            for name in sizes)
            print(f"after {(run + 1) / RUNS_PER_DAY:.0f} days ({run + 1} runs): "
                  f"{len(sizes)} environment histories, {sum(sizes.values()) / 1024:.1f} KiB in all "
                  f"(largest {max(sizes.values()) / 1024:.1f} KiB, qa {sizes.get('qa.json', 0) / 1024:.1f} KiB); "
                  f"alerts.json (notifier state) {alerts / 1024:.1f} KiB; {incidents} incidents kept; "
                  f"{time.monotonic() - started:.0f} s so far", flush=True)
    status = json.loads((site / "status.json").read_text())
    qa_env = next(e for e in status["environments"] if e["name"] == "qa")
    print("qa uptime:", qa_env["uptime"])
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
