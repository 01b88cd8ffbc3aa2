#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, for the tests of the SLURM executor and for a
# developer who wants to try it: this machine is the controller and the only compute node.
#
#   test/cluster/slurm.sh start    start munged, slurmctld and slurmd; return once the node is idle
#   test/cluster/slurm.sh stop     stop the daemons this script started, and nothing else
#   test/cluster/slurm.sh status   say what runs; exit 0 when the node answers, 3 when it does not
#   test/cluster/slurm.sh env      print the `export SLURM_CONF=...` line for clients (sbatch, squeue)
#
# Everything lives in one state folder ($DISTILLERY_SLURM_DIR, default /tmp/distillery-slurm):
# slurm.conf, the munge key and socket, the daemons' pid files, spool and state folders, and their
# logs. The cluster talks through its own munge socket and its own ports, so a munged or a SLURM
# already on the machine is neither used nor disturbed. Clients find the cluster through
# SLURM_CONF; when the machine has no /etc/slurm/slurm.conf of its own, `start` links it to ours (so
# a plain `sbatch` works in any shell) and `stop` removes that link again.
#
# No accounting: slurmdbd needs a MySQL/MariaDB server, which is not trivially available, so `sacct`
# answers that accounting is disabled; finished jobs stay visible to `squeue --states=all` for
# MinJobAge seconds.
#
# Needs root (slurmd launches jobs as their users) and Debian's slurm-wlm and munge packages. No
# systemd: the daemons are started directly.
#
# Environment: DISTILLERY_SLURM_DIR (state folder), DISTILLERY_SLURM_PORT (slurmctld port, default
# 6917; slurmd takes the next one), DISTILLERY_SLURM_TIMEOUT (seconds to wait for the node, 60),
# DISTILLERY_SLURM_PARTITION (partition name, default "debug").
set -euo pipefail

STATE_DIR="${DISTILLERY_SLURM_DIR:-/tmp/distillery-slurm}"
CONTROLLER_PORT="${DISTILLERY_SLURM_PORT:-6917}"
NODE_PORT="$((CONTROLLER_PORT + 1))"
START_TIMEOUT="${DISTILLERY_SLURM_TIMEOUT:-60}"
PARTITION="${DISTILLERY_SLURM_PARTITION:-debug}"
CONF="$STATE_DIR/slurm.conf"
RUN_DIR="$STATE_DIR/run"
LOG_DIR="$STATE_DIR/log"
MUNGE_DIR="$STATE_DIR/munge"
MUNGE_SOCKET="$MUNGE_DIR/munge.socket"
MUNGE_KEY="$MUNGE_DIR/munge.key"
SYSTEM_CONF=/etc/slurm/slurm.conf
# Records that /etc/slurm/slurm.conf is our link, so `stop` removes only a link it made.
SYSTEM_LINK_MARK="$RUN_DIR/etc-link"
NODE="$(hostname -s)"

say() { printf 'slurm.sh: %s\n' "$*"; }
fail() {
  printf 'slurm.sh: %s\n' "$*" >&2
  exit 1
}

# The pid in a pid file, if that process is alive and is the named daemon (a stale file whose pid
# was reused by another program does not count).
live_pid() {
  local file="$RUN_DIR/$1.pid" name="$1" pid
  [[ -s "$file" ]] || return 1
  pid="$(tr -dc '0-9' <"$file")"
  [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$name" || return 1
  printf '%s\n' "$pid"
}

print_logs() {
  local log
  for log in "$LOG_DIR"/*.log; do
    [[ -f "$log" ]] || continue
    printf '\n----- last lines of %s -----\n' "$log" >&2
    tail -n 40 "$log" >&2
  done
}

require_tools() {
  local tool missing=()
  for tool in munged slurmctld slurmd sinfo scontrol; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  if ((${#missing[@]} > 0)); then
    fail "not installed: ${missing[*]} (install Debian's slurm-wlm and munge: apt-get install slurm-wlm munge)"
  fi
  [[ "$(id -u)" == 0 ]] || fail "must run as root: slurmd starts jobs as their users"
}

# The node line: what slurmd detects on this machine (CPUs, sockets, cores, threads, memory), under
# this machine's short host name; /proc/meminfo when slurmd cannot say.
node_line() {
  local detected memory
  detected="$(slurmd -C 2>/dev/null | head -n 1 || true)"
  if [[ "$detected" == NodeName=* ]]; then
    printf 'NodeName=%s NodeAddr=127.0.0.1 %s State=UNKNOWN\n' "$NODE" "${detected#NodeName=* }"
  else
    memory="$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)"
    printf 'NodeName=%s NodeAddr=127.0.0.1 CPUs=%s RealMemory=%s State=UNKNOWN\n' "$NODE" "$(nproc)" "$memory"
  fi
}

write_conf() {
  local node cpus memory per_cpu
  node="$(node_line)"
  cpus="$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$node")"
  memory="$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<<"$node")"
  # A job that asks for no memory gets an equal share per CPU, so one-CPU jobs run side by side on
  # every core instead of the first taking all the node's memory.
  per_cpu=$((memory / (cpus > 0 ? cpus : 1)))
  cat >"$CONF.new" <<EOF
# Written by test/cluster/slurm.sh: a single-node cluster, this machine as controller and node.
ClusterName=distillery
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CONTROLLER_PORT
SlurmdPort=$NODE_PORT
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$STATE_DIR/controller
SlurmdSpoolDir=$STATE_DIR/spool
SlurmctldPidFile=$RUN_DIR/slurmctld.pid
SlurmdPidFile=$RUN_DIR/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$per_cpu
SchedulerType=sched/backfill
MpiDefault=none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$STATE_DIR/log/jobcomp.txt
ReturnToService=2
# Finished jobs stay visible to squeue this long (there is no accounting to ask afterwards).
MinJobAge=600
# Time between SIGTERM and SIGKILL when a job is cancelled or runs out of time.
KillWait=30
SlurmctldTimeout=30
SlurmdTimeout=60
$node
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
  mv "$CONF.new" "$CONF"
}

start_munge() {
  if live_pid munged >/dev/null; then return; fi
  if [[ ! -s "$MUNGE_KEY" ]]; then
    say "creating the munge key $MUNGE_KEY"
    (umask 077 && dd if=/dev/urandom of="$MUNGE_KEY" bs=1 count=1024 status=none)
  fi
  chmod 0600 "$MUNGE_KEY"
  rm -f "$MUNGE_SOCKET" "$MUNGE_SOCKET.lock"
  # --force: munged refuses sockets below a world-writable folder such as /tmp without it.
  munged --force --socket="$MUNGE_SOCKET" --key-file="$MUNGE_KEY" --pid-file="$RUN_DIR/munged.pid" \
    --log-file="$LOG_DIR/munged.log" --seed-file="$MUNGE_DIR/munged.seed" ||
    {
      print_logs
      fail "munged did not start"
    }
}

start_daemon() {
  local name="$1"
  if live_pid "$name" >/dev/null; then return; fi
  # Without -D each daemon forks into the background and writes the pid file named in slurm.conf.
  "$name" -f "$CONF" || {
    print_logs
    fail "$name did not start"
  }
}

node_state() {
  SLURM_CONF="$CONF" sinfo --noheader --nodes="$NODE" --format=%T 2>/dev/null | head -n 1
}

link_system_conf() {
  if [[ ! -e "$SYSTEM_CONF" && ! -L "$SYSTEM_CONF" && -d "$(dirname "$SYSTEM_CONF")" ]]; then
    ln -s "$CONF" "$SYSTEM_CONF"
    printf '%s\n' "$SYSTEM_CONF" >"$SYSTEM_LINK_MARK"
  fi
}

start() {
  require_tools
  mkdir -p "$STATE_DIR" "$RUN_DIR" "$LOG_DIR" "$MUNGE_DIR" "$STATE_DIR/controller" "$STATE_DIR/spool"
  chmod 0700 "$MUNGE_DIR"
  if live_pid munged >/dev/null && live_pid slurmctld >/dev/null && live_pid slurmd >/dev/null; then
    local state
    state="$(node_state || true)"
    if [[ "$state" =~ ^(idle|mixed|allocated) ]]; then
      say "already running (node $NODE is $state); export SLURM_CONF=$CONF"
      return
    fi
  fi
  # Rewritten only while the controller is down: it reads the file once, at start.
  live_pid slurmctld >/dev/null || write_conf
  start_munge
  start_daemon slurmctld
  start_daemon slurmd
  link_system_conf

  local deadline=$((SECONDS + START_TIMEOUT)) state=""
  while ((SECONDS < deadline)); do
    state="$(node_state || true)"
    case "$state" in
      idle* | mixed* | allocated*)
        say "node $NODE is $state; export SLURM_CONF=$CONF"
        return
        ;;
      down* | drain*)
        # A node that was down when the controller last saved its state stays down until resumed.
        SLURM_CONF="$CONF" scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true
        ;;
    esac
    for name in munged slurmctld slurmd; do
      if ! live_pid "$name" >/dev/null; then
        print_logs
        fail "$name exited while the cluster was starting"
      fi
    done
    sleep 0.5
  done
  SLURM_CONF="$CONF" sinfo -N -l >&2 || true
  print_logs
  fail "node $NODE was not idle after ${START_TIMEOUT}s (last state: ${state:-no answer from slurmctld})"
}

stop_daemon() {
  local name="$1" pid
  pid="$(live_pid "$name")" || {
    rm -f "$RUN_DIR/$name.pid"
    return 0
  }
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    [[ -d "/proc/$pid" ]] || break
    sleep 0.1
  done
  if [[ -d "/proc/$pid" ]]; then
    say "$name ($pid) did not stop after SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$RUN_DIR/$name.pid"
  say "stopped $name ($pid)"
}

stop() {
  [[ -d "$RUN_DIR" ]] || {
    say "nothing to stop in $STATE_DIR"
    return
  }
  stop_daemon slurmd
  stop_daemon slurmctld
  stop_daemon munged
  if [[ -f "$SYSTEM_LINK_MARK" ]]; then
    if [[ -L "$SYSTEM_CONF" && "$(readlink "$SYSTEM_CONF")" == "$CONF" ]]; then rm -f "$SYSTEM_CONF"; fi
    rm -f "$SYSTEM_LINK_MARK"
  fi
}

status() {
  local name pid up=0
  for name in munged slurmctld slurmd; do
    if pid="$(live_pid "$name")"; then say "$name running ($pid)"; else say "$name not running"; fi
  done
  # Without our controller there is nothing to ask (and sinfo would retry for seconds).
  if live_pid slurmctld >/dev/null && SLURM_CONF="$CONF" sinfo 2>/dev/null; then up=1; fi
  if ((up)); then
    say "export SLURM_CONF=$CONF"
    return 0
  fi
  say "the cluster does not answer"
  return 3
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) printf 'export SLURM_CONF=%q\n' "$CONF" ;;
  *)
    printf 'usage: %s start|stop|status|env\n' "$0" >&2
    exit 2
    ;;
esac
