# Shared helpers of the bench scripts (sourced, not run).
# Everything generated goes to $WORK (default bench/.work, git-ignored).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
WORK=${BENCH_WORK:-$BENCH_DIR/.work}
mkdir -p "$WORK"
# Not NETZPOST_BIN: netzpost reads every NETZPOST_* variable as configuration.
NP=${BENCH_BIN:-${CARGO_TARGET_DIR:-$REPO/target}/release/netzpost}
PG_ADMIN_URL=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# Installs what the benches need, by Debian package name, only when missing.
need_pkgs() {
    local missing=()
    command -v /usr/bin/time >/dev/null 2>&1 || missing+=(time)
    command -v python3 >/dev/null 2>&1 || missing+=(python3)
    for p in "$@"; do
        case $p in
            psql) command -v psql >/dev/null 2>&1 || missing+=(postgresql-client) ;;
            *) missing+=("$p") ;;
        esac
    done
    if ((${#missing[@]})); then
        log "installing ${missing[*]}"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# Release build of netzpost (into $CARGO_TARGET_DIR when set).
build_release() {
    if [[ -z ${BENCH_BIN:-} && ${BENCH_NO_BUILD:-0} != 1 ]]; then
        log "cargo build --release (target dir ${CARGO_TARGET_DIR:-$REPO/target})"
        (cd "$REPO" && cargo build --release --quiet) || die "release build failed"
    fi
    [[ -x $NP ]] || die "no netzpost binary at $NP"
}

# Postfix's smtp-sink and smtp-source, unpacked from Debian's package, nothing installed.
POSTFIX_DIR=$WORK/postfix
fetch_postfix() {
    if [[ ! -x $POSTFIX_DIR/usr/sbin/smtp-sink ]]; then
        log "fetching postfix (apt-get download + dpkg -x, not installed)"
        (cd "$WORK" && rm -f postfix_*.deb && apt-get download postfix >/dev/null 2>&1 \
            || { apt-get update -qq && apt-get download postfix >/dev/null; }) || die "apt-get download postfix failed"
        dpkg -x "$WORK"/postfix_*.deb "$POSTFIX_DIR"
    fi
    export LD_LIBRARY_PATH=$POSTFIX_DIR/usr/lib/postfix${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    SMTP_SINK=$POSTFIX_DIR/usr/sbin/smtp-sink
    SMTP_SOURCE=$POSTFIX_DIR/usr/sbin/smtp-source
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_sink OUTFILE: starts smtp-sink on a free loopback port; sets SINK_PID and SINK_PORT.
SINK_PID=
start_sink() {
    SINK_PORT=$(free_port)
    local user=()
    [[ $(id -u) == 0 ]] && user=(-u nobody)
    "$SMTP_SINK" "${user[@]}" -c "127.0.0.1:$SINK_PORT" 1000 >"$1" 2>"$1.err" &
    SINK_PID=$!
    for _ in $(seq 50); do
        (exec 3<>"/dev/tcp/127.0.0.1/$SINK_PORT") 2>/dev/null && return 0
        sleep 0.1
    done
    die "smtp-sink did not start: $(cat "$1.err")"
}
# proc_cpu PID: CPU seconds (user + system) the process has used so far.
proc_cpu() {
    awk -v t="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / t }' "/proc/$1/stat" 2>/dev/null || echo 0
}
# stop_sink: stops the sink (not from a subshell: it waits for it); sets SINK_CPU (its CPU
# seconds).
SINK_CPU=0
stop_sink() {
    if [[ -n $SINK_PID ]]; then
        SINK_CPU=$(proc_cpu "$SINK_PID")
        kill "$SINK_PID" 2>/dev/null || true
        wait "$SINK_PID" 2>/dev/null || true
        SINK_PID=
    fi
}
# sink_count OUTFILE: how many messages the sink received (its -c counters).
sink_count() { tr '\r' '\n' <"$1" | sed -n 's/.*mesg=\([0-9]*\).*/\1/p' | sort -n | tail -1 | grep . || echo 0; }

# create_pg_db SUFFIX: a fresh PostgreSQL database; sets PG_URL and PG_NAME and remembers it for
# drop_all_pg_dbs (so call it directly, not in $(...)). drop_pg_db NAME drops one.
PG_DBS=()
create_pg_db() {
    PG_NAME=netzpost_bench_$$_$1
    psql -q -X "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $PG_NAME" -c "CREATE DATABASE $PG_NAME" >/dev/null 2>&1 \
        || die "cannot create database $PG_NAME at $PG_ADMIN_URL"
    PG_DBS+=("$PG_NAME")
    PG_URL=${PG_ADMIN_URL%/*}/$PG_NAME
}
drop_pg_db() {
    psql -q -X "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null 2>&1 || true
}
drop_all_pg_dbs() { for d in "${PG_DBS[@]:-}"; do [[ -n $d ]] && drop_pg_db "$d"; done; PG_DBS=(); }

# CPU seconds (user+sys) of all PostgreSQL server processes on this machine, for deltas
# (read a moment after the client exited, so its backends are reaped).
pg_cpu_seconds() {
    python3 - <<'PY'
import os
hz = os.sysconf("SC_CLK_TCK"); t = 0
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        s = open(f"/proc/{pid}/stat").read()
    except OSError:
        continue
    comm = s[s.index("(")+1:s.rindex(")")]
    if comm.startswith("postgres") or comm.startswith("postmaster"):
        f = s[s.rindex(")")+2:].split()
        # own time + reaped children (the postmaster collects its finished backends)
        t += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
print(f"{t/hz:.2f}")
PY
}

# time_field FILE NAME: a field of /usr/bin/time -v output.
time_field() { sed -n "s/^\s*$2: //p" "$1" | head -1; }
# wall seconds from "Elapsed (wall clock) time (h:mm:ss or m:ss): 1:02.03"
time_wall() {
    sed -n 's/^\s*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$1" |
        awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }'
}
time_cpu() { awk -v u="$(time_field "$1" 'User time (seconds)')" -v s="$(time_field "$1" 'System time (seconds)')" 'BEGIN{printf "%.2f", u+s}'; }
time_rss_mb() { awk -v k="$(time_field "$1" 'Maximum resident set size (kbytes)')" 'BEGIN{printf "%.1f", k/1024}'; }

# gen_contacts N FILE: a CSV of N distinct contacts (cached per N).
gen_contacts() {
    [[ -s $2 ]] && return 0
    python3 - "$1" "$2" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
first = ["Anna", "Jonas", "Leyla", "Mehmet", "Sophie", "Lukas", "Emma", "Paul", "Mia", "Elias"]
last = ["Schmidt", "Yilmaz", "Müller", "Nowak", "Weber", "Becker", "Hoffmann", "Klein"]
orgs = ["", "Nachbarschaftsverein Nordstadt", "Stadtteilbüro", "Kita Sonnenblume", "Jugendtreff"]
with open(path + ".tmp", "w", encoding="utf-8") as f:
    f.write("email,name,organisation,language\n")
    for i in range(n):
        f.write(f"kontakt{i}@nachbar{i % 97}.example,{first[i % 10]} {last[i % 8]} {i},{orgs[i % 5]},{'de' if i % 4 else 'en'}\n")
import os; os.replace(path + ".tmp", path)
PY
}

# new_workspace DIR: `netzpost init` plus a topic.
new_workspace() {
    rm -rf "$1"
    "$NP" init "$1" >/dev/null
    (cd "$1" && "$NP" topics add bench --title "Bench Nachbarschaft" >/dev/null)
}
