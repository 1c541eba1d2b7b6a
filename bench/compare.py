#!/usr/bin/env python3
"""The render benchmark: envdash against the leanest honest Python doing the
seed's job (bench/seed_dash.py), on every fleet shape, in one run.

For each shape (bench/gen_fleet.py, generated once into bench/fleet-SHAPE-…)
and each envdash binary given: a cold render (empty output folder), a warm one
(the previous run's folder: the steady state of the five-minute job), and the
Python script. Each case runs RUNS times; the table shows the median wall
time, the CPU time (user + system) of that run, the largest peak RSS, the
largest page (.html) and the bytes the run wrote (files it created or changed).

    bench/compare.py                                   release build of this tree
    bench/compare.py --bin before=/path/envdash --bin after=target/release/envdash
    bench/compare.py --shapes base --runs 5
    bench/compare.py --million                         also one environment of 10^6 containers

The run's clock is fixed a minute after the fleet was written (ENVDASH_NOW), so
every run judges the same data the same way.
"""
import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
OUT = BENCH / "out"
SHAPES = ["base", "varied", "mixed"]


def fleet(shape, envs, hosts, containers):
    path = BENCH / f"fleet-{shape}-{envs}-{hosts}-{containers}"
    if not path.is_dir():
        print(f"generating {path.name} ...", file=sys.stderr)
        tmp = path.with_suffix(".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run([sys.executable, str(BENCH / "gen_fleet.py"), str(tmp), str(envs), str(hosts), str(containers), shape],
                       check=True)
        tmp.rename(path)
    return path


def run_once(cmd, out_dir, env):
    """(wall s, cpu s, peak RSS MB, largest page bytes, bytes written) of one run."""
    subprocess.run(["sync"], check=True)
    started = time.time()
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t0
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{cmd[0]} failed:\n{err}")
    largest = written = 0
    for p in Path(out_dir).rglob("*"):
        if p.is_file():
            st = p.stat()
            if p.suffix == ".html":
                largest = max(largest, st.st_size)
            if st.st_mtime >= started - 0.01:
                written += st.st_size
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, largest, written


def measure(label, cmd, out_dir, runs, env, prep=None):
    results = []
    for _ in range(runs):
        if prep:
            prep()
        results.append(run_once(cmd, out_dir, env))
    results.sort()
    median = results[(len(results) - 1) // 2]
    peak = max(r[2] for r in results)
    return label, median[0], min(r[0] for r in results), median[1], peak, median[3], median[4]


def mb(n):
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.0f} kB"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", action="append", default=[], help="NAME=PATH of an envdash binary (repeatable)")
    ap.add_argument("--shapes", default=",".join(SHAPES))
    ap.add_argument("--size", default="1000,20,50", help="ENVS,HOSTS,CONTAINERS")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--million", action="store_true", help="also one environment of a million containers (base shape)")
    ap.add_argument("--no-python", action="store_true")
    a = ap.parse_args()
    bins = [b.split("=", 1) for b in a.bin]
    if not bins:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
        bins = [("envdash", str(ROOT / "target/release/envdash"))]
    envs, hosts, containers = (int(x) for x in a.size.split(","))
    cases = [(s, fleet(s, envs, hosts, containers)) for s in a.shapes.split(",")]
    if a.million:
        cases.append(("million", fleet("base", 1, 1000, 1000)))
    cpu = open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0].strip(": \t")
    print(f"machine: {os.cpu_count()} cores, {cpu}, {os.uname().sysname} {os.uname().release}; "
          f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; {a.runs} runs per case, median shown")
    print()
    print("| shape | case | wall (median / best) | CPU | peak RSS | largest page | written |")
    print("|---|---|---|---|---|---|---|")
    OUT.mkdir(exist_ok=True)
    for shape, path in cases:
        files = list(path.glob("*.txt"))
        size = sum(f.stat().st_size for f in files)
        first = min(files).stat().st_mtime
        env = dict(os.environ, ENVDASH_NOW=datetime.fromtimestamp(first + 60, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        env.pop("RUST_LOG", None)
        rows = []
        for name, binary in bins:
            site = OUT / f"site-{name}"

            def cold():
                shutil.rmtree(site, ignore_errors=True)
                for leftover in OUT.glob(f".site-{name}.envdash-*"):
                    shutil.rmtree(leftover, ignore_errors=True)

            cmd = [binary, "-q", "render", "--input", str(path), "--out", str(site)]
            rows.append(measure(f"{name} cold", cmd, site, a.runs, env, prep=cold))
            rows.append(measure(f"{name} warm", cmd, site, a.runs, env))
        if not a.no_python:
            py = OUT / "python"
            rows.append(measure("lean Python", [sys.executable, str(BENCH / "seed_dash.py"), str(path), str(py)], py,
                                a.runs, env, prep=lambda: shutil.rmtree(py, ignore_errors=True)))
        label = f"{shape} ({len(files)} files, {size / 1e6:.0f} MB)"
        for case, wall, best, cpu_s, rss, largest, written in rows:
            print(f"| {label} | {case} | {wall:.2f} / {best:.2f} s | {cpu_s:.2f} s | {rss:.0f} MB | {mb(largest)} | {mb(written)} |",
                  flush=True)
            label = ""


if __name__ == "__main__":
    main()
