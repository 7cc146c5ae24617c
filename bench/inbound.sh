#!/usr/bin/env bash
# Inbound benchmark: the corpora in ../shared/corpora (sisimai, flufl-bounce, discourse,
# mailgun-talon) and tests/fixtures/inbound, repeated to COUNT messages (each copy with its own
# Message-ID), then
#   1. `netzpost inbound explain` over all files (throughput of the CLI, JSON out to /dev/null);
#   2. benches/inbound_parse.rs: classify::analyze vs bare mail-parser over the same bytes in
#      memory (target: ratio >= 0.5);
#   3. maildir ingest with database writes on SQLite: COUNT files in var/inbox/new, timed
#      `netzpost inbound process` (target >= 5,000 msg/s).
#
#   bench/inbound.sh                 # COUNT=100000
#   STEPS=ingest bench/inbound.sh    # only some of: explain parse ingest (default all three)
# Environment: COUNT, CORPORA (../shared/corpora), CARGO_TARGET_DIR (the binary is
# $CARGO_TARGET_DIR/release/netzpost), TIMEOUT (1800), STEPS, BENCH_KEEP=1 keeps the workspace.
source "$(dirname "$0")/lib.sh"

COUNT=${COUNT:-100000}
CORPORA=${CORPORA:-$REPO/../shared/corpora}
TIMEOUT=${TIMEOUT:-1800}
STEPS=${STEPS:-explain parse ingest}
step() { [[ " $STEPS " == *" $1 "* ]]; }
EXPLAIN_RATE=- EXPLAIN_LOAD0=- PARSE_RATE=- ANALYZE_RATE=- RATIO=- PARSE_LOAD0=- INGEST_RATE=- INGEST_LOAD0=- STATUS=-
[[ -d $CORPORA ]] || die "corpora not found at $CORPORA (set CORPORA)"

need_pkgs
build_release

RUN=$WORK/inbound-$(date +%Y%m%d-%H%M%S)
mkdir -p "$RUN"
SET=$WORK/inbound/set-$COUNT
if [[ ! -d $SET/new ]] || (( $(find "$SET/new" -type f | wc -l) != COUNT )); then
    log "building the set: $COUNT messages"
    rm -rf "$SET"
    python3 "$BENCH_DIR/make_inbound_set.py" "$CORPORA" "$REPO/tests/fixtures/inbound" "$SET" "$COUNT" >&2
fi
BYTES=$(du -sb "$SET/new" | cut -f1)

WS=$RUN/ws
"$NP" init "$WS" >/dev/null
# 1. inbound explain (the CLI, no database), files in chunks of 5000 per process.
if step explain; then
    log "inbound explain over $COUNT files (load $(loadavg))"
    cat >"$RUN/explain.sh" <<EOS
cd "$SET/new" && find . -type f -name '*.netzpost' -print0 | sort -z | xargs -0 -n 5000 "$NP" --config "$WS/config/netzpost.toml" inbound explain >/dev/null
EOS
    EXPLAIN_LOAD0=$(loadavg)
    /usr/bin/time -v -o "$RUN/explain.time" timeout "$TIMEOUT" bash "$RUN/explain.sh" 2>"$RUN/explain.err" \
        || log "WARNING: explain exited non-zero (files it cannot classify print an error line): $(tail -2 "$RUN/explain.err")"
    EXPLAIN_S=$(time_wall "$RUN/explain.time")
    EXPLAIN_RATE=$(awk -v n="$COUNT" -v s="$EXPLAIN_S" 'BEGIN{printf "%.0f", n/s}')
    log "explain: ${EXPLAIN_S}s = $EXPLAIN_RATE msg/s"
fi

# 2. analyze vs mail-parser, in memory.
if step parse; then
    log "benches/inbound_parse (load $(loadavg))"
    PARSE_LOAD0=$(loadavg)
    (cd "$REPO" && BENCH_INBOUND_DIR=$SET/new timeout "$TIMEOUT" cargo bench --quiet --bench inbound_parse) \
        >"$RUN/parse.log" 2>"$RUN/parse.err" || die "cargo bench failed: $(tail -5 "$RUN/parse.err")"
    cat "$RUN/parse.log" >&2
    read -r _ _ PARSE_RATE ANALYZE_RATE RATIO < <(grep '^RESULT' "$RUN/parse.log")
fi

# 3. maildir ingest with database writes (SQLite).
if step ingest; then
    log "maildir ingest: copying $COUNT files into var/inbox/new"
    mkdir -p "$WS/var/inbox/new" "$WS/var/inbox/cur" "$WS/var/inbox/tmp"
    cp -r "$SET/new/." "$WS/var/inbox/new/"
    sync
    INGEST_LOAD0=$(loadavg)
    log "inbound process (load $INGEST_LOAD0)"
    (cd "$WS" && /usr/bin/time -v -o "$RUN/ingest.time" timeout "$TIMEOUT" "$NP" inbound process >"$RUN/ingest.log" 2>"$RUN/ingest.err") \
        || log "WARNING: inbound process exited non-zero: $(tail -3 "$RUN/ingest.err")"
    cat "$RUN/ingest.log" >&2
    INGEST_S=$(time_wall "$RUN/ingest.time")
    TAKEN=$(find "$WS/var/inbox/cur" -type f | wc -l)
    INGEST_RATE=$(awk -v n="$TAKEN" -v s="$INGEST_S" 'BEGIN{printf "%.0f", n/s}')
    STATUS=$(cd "$WS" && python3 - <<'PY'
import sqlite3
c = sqlite3.connect("var/netzpost.db")
print(", ".join(f"{s}={n}" for s, n in c.execute("SELECT status, COUNT(*) FROM inbound_messages GROUP BY status")))
PY
    )
    log "ingest: $TAKEN files in ${INGEST_S}s = $INGEST_RATE msg/s; spool: $STATUS"
fi

{
    echo
    echo "netzpost inbound benchmark: $COUNT messages ($((BYTES / 1000000)) MB), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB"
    printf '%-40s %12s %10s %s\n' "measure" "msg/s" "target" "load before"
    printf '%-40s %12s %10s %s\n' "inbound explain (CLI, files)" "$EXPLAIN_RATE" "" "$EXPLAIN_LOAD0"
    printf '%-40s %12s %10s %s\n' "mail-parser parse (memory)" "$PARSE_RATE" "" "$PARSE_LOAD0"
    printf '%-40s %12s %10s %s\n' "classify::analyze (memory)" "$ANALYZE_RATE" "" ""
    printf '%-40s %12s %10s %s\n' "ratio analyze / parse" "$RATIO" ">= 0.5" ""
    printf '%-40s %12s %10s %s\n' "maildir ingest, SQLite (inbound process)" "$INGEST_RATE" ">= 5000" "$INGEST_LOAD0"
    step explain && echo "explain: peak RSS $(time_rss_mb "$RUN/explain.time") MB per process, CPU $(time_cpu "$RUN/explain.time") s"
    step ingest && echo "ingest: peak RSS $(time_rss_mb "$RUN/ingest.time") MB, CPU $(time_cpu "$RUN/ingest.time") s (user + system) = $(awk -v c="$(time_cpu "$RUN/ingest.time")" -v n="$COUNT" 'BEGIN{printf "%.3f", c*1000/n}') s per 1,000 messages, load after $(loadavg); spool after ingest: $STATUS"
    echo "logs: $RUN"
} | tee "$RUN/summary.txt"
[[ ${BENCH_KEEP:-0} == 1 ]] || rm -rf "$WS"
