#!/usr/bin/env bash
# A real single-node SLURM cluster for the tests (Debian/Ubuntu packages; root only).
#
#   tests/slurm/cluster.sh install        apt-get install munge slurmctld slurmd slurm-client (~1 min)
#   tests/slurm/cluster.sh start [DIR]    write DIR/slurm.conf + gres.conf, start munged, slurmctld,
#                                         slurmd; wait until the node is idle; prints export SLURM_CONF=...
#   tests/slurm/cluster.sh stop [DIR]     stop the three daemons by their pid files in DIR
#
# DIR (default $PEAPOD_SLURM_DIR or $TMPDIR/peapod-slurm, TMPDIR defaulting to /tmp) holds the config, state, logs and pid files.
# /etc/slurm/slurm.conf and gres.conf become links to DIR's (removed again by stop): the executor's
# job step (snakemake-executor-plugin-slurm-jobstep) strips SLURM_* variables, SLURM_CONF included,
# before its inner srun, so the config must sit where the SLURM tools look by default. An
# /etc/slurm/slurm.conf that this script did not write is never replaced: start refuses instead.
# The node is this machine: its real CPU count, RealMemory 2 GiB below its memory, one stand-in GPU
# GRES (File=/dev/null) so that `--gpus=1` requests of GPU rules can be scheduled. No accounting
# (sacct does not work: use the executor's `slurm-status-command: squeue`).
set -euo pipefail

cmd=${1:?usage: cluster.sh install|start|stop [DIR]}
DIR=$(realpath -m "${2:-${PEAPOD_SLURM_DIR:-${TMPDIR:-/tmp}/peapod-slurm}}")
CONF=$DIR/slurm.conf

die() { echo "cluster.sh: $*" >&2; exit 1; }

install() {
    [ "$(id -u)" = 0 ] || die "installing SLURM needs root"
    command -v apt-get >/dev/null || die "installing SLURM needs apt-get (Debian/Ubuntu)"
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null \
        && command -v munged >/dev/null; then
        echo "SLURM already installed"; return
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends munge slurmctld slurmd slurm-client >/dev/null
}

ETC=/etc/slurm

# A link left by this script (its target's slurm.conf carries our header), or a dangling link.
ours() {
    [ -L "$1" ] || return 1
    [ -e "$1" ] || return 0
    grep -q "^# Written by tests/slurm/cluster.sh" "$(dirname "$(readlink -f "$1")")/slurm.conf" 2>/dev/null
}

link_etc() {
    mkdir -p "$ETC"
    local name
    for name in slurm.conf gres.conf; do
        if [ -e "$ETC/$name" ] && ! ours "$ETC/$name"; then
            die "$ETC/$name exists and was not written by this script; not replacing a real SLURM config"
        fi
        ln -sfn "$DIR/$name" "$ETC/$name"
    done
}

unlink_etc() {
    local name
    for name in slurm.conf gres.conf; do
        if [ -L "$ETC/$name" ] && [ "$(readlink "$ETC/$name")" = "$DIR/$name" ]; then rm -f "$ETC/$name"; fi
    done
}

write_config() {
    local host cpus mem_mib
    host=$(hostname -s)
    cpus=$(nproc --all)
    mem_mib=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 - 2048 ))
    mkdir -p "$DIR/state" "$DIR/spool" "$DIR/munge"
    cat >"$CONF" <<CONF
# Written by tests/slurm/cluster.sh: a one-node test cluster.
ClusterName=peapod-test
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$DIR/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
EnforcePartLimits=ALL
# Keep every finished job's record for 18 hours: the tests read final states after runs that may
# take longer than the default 300 s purge. Not 0 ("never purge"): snakemake-executor-plugin-slurm
# reads a MinJobAge under 30 s as "squeue forgets jobs" and switches to sacct, which this cluster
# has no accounting for, and the workflow then waits forever.
MinJobAge=65000
ReturnToService=2
MpiDefault=none
KillWait=5
GresTypes=gpu
NodeName=$host CPUs=$cpus RealMemory=$mem_mib Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
    # A stand-in GPU: lets --gpus=1 be scheduled on a machine without one.
    echo "NodeName=$host Name=gpu File=/dev/null" >"$DIR/gres.conf"
}

start_munge() {
    local key=/etc/munge/munge.key
    if [ ! -s "$key" ]; then
        if command -v mungekey >/dev/null; then mungekey --create --keyfile="$key"; else
            dd if=/dev/urandom bs=1 count=1024 of="$key" 2>/dev/null; fi
        chown munge:munge "$key"; chmod 400 "$key"
    fi
    chown munge:munge "$DIR/munge"
    runuser -u munge -- munged --socket="$DIR/munge/munge.socket" --pid-file="$DIR/munge/munged.pid" \
        --log-file="$DIR/munge/munged.log" --seed-file="$DIR/munge/munged.seed"
}

wait_idle() {
    local state=""
    for _ in $(seq 1 120); do
        state=$(sinfo -h -o %t 2>/dev/null | head -1 || true)
        case "$state" in
            idle) echo "SLURM node idle"; return ;;
            down*|drain*) scontrol update nodename="$(hostname -s)" state=resume 2>/dev/null || true ;;
        esac
        sleep 1
    done
    die "the node did not become idle (last state '$state'); see $DIR/slurmctld.log and $DIR/slurmd.log"
}

start() {
    [ "$(id -u)" = 0 ] || die "starting the test cluster needs root"
    command -v slurmctld >/dev/null || die "SLURM is not installed: run $0 install (as root)"
    stop >/dev/null 2>&1 || true
    if pgrep -x slurmctld >/dev/null || pgrep -x slurmd >/dev/null; then
        die "slurmctld or slurmd is already running (another cluster?); stop it first"
    fi
    write_config
    link_etc
    export SLURM_CONF=$CONF
    start_munge
    slurmctld -c -f "$CONF"
    slurmd -f "$CONF"
    local pidfile
    for pidfile in "$DIR/munge/munged.pid" "$DIR/slurmctld.pid" "$DIR/slurmd.pid"; do
        for _ in $(seq 1 50); do [ -s "$pidfile" ] && break; sleep 0.1; done
        [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null || die "a daemon did not start ($pidfile); logs in $DIR"
    done
    wait_idle
    echo "export SLURM_CONF=$CONF"
}

stop_pidfile() {
    local pidfile=$1 pid
    [ -s "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    if kill "$pid" 2>/dev/null; then
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

stop() {
    stop_pidfile "$DIR/slurmd.pid"
    stop_pidfile "$DIR/slurmctld.pid"
    stop_pidfile "$DIR/munge/munged.pid"
    unlink_etc
    echo "SLURM test cluster stopped"
}

case "$cmd" in
    install) install ;;
    start) start ;;
    stop) stop ;;
    *) die "unknown command $cmd (install, start or stop)" ;;
esac
