#!/usr/bin/env bash
# The Tmall 2014 log as daily nights for examples/nightly.sh (docs/nightly.md, "Daily nights on Tmall").
#
#   bench/tmall-daily.sh cut OUT [FIRST [LAST]]
#       OUT/history.csv: every day before FIRST (the bootstrap log); OUT/2014-MM-DD.csv: one file per
#       day FIRST..LAST, each with the header line. Rows are copied verbatim, in file order.
#   bench/tmall-daily.sh run OUT [FIRST [LAST]]
#       cut, then bootstrap on history.csv and run each day as a night in OUT/nightly with the
#       script's defaults (any variable of examples/nightly.sh set in the environment is passed on);
#       prints one markdown row per night (the gate's metric, baseline, drop, verdict, promoted).
#   bench/tmall-daily.sh noise OUT
#       after `run`: how far apart two equally good candidates land on each test day. Each night's
#       candidate is trained again with the same command but another seed (TWIN_SEED, default 7),
#       from the same parent, into OUT/twins/NIGHT, and compared with the candidate the way the
#       gate compares (rec eval TWIN --baseline CANDIDATE): one markdown row per night.
#   bench/tmall-daily.sh drift OUT
#       after `run`: rec drift of each night's log against the dataset that was `current` when the
#       night ran (the previous night's, history's for the first): the script's drift step again.
#
# FIRST and LAST are MM-DD (default 08-01 and 08-14: bootstrap on 15 April - 31 July, 14 nights).
# LOG=path overrides the log (default ../shared/datasets/tmall-2014-brand-behaviour/t_alibaba_data.csv
# from the repository root); REC as in examples/nightly.sh (default: this checkout's bin/rec.js).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
usage() { echo "usage: $0 cut|run|noise|drift OUT [FIRST [LAST]]   (FIRST, LAST: MM-DD)" >&2; exit 2; }
[ $# -ge 2 ] && [ $# -le 4 ] || usage
MODE=$1 OUT=$2 FIRST=${3:-08-01} LAST=${4:-08-14}
case $MODE in cut|run|noise|drift) ;; *) usage ;; esac
for d in "$FIRST" "$LAST"; do [[ $d =~ ^[0-9][0-9]-[0-9][0-9]$ ]] || { echo "tmall-daily: $d is not MM-DD" >&2; exit 2; }; done
LOG=${LOG:-$ROOT/../shared/datasets/tmall-2014-brand-behaviour/t_alibaba_data.csv}
[ -f "$LOG" ] || { echo "tmall-daily: $LOG is not a file (set LOG=)" >&2; exit 2; }

# The reading flags of docs/datasets.md (Tmall), less --split, which the nightly script sets.
export PREP_ARGS="${PREP_ARGS:---header --columns user=user_id,item=brand_id,event=type,ts=visit_datetime --ts-format %m-%d --ts-year 2014 --feedback implicit --event-weights 0=1,2=2,3=3,1=5 --dedupe max --max-rejects 0}"

cut_log() {
  # Cut into a private folder, then move each file in whole: an interrupted cut leaves no short night.
  local tmp=$OUT/.cut-$$
  rm -rf "$tmp"
  mkdir -p "$tmp"
  # visit_datetime is M-D without zero padding (6-4); MM-DD keys compare as strings.
  awk -F, -v out="$tmp" -v first="$FIRST" -v last="$LAST" '
    NR == 1 { header = $0; next }
    {
      split($4, md, "-")
      key = sprintf("%02d-%02d", md[1], md[2])
      if (key < first) file = out "/history.csv"
      else if (key <= last) file = out "/2014-" key ".csv"
      else next
      if (!(file in seen)) { seen[file] = 1; print header > file }
      print $0 > file
    }' "$LOG"
  mv -f "$tmp"/*.csv "$OUT"/
  rmdir "$tmp"
}

# One markdown row from a night's eval file: the first --max-drop check, and where production points.
report_night() {
  node -e '
    const fs = require("node:fs");
    const [night, ckpt, prod, rc] = process.argv.slice(1);
    let e = null;
    try { e = JSON.parse(fs.readFileSync(ckpt + "/eval-test-full.json", "utf8")); } catch {}
    const c = e && e.gates ? e.gates.checks.find((x) => x.kind === "max_drop") : undefined;
    const promoted = fs.existsSync(prod) && fs.realpathSync(prod) === fs.realpathSync(ckpt);
    if (!c) { console.log(`| ${night} | – | – | – | – | – | ${promoted ? "yes" : "no"} | ${rc} |`); process.exit(0); }
    const b = e.baseline;
    const rel = c.baseline === 0 ? "" : ` (${((100 * c.drop) / Math.abs(c.baseline)).toFixed(1)}%)`;
    console.log(`| ${night} | ${b.compared ? b.compared.users : e.users.evaluated} | ${c.value.toFixed(4)} | ${c.baseline.toFixed(4)} | ${c.drop.toFixed(4)}${rel} | ${c.passed ? "pass" : "FAIL"} | ${promoted ? "yes" : "no"} | ${rc} |`);
  ' "$@"
}

export NIGHTLY_DIR=$OUT/nightly
export REC=${REC:-node $ROOT/bin/rec.js}

# The night's training command (run.json argv) again with another seed, from the same parent.
twin_night() {
  local night=$1 ckpt=$NIGHTLY_DIR/checkpoints/$1 twin=$OUT/twins/$1
  [ -e "$ckpt/run.json" ] || return 0
  local args
  args=$(node -e '
    const r = JSON.parse(require("node:fs").readFileSync(process.argv[1] + "/run.json", "utf8"));
    if (!r.fine_tune) process.exit(0);
    const a = r.argv.slice();
    const set = (flag, v) => { const i = a.indexOf(flag); if (i < 0) a.push(flag, v); else a[i + 1] = v; };
    set("--init-from", r.fine_tune.parents[0]); set("--seed", process.argv[2]); set("--out", process.argv[3]);
    console.log(a.join("\n"));
  ' "$ckpt" "${TWIN_SEED:-7}" "$twin")
  [ -n "$args" ] || return 0
  rm -rf "$twin"
  mapfile -t argv <<< "$args"
  $REC "${argv[@]}" --quiet >&2
  $REC eval "$twin" --metrics "${METRICS:-recall,ndcg}" --k "${K:-20}" --baseline "$ckpt" --quiet >&2
  node -e '
    const e = JSON.parse(require("node:fs").readFileSync(process.argv[2] + "/eval-test-full.json", "utf8"));
    const m = process.argv[3], b = e.baseline, mine = (b.compared ? b.compared.metrics : e.metrics)[m], base = b.metrics[m];
    console.log(`| ${process.argv[1]} | ${b.compared ? b.compared.users : e.users.evaluated} | ${base.toFixed(4)} | ${mine.toFixed(4)} | ${(100 * (mine - base) / base).toFixed(1)}% |`);
  ' "$night" "$twin" "${GATE_METRIC:-ndcg@20}"
}

if [ "$MODE" = noise ]; then
  echo "| night | users compared | candidate ${GATE_METRIC:-ndcg@20} | twin (seed ${TWIN_SEED:-7}) | twin vs candidate |"
  echo "|---|---:|---:|---:|---:|"
  for f in "$OUT"/2014-*.csv; do twin_night "$(basename "$f" .csv)"; done
  exit 0
fi

if [ "$MODE" = drift ]; then
  echo "| night | new_users | new_items | top100_overlap | js_items | volume_ratio (per day) |"
  echo "|---|---:|---:|---:|---:|---:|"
  prev=history
  for f in "$OUT"/2014-*.csv; do
    night=$(basename "$f" .csv)
    $REC drift "$NIGHTLY_DIR/data/$prev" "$f" --json 2>/dev/null | node -e '
      const m = JSON.parse(require("node:fs").readFileSync(0, "utf8")).metrics;
      const f = (x, d = 4) => x.toFixed(d);
      console.log(`| ${process.argv[1].slice(5)} | ${f(m.new_users)} | ${f(m.new_items)} | ${f(m.top100_overlap, 2)} | ${f(m.js_items)} | ${f(m.volume_ratio, 2)} |`);
    ' "$night"
    [ -e "$NIGHTLY_DIR/data/$night" ] && prev=$night
  done
  exit 0
fi

cut_log
[ "$MODE" = cut ] && { ls "$OUT"; exit 0; }

NIGHTLY=$ROOT/examples/nightly.sh
echo "bootstrap: $NIGHTLY $OUT/history.csv" >&2
"$NIGHTLY" "$OUT/history.csv" >&2
echo "| night | users compared | candidate ${GATE_METRIC:-ndcg@20} | production | drop | gate | promoted | exit |"
echo "|---|---:|---:|---:|---:|---|---|---:|"
for f in "$OUT"/2014-*.csv; do
  night=$(basename "$f" .csv)
  rc=0
  "$NIGHTLY" "$f" >&2 || rc=$?
  report_night "$night" "$NIGHTLY_DIR/checkpoints/$night" "$NIGHTLY_DIR/production" "$rc"
done
