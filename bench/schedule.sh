#!/usr/bin/env bash
# Throughput under a real schedule: a newsletter to N contacts started by the scheduler in
# `netzpost serve` (`campaigns create --send-at`), while replies arrive in the maildir at RATE
# messages per second; compared in the same run with the CLI path (`campaigns send --wait`, no
# inbound) into the same kind of sink.
#
#   bench/schedule.sh                        # N=100000, RATE=50, SQLite and PostgreSQL
#   N=20000 DBS=sqlite bench/schedule.sh     # a quick one
#
# Reports per database: the CLI path's msg/s, serve's msg/s (first to last message at the
# sink), their ratio, and the inbound latency (the file written into new/ -> `processed_at` in
# `inbound_messages`, the commit that applied it) at the 50th and 99th percentile.
# Environment: N (100000), RATE (50), SIZE (5120, target message bytes), DBS ("sqlite
# postgres"), SESSIONS (10), SEND_TIMEOUT (1800), CARGO_TARGET_DIR or BENCH_BIN, BENCH_PG_URL.
source "$(dirname "$0")/lib.sh"

N=${N:-100000}
RATE=${RATE:-50}
SIZE=${SIZE:-5120}
DBS=${DBS-sqlite postgres}
SESSIONS=${SESSIONS:-10}
SEND_TIMEOUT=${SEND_TIMEOUT:-1800}

need_pkgs psql
build_release
fetch_postfix

RUN=$WORK/schedule-$(date +%Y%m%d-%H%M%S)
mkdir -p "$RUN"
RESULTS=$RUN/results.tsv
printf 'db\tN\tcli_msg_per_s\tserve_msg_per_s\tratio\tinbound\tlatency_p50_s\tlatency_p99_s\tlatency_max_s\tserve_rss_mb\tload_before\tload_after\n' >"$RESULTS"

SERVE_PID= FEED_PID=
cleanup() {
    [[ -n $FEED_PID ]] && kill "$FEED_PID" 2>/dev/null
    [[ -n $SERVE_PID ]] && kill "$SERVE_PID" 2>/dev/null
    [[ -n ${SINK_PID:-} ]] && kill "$SINK_PID" 2>/dev/null
    drop_all_pg_dbs
}
trap cleanup EXIT
trap 'exit 130' INT TERM

BODY=$RUN/body.txt
python3 - "$SIZE" >"$BODY" <<'PY'
import sys
n = max(int(sys.argv[1]) - 3000, 200)
s = ("Liebe Nachbarinnen und Nachbarn, im Stadtteil ist viel los: das Nachbarschaftscafe "
     "oeffnet wieder jeden Donnerstag, die Kita sucht Vorlesepaten. ")
t = (s * (n // len(s) + 1))[:n]
print("\n\n".join(t[i:i + 600].strip() for i in range(0, len(t), 600)))
PY

# Waits until the sink has counted $1 messages; prints the time of the first one seen and of the
# last (epoch seconds).
wait_sink() {
    local want=$1 out=$2 t_first= got=0 deadline=$((SECONDS + SEND_TIMEOUT))
    while ((SECONDS < deadline)); do
        got=$(sink_count "$out")
        [[ -z $t_first && $got -gt 0 ]] && t_first=$(date +%s.%N)
        ((got >= want)) && break
        sleep 0.05
    done
    echo "$t_first $(date +%s.%N) $got"
}

send_env() {
    export NETZPOST_OUTBOUND__TRANSPORT=smtp NETZPOST_OUTBOUND__SMTP__HOST=127.0.0.1 \
        NETZPOST_OUTBOUND__SMTP__PORT=$SINK_PORT NETZPOST_OUTBOUND__SMTP__TLS=none \
        NETZPOST_OUTBOUND__SMTP__POOL_SIZE=$SESSIONS NETZPOST_OUTBOUND__MAX_MESSAGES_PER_30_DAYS=10000000
}

for db in $DBS; do
    csv=$WORK/contacts-$N.csv
    gen_contacts "$N" "$csv"
    # 1. The CLI path, no inbound.
    if [[ $db == postgres ]]; then
        create_pg_db "cli_$N"; export NETZPOST_DATABASE=$PG_URL; cli_db=$PG_NAME
    else
        unset NETZPOST_DATABASE; cli_db=
    fi
    ws=$RUN/ws-cli-$db
    new_workspace "$ws"
    cd "$ws"
    "$NP" contacts import "$csv" --topic bench --consent confirmed >/dev/null
    "$NP" campaigns create bench --kind newsletter --topic bench --subject "Neues aus dem Stadtteil" --body-file "$BODY" >/dev/null
    start_sink "$RUN/sink-cli-$db.out"; send_env
    load0=$(loadavg)
    log "== $db: CLI path, $N recipients (load $load0)"
    t0=$(date +%s.%N)
    timeout "$SEND_TIMEOUT" "$NP" campaigns send bench --wait >"$RUN/cli-$db.log" 2>&1 || log "WARNING: send failed: $(tail -2 "$RUN/cli-$db.log")"
    t1=$(date +%s.%N)
    stop_sink; got=$(sink_count "$RUN/sink-cli-$db.out")
    cli_rate=$(awk -v n="$got" -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", n/(b-a)}')
    log "CLI: $got messages, $cli_rate msg/s"
    cd "$REPO"; [[ -n $cli_db ]] && drop_pg_db "$cli_db"

    # 2. serve: the scheduler starts the campaign, replies arrive meanwhile.
    if [[ $db == postgres ]]; then
        create_pg_db "serve_$N"; export NETZPOST_DATABASE=$PG_URL; serve_db=$PG_NAME
    else
        unset NETZPOST_DATABASE; serve_db=
    fi
    ws=$RUN/ws-serve-$db
    new_workspace "$ws"
    cd "$ws"
    "$NP" contacts import "$csv" --topic bench --consent confirmed >/dev/null
    start_at=$(date -u -d '+20 seconds' +%Y-%m-%dT%H:%M:%SZ)
    "$NP" campaigns create bench --kind newsletter --topic bench --subject "Neues aus dem Stadtteil" \
        --body-file "$BODY" --send-at "$start_at" >/dev/null
    start_sink "$RUN/sink-serve-$db.out"; send_env
    export NETZPOST_INBOUND__POLL_SECS=1 NETZPOST_HTTP__LISTEN=127.0.0.1:$(free_port)
    mkdir -p var/inbox/new var/inbox/tmp var/inbox/cur
    /usr/bin/time -v -o "$RUN/serve-$db.time" "$NP" serve >"$RUN/serve-$db.log" 2>&1 &
    SERVE_PID=$!
    for _ in $(seq 300); do grep -q "netzpost started" "$RUN/serve-$db.log" && break; sleep 0.1; done
    # Replies from the contacts at RATE per second, each with its own Message-ID, written to
    # tmp/ and renamed into new/ (as an MTA delivers); the time of each rename is logged.
    python3 - "$ws/var/inbox" "$RATE" "$N" "$RUN/feed-$db.tsv" <<'PY' &
import os, sys, time
box, rate, n, log = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
i = 0
start = time.time()
with open(log, "w") as out:
    while True:
        i += 1
        c = (i * 7919) % n
        mid = f"<feed{i}.{os.getpid()}@nachbar.example>"
        msg = (f"From: Kontakt {c} <kontakt{c}@nachbar{c % 97}.example>\r\n"
               f"To: info@netzpost.example\r\nSubject: Re: Neues aus dem Stadtteil\r\n"
               f"Message-ID: {mid}\r\nDate: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())}\r\n"
               f"Content-Type: text/plain; charset=utf-8\r\n\r\n"
               f"Danke fuer die Nachricht, wir kommen gerne zum Sommerfest.\r\n")
        name = f"{time.time():.6f}.feed{i}.bench"
        tmp = os.path.join(box, "tmp", name)
        with open(tmp, "w") as f:
            f.write(msg)
        os.rename(tmp, os.path.join(box, "new", name))
        out.write(f"{mid}\t{time.time():.6f}\n")
        out.flush()
        time.sleep(max(0.0, start + i / rate - time.time()))
PY
    FEED_PID=$!
    load0=$(loadavg)
    log "== $db: serve, campaign at $start_at, replies at $RATE/s (load $load0)"
    read -r s_first s_last got < <(wait_sink "$N" "$RUN/sink-serve-$db.out")
    kill "$FEED_PID" 2>/dev/null; wait "$FEED_PID" 2>/dev/null || true; FEED_PID=
    # Let the last replies be applied, then stop serve (SIGTERM: a clean stop).
    sleep 5
    # SIGTERM to netzpost itself (the child of /usr/bin/time, which then writes its figures).
    kill -TERM "$(pgrep -P "$SERVE_PID")" 2>/dev/null || true
    wait "$SERVE_PID" 2>/dev/null || true; SERVE_PID=
    stop_sink
    serve_rate=$(awk -v n="$got" -v a="$s_first" -v b="$s_last" 'BEGIN{printf "%.0f", (b>a) ? n/(b-a) : 0}')
    log "serve: $got messages, $serve_rate msg/s"
    # processed_at per Message-ID, from the store.
    q="SELECT dedup_key, processed_at FROM inbound_messages WHERE processed_at IS NOT NULL"
    if [[ $db == postgres ]]; then
        psql -X -A -t -F $'\t' "$NETZPOST_DATABASE" -c "SELECT dedup_key, extract(epoch FROM processed_at) FROM inbound_messages WHERE processed_at IS NOT NULL" >"$RUN/applied-$db.tsv"
    else
        python3 - "$ws/var/netzpost.db" "$q" >"$RUN/applied-$db.tsv" <<'PY'
import sqlite3, sys, datetime
for k, t in sqlite3.connect(sys.argv[1]).execute(sys.argv[2]):
    print(f"{k}\t{datetime.datetime.fromisoformat(t.replace('Z', '+00:00')).timestamp():.6f}")
PY
    fi
    read -r count p50 p99 pmax < <(python3 - "$RUN/feed-$db.tsv" "$RUN/applied-$db.tsv" <<'PY'
import sys
def key(m):
    # The spool's dedup key is "mid:" and the Message-ID without its brackets.
    m = m.strip().removeprefix("mid:")
    return m[1:-1] if m.startswith("<") and m.endswith(">") else m
fed = {key(k): float(t) for k, t in (l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip())}
applied = {key(k): float(t) for k, t in (l.rstrip("\n").split("\t") for l in open(sys.argv[2]) if l.strip())}
lat = sorted(applied[k] - fed[k] for k in fed if k in applied)
missing = sum(1 for k in fed if k not in applied)
if not lat:
    print(f"0/{len(fed)} - - -"); sys.exit()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
print(f"{len(lat)}/{len(fed)} {q(0.5):.2f} {q(0.99):.2f} {lat[-1]:.2f}")
PY
)
    ratio=$(awk -v a="$serve_rate" -v b="$cli_rate" 'BEGIN{printf "%.2f", b ? a/b : 0}')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$db" "$N" "$cli_rate" "$serve_rate" "$ratio" \
        "$count" "$p50" "$p99" "$pmax" "$(time_rss_mb "$RUN/serve-$db.time")" "$load0" "$(loadavg)" >>"$RESULTS"
    unset NETZPOST_INBOUND__POLL_SECS NETZPOST_HTTP__LISTEN
    cd "$REPO"; [[ -n $serve_db ]] && drop_pg_db "$serve_db"
    [[ ${BENCH_KEEP:-0} == 1 ]] || rm -rf "$RUN/ws-cli-$db" "$ws"
done

echo
echo "netzpost under a schedule: $(nproc) cores; $RESULTS (inbound: applied/written)"
column -t -s $'\t' "$RESULTS"
