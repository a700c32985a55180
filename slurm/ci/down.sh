#!/usr/bin/env bash
# Stop what slurm/ci/up.sh started, newest first, each by its pid file; packages stay installed.
# Safe to run when nothing is up.
set -uo pipefail

# alive NAME PID: PID is a live NAME (a zombie, left by an init that does not reap, is not)
alive() {
	kill -0 "$2" 2>/dev/null && [ "$(cat "/proc/$2/comm" 2>/dev/null)" = "$1" ] &&
		[ "$(awk '{print $3}' "/proc/$2/stat" 2>/dev/null)" != Z ]
}

stop() { # stop NAME PIDFILE: SIGTERM, then wait up to 30 s, then SIGKILL
	local name=$1 pidfile=$2 pid
	[ -s "$pidfile" ] || return 0
	pid=$(cat "$pidfile")
	if alive "$name" "$pid"; then
		echo "[slurm-ci] stopping $name (pid $pid)"
		kill -TERM "$pid" 2>/dev/null
		for _ in $(seq 60); do alive "$name" "$pid" || break; sleep 0.5; done
		alive "$name" "$pid" && { echo "[slurm-ci] $name ignored SIGTERM; killing"; kill -KILL "$pid"; }
	fi
	rm -f "$pidfile"
}

stop slurmd /run/slurmd.pid
stop slurmctld /run/slurmctld.pid
stop slurmdbd /run/slurmdbd.pid
stop mariadbd /run/mysqld/mysqld.pid
stop munged /run/munge/munged.pid
exit 0
