#!/usr/bin/env bash
# Import benchmark: a generated CSV of ROWS contacts (default 1,000,000) through
# `netzpost contacts import FILE --topic bench --consent confirmed`, on SQLite and on PostgreSQL
# (a fresh database, dropped afterwards). Target: <= 20 s each.
#
#   bench/import.sh
# Environment: ROWS, DBS ("sqlite postgres"), TIMEOUT (1800), CARGO_TARGET_DIR or BENCH_BIN,
# BENCH_PG_URL.
source "$(dirname "$0")/lib.sh"

ROWS=${ROWS:-1000000}
DBS=${DBS-sqlite postgres}
TIMEOUT=${TIMEOUT:-1800}

need_pkgs psql
build_release
RUN=$WORK/import-$(date +%Y%m%d-%H%M%S)
mkdir -p "$RUN"
trap drop_all_pg_dbs EXIT
trap 'exit 130' INT TERM

CSV=$WORK/contacts-$ROWS.csv
log "generating $ROWS rows"
gen_contacts "$ROWS" "$CSV"
RESULTS=$RUN/results.tsv
printf 'db\trows\tseconds\trows_per_s\tpeak_rss_mb\tcpu_s\tpg_cpu_s\tcontacts\tload_before\tload_after\n' >"$RESULTS"

for db in $DBS; do
    ws=$RUN/ws-$db
    dbname=
    if [[ $db == postgres ]]; then
        create_pg_db "import_$ROWS"; export NETZPOST_DATABASE=$PG_URL; dbname=$PG_NAME
    else
        unset NETZPOST_DATABASE
    fi
    new_workspace "$ws"
    load0=$(loadavg); pg0=$(pg_cpu_seconds)
    log "== $db: importing $ROWS rows (load $load0)"
    (cd "$ws" && /usr/bin/time -v -o "$RUN/$db.time" timeout "$TIMEOUT" \
        "$NP" contacts import "$CSV" --topic bench --consent confirmed >"$RUN/$db.log" 2>&1) \
        || die "import failed: $(tail -3 "$RUN/$db.log")"
    sleep 0.5; pg1=$(pg_cpu_seconds)
    if [[ $db == postgres ]]; then
        count=$(psql -X -A -t "$NETZPOST_DATABASE" -c "SELECT COUNT(*) FROM contacts")
    else
        count=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*) FROM contacts").fetchone()[0])' "$ws/var/netzpost.db")
    fi
    s=$(time_wall "$RUN/$db.time")
    pgc=$([[ $db == postgres ]] && awk -v a="$pg0" -v b="$pg1" 'BEGIN{printf "%.1f", b-a}' || echo -)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$db" "$ROWS" "$s" \
        "$(awk -v n="$ROWS" -v s="$s" 'BEGIN{printf "%.0f", n/s}')" "$(time_rss_mb "$RUN/$db.time")" \
        "$(time_cpu "$RUN/$db.time")" "$pgc" "$count" "$load0" "$(loadavg)" >>"$RESULTS"
    log "$db: ${s}s, $count contacts"
    [[ -n $dbname ]] && drop_pg_db "$dbname"
    [[ ${BENCH_KEEP:-0} == 1 ]] || rm -rf "$ws"
done

echo
echo "netzpost import benchmark (target <= 20 s): $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB; $RESULTS"
column -t -s $'\t' "$RESULTS"
