#!/usr/bin/env bash
# Benchmark of `envdash publish` against `aws s3 sync`: a 1000-page site synced to
# one local moto S3 server by both, in the same run (first upload, unchanged
# republish, 10 % of pages changed). Prints times, ratios and PUT counts.
#
#   bench/publish.sh                 # PAGES=1000, work files in target/bench
#   PAGES=200 BENCH_DIR=/tmp/b bench/publish.sh
#
# Needs python3 (with venv) and a reachable PyPI the first time: awscli and
# moto[server] are installed into $BENCH_DIR/venv and kept for later runs.
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH_DIR=${BENCH_DIR:-target/bench}
PAGES=${PAGES:-1000}
VENV=$BENCH_DIR/venv
mkdir -p "$BENCH_DIR"

if [[ ! -x $VENV/bin/aws || ! -x $VENV/bin/moto_server ]]; then
    echo "installing awscli and moto[server] into $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check awscli 'moto[server]'
fi

echo "building envdash (release)" >&2
cargo build --release --quiet

echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')," \
    "envdash $(target/release/envdash --version | cut -d' ' -f2)," \
    "$("$VENV/bin/aws" --version 2>&1 | cut -d' ' -f1)," \
    "moto $("$VENV/bin/python" -c 'import moto; print(moto.__version__)')"

exec "$VENV/bin/python" bench/publish_bench.py \
    --envdash target/release/envdash \
    --aws "$VENV/bin/aws" \
    --moto "$VENV/bin/moto_server" \
    --work "$BENCH_DIR" \
    --pages "$PAGES"
