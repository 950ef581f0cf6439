#!/usr/bin/env bash
# A one-node Slurm cluster on this machine for the tests (as .ci/postgres.sh is a PostgreSQL
# server): munge, slurmctld and slurmd from Debian (installed if missing), started without
# systemd, with a generated slurm.conf: one node (this machine, its CPUs), one partition `kit`,
# no accounting (no slurmdbd: `sacct` does not work, `scontrol show job` does), no cgroups.
#
#   eval "$(.ci/slurm.sh start)"     # exports KIT_TEST_SLURM_DIR (config, state, logs) and SLURM_CONF
#   .ci/slurm.sh stop [DIR]          # stops the daemons and deletes DIR (default: $KIT_TEST_SLURM_DIR)
#   .ci/slurm.sh run CMD [ARGS...]   # start, run CMD with the variables exported, stop; CMD's code
#
# Root only (slurmd starts jobs as their users). Debian bookworm ships Slurm 22.05, whose slurmd
# always loads a cgroup plugin: cgroup.conf names cgroup/v1, whose start touches no cgroup, and
# no other plugin here uses cgroups (proctrack/linuxproc, task/none). Messages go to stderr.
set -euo pipefail

log() { echo "slurm.sh: $*" >&2; }

install_slurm() {
    local missing=()
    command -v slurmctld >/dev/null || missing+=(slurmctld)
    command -v slurmd >/dev/null || missing+=(slurmd)
    command -v sbatch >/dev/null || missing+=(slurm-client)
    command -v munged >/dev/null || missing+=(munge)
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing ${missing[*]} from Debian"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

start_munge() {
    local dir=$1
    if [ ! -s /etc/munge/munge.key ]; then
        mungekey --create >&2
        chown munge:munge /etc/munge/munge.key
        chmod 0400 /etc/munge/munge.key
    fi
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    chmod 0755 /run/munge
    if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        runuser -u munge -- /usr/sbin/munged >&2
        for _ in $(seq 50); do
            if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
                pgrep -x -n munged >"$dir/munged.pid"  # ours: `stop` ends it
                return 0
            fi
            sleep 0.1
        done
        log "munged did not start"
        exit 1
    fi
}

write_config() {
    local dir=$1 host cpus memory
    host=$(hostname -s)
    cpus=$(nproc)
    memory=$(awk '/^MemTotal:/ { print int($2 / 1024) - 512 }' /proc/meminfo)  # MB, jobs ask with --mem
    cat >"$dir/slurm.conf" <<EOF
# written by .ci/slurm.sh: one node, no accounting, no cgroups
ClusterName=kit
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
# a requeued job may start again after cred_expire + 1 s (default 120 s)
AuthInfo=cred_expire=5
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldPort=$((6800 + RANDOM % 800))
SlurmdPort=$((7600 + RANDOM % 800))
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.log
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
JobRequeue=1
MinJobAge=3600
SlurmdParameters=config_overrides
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=kit Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    cat >"$dir/cgroup.conf" <<EOF
CgroupPlugin=cgroup/v1
ConstrainCores=no
ConstrainRAMSpace=no
EOF
}

start() {
    [ "$(id -u)" = 0 ] || { log "needs root"; exit 1; }
    install_slurm
    local dir host
    dir=$(mktemp -d /var/tmp/kit-slurm.XXXXXX)
    chmod 755 "$dir"
    start_munge "$dir"
    mkdir -p "$dir/state" "$dir/spool"
    write_config "$dir"
    host=$(hostname -s)
    export SLURM_CONF="$dir/slurm.conf"
    slurmctld -c -f "$SLURM_CONF" >&2 || { cat "$dir/slurmctld.log" >&2; exit 1; }
    slurmd -c -f "$SLURM_CONF" -N "$host" >&2 || { cat "$dir/slurmd.log" >&2; exit 1; }
    for _ in $(seq 150); do
        if [ "$(sinfo -h -n "$host" -o %T 2>/dev/null)" = idle ]; then
            log "one-node cluster up: node $host, partition kit, config $SLURM_CONF"
            echo "export KIT_TEST_SLURM_DIR='$dir' SLURM_CONF='$SLURM_CONF'"
            return 0
        fi
        scontrol update NodeName="$host" State=RESUME >/dev/null 2>&1 || true
        sleep 0.2
    done
    log "the node did not become idle:"
    sinfo >&2 || true
    tail -n 20 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
    stop "$dir"
    exit 1
}

stop() {
    local dir=${1:-${KIT_TEST_SLURM_DIR:-}}
    [ -n "$dir" ] && [ -d "$dir" ] || { log "no cluster folder to stop"; return 0; }
    SLURM_CONF="$dir/slurm.conf" scontrol shutdown >/dev/null 2>&1 || true
    local pid
    for pidfile in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munged.pid"; do
        pid=$(cat "$pidfile" 2>/dev/null || true)
        [ -n "$pid" ] || continue
        [ "$pidfile" = "$dir/munged.pid" ] && kill "$pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
    rm -rf "$dir"
    log "stopped"
}

case "${1:-}" in
    start) start ;;
    stop) stop "${2:-}" ;;
    run)
        shift
        eval "$(start)"
        trap 'stop "$KIT_TEST_SLURM_DIR"' EXIT
        set +e
        "$@"
        code=$?
        exit $code
        ;;
    *)
        echo "usage: .ci/slurm.sh start | stop [DIR] | run CMD [ARGS...]" >&2
        exit 2
        ;;
esac
