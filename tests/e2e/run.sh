#!/usr/bin/env bash
# End-to-end test of playbooks/cwds-dash.yml on real parts: real Docker daemons
# (one per inventory host), real containers in every state, an inventory host
# that cannot be reached, the real playbook run by ansible-playbook, the real
# envdash, and a local S3-compatible server (moto). tests/e2e/check.py then
# asserts on the published status.json, pages and bucket.
#
#   tests/e2e/run.sh              (after scripts/install-test-deps)
#   E2E_KEEP=1 tests/e2e/run.sh   keep the work folder (daemons are stopped anyway)
#   ENVDASH_BIN=path              use this envdash instead of building target/debug/envdash
#
# Needs root (dockerd), dockerd + busybox-static (apt) and .venv with
# requirements-test.txt. Everything it starts is stopped at the end, also when
# a step fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
VENV=${VENV:-$ROOT/.venv}
export PATH="$VENV/bin:$PATH"
export ANSIBLE_CONFIG=$ROOT/playbooks/ansible.cfg
export ANSIBLE_NOCOLOR=1 ANSIBLE_HOST_KEY_CHECKING=false

# fd 3: the script's own stdout, so that messages of the teardown are seen even
# when a signal arrives while a command's output is redirected.
exec 3>&1
log() { printf '[e2e %s] %s\n' "$(date +%H:%M:%S)" "$*" >&3; }
die() { log "FAILED: $*"; exit 1; }

for tool in dockerd docker busybox ansible-playbook moto_server; do
  command -v "$tool" >/dev/null || die "$tool not found: run scripts/install-test-deps first"
done
[ "$(id -u)" = 0 ] || die "needs root to start Docker daemons"

if [ -z "${ENVDASH_BIN:-}" ]; then
  log "building envdash"
  cargo build --locked --quiet
  ENVDASH_BIN=$ROOT/target/debug/envdash
fi

WORK=$(mktemp -d /tmp/envdash-e2e.XXXXXX)
TAG=e2e$$ # containerd namespaces of this run's daemons
DAEMONS=(d1 d2 d3)
MOTO_PID=""

cleanup() {
  local rc=$?
  set +e
  # Quiet when all went well, so that check.py's `N passed, M failed` stays the last line.
  [ "$rc" = 0 ] || log "tearing down"
  for d in "${DAEMONS[@]}"; do
    local sock=unix://$WORK/$d/docker.sock pidfile=$WORK/$d/docker.pid
    [ -f "$pidfile" ] || continue
    local ids
    ids=$(DOCKER_HOST=$sock timeout 20 docker ps -aq 2>/dev/null)
    [ -n "$ids" ] && DOCKER_HOST=$sock timeout 60 docker rm -f $ids >/dev/null 2>&1
    local pid
    pid=$(cat "$pidfile" 2>/dev/null)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -0 "$pid" 2>/dev/null && { log "dockerd $d did not stop; killing it"; kill -9 "$pid"; }
    fi
  done
  if [ -n "$MOTO_PID" ]; then kill "$MOTO_PID" 2>/dev/null; wait "$MOTO_PID" 2>/dev/null; fi
  # Anything a daemon left mounted under the work folder (network namespaces).
  grep -o " $WORK/[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
  if [ "$rc" != 0 ]; then
    mkdir -p "$ROOT/tests/artifacts"
    rm -rf "$ROOT/tests/artifacts/e2e"
    mkdir -p "$ROOT/tests/artifacts/e2e"
    cp -r "$WORK"/*.log "$WORK"/envs "$WORK"/site "$WORK"/inventory.yml "$ROOT/tests/artifacts/e2e/" 2>/dev/null
    for d in "${DAEMONS[@]}"; do cp "$WORK/$d/dockerd.log" "$ROOT/tests/artifacts/e2e/dockerd-$d.log" 2>/dev/null; done
    log "logs kept in tests/artifacts/e2e"
  fi
  if [ "${E2E_KEEP:-0}" = 1 ]; then log "work folder kept: $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# --- Docker daemons: one per inventory host that has containers --------------
cat >"$WORK/daemon.json" <<'EOF'
{"storage-driver": "vfs", "iptables": false, "ip6tables": false, "bridge": "none", "ip-forward": false, "ip-masq": false}
EOF
for d in "${DAEMONS[@]}"; do
  mkdir -p "$WORK/$d"
  dockerd --config-file "$WORK/daemon.json" --data-root "$WORK/$d/data" --exec-root "$WORK/$d/exec" \
    --pidfile "$WORK/$d/docker.pid" -H "unix://$WORK/$d/docker.sock" \
    --containerd-namespace "$TAG-$d" --containerd-plugins-namespace "$TAG-$d-plugins" \
    >"$WORK/$d/dockerd.log" 2>&1 3>&- &
done
on() { local d=$1; shift; DOCKER_HOST="unix://$WORK/$d/docker.sock" docker "$@"; }
for d in "${DAEMONS[@]}"; do
  for _ in $(seq 150); do on "$d" info >/dev/null 2>&1 && break; sleep 0.2; done
  on "$d" info >/dev/null 2>&1 || { tail -20 "$WORK/$d/dockerd.log"; die "dockerd $d did not start"; }
done
log "3 Docker daemons up"

# An image without a registry: busybox-static and one symlink per applet.
R=$WORK/rootfs
mkdir -p "$R/bin" "$R/etc" "$R/tmp" "$R/root"
cp "$(command -v busybox)" "$R/bin/busybox"
for a in $("$R/bin/busybox" --list); do [ -e "$R/bin/$a" ] || ln -s busybox "$R/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$R/etc/passwd"
echo 'root:x:0:' >"$R/etc/group"
tar -C "$R" -cf "$WORK/rootfs.tar" .
IMG=localhost/e2e-busybox:1.0
for d in "${DAEMONS[@]}"; do
  on "$d" import -c 'CMD ["/bin/sh"]' -c 'ENV PATH=/bin' "$WORK/rootfs.tar" "$IMG" >/dev/null
done

# --- containers in every state ------------------------------------------------
run() { local d=$1; shift; on "$d" run -d --network none "$@" >/dev/null; }
# d1 = app-1.alpha: running, exited non-zero, exited 0, unhealthy.
# d2 = api-1.alpha: restarting, created, healthy, paused.
# d3 = app-1.beta: running, exited non-zero, health still starting.
run d2 --name crashloop --restart always "$IMG" sh -c 'exit 1' # first: its back-off must grow
run d1 --name web "$IMG" sleep 100000
# Quotes and a comma in the command: the CSV must keep them in their field.
run d1 --name job_fail "$IMG" sh -c 'echo "a,b"; exit 3'
run d1 --name migrate "$IMG" true
run d1 --name sick --health-cmd false --health-interval 1s --health-retries 1 "$IMG" sleep 100000
on d2 create --network none --name never_started "$IMG" sleep 100000 >/dev/null
run d2 --name api --health-cmd true --health-interval 1s --health-retries 1 "$IMG" sleep 100000
run d2 --name frozen "$IMG" sleep 100000
on d2 pause frozen >/dev/null
run d3 --name web "$IMG" sleep 100000
run d3 --name worker "$IMG" sh -c 'exit 2'
run d3 --name warming --health-cmd true --health-interval 1h --health-start-period 1h "$IMG" sleep 100000

# --- S3 server ------------------------------------------------------------------
MOTO_PORT=$(free_port)
moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$WORK/moto.log" 2>&1 3>&- &
MOTO_PID=$!
export AWS_ACCESS_KEY_ID=e2e-key AWS_SECRET_ACCESS_KEY=e2e-secret AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=$WORK/no-aws-config AWS_SHARED_CREDENTIALS_FILE=$WORK/no-aws-creds
export S3_ENDPOINT=http://127.0.0.1:$MOTO_PORT BUCKET=envdash-e2e
python3 - <<'EOF' || die "moto_server did not start (see moto.log)"
import os, time, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"])
for _ in range(100):
    try:
        s3.create_bucket(Bucket=os.environ["BUCKET"])
        break
    except Exception:  # not listening yet
        time.sleep(0.2)
else:
    raise SystemExit("no bucket")
EOF
log "moto on port $MOTO_PORT, bucket $BUCKET"

# --- wait until every container is in the state it is meant to show ------------
wait_for() { # daemon container go-template expected
  local got=""
  for _ in $(seq 300); do
    got=$(on "$1" inspect -f "$3" "$2" 2>/dev/null) || true
    [ "$got" = "$4" ] && return 0
    sleep 0.2
  done
  die "$2 on $1: $3 is '$got', expected '$4'"
}
wait_for d1 sick '{{.State.Health.Status}}' unhealthy
wait_for d2 api '{{.State.Health.Status}}' healthy
wait_for d1 job_fail '{{.State.Status}}' exited
wait_for d3 worker '{{.State.Status}}' exited
# Docker restarts with a doubling back-off (0.1 s, 0.2 s, ...): right after
# its 8th restart or later the container stays `restarting` for 12.8 s or more,
# long enough for run 1 and the listings after it all to see it so.
wait_for d2 crashloop '{{ge .RestartCount 7}}' true
seen=$(on d2 inspect -f '{{.RestartCount}}' crashloop)
wait_for d2 crashloop "{{.State.Status}} {{gt .RestartCount $seen}}" 'restarting true'
log "containers ready"

# --- inventory: two environments, six hosts --------------------------------------
CLOSED_PORT=$(free_port) # nothing listens there once free_port has returned
NO_DAEMON=unix://$WORK/no-daemon.sock
local_host() { # name daemon-socket
  printf '            %s:\n' "$1"
  printf '              ansible_connection: local\n'
  printf '              ansible_python_interpreter: "{{ ansible_playbook_python }}"\n'
  printf '              dash_docker_env: {DOCKER_HOST: "%s"}\n' "$2"
}
{
  echo "all:"
  echo "  children:"
  echo "    dash_envs:"
  echo "      children:"
  echo "        e2e_alpha:"
  echo "          vars: {dash_env: e2e-alpha}"
  echo "          hosts:"
  local_host app-1.alpha.e2e.test "unix://$WORK/d1/docker.sock"
  local_host api-1.alpha.e2e.test "unix://$WORK/d2/docker.sock"
  echo "            perry-1.alpha.e2e.test: {ansible_connection: ssh, ansible_host: 127.0.0.1, ansible_port: $CLOSED_PORT}"
  echo "        e2e_beta: # no dash_env: the group name names the environment"
  echo "          hosts:"
  local_host app-1.beta.e2e.test "unix://$WORK/d3/docker.sock"
  local_host es-1.beta.e2e.test "$NO_DAEMON"
  local_host rundeck-1.beta.e2e.test "unix://$WORK/d3/docker.sock"
  echo "              dash_docker_ps_extra_args: [--filter, label=e2e-matches-nothing]"
} >"$WORK/inventory.yml"

# An envdash config for the playbook to pass on: `migrate` may exit with code 0.
cat >"$WORK/envdash.toml" <<'EOF'
stale_after = "15m"
allow_exit_zero = ["migrate"]
EOF

# Leftovers of earlier runs that the swap must get rid of.
mkdir -p "$WORK/envs" "$WORK/envs.new"
echo 'host,name,image,state,status' >"$WORK/envs/gone-env.txt"
echo 'half-written' >"$WORK/envs.new/junk.txt"

playbook() {
  ansible-playbook -i "$WORK/inventory.yml" playbooks/cwds-dash.yml \
    -e dash_envdash_bin="$ENVDASH_BIN" -e dash_input_dir="$WORK/envs" -e dash_site_dir="$WORK/site" \
    -e dash_envdash_config="$WORK/envdash.toml" \
    -e dash_bucket="$BUCKET" -e dash_prefix=dash/ -e dash_endpoint_url="$S3_ENDPOINT" -e dash_path_style=true \
    "$@"
}
# --- run 1: the real job ----------------------------------------------------------
# The run's time is fixed (to now, in whole seconds) so that run 2 below can
# render the same input at the same time.
export ENVDASH_NOW
ENVDASH_NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ)
log "run 1: ansible-playbook cwds-dash.yml"
start=$(date +%s.%N)
playbook >"$WORK/run1.log" 2>&1 || { cat "$WORK/run1.log"; die "the playbook failed"; }
log "run 1 took $(python3 -c "print(round($(date +%s.%N) - $start, 1))") s"

# What the engines say, right after the run: the truth to compare with.
mkdir -p "$WORK/truth"
truth() { # host daemon [docker ps filter]
  local ids
  ids=$(on "$2" ps -aq "${@:3}")
  if [ -n "$ids" ]; then on "$2" inspect $ids; else echo '[]'; fi >"$WORK/truth/$1.json"
}
truth app-1.alpha.e2e.test d1
truth api-1.alpha.e2e.test d2
truth app-1.beta.e2e.test d3
truth rundeck-1.beta.e2e.test d3 --filter label=e2e-matches-nothing

# The legacy layout, as the old playbook wrote it: a host line, then
# `docker ps -a --format '{{.Names}},{{.Status}},{{.Image}}'`.
mkdir -p "$WORK/legacy"
legacy() { # host daemon-socket
  echo "$1"
  DOCKER_HOST=$2 docker ps -a --format '{{.Names}},{{.Status}},{{.Image}}' "${@:3}" 2>&1 || true
}
{
  legacy app-1.alpha.e2e.test "unix://$WORK/d1/docker.sock"
  legacy api-1.alpha.e2e.test "unix://$WORK/d2/docker.sock"
} >"$WORK/legacy/e2e-alpha.txt"
{
  legacy app-1.beta.e2e.test "unix://$WORK/d3/docker.sock"
  legacy es-1.beta.e2e.test "$NO_DAEMON"
  legacy rundeck-1.beta.e2e.test "unix://$WORK/d3/docker.sock" --filter label=e2e-matches-nothing
} >"$WORK/legacy/e2e_beta.txt"
"$ENVDASH_BIN" render --config "$WORK/envdash.toml" --input "$WORK/legacy" --out "$WORK/site-legacy" >"$WORK/legacy.log" 2>&1 \
  || { cat "$WORK/legacy.log"; die "envdash render failed on the legacy files"; }

# --- run 2: publish only, nothing changed: must report ok, not changed ----------
# The same files rendered at the same time into a fresh folder give the same
# site byte for byte (a run into the old folder would add to its history), so
# envdash finds every object already in the bucket.
cp -r "$WORK/envs" "$WORK/envs-after-run1"
log "run 2: ansible-playbook --tags publish (nothing new)"
playbook --tags publish -e dash_site_dir="$WORK/site-again" >"$WORK/run2.log" 2>&1 \
  || { cat "$WORK/run2.log"; die "the publish-only run failed"; }

# --- run 3: a run that fails before its files are complete ------------------------
log "run 3: a failing run (no environment group)"
set +e
playbook -e dash_group=no_such_group >"$WORK/run3.log" 2>&1
echo $? >"$WORK/run3.rc"
set -e

log "checking"
python3 tests/e2e/check.py "$WORK"
