#!/usr/bin/env bash
# Records what this machine's SLURM prints, for the parser tests that run where SLURM is not
# installed (test/unit/slurm-parsers.test.ts): `squeue --json --states=all`, `sacct --completion
# --parsable2`, `sinfo` and `scontrol show config`, with jobs in every state a task's job can be in,
# and `squeue --json` of a controller that does not answer. Outputs are kept byte for byte (as
# .txt, so no formatter touches them).
#
#   test/cluster/slurm.sh stop; rm -rf /tmp/distillery-slurm/controller  # so the record holds only its jobs
#   test/cluster/slurm.sh start && test/cluster/capture-fixtures.sh
#
# Takes about two minutes (one job waits for its one-minute time limit). Writes
# test/cluster/fixtures/*-<version>.*; the jobs it submits are named fixture-<state>.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
eval "$("$here/slurm.sh" env)"
version="$(sbatch --version | awk '{ print $2 }')"
out="$here/fixtures"
mkdir -p "$out"
work="$(mktemp -d /tmp/distillery-fixtures-XXXXXX)"
cd "$work"

submit() {
  local name="$1"
  shift
  sbatch --parsable --job-name="fixture-$name" --output="$work/%x-%j.out" "$@"
}

state_of() { squeue --noheader --states=all --jobs="$1" --format=%T 2>/dev/null | head -n 1; }

wait_state() {
  local job="$1" want="$2" deadline=$((SECONDS + 180))
  until [[ "$(state_of "$job")" =~ ^($want)$ ]]; do
    ((SECONDS < deadline)) || {
      echo "job $job never reached $want (it is $(state_of "$job"))" >&2
      exit 1
    }
    sleep 0.2
  done
}

timeout_job="$(submit timeout --time=1 --wrap 'sleep 600')"
wait_state "$timeout_job" RUNNING

completed="$(submit completed --wrap 'echo done')"
wait_state "$completed" COMPLETED
failed="$(submit failed --wrap 'exit 3')"
wait_state "$failed" FAILED

cancelled="$(submit cancelled --wrap 'sleep 600')"
wait_state "$cancelled" RUNNING
scancel "$cancelled"
wait_state "$cancelled" CANCELLED

killed="$(submit killed --wrap 'sleep 600')"
wait_state "$killed" RUNNING
scancel --signal=KILL "$killed"
wait_state "$killed" 'FAILED|CANCELLED|COMPLETED'

requeued="$(submit requeued --requeue --wrap 'sleep 600')"
wait_state "$requeued" RUNNING
scontrol requeue "$requeued"
wait_state "$requeued" PENDING
# Keeps the requeued job pending when its begin time passes, so the record shows it as it was.
scontrol hold "$requeued"

running="$(submit running --wrap 'sleep 600')"
wait_state "$running" RUNNING
held="$(submit held --hold --wrap 'true')"
wait_state "$held" PENDING

wait_state "$timeout_job" TIMEOUT
# Both cores busy again, so the next job waits for resources.
filler="$(submit filler --wrap 'sleep 600')"
wait_state "$filler" RUNNING
pending="$(submit pending --wrap 'true')"
deadline=$((SECONDS + 60))
until [[ "$(squeue --noheader --jobs="$pending" --format=%r)" == Resources ]]; do
  ((SECONDS < deadline)) || {
    echo "job $pending never waited for resources" >&2
    exit 1
  }
  sleep 0.2
done

squeue --json --states=all >"$out/squeue-json-$version.txt"
sacct --completion --parsable2 --noheader \
  --jobs="$completed,$failed,$cancelled,$killed,$timeout_job" \
  --format=JobID,JobName,State,ExitCode,NodeList,Submit,Start,End,Partition >"$out/sacct-completion-$version.txt"
sinfo --noheader --format='%P|%a|%l|%F|%N' >"$out/sinfo-$version.txt"
scontrol show config >"$out/scontrol-config-$version.txt"
# What squeue prints when the controller does not answer: the same configuration, with a
# controller port nothing listens on.
sed 's/^SlurmctldPort=.*/SlurmctldPort=1/' "$SLURM_CONF" >"$work/unreachable.conf"
SLURM_CONF="$work/unreachable.conf" squeue --json >"$out/squeue-json-controller-down-$version.txt" 2>/dev/null || true

scancel "$running" "$filler" "$pending" "$held" "$requeued"
rm -rf "$work"
echo "wrote $out/*-$version.* (jobs $timeout_job..$pending)"
