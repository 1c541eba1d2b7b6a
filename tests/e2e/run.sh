#!/usr/bin/env bash
# End-to-end test of the dashboard playbook on real parts: real Docker daemons
# (one per group of hosts), real containers in every state, every host reached
# over real SSH as a non-root user (one through a jump host, one with become,
# one not allowed to use Docker, one that drops every packet), the cwds.envdash
# collection installed from its tarball and its playbook run from there by
# ansible-playbook (the last run through playbooks/cwds-dash.yml, as Jenkins
# runs it), the real envdash, and a local S3-compatible server (moto).
# tests/e2e/check.py then asserts on the published status.json, pages and
# bucket against what the engines said when the playbook asked.
#
#   tests/e2e/run.sh              (after scripts/install-test-deps)
#   E2E_KEEP=1 tests/e2e/run.sh   keep the work folder (daemons are stopped anyway)
#   ENVDASH_BIN=path              use this envdash instead of building target/debug/envdash
#   ENVDASH_COLLECTION=path       install this collection tarball (scripts/test passes the one
#                                 it built) instead of building one from playbooks/collections
#
# Network: the controller (ansible-playbook, envdash, moto) runs in a network
# namespace of its own, where each host's sshd listens on a loopback address;
# the jump host and the host behind it have namespaces of their own, so the
# controller can reach that host only through the jump host; the unreachable
# host's address leads into a link where every packet is dropped.
#
# Needs root (dockerd, namespaces, a test user), dockerd + busybox-static +
# openssh-server + sudo + iproute2 (apt) and .venv with requirements-test.txt.
# Everything it starts or creates is stopped and removed at the end, also when
# a step fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
VENV=${VENV:-$ROOT/.venv}
export PATH="$VENV/bin:$PATH"
export ANSIBLE_CONFIG=$ROOT/playbooks/ansible.cfg
export ANSIBLE_NOCOLOR=1 ANSIBLE_HOST_KEY_CHECKING=false
# When each task started (tests/e2e/callback_plugins/task_times.py), for check.py.
export ANSIBLE_CALLBACK_PLUGINS=$ROOT/tests/e2e/callback_plugins ANSIBLE_CALLBACKS_ENABLED=task_times

# fd 3: the script's own stdout, so that messages of the teardown are seen even
# when a signal arrives while a command's output is redirected.
exec 3>&1
log() { printf '[e2e %s] %s\n' "$(date +%H:%M:%S)" "$*" >&3; }
die() { log "FAILED: $*"; exit 1; }

for tool in dockerd docker busybox ansible-playbook ansible-galaxy moto_server ssh ssh-keygen sudo ip useradd; do
  command -v "$tool" >/dev/null || die "$tool not found: run scripts/install-test-deps first"
done
[ -x /usr/sbin/sshd ] || die "/usr/sbin/sshd not found: run scripts/install-test-deps first"
[ "$(id -u)" = 0 ] || die "needs root to start Docker daemons, sshd and network namespaces"
DOCKER=$(command -v docker)

if [ -z "${ENVDASH_BIN:-}" ]; then
  log "building envdash"
  cargo build --locked --quiet
  ENVDASH_BIN=$ROOT/target/debug/envdash
fi

WORK=$(mktemp -d /tmp/envdash-e2e.XXXXXX)
chmod 755 "$WORK" # the SSH user reads its keys and the docker wrapper here
TAG=e2e$$         # names of this run's namespaces, daemons and groups
DAEMONS=(d1 d2 d3)
NS_CTL=$TAG-ctl NS_JUMP=$TAG-jump NS_FAR=$TAG-far
USER_NAME=envdash-e2e
GROUP_NAME=$TAG-docker
MOTO_PID="" CREATED_USER=""
PIDS=()

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
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  if [ -n "$MOTO_PID" ]; then kill "$MOTO_PID" 2>/dev/null; wait "$MOTO_PID" 2>/dev/null; fi
  for ns in "$NS_CTL" "$NS_JUMP" "$NS_FAR"; do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
    ip netns del "$ns" 2>/dev/null
  done
  # Anything a daemon left mounted under the work folder (network namespaces).
  grep -o " $WORK/[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
  if [ "$rc" != 0 ]; then
    mkdir -p "$ROOT/tests/artifacts"
    rm -rf "$ROOT/tests/artifacts/e2e"
    mkdir -p "$ROOT/tests/artifacts/e2e"
    cp -r "$WORK"/*.log "$WORK"/envs "$WORK"/site "$WORK"/truth "$WORK"/inventory.yml "$WORK"/ssh/*.log \
      "$ROOT/tests/artifacts/e2e/" 2>/dev/null
    for d in "${DAEMONS[@]}"; do cp "$WORK/$d/dockerd.log" "$ROOT/tests/artifacts/e2e/dockerd-$d.log" 2>/dev/null; done
    log "logs kept in tests/artifacts/e2e"
  fi
  rm -f "/etc/sudoers.d/$TAG"
  [ -n "$CREATED_USER" ] && userdel -r "$USER_NAME" >/dev/null 2>&1
  groupdel "$GROUP_NAME" 2>/dev/null
  if [ "${E2E_KEEP:-0}" = 1 ]; then log "work folder kept: $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The collection as users get it: installed from the tarball into a folder of
# its own, the only collections folder Ansible is given. The FQCN playbook is
# found there and nowhere else (collections next to a playbook are searched
# only for playbooks given by path).
if [ -z "${ENVDASH_COLLECTION:-}" ]; then
  log "building the collection"
  ansible-galaxy collection build --output-path "$WORK/dist" playbooks/collections/ansible_collections/cwds/envdash >/dev/null
  ENVDASH_COLLECTION=$(echo "$WORK"/dist/cwds-envdash-*.tar.gz)
fi
export ANSIBLE_COLLECTIONS_PATH=$WORK/collections
ansible-galaxy collection install "$ENVDASH_COLLECTION" -p "$WORK/collections" >"$WORK/collection-install.log" 2>&1 \
  || { cat "$WORK/collection-install.log"; die "cannot install $ENVDASH_COLLECTION"; }
tar -tzf "$ENVDASH_COLLECTION" >"$WORK/collection.files"
ansible-galaxy collection list --format json >"$WORK/collection.json" 2>/dev/null

# --- the SSH user: not root, in a group that may use two of the three daemons ----
groupadd "$GROUP_NAME"
if ! id "$USER_NAME" >/dev/null 2>&1; then
  useradd --create-home --shell /bin/sh "$USER_NAME"
  CREATED_USER=1
fi
# No password (`*`), which is not a locked account: sshd lets a locked one in by
# no means, keys included.
usermod -p '*' -a -G "$GROUP_NAME" "$USER_NAME"
# become: root through sudo without a password, as Ansible's become expects.
echo "$USER_NAME ALL=(ALL) NOPASSWD: ALL" >"$WORK/sudoers"
install -m 0440 "$WORK/sudoers" "/etc/sudoers.d/$TAG"

# --- Docker daemons ----------------------------------------------------------------
# d1 and d2: the group's members may use them. d3: root only (its socket is
# root:root 0660), so the user needs become there, and is refused without it.
cat >"$WORK/daemon.json" <<'EOF'
{"storage-driver": "vfs", "iptables": false, "ip6tables": false, "bridge": "none", "ip-forward": false, "ip-masq": false}
EOF
for d in "${DAEMONS[@]}"; do
  mkdir -p "$WORK/$d"
  group=$GROUP_NAME
  [ "$d" = d3 ] && group=root
  dockerd --config-file "$WORK/daemon.json" --data-root "$WORK/$d/data" --exec-root "$WORK/$d/exec" \
    --pidfile "$WORK/$d/docker.pid" -H "unix://$WORK/$d/docker.sock" --group "$group" \
    --containerd-namespace "$TAG-$d" --containerd-plugins-namespace "$TAG-$d-plugins" \
    >"$WORK/$d/dockerd.log" 2>&1 3>&- &
done
on() { local d=$1; shift; DOCKER_HOST="unix://$WORK/$d/docker.sock" docker "$@"; }
for d in "${DAEMONS[@]}"; do
  for _ in $(seq 150); do on "$d" info >/dev/null 2>&1 && break; sleep 0.2; done
  on "$d" info >/dev/null 2>&1 || { tail -20 "$WORK/$d/dockerd.log"; die "dockerd $d did not start"; }
done
chmod 755 "$WORK"/d1 "$WORK"/d2 "$WORK"/d3
log "3 Docker daemons up"

# A Docker endpoint that accepts and never answers: a daemon that hangs.
python3 - "$WORK/hung.sock" <<'EOF' 3>&- &
import os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
s.listen(64)
held = []
while True:
    held.append(s.accept())
EOF
PIDS+=($!)

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

# --- containers in every state ----------------------------------------------------
run() { local d=$1; shift; on "$d" run -d --network none "$@" >/dev/null; }
# d1 = app-1.alpha: running, exited non-zero after known lines and a secret,
#      exited 0, unhealthy with a health-check message, killed for memory.
# d2 = api-1.alpha: crash-looping, created, healthy, paused.
# d3 = app-1.beta (and rundeck-1.beta, jenkins-1.beta): running, exited, health starting.
run d2 --name crashloop --restart always "$IMG" sh -c 'echo "crashloop: cannot open /data"; exit 1' # first: its count must grow
# Healthy containers print too: that their lines are not gathered is checked.
run d1 --name web "$IMG" sh -c 'echo "web: listening on 8080"; exec sleep 100000'
# Known lines, a comma and quotes in the command (the CSV keeps them in their
# field), and a secret from the environment that must never leave the host.
run d1 --name job_fail -e DB_PASSWORD=hunter2-e2e-secret "$IMG" \
  sh -c 'echo "job: starting, step \"a,b\""; echo "job: DB_PASSWORD=$DB_PASSWORD"; echo "job: giving up"; exit 3'
run d1 --name migrate "$IMG" true
run d1 --name sick --health-cmd 'echo "curl: (7) Failed to connect to localhost port 8080"; false' \
  --health-interval 1s --health-retries 1 "$IMG" sleep 100000
# Doubles a string until the 8 MB limit stops it: the kernel's OOM killer. It
# waits 2 s first: on cgroup v1, containerd starts watching a container's OOM
# events just after the start, and a kill within the first milliseconds is
# missed (exit 137 with OOMKilled false: seen once here on a cold machine).
run d1 --name hog -m 8m --memory-swap 8m "$IMG" sh -c 'echo "hog: filling memory"; sleep 2; x=a; while true; do x=$x$x; done'
on d2 create --network none --name never_started "$IMG" sleep 100000 >/dev/null
run d2 --name api --health-cmd true --health-interval 1s --health-retries 1 "$IMG" \
  sh -c 'echo "api: ready"; exec sleep 100000'
run d2 --name frozen "$IMG" sleep 100000
on d2 pause frozen >/dev/null
run d3 --name web "$IMG" sleep 100000
run d3 --name worker "$IMG" sh -c 'echo "worker: no queue"; exit 2'
run d3 --name warming --health-cmd true --health-interval 1h --health-start-period 1h "$IMG" sleep 100000

# --- network namespaces: controller, jump host, the host behind it ----------------
for ns in "$NS_CTL" "$NS_JUMP" "$NS_FAR"; do
  ip netns add "$ns"
  ip -n "$ns" link set lo up
done
ip link add c2j netns "$NS_CTL" type veth peer name j2c netns "$NS_JUMP"
ip -n "$NS_CTL" addr add 10.66.0.1/24 dev c2j
ip -n "$NS_JUMP" addr add 10.66.0.2/24 dev j2c
ip link add j2f netns "$NS_JUMP" type veth peer name f2j netns "$NS_FAR"
ip -n "$NS_JUMP" addr add 10.77.0.1/24 dev j2f
ip -n "$NS_FAR" addr add 10.77.0.2/24 dev f2j
# Where the unreachable host is: a link whose other end holds no address, and a
# fixed hardware address nobody has, so every packet sent there is dropped
# (a real connection timeout, not a refused port).
ip link add bh0 netns "$NS_CTL" type veth peer name bh1 netns "$NS_JUMP"
ip -n "$NS_CTL" addr add 10.99.0.1/24 dev bh0
ip -n "$NS_CTL" neigh add 10.99.0.2 lladdr 02:00:00:00:99:99 dev bh0 nud permanent
for pair in "$NS_CTL c2j" "$NS_CTL bh0" "$NS_JUMP j2c" "$NS_JUMP j2f" "$NS_JUMP bh1" "$NS_FAR f2j"; do
  set -- $pair
  ip -n "$1" link set "$2" up
done
inctl() { ip netns exec "$NS_CTL" "$@"; }

# --- sshd per host -------------------------------------------------------------------
S=$WORK/ssh
mkdir -p "$S" /run/sshd
chmod 755 "$S"
ssh-keygen -q -t ed25519 -N '' -f "$S/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$S/id" -C "$USER_NAME"
install -m 0644 "$S/id.pub" "$S/authorized_keys"
sshd_for() { # name namespace address
  cat >"$S/$1.conf" <<EOF
ListenAddress $3
HostKey $S/host_key
PidFile $S/$1.pid
AuthorizedKeysFile $S/authorized_keys
AllowUsers $USER_NAME
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
UsePAM no
StrictModes no
LogLevel VERBOSE
AllowTcpForwarding $([ "$1" = jump ] && echo yes || echo no)
Subsystem sftp internal-sftp
EOF
  ip netns exec "$2" /usr/sbin/sshd -D -e -f "$S/$1.conf" -E "$S/$1.log" 3>&- &
  PIDS+=($!)
}
sshd_for app-1.alpha.e2e.test "$NS_CTL" 127.0.0.11
sshd_for jump "$NS_JUMP" 10.66.0.2
sshd_for api-1.alpha.e2e.test "$NS_FAR" 10.77.0.2
sshd_for app-1.beta.e2e.test "$NS_CTL" 127.0.0.13
sshd_for es-1.beta.e2e.test "$NS_CTL" 127.0.0.14
sshd_for rundeck-1.beta.e2e.test "$NS_CTL" 127.0.0.15
sshd_for jenkins-1.beta.e2e.test "$NS_CTL" 127.0.0.16
sshd_for queue-1.beta.e2e.test "$NS_CTL" 127.0.0.17
cat >"$S/config" <<EOF
Host *
  User $USER_NAME
  IdentityFile $S/id
  IdentitiesOnly yes
  UserKnownHostsFile /dev/null
  StrictHostKeyChecking no
  LogLevel ERROR
Host e2e-jump
  HostName 10.66.0.2
EOF
ssh_ok() { inctl ssh -F "$S/config" -o ConnectTimeout=5 -o BatchMode=yes "$@" true 2>/dev/null; }
for target in 127.0.0.11 "-J e2e-jump 10.77.0.2" 127.0.0.13 127.0.0.14 127.0.0.15 127.0.0.16 127.0.0.17; do
  for _ in $(seq 100); do ssh_ok $target && break; sleep 0.1; done
  # shellcheck disable=SC2086
  ssh_ok $target || { cat "$S"/*.log; die "sshd at $target does not let $USER_NAME in"; }
done
log "8 sshd up, the user gets in everywhere"

# The docker the playbook's module calls: the real one, whose answers to `ps`
# and `inspect` are also kept (truth/<host>.ps.json, .inspect.json), so that
# check.py compares what envdash published with what the engine said at the
# moment the playbook asked. Other commands go straight through.
mkdir -p "$WORK/bin" "$WORK/truth"
chmod 1777 "$WORK/truth"
cat >"$WORK/bin/docker" <<EOF
#!/bin/sh
case "\$1" in
  ps|inspect)
    out=\$("$DOCKER" "\$@"); rc=\$?
    printf '%s\n' "\$out" >"\$E2E_TRUTH/\$E2E_HOST.\$1.json"
    printf '%s\n' "\$out"
    exit \$rc ;;
  *) exec "$DOCKER" "\$@" ;;
esac
EOF
chmod 755 "$WORK/bin/docker"

# --- S3 server ------------------------------------------------------------------------
free_port() { inctl python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
MOTO_PORT=$(free_port)
inctl moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$WORK/moto.log" 2>&1 3>&- &
MOTO_PID=$!
export AWS_ACCESS_KEY_ID=e2e-key AWS_SECRET_ACCESS_KEY=e2e-secret AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=$WORK/no-aws-config AWS_SHARED_CREDENTIALS_FILE=$WORK/no-aws-creds
export S3_ENDPOINT=http://127.0.0.1:$MOTO_PORT BUCKET=envdash-e2e
inctl python3 - <<'EOF' || die "moto_server did not start (see moto.log)"
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
wait_for d1 hog '{{.State.Status}} {{.State.OOMKilled}}' 'exited true'
wait_for d3 worker '{{.State.Status}}' exited
# Restarted often enough to be a crash loop by its count. Between restarts it is
# `restarting` or, for a moment, `running`; check.py accepts either phase, as the
# engine reported it at the moment of gathering, and wants a crash loop in both.
wait_for d2 crashloop '{{ge .RestartCount 4}}' true
log "containers ready"

# --- inventory: two environments, nine hosts, all over SSH ---------------------------
TIMEOUT=5      # dash_docker_ps_timeout for this test
SSH_TIMEOUT=10 # playbooks/ansible.cfg [defaults] timeout
NO_DAEMON=unix://$WORK/no-daemon.sock
ssh_host() { # name address daemon-socket [extra host variables as YAML lines]
  local name=$1 address=$2 socket=$3
  shift 3
  printf '            %s:\n' "$name"
  printf '              ansible_host: %s\n' "$address"
  printf '              dash_docker_env: {DOCKER_HOST: "%s", PATH: "%s", E2E_TRUTH: "%s", E2E_HOST: "%s"}\n' \
    "$socket" "$WORK/bin:/usr/bin:/bin" "$WORK/truth" "$name"
  for line in "$@"; do printf '              %s\n' "$line"; done
}
{
  echo "all:"
  echo "  vars:"
  echo "    ansible_user: $USER_NAME"
  echo "    ansible_ssh_private_key_file: $S/id"
  echo "    ansible_ssh_common_args: -F $S/config"
  echo "    ansible_python_interpreter: /usr/bin/python3"
  echo "  children:"
  echo "    dash_envs:"
  echo "      children:"
  echo "        e2e_alpha:"
  echo "          vars: {dash_env: e2e-alpha}"
  echo "          hosts:"
  ssh_host app-1.alpha.e2e.test 127.0.0.11 "unix://$WORK/d1/docker.sock"
  ssh_host api-1.alpha.e2e.test 10.77.0.2 "unix://$WORK/d2/docker.sock" \
    "ansible_ssh_common_args: -F $S/config -o ProxyJump=e2e-jump"
  echo "            perry-1.alpha.e2e.test: {ansible_host: 10.99.0.2}"
  echo "        e2e_beta: # no dash_env: the group name names the environment"
  echo "          hosts:"
  ssh_host app-1.beta.e2e.test 127.0.0.13 "unix://$WORK/d3/docker.sock" "dash_docker_become: true"
  ssh_host es-1.beta.e2e.test 127.0.0.14 "$NO_DAEMON"
  ssh_host rundeck-1.beta.e2e.test 127.0.0.15 "unix://$WORK/d3/docker.sock" "dash_docker_become: true" \
    "dash_docker_ps_extra_args: [--filter, label=e2e-matches-nothing]"
  ssh_host jenkins-1.beta.e2e.test 127.0.0.16 "unix://$WORK/d3/docker.sock"
  ssh_host queue-1.beta.e2e.test 127.0.0.17 "unix://$WORK/hung.sock"
  echo "  hosts:"
  echo "    localhost: {ansible_connection: local, ansible_python_interpreter: \"{{ ansible_playbook_python }}\"}"
} >"$WORK/inventory.yml"

# A webhook receiver on the controller: every POST body becomes hooks/<n>.json.
# It binds a port of the system's choosing and says which in hooks.port.
mkdir -p "$WORK/hooks"
inctl python3 tests/e2e/receiver.py "$WORK/hooks" >"$WORK/receiver.log" 2>&1 3>&- &
PIDS+=($!)
for _ in $(seq 100); do [ -f "$WORK/hooks/hooks.port" ] && break; sleep 0.1; done
[ -f "$WORK/hooks/hooks.port" ] || die "the webhook receiver did not start (receiver.log)"
HOOK_URL=http://127.0.0.1:$(cat "$WORK/hooks/hooks.port")/e2e

# An envdash config for the playbook to pass on: `migrate` may exit with code 0,
# and every change goes to the webhook receiver.
cat >"$WORK/envdash.toml" <<EOF
stale_after = "15m"
allow_exit_zero = ["migrate"]
[[notify]]
kind = "webhook"
url = "$HOOK_URL"
EOF


# Leftovers of earlier runs that the swap must get rid of.
mkdir -p "$WORK/envs" "$WORK/envs.new"
echo 'host,name,image,state,status' >"$WORK/envs/gone-env.txt"
echo 'half-written' >"$WORK/envs.new/junk.txt"

# The installed collection's playbook; run 5 switches to the repository's.
PLAYBOOK=cwds.envdash.cwds_dash
playbook() {
  inctl ansible-playbook -i "$WORK/inventory.yml" "$PLAYBOOK" \
    -e dash_envdash_bin="$ENVDASH_BIN" -e dash_input_dir="$WORK/envs" -e dash_site_dir="$WORK/site" \
    -e dash_envdash_config="$WORK/envdash.toml" -e dash_docker_ps_timeout=$TIMEOUT \
    -e dash_bucket="$BUCKET" -e dash_prefix=dash/ -e dash_endpoint_url="$S3_ENDPOINT" -e dash_path_style=true \
    "$@"
}
# --- run 1: the real job ----------------------------------------------------------
# The run's time is fixed (to now, in whole seconds) so that run 2 below can
# render the same input at the same time.
export ENVDASH_NOW
ENVDASH_NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ)
log "run 1: ansible-playbook $PLAYBOOK (installed from $(basename "$ENVDASH_COLLECTION"))"
start=$(date +%s.%N)
E2E_TASK_TIMES=$WORK/run1.tasks playbook >"$WORK/run1.log" 2>&1 || { cat "$WORK/run1.log"; die "the playbook failed"; }
end=$(date +%s.%N)
# The gathering: from the start of the task that lists the containers to the
# start of the next one (Ansible starts it when every host has answered or
# timed out).
python3 -c '
import sys
times = [line.split(" ", 1) for line in open(sys.argv[1]).read().splitlines()]
i = next(i for i, (_, name) in enumerate(times) if "List every container" in name)
print(round(float(times[i + 1][0]) - float(times[i][0]), 2))
' "$WORK/run1.tasks" >"$WORK/gather.seconds"
echo "$TIMEOUT $SSH_TIMEOUT" >"$WORK/limits"
log "run 1 took $(python3 -c "print(round($end - $start, 1))") s, gathering $(cat "$WORK/gather.seconds") s"
# What run 1 published and what the engines said then, for check.py (later runs
# write over both).
cp -a "$WORK/site" "$WORK/site-run1"
cp -a "$WORK/truth" "$WORK/truth-run1"
hooks_after() { find "$WORK/hooks" -name '[0-9]*.json' | wc -l >"$WORK/hooks-after-$1"; }
hooks_after run1

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
hooks_after run2

# --- run 3: a run that fails before its files are complete ------------------------
log "run 3: a failing run (no environment group)"
set +e
playbook -e dash_group=no_such_group >"$WORK/run3.log" 2>&1
echo $? >"$WORK/run3.rc"
set -e
cp -r "$WORK/envs" "$WORK/envs-after-run3"

# --- runs 4 and 5: a container stops, then starts again ----------------------------
# Two and four minutes after run 1 on the run's clock; each must send exactly one
# webhook, the first naming web as down, the second as recovered.
# The run's clock: that many seconds after run 1, or the real time when that is later.
later() {
  local t=$(( $(date -u -d "$1" +%s) + $2 )) now
  now=$(date -u +%s)
  [ "$now" -gt "$t" ] && t=$now
  date -u -d "@$t" +%Y-%m-%dT%H:%M:%SZ
}
RUN1_NOW=$ENVDASH_NOW
on d1 stop -t 1 web >/dev/null
wait_for d1 web '{{.State.Status}}' exited
ENVDASH_NOW=$(later "$RUN1_NOW" 120)
log "run 4: web stopped"
playbook >"$WORK/run4.log" 2>&1 || { cat "$WORK/run4.log"; die "run 4 failed"; }
hooks_after run4
cp -a "$WORK/site" "$WORK/site-run4"
cp -a "$WORK/truth" "$WORK/truth-run4"
on d1 start web >/dev/null
wait_for d1 web '{{.State.Status}}' running
ENVDASH_NOW=$(later "$RUN1_NOW" 240)
# As Jenkins runs it: the repository's playbook, with the collection beside it.
PLAYBOOK=playbooks/cwds-dash.yml
log "run 5: web started again ($PLAYBOOK)"
playbook >"$WORK/run5.log" 2>&1 || { cat "$WORK/run5.log"; die "run 5 failed"; }
hooks_after run5

# --- what inspect and logs cost: the module alone, per host, with and without ---
log "gathering cost: docker ps -a only, and with inspect and logs"
mkdir -p "$WORK/cost-truth"
for host in app-1.alpha.e2e.test api-1.alpha.e2e.test app-1.beta.e2e.test; do
  inctl ansible-playbook -i "$WORK/inventory.yml" tests/e2e/gather_cost.yml \
    -e cost_hosts="$host" -e cost_truth="$WORK/cost-truth" -e cost_out="$WORK/cost-$host.json" >"$WORK/cost-$host.log" 2>&1 \
    || { cat "$WORK/cost-$host.log"; die "the gathering cost playbook failed on $host"; }
done

# Whether the controller could reach the host behind the jump host directly: it
# must not, or the jump host would prove nothing.
if inctl timeout 5 bash -c 'exec 3<>/dev/tcp/10.77.0.2/22' 2>/dev/null; then echo yes; else echo no; fi >"$WORK/far-direct"

log "checking"
inctl python3 tests/e2e/check.py "$WORK"
