#!/usr/bin/env bash
# Send benchmark: netzpost's real path (database -> render -> compose -> SMTP) against
# Postfix's smtp-sink on loopback, compared with smtp-source at the same size and concurrency.
#
#   bench/send.sh                      # SQLite + PostgreSQL, ~5 KB + ~20 KB, N=100000, then the
#                                      # memory-flatness runs (SQLite, 10k/100k/1M, ~5 KB)
#   N=20000 DBS=sqlite SIZES=5120 FLAT_NS= bench/send.sh     # a quick one
#
# Environment: N (recipients, 100000), SIZES (target message bytes, "5120 20480"), DBS ("sqlite
# postgres"), SESSIONS (10: smtp-source sessions = netzpost pool_size), FLAT_NS ("10000 100000
# 1000000", empty to skip), FLAT_SIZE (5120), SEND_TIMEOUT (seconds per send, 3600),
# CARGO_TARGET_DIR or BENCH_BIN, BENCH_PG_URL (postgres://postgres@127.0.0.1:5432/postgres).
source "$(dirname "$0")/lib.sh"

N=${N:-100000}
SIZES=${SIZES-5120 20480}
DBS=${DBS-sqlite postgres}
SESSIONS=${SESSIONS:-10}
FLAT_NS=${FLAT_NS-10000 100000 1000000}
FLAT_SIZE=${FLAT_SIZE:-5120}
SEND_TIMEOUT=${SEND_TIMEOUT:-3600}

need_pkgs psql
build_release
fetch_postfix

RUN=$WORK/send-$(date +%Y%m%d-%H%M%S)
mkdir -p "$RUN"
RESULTS=$RUN/results.tsv
printf 'db\tsize\tN\tsink\tsend_s\tmsg_per_s\tsource_msg_per_s\tratio\tpeak_rss_mb\tcpu_s_per_1k\tpg_cpu_s_per_1k\tsink_cpu_s_per_1k\tsource_cpu_s_per_1k\timport_s\timport_rows_per_s\tload_before\tload_after\n' >"$RESULTS"

cleanup() {
    [[ -n ${SINK_PID:-} ]] && kill "$SINK_PID" 2>/dev/null
    drop_all_pg_dbs
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The body of the newsletter: plain ASCII paragraphs, so the size is predictable.
body_text() {
    python3 - "$1" <<'PY'
import sys
n = int(sys.argv[1])
s = ("Liebe Nachbarinnen und Nachbarn, im Stadtteil ist viel los: das Nachbarschaftscafe "
     "oeffnet wieder jeden Donnerstag, die Kita sucht Vorlesepaten und der Jugendtreff plant "
     "ein Sommerfest. Wer mitmachen will, antwortet einfach auf diese Nachricht. ")
out = []
while sum(map(len, out)) < n:
    out.append(s)
text = "".join(out)[:n]
# paragraphs of ~600 characters
print("\n\n".join(text[i:i + 600].strip() for i in range(0, len(text), 600)))
PY
}

# msg_size NAME: bytes of the message the first contact would get.
msg_size() { "$NP" campaigns preview "$1" --to kontakt1@nachbar1.example --raw | wc -c; }

# create_campaign NAME TARGET_BYTES: a newsletter whose message is about TARGET_BYTES.
create_campaign() {
    local name=$1 target=$2 s1 s2 b
    body_text 1000 >"$RUN/probe1.txt"; body_text 9000 >"$RUN/probe2.txt"
    "$NP" campaigns create "$name-p1" --kind newsletter --topic bench --subject "Neues aus dem Stadtteil" --body-file "$RUN/probe1.txt" >/dev/null
    "$NP" campaigns create "$name-p2" --kind newsletter --topic bench --subject "Neues aus dem Stadtteil" --body-file "$RUN/probe2.txt" >/dev/null
    s1=$(msg_size "$name-p1"); s2=$(msg_size "$name-p2")
    b=$(( 1000 + (target - s1) * 8000 / (s2 - s1) ))
    ((b > 0)) || b=1
    body_text "$b" >"$RUN/body-$target.txt"
    "$NP" campaigns create "$name" --kind newsletter --topic bench --subject "Neues aus dem Stadtteil" --body-file "$RUN/body-$target.txt" >/dev/null
    MSG_BYTES=$(msg_size "$name")
    "$NP" campaigns preview "$name" --to kontakt1@nachbar1.example --raw >"$RUN/sample-$target.eml"
}

# smtp-source at the same size and number of sessions: sets SRC_RATE (messages/s) and SRC_CPU1K
# (CPU seconds per 1,000 messages of smtp-source and smtp-sink together).
source_rate() {
    local size=$1 count=$2 t0 t1 got
    start_sink "$RUN/source-sink-$size.out"
    t0=$(date +%s.%N)
    timeout "$SEND_TIMEOUT" /usr/bin/time -v -o "$RUN/source-$size.time" \
        "$SMTP_SOURCE" -d -s "$SESSIONS" -l "$size" -m "$count" \
        -f bench@netzpost.example -t rcpt@nachbar.example "127.0.0.1:$SINK_PORT" \
        >"$RUN/source-$size.log" 2>&1 || die "smtp-source failed: $(tail -3 "$RUN/source-$size.log")"
    t1=$(date +%s.%N)
    stop_sink; got=$(sink_count "$RUN/source-sink-$size.out")
    [[ $got == "$count" ]] || log "WARNING: smtp-source: sink counted $got of $count"
    SRC_RATE=$(awk -v n="$got" -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", n/(b-a)}')
    SRC_CPU1K=$(awk -v c="$(time_cpu "$RUN/source-$size.time")" -v s="$SINK_CPU" -v n="$got" \
        'BEGIN{printf "%.3f", n ? (c+s)*1000/n : 0}')
}

# one_run DB SIZE N WITH_SOURCE
one_run() {
    local db=$1 size=$2 n=$3 with_source=$4 ws=$RUN/ws-$1-$2-$3 csv=$WORK/contacts-$3.csv
    log "== $db, ~$size bytes, N=$n (load $(loadavg))"
    gen_contacts "$n" "$csv"
    local dbname=
    if [[ $db == postgres ]]; then
        create_pg_db "${size}_$n"
        export NETZPOST_DATABASE=$PG_URL
        dbname=$PG_NAME
    else
        unset NETZPOST_DATABASE
    fi
    new_workspace "$ws"
    cd "$ws"
    local src_rate= src_cpu1k=-
    if [[ $with_source == 1 ]]; then
        source_rate "$size" "$n"; src_rate=$SRC_RATE; src_cpu1k=$SRC_CPU1K
        log "smtp-source: $src_rate msg/s, $src_cpu1k CPU s/1k (source + sink)"
    fi
    /usr/bin/time -v -o "$RUN/import-$db-$size-$n.time" timeout "$SEND_TIMEOUT" \
        "$NP" contacts import "$csv" --topic bench --consent confirmed >"$RUN/import-$db-$size-$n.log" 2>&1 \
        || die "import failed: $(tail -3 "$RUN/import-$db-$size-$n.log")"
    local imp_s; imp_s=$(time_wall "$RUN/import-$db-$size-$n.time")
    log "import: $n rows in ${imp_s}s"
    create_campaign "bench-$size" "$size"
    log "message: $MSG_BYTES bytes (target $size)"

    start_sink "$RUN/sink-$db-$size-$n.out"
    export NETZPOST_OUTBOUND__TRANSPORT=smtp NETZPOST_OUTBOUND__SMTP__HOST=127.0.0.1 \
        NETZPOST_OUTBOUND__SMTP__PORT=$SINK_PORT NETZPOST_OUTBOUND__SMTP__TLS=none \
        NETZPOST_OUTBOUND__SMTP__POOL_SIZE=$SESSIONS NETZPOST_OUTBOUND__MAX_MESSAGES_PER_30_DAYS=1000000
    local load0 pg0 pg1; load0=$(loadavg); pg0=$(pg_cpu_seconds)
    /usr/bin/time -v -o "$RUN/send-$db-$size-$n.time" timeout "$SEND_TIMEOUT" \
        "$NP" campaigns send "bench-$size" --wait >"$RUN/send-$db-$size-$n.log" 2>&1 \
        || log "WARNING: send exited non-zero: $(tail -3 "$RUN/send-$db-$size-$n.log")"
    sleep 0.5; pg1=$(pg_cpu_seconds)
    stop_sink; local got; got=$(sink_count "$RUN/sink-$db-$size-$n.out")
    unset NETZPOST_OUTBOUND__TRANSPORT NETZPOST_OUTBOUND__SMTP__HOST NETZPOST_OUTBOUND__SMTP__PORT \
        NETZPOST_OUTBOUND__SMTP__TLS NETZPOST_OUTBOUND__SMTP__POOL_SIZE
    [[ $got == "$n" ]] || log "WARNING: the sink counted $got messages, expected $n"
    local t=$RUN/send-$db-$size-$n.time wall cpu rss rate ratio cpu1k pgk sinkk
    sinkk=$(awk -v s="$SINK_CPU" -v n="$got" 'BEGIN{printf "%.3f", n ? s*1000/n : 0}')
    wall=$(time_wall "$t"); cpu=$(time_cpu "$t"); rss=$(time_rss_mb "$t")
    rate=$(awk -v n="$got" -v w="$wall" 'BEGIN{printf "%.0f", n/w}')
    ratio=$([[ -n $src_rate ]] && awk -v a="$rate" -v b="$src_rate" 'BEGIN{printf "%.2f", a/b}' || echo -)
    cpu1k=$(awk -v c="$cpu" -v n="$got" 'BEGIN{printf "%.3f", n ? c*1000/n : 0}')
    pgk=$([[ $db == postgres ]] && awk -v a="$pg0" -v b="$pg1" -v n="$got" 'BEGIN{printf "%.3f", n ? (b-a)*1000/n : 0}' || echo -)
    log "send: $got msgs in ${wall}s = $rate msg/s (ratio $ratio), peak RSS ${rss} MB, ${cpu1k} CPU s/1k"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$db" "$MSG_BYTES" "$n" "$got" "$wall" "$rate" \
        "${src_rate:--}" "$ratio" "$rss" "$cpu1k" "$pgk" "$sinkk" "$src_cpu1k" "$imp_s" \
        "$(awk -v n="$n" -v s="$imp_s" 'BEGIN{printf "%.0f", n/s}')" "$load0" "$(loadavg)" >>"$RESULTS"
    cd "$REPO"
    [[ -n $dbname ]] && drop_pg_db "$dbname"
    [[ ${BENCH_KEEP:-0} == 1 ]] || rm -rf "$ws"
}

for db in $DBS; do
    for size in $SIZES; do
        one_run "$db" "$size" "$N" 1
    done
done
for n in $FLAT_NS; do
    one_run sqlite "$FLAT_SIZE" "$n" 0
done

echo
echo "netzpost send benchmark: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB; results in $RESULTS"
column -t -s $'\t' "$RESULTS"
