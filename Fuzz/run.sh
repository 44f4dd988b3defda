#!/usr/bin/env bash
# Fuzz/run.sh TARGET SECONDS — runs one libFuzzer target (built by `make fuzz-build` into
# .build-fuzz) for SECONDS on a corpus seeded from Tests/Fixtures, and prints its executions.
# The corpus grows in .build-fuzz/corpus/TARGET (never committed); a crash leaves its input in
# .build-fuzz/crashes/ and fails the run.
set -euo pipefail
target=$1
seconds=$2
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/.build-fuzz/release/$target
corpus=$root/.build-fuzz/corpus/$target
crashes=$root/.build-fuzz/crashes
mkdir -p "$corpus" "$crashes"
fixtures=$root/Tests/Fixtures
seed() { cp "$@" "$corpus/" 2>/dev/null || true; }
# The first document lines of the bulk fixtures, one file each.
lines() { local i=0; grep -v '"create"\|"index"' "$1" | head -n "$2" | while IFS= read -r line; do printf '%s' "$line" > "$corpus/$(basename "$1").$i"; i=$((i + 1)); done; }
case $target in
  FuzzBulk) seed "$fixtures"/reana/bulk_*.body.raw "$fixtures"/fluentbit/es_default.body.raw "$fixtures"/fluentbit/es_dup_timestamp.body.raw \
      "$fixtures"/fluentbit/es_logstash_genid.body.raw "$fixtures"/fluentbit/os_suppress_type_name.body.raw "$fixtures"/fluentbit/es_gzip.body.decoded ;;
  FuzzJSONScanner) lines "$fixtures"/reana/bulk_job_log.body.raw 5; lines "$fixtures"/fluentbit/es_default.body.raw 5
      seed "$fixtures"/fluentbit/http_json.body.raw "$fixtures"/fluentbit/http_json_stream.body.raw ;;
  FuzzMessagePack) seed "$fixtures"/fluentbit/http_msgpack.body.raw ;;
  FuzzQuery) i=0
      for q in 'error' '"connection refused"' 'job:reana-run-job-a02532f6 AND (error OR warn*)' '-debug NOT info' \
          'workflow:"wf 1" index:fluentbit-job_log' '((a OR b) c) -(d e)' 'Café* 10.0.0.1:9200' '*' \
          'level:ERROR status:>=500 -host:node-?' 'kubernetes.labels.app:web* code:[200 TO 299}' 'a\ b:c\*d x:"q \" r" y:*'; do
        printf '%s' "$q" > "$corpus/seed$i"; i=$((i + 1)); done ;;
  FuzzDSL) seed "$fixtures"/reana/search_*.body.decoded; i=0
      for q in '{"query":{"bool":{"must":[{"match":{"log":"error"}},{"range":{"@timestamp":{"gte":"2024-01-01T00:00:00Z","lt":1700000000000}}}],"must_not":{"term":{"job.keyword":"x"}}}}}' \
          '{"query":{"query_string":{"query":"error AND -debug","default_field":"log"}},"size":5}' \
          '{"query":{"terms":{"kubernetes.labels.job-name":["a","b"]}}}' '{"query":{"match_phrase":{"message":{"query":"a b","slop":0}}}}' \
          '{"query":{"prefix":{"log":"err"}}}' '{"query":{"bool":{"should":[{"match":{"log":{"query":"a b","operator":"and"}}}],"minimum_should_match":1}}}'; do
        printf '%s' "$q" > "$corpus/seed$i"; i=$((i + 1)); done ;;
  FuzzBlock) printf '\0%s' "$(head -c 3000 "$fixtures"/reana/input_job.log)" > "$corpus/lines"
      printf '\0short line\nanother\n\nlast' > "$corpus/short"
      printf '\016%s' "$(head -c 3000 "$fixtures"/reana/input_job.log)" > "$corpus/frame" ;;
  *) echo "unknown fuzz target $target" >&2; exit 2 ;;
esac
log=$root/.build-fuzz/$target.log
status=0
SWIFT_BACKTRACE=enable=no "$bin" "$corpus" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$crashes/$target-" -print_final_stats=1 >"$log" 2>&1 || status=$?
runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
echo "$target: $runs executions in ${seconds}s, exit $status"
if [ "$status" != 0 ]; then
  grep -A30 'ERROR\|Fatal error\|deadly signal' "$log" | head -60 >&2
  exit 1
fi
