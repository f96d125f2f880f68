#!/usr/bin/env python3
"""The database's work behind one `hookd-bench --backend postgres` run, per delivery.

Usage (the harness's process id, then the JSON line's file):

    target/release/hookd-bench --no-build --hookd-bin target/release/hookd \
        --scenario burst --backend postgres > run.out &
    python3 crates/hookd-bench/scripts/pg_sample.py $! run.out

Finds the harness's temporary database (`hookd_bench_<pid>_…`), samples it every half second
until the harness drops it, and prints per delivery: CPU time of the PostgreSQL processes that
`pg_stat_activity` lists for that database (from /proc, so PostgreSQL must run on this
machine), transactions committed, rows inserted and updated, rows read by sequential scans of
`deliveries`, and, where `pg_stat_statements` is loaded and created in the `postgres`
database, statements, their execution time, shared buffers touched and WAL bytes, with the
costliest statements. Needs `psql` on PATH and the harness's `--postgres-url` server
(127.0.0.1:5432, user postgres). Backends report their table and transaction counters up to a
second late, and the last sample is taken just before the harness drops the database, so the
row and transaction figures of short runs come out low: use runs of 20k events or more.
A measurement aid, not part of hookd.
"""
import json
import os
import subprocess
import sys
import time

PSQL = ['psql', '-h', '127.0.0.1', '-U', 'postgres', '-AtF', '\t', '-c']


def rows(sql, db='postgres'):
    out = subprocess.run(PSQL[:-1] + ['-d', db, '-c', sql], capture_output=True, text=True)
    return [line.split('\t') for line in out.stdout.splitlines() if line]


def main():
    harness, result = sys.argv[1], sys.argv[2]
    found = []
    while not found:
        found = rows(f"SELECT datname, oid FROM pg_database WHERE datname LIKE 'hookd_bench_{harness}_%'")
        if not found:
            if not os.path.exists(f'/proc/{harness}'):
                sys.exit('the harness ended before its database appeared')
            time.sleep(0.05)
    db, dbid = found[0]
    ticks = {}
    last = None
    while True:
        stats = rows(f"SELECT xact_commit, tup_inserted, tup_updated FROM pg_stat_database WHERE datname = '{db}'")
        if not stats:
            break
        for (pid,) in rows(f"SELECT pid FROM pg_stat_activity WHERE datname = '{db}'"):
            try:
                fields = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()
                ticks[pid] = int(fields[11]) + int(fields[12])
            except (OSError, IndexError, ValueError):
                pass
        statements = rows(
            "SELECT calls, total_exec_time, shared_blks_hit, wal_bytes, "
            "regexp_replace(left(query, 100), '\\s+', ' ', 'g') FROM pg_stat_statements "
            f"WHERE dbid = {dbid} ORDER BY total_exec_time DESC")
        scans = rows("SELECT seq_tup_read FROM pg_stat_user_tables WHERE relname = 'deliveries'", db=db)
        if not rows(f"SELECT 1 FROM pg_database WHERE datname = '{db}'"):
            break
        last = (stats[0], statements, scans)
        time.sleep(0.5)
    while not os.path.exists(result) or not open(result).read().strip().endswith('}'):
        time.sleep(0.2)
    line = [l for l in open(result).read().splitlines() if l.startswith('{')][-1]
    delivered = json.loads(line)['delivered'] or 1
    (commits, inserted, updated), statements, scans = last
    per = lambda x: round(float(x) / delivered, 2)
    print(f"deliveries {delivered}")
    print(f"postgres cpu us/delivery {per(sum(ticks.values()) / os.sysconf('SC_CLK_TCK') * 1e6)}")
    print(f"commits/delivery {per(commits)}  rows inserted/delivery {per(inserted)}  updated/delivery {per(updated)}")
    if scans:
        print(f"deliveries rows read by sequential scans/delivery {per(scans[0][0])}")
    if statements:
        print(f"statements/delivery {per(sum(int(s[0]) for s in statements))}  "
              f"exec us/delivery {per(sum(float(s[1]) for s in statements) * 1000)}  "
              f"buffers/delivery {per(sum(int(s[2]) for s in statements))}  "
              f"WAL bytes/delivery {per(sum(int(s[3]) for s in statements))}")
        for calls, exec_ms, hits, wal, query in statements[:5]:
            print(f"  {calls:>6} calls  {per(float(exec_ms) * 1000):>7} us/dlv  {per(hits):>6} buf/dlv  "
                  f"{per(wal):>7} WAL B/dlv  {query}")
    else:
        print("pg_stat_statements not available: no per-statement figures")


if __name__ == '__main__':
    main()
