#!/usr/bin/env bash
# Bring up a real single-node SLURM on this machine for the test suite: munge, MariaDB, slurmdbd
# (so sacct works), slurmctld and slurmd, all from Debian's packages (slurm-wlm 22.05).
#
# Runs as root on a machine without systemd: daemons are started directly and stopped by
# slurm/ci/down.sh through their pid files. Idempotent: packages already installed are not
# fetched again and daemons already running are left alone, so a second call takes seconds.
# Exit status is non-zero when any part fails to come up; the daemon logs are printed then.
set -euo pipefail

T0=$(date +%s)
CLUSTER=vaalci
PARTITION=debug
NODE=$(hostname -s)
STATE=/var/lib/vaal-slurm-ci # pid files and logs of this bring-up
LOG=/var/log/slurm
PACKAGES=(munge slurmctld slurmd slurm-client slurmdbd mariadb-server)

log() { echo "[slurm-ci] $*"; }
die() {
	echo "[slurm-ci] error: $*" >&2
	for f in "$LOG"/*.log "$STATE"/*.log; do
		[ -f "$f" ] && { echo "---- $f (last lines)" >&2; tail -n 20 "$f" >&2; }
	done
	exit 1
}
[ "$(id -u)" = 0 ] || die "run as root (it installs packages and starts daemons)"

# running NAME PIDFILE: the pid in PIDFILE is alive and is NAME (not a stale file's reused pid;
# this machine's init may not reap orphans, so a killed daemon can linger as a zombie)
running() {
	local pid
	[ -s "$2" ] || return 1
	pid=$(cat "$2")
	# a killed daemon whose parent never reaps it stays a zombie (state Z): not running
	kill -0 "$pid" 2>/dev/null && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ] &&
		[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]
}
# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND every 0.5 s, bounded
wait_for() {
	local limit=$1 what=$2
	shift 2
	for _ in $(seq $((limit * 2))); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	die "$what did not come up within ${limit}s"
}

# ---------------------------------------------------------------- packages
mkdir -p "$STATE"
missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	log "installing ${missing[*]}"
	# keep the packages' maintainer scripts from starting services (no init system here)
	own_policy=0
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
		own_policy=1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >"$STATE/apt.log" 2>&1 || { cat "$STATE/apt.log" >&2; die "apt-get update failed"; }
	apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$STATE/apt.log" 2>&1 ||
		{ tail -n 30 "$STATE/apt.log" >&2; die "apt-get install failed"; }
	[ $own_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
else
	log "packages already installed"
fi
mkdir -p "$STATE" "$LOG" /var/spool/slurmctld /var/spool/slurmd /run/munge /run/mysqld /etc/slurm

# ---------------------------------------------------------------- munge
if [ ! -s /etc/munge/munge.key ]; then
	mungekey --create --keyfile=/etc/munge/munge.key 2>/dev/null ||
		dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
fi
chown munge:munge /etc/munge/munge.key /run/munge /var/lib/munge /var/log/munge
chmod 0400 /etc/munge/munge.key
chmod 0755 /run/munge
if ! running munged /run/munge/munged.pid; then
	log "starting munged"
	runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
fi
wait_for 20 munge sh -c 'munge -n | unmunge'

# ---------------------------------------------------------------- mariadb (slurmdbd's store)
chown mysql:mysql /run/mysqld
if [ ! -d /var/lib/mysql/mysql ]; then
	log "initialising the MariaDB data directory"
	mariadb-install-db --user=mysql --datadir=/var/lib/mysql >"$STATE/mariadb-install.log" 2>&1 ||
		die "mariadb-install-db failed"
fi
if ! running mariadbd /run/mysqld/mysqld.pid; then
	log "starting mariadbd"
	nohup /usr/sbin/mariadbd --user=mysql --datadir=/var/lib/mysql --socket=/run/mysqld/mysqld.sock \
		--pid-file=/run/mysqld/mysqld.pid --bind-address=127.0.0.1 --skip-networking=0 \
		--innodb-buffer-pool-size=64M --log-error="$STATE/mariadb.log" </dev/null >/dev/null 2>&1 &
fi
wait_for 60 mariadb mariadb-admin --socket=/run/mysqld/mysqld.sock ping
DBPASS_FILE="$STATE/dbpass"
[ -s "$DBPASS_FILE" ] || { head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' >"$DBPASS_FILE"; chmod 600 "$DBPASS_FILE"; }
DBPASS=$(cat "$DBPASS_FILE")
mariadb --socket=/run/mysqld/mysqld.sock <<SQL || die "could not create the accounting database user"
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DBPASS';
ALTER USER 'slurm'@'localhost' IDENTIFIED BY '$DBPASS';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
FLUSH PRIVILEGES;
SQL

# ---------------------------------------------------------------- configuration
CPUS=$(nproc)
MEM_MB=$(awk '/MemTotal/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)
# write_conf FILE MODE: stdin to FILE when it differs; exit status 0 when it changed
write_conf() {
	local new
	new=$(cat)
	[ -f "$1" ] && [ "$(cat "$1")" = "$new" ] && return 1
	printf '%s\n' "$new" >"$1"
	chmod "$2" "$1"
	return 0
}
# stop_daemon NAME PIDFILE: a running daemon whose configuration changed is restarted below
stop_daemon() {
	running "$1" "$2" || return 0
	kill -TERM "$(cat "$2")"
	for _ in $(seq 60); do running "$1" "$2" || break; sleep 0.5; done
	rm -f "$2"
}
write_conf /etc/slurm/slurmdbd.conf 600 <<CONF && stop_daemon slurmdbd /run/slurmdbd.pid
# written by slurm/ci/up.sh
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
SlurmUser=root
PidFile=/run/slurmdbd.pid
LogFile=$LOG/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageLoc=slurm_acct_db
StorageUser=slurm
StoragePass=$DBPASS
CONF

write_conf /etc/slurm/slurm.conf 644 <<CONF && { stop_daemon slurmd /run/slurmd.pid; stop_daemon slurmctld /run/slurmctld.pid; }
# written by slurm/ci/up.sh: one node, this machine, for the test suite
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# a requeued job may start again soon after its requeue (the default, 120 s, slows the tests),
# and the scheduler looks at pending jobs every few seconds
AuthInfo=cred_expire=5
SchedulerParameters=sched_interval=2,bf_interval=2
CryptoType=crypto/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
DefMemPerCPU=512
SchedulerType=sched/backfill
ReturnToService=2
JobRequeue=1
KillWait=5
MinJobAge=600
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF

# ---------------------------------------------------------------- slurm daemons
if ! running slurmdbd /run/slurmdbd.pid; then
	log "starting slurmdbd"
	/usr/sbin/slurmdbd || die "slurmdbd failed to start"
fi
wait_for 60 slurmdbd sacctmgr -n list cluster
sacctmgr -i -Q add cluster "$CLUSTER" >/dev/null 2>&1 || true
if ! running slurmctld /run/slurmctld.pid; then
	log "starting slurmctld"
	/usr/sbin/slurmctld || die "slurmctld failed to start"
fi
wait_for 60 slurmctld scontrol ping
if ! running slurmd /run/slurmd.pid; then
	log "starting slurmd"
	/usr/sbin/slurmd -N "$NODE" || die "slurmd failed to start"
fi
node_ready() { sinfo -h -N -n "$NODE" -o '%t' | grep -Eq '^(idle|mix|alloc)'; }
wait_for 60 "node $NODE" node_ready
sacct -n -X -S now-1minute >/dev/null 2>&1 || die "sacct cannot reach slurmdbd"
log "SLURM up: cluster $CLUSTER, node $NODE ($CPUS CPUs, ${MEM_MB} MB), partition $PARTITION"
log "bring-up time: $(($(date +%s) - T0)) s"
