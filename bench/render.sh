#!/usr/bin/env bash
# Benchmark: `envdash render` on a synthetic fleet, next to the seed's job in plain
# Python on the same files, in the same run. Prints wall time and peak RSS.
#
#   bench/render.sh [ENVS HOSTS CONTAINERS]     (default 1000 20 50: ~1M rows, ~75 MB)
#   RUNS=N bench/render.sh                      (runs per case, default 5)
#
# Needs: cargo, python3, GNU time (/usr/bin/time; `apt-get install time`), and
# hyperfine when present (`apt-get install hyperfine`) for repeated runs.
set -euo pipefail
cd "$(dirname "$0")/.."
envs=${1:-1000} hosts=${2:-20} containers=${3:-50}
work=bench/out
fleet=bench/fleet-base-$envs-$hosts-$containers
mkdir -p "$work"
if [ ! -d "$fleet" ]; then
  echo "generating $fleet ..." >&2
  python3 bench/gen_fleet.py "$fleet.tmp" "$envs" "$hosts" "$containers" base && mv "$fleet.tmp" "$fleet"
fi
cargo build --release --quiet
bin=target/release/envdash
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr)"
echo "fleet:   $(find "$fleet" -name '*.txt' | wc -l) files, $(cat "$fleet"/*.txt | wc -l) lines, $(du -sh "$fleet" | cut -f1)"
runs=${RUNS:-5}
# Runs a command $runs times and prints the median and best wall time and the
# largest peak RSS. Before each run the previous run's writes are flushed
# (sync) and `prep` runs, so that every run starts from the same quiet disk.
measure() {  # label, prep, command...
  local label=$1 prep=$2; shift 2
  : > "$work/times.txt"
  for _ in $(seq "$runs"); do
    eval "$prep"; sync
    /usr/bin/time -f "%e %M" -o "$work/time.txt" "$@" >/dev/null 2>"$work/stderr.txt" || { cat "$work/stderr.txt" >&2; exit 1; }
    cat "$work/time.txt" >> "$work/times.txt"
  done
  sort -n "$work/times.txt" | awk -v label="$label" -v n="$runs" '
    { t[NR] = $1; if ($2 > kb) kb = $2 }
    END { printf "%-28s median %5.2f s  best %5.2f s  %6.1f MB peak RSS  (%d runs)\n", label, t[int((n + 1) / 2)], t[1], kb / 1024, n }'
}
# A fixed clock a minute after the files were written: their data is fresh, and
# repeated runs on the unchanged files are the steady state of a deployment. On
# the real clock a replayed `Up 5 seconds` reads as a restart each run, and a
# fifth of the fleet would soon be flagged crash-looping.
ENVDASH_NOW=$(date -u -d "@$(( $(stat -c %Y "$fleet/$(ls "$fleet" | head -1)") + 60 ))" +%Y-%m-%dT%H:%M:%SZ)
export ENVDASH_NOW
cold='rm -rf "$work/envdash" "$work"/.envdash.envdash-*'
measure "envdash render (cold out)" "$cold" "$bin" -q render --input "$fleet" --out "$work/envdash"
measure "envdash render (warm out)" : "$bin" -q render --input "$fleet" --out "$work/envdash"
measure "envdash render -j 1" : "$bin" -q -j 1 render --input "$fleet" --out "$work/envdash"
measure "lean Python (seed_dash.py)" : python3 bench/seed_dash.py "$fleet" "$work/python"
if command -v hyperfine >/dev/null; then
  hyperfine --warmup 1 --runs 5 --export-markdown "$work/hyperfine.md" \
    -n envdash "$bin -q render --input $fleet --out $work/envdash" \
    -n python "python3 bench/seed_dash.py $fleet $work/python"
fi
