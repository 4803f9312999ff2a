#!/usr/bin/env bash
# Nightly retraining with rec (docs/nightly.md): yesterday's log → append to the dataset → drift
# check → fine-tune from production → gate against production on the new day → promote.
#
#   examples/nightly.sh LOG [NIGHT]
#
# LOG is one night's log (CSV/TSV/JSONL, optionally .gz), or its folder: a warehouse's day partition
# such as events/dt=2024-06-02 (Parquet files, read recursively; docs/warehouse.md). NIGHT names the
# night's dataset and checkpoint (default: LOG's file name up to its first dot, e.g. 2024-06-02 for
# 2024-06-02.csv.gz; for a KEY=VALUE partition folder its value, e.g. 2024-06-02 for dt=2024-06-02).
# The very first run (no dataset yet) bootstraps: LOG must then hold several days of history; the
# model is trained from scratch and becomes production without a gate.
#
# Exit codes: 0 promoted, or nothing to do (the night was already done);
#             3 drift alarm (before training) or quality gate failed (production unchanged);
#             1/2 a runtime or usage error from rec (its message says which).
#
# Variables (environment), with their defaults:
#   NIGHTLY_DIR=nightly    state: data/<night>/ datasets, checkpoints/<night>/, the `current`
#                          link (the dataset of the last accepted night), `production` (rec promote)
#   REC=rec                how to run rec (e.g. "npx rec", "node /opt/rec/bin/rec.js")
#   MODEL=mf               model family (mf, gmf, mlp, neumf)
#   TRAIN_ARGS=""          extra flags for both trainings, e.g. "--dim 32 --negatives 4"
#   BOOTSTRAP_EPOCHS=10    epochs of the first, from-scratch training
#   EPOCHS=20              epochs of each nightly fine-tune
#   LR=0.005               fine-tuning learning rate
#   REPLAY=2               older rows replayed per new row each epoch (0: the new rows alone)
#                          EPOCHS/LR/REPLAY are the settings that held up in the freshness
#                          benchmark (docs/benchmarks.md, "Nightly retraining"): without replay a
#                          fine-tuned chain forgets and falls below the stale model within days
#   PREP_ARGS=""           extra flags for the first rec prep (columns, event weights...); later
#                          nights inherit them from the dataset they append to
#   WINDOW_DAYS=""         keep only this many days of data (rec prep --window); empty: keep all
#   ITEMS=""               the night's item catalogue (CSV/TSV/JSONL, optionally .gz; rec prep --items),
#                          e.g. the full product export of the day: its rows replace the dataset's
#                          features, and a product launched today gets its index and features tonight,
#                          before its first row. Empty: no catalogue (the dataset's features are
#                          carried as they are). Set but not a file: exit 2
#   ITEM_FEATURES=""       rec prep --item-features for ITEMS, e.g.
#                          "title:text,brand:category,categories:multi,price:number"; empty: guessed the
#                          first night, the dataset's own later (set, it must match them: else exit 2)
#   ITEM_KEY=""            rec prep --item-key for ITEMS; empty: guessed, then the dataset's
#   DRIFT_FAIL_OVER="new_users=0.5,new_items=0.5" rec drift alarms, LOG vs the current dataset
#                          (js_items is not gated by default: one day against a long history
#                          reads ~0.7 on real logs from sampling alone; see docs/nightly.md)
#   DRIFT_FAIL_UNDER="volume_ratio=0.1"            (exit 3 before anything is written); none: no check
#   METRICS=recall,ndcg  K=20                      what the gate measures
#   MAX_DROP="ndcg@20=20%"                         the gate: largest allowed drop vs production.
#                          One day's test split is small (~250 users on Tmall): two equally good
#                          fine-tunes (same data, another seed) land 8 % apart (sd) on it, and 10 %
#                          failed 4 of 14 daily nights; 20 % is 2.5 sd, and a broken fine-tune
#                          drops far more (docs/nightly.md, "Daily nights on Tmall")
#   SEED=2020  BACKEND=auto
set -euo pipefail

usage() { echo "usage: $0 LOG [NIGHT]   (variables: see the top of this script)" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
LOG=$1
[ -f "$LOG" ] || [ -d "$LOG" ] || { echo "nightly: $LOG is not a file or a folder" >&2; exit 2; }
NIGHT=${2:-$(basename "$LOG")}
NIGHT=${NIGHT#*=}
NIGHT=${NIGHT%%.*}

NIGHTLY_DIR=${NIGHTLY_DIR:-nightly}
REC=${REC:-rec}
MODEL=${MODEL:-mf}
TRAIN_ARGS=${TRAIN_ARGS:-}
BOOTSTRAP_EPOCHS=${BOOTSTRAP_EPOCHS:-10}
EPOCHS=${EPOCHS:-20}
LR=${LR:-0.005}
REPLAY=${REPLAY:-2}
PREP_ARGS=${PREP_ARGS:-}
WINDOW_DAYS=${WINDOW_DAYS:-}
ITEMS=${ITEMS:-}
ITEM_FEATURES=${ITEM_FEATURES:-}
ITEM_KEY=${ITEM_KEY:-}
DRIFT_FAIL_OVER=${DRIFT_FAIL_OVER:-new_users=0.5,new_items=0.5}
DRIFT_FAIL_UNDER=${DRIFT_FAIL_UNDER-volume_ratio=0.1}
METRICS=${METRICS:-recall,ndcg}
K=${K:-20}
MAX_DROP=${MAX_DROP:-ndcg@20=20%}
SEED=${SEED:-2020}
BACKEND=${BACKEND:-auto}

say() { echo "nightly[$NIGHT]: $*" >&2; }
# $REC and the *_ARGS variables are word-split on purpose (a command with arguments, lists of flags).
rec() { $REC "$@"; }

mkdir -p "$NIGHTLY_DIR/data" "$NIGHTLY_DIR/checkpoints"
STATE=$(cd "$NIGHTLY_DIR" && pwd -P)
CURRENT=$STATE/current
PRODUCTION=$STATE/production
DATA=$STATE/data/$NIGHT
CKPT=$STATE/checkpoints/$NIGHT
WINDOW=()
[ -n "$WINDOW_DAYS" ] && WINDOW=(--window "$WINDOW_DAYS")
# The same catalogue flags for the first prep and every append (--append-to checks them against the base's).
CATALOGUE=()
if [ -n "$ITEMS" ]; then
  [ -f "$ITEMS" ] || { echo "nightly: ITEMS=$ITEMS is not a file (unset ITEMS for a night without a catalogue)" >&2; exit 2; }
  CATALOGUE=(--items "$ITEMS")
  [ -n "$ITEM_FEATURES" ] && CATALOGUE+=(--item-features "$ITEM_FEATURES")
  [ -n "$ITEM_KEY" ] && CATALOGUE+=(--item-key "$ITEM_KEY")
fi

# One night at a time: two runs at once would each append to the same `current`, and the second
# set_current would drop the first run's night. A second run waits (saying for whom); the lock of a
# run that was killed (its pid gone) is taken over.
take_lock() {
  local lock=$STATE/.nightly.lock holder announced=
  until mkdir "$lock" 2>/dev/null; do
    holder=$(cat "$lock/pid" 2>/dev/null || true)
    # Gone: its pid is dead, or it never wrote one (killed right after mkdir) a minute ago.
    if { [ -n "$holder" ] && ! kill -0 "$holder" 2>/dev/null; } || { [ -z "$holder" ] && [ -n "$(find "$lock" -maxdepth 0 -mmin +1 2>/dev/null)" ]; }; then
      rm -rf "$lock"
      continue
    fi
    [ -n "$announced" ] || say "waiting for pid ${holder:-?} (another nightly run, $lock) to finish"
    announced=1
    sleep 1
  done
  echo $$ >"$lock/pid"
  trap 'rm -rf "$STATE/.nightly.lock"' EXIT
}
take_lock

# Points the `current` link at a dataset in one rename, like rec promote does for production.
set_current() {
  rm -f "$STATE/.current.tmp-$$"
  ln -s "data/$NIGHT" "$STATE/.current.tmp-$$"
  # rename(2) replaces the link itself (mv would move into the folder it points at).
  node -e 'require("node:fs").renameSync(process.argv[1], process.argv[2])' "$STATE/.current.tmp-$$" "$CURRENT"
}

# Is LOG among the sources of the current dataset? Then its night was accepted before. Compared
# as rec prep --append-to compares: by the sha256 of the content (a .gz decompressed, since gzip
# stores a timestamp and the same night compressed again differs), or of the file itself. A folder
# (a day partition) was accepted when every file in it was (names starting with _ or . skipped, as rec does).
already_in_current() {
  [ -e "$CURRENT/manifest.json" ] || return 1
  node -e '
    const { createHash } = require("node:crypto");
    const fs = require("node:fs");
    const path = require("node:path");
    const zlib = require("node:zlib");
    const [log, manifest] = process.argv.slice(1);
    const m = JSON.parse(fs.readFileSync(manifest, "utf8"));
    const files = (p) => fs.statSync(p).isDirectory()
      ? fs.readdirSync(p).filter((n) => !/^[_.]/.test(n)).flatMap((n) => files(path.join(p, n)))
      : [p];
    const known = (one) => new Promise((done) => {
      const file = createHash("sha256");
      const content = createHash("sha256");
      const raw = fs.createReadStream(one).on("data", (b) => file.update(b));
      const body = one.toLowerCase().endsWith(".gz") ? raw.pipe(zlib.createGunzip()) : raw;
      body.on("data", (b) => content.update(b));
      body.on("error", () => done(false));
      body.on("end", () => {
        const [f, c] = [file.digest("hex"), content.digest("hex")];
        done((m.sources || []).some((s) => s.sha256 === f || s.content_sha256 === c));
      });
    });
    const all = files(log);
    Promise.all(all.map(known)).then((r) => process.exit(all.length > 0 && r.every(Boolean) ? 0 : 1));
  ' "$LOG" "$CURRENT/manifest.json"
}

same_folder() { [ -e "$1" ] && [ -e "$2" ] && [ "$(cd "$1" && pwd -P)" = "$(cd "$2" && pwd -P)" ]; }

# 1. Data: append the night's log to the current dataset (the first night: prep it alone), with the
#    night's catalogue when ITEMS names one. The last day becomes the test split (--split days:0,1):
#    the gate compares models on the newest day.
if [ ! -e "$CURRENT" ]; then
  say "no dataset yet: bootstrapping from $LOG"
  # shellcheck disable=SC2086
  rec prep "$LOG" --out "$DATA" --split days:0,1 ${WINDOW[@]+"${WINDOW[@]}"} ${CATALOGUE[@]+"${CATALOGUE[@]}"} $PREP_ARGS
  set_current
elif already_in_current; then
  say "$LOG is already in the current dataset ($(readlink "$CURRENT")): not prepped again"
  if ! same_folder "$CURRENT" "$DATA"; then
    # Accepted before, and later nights (or this log under another name) came since: training and
    # promoting it now could only replace a newer production with an older model.
    say "nothing to do: the current dataset is $(readlink "$CURRENT"), accepted after this night"
    exit 0
  fi
else
  # 2. Drift, before anything is written: a broken upstream export (ids from another system, a
  #    collapsed volume, a reshuffled catalogue) stops the night; the log is read with the
  #    dataset's prep settings.
  if [ "$DRIFT_FAIL_OVER" != none ]; then
    rc=0
    rec drift "$CURRENT" "$LOG" --fail-over "$DRIFT_FAIL_OVER" ${DRIFT_FAIL_UNDER:+--fail-under "$DRIFT_FAIL_UNDER"} || rc=$?
    if [ "$rc" -ne 0 ]; then
      [ "$rc" -eq 3 ] && say "drift alarm: stopping before training; the current dataset and production are unchanged"
      exit "$rc"
    fi
  fi
  rec prep "$LOG" --append-to "$CURRENT" --out "$DATA" --split days:0,1 ${WINDOW[@]+"${WINDOW[@]}"} ${CATALOGUE[@]+"${CATALOGUE[@]}"}
  set_current
fi
# The real folder, not the link: run.json records it, and eval/recommend find the data there later.
DATA=$(cd "$CURRENT" && pwd -P)

if same_folder "$PRODUCTION" "$CKPT"; then
  say "nothing to do: production already is $CKPT"
  exit 0
fi

# 3. Train: from scratch the first time, else fine-tune production on the rows newer than its
#    training data, replaying a sample of older rows. A killed run resumes; a finished one is kept.
status=$(node -e 'try { console.log(JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8")).status) } catch { console.log("none") }' "$CKPT/run.json")
if [ "$status" = completed ] || [ "$status" = stopped_early ]; then
  say "$CKPT is already trained ($status)"
elif [ -e "$CKPT/last/trainer_state.json" ]; then
  say "resuming $CKPT ($status)"
  rec train --out "$CKPT" --resume --backend "$BACKEND"
else
  # A run killed before its first saved state starts over (--force replaces only what rec wrote).
  AGAIN=()
  [ -e "$CKPT" ] && AGAIN=(--force)
  if [ ! -e "$PRODUCTION" ]; then
    # shellcheck disable=SC2086
    rec train --data "$DATA" --model "$MODEL" --epochs "$BOOTSTRAP_EPOCHS" --seed "$SEED" --backend "$BACKEND" \
      --out "$CKPT" ${AGAIN[@]+"${AGAIN[@]}"} $TRAIN_ARGS
  else
    # shellcheck disable=SC2086
    rec train --data "$DATA" --model "$MODEL" --init-from "$PRODUCTION" --lr "$LR" --replay "$REPLAY" \
      --epochs "$EPOCHS" --seed "$SEED" --backend "$BACKEND" --out "$CKPT" ${AGAIN[@]+"${AGAIN[@]}"} $TRAIN_ARGS
  fi
fi

# 4. Gate: both models on the same newest day; exit 3 leaves production as it is.
if [ -e "$PRODUCTION" ]; then
  rc=0
  rec eval "$CKPT" --metrics "$METRICS" --k "$K" --baseline "$PRODUCTION" --max-drop "$MAX_DROP" --backend "$BACKEND" || rc=$?
  if [ "$rc" -ne 0 ]; then
    [ "$rc" -eq 3 ] && say "quality gate failed ($MAX_DROP): production stays $(readlink "$PRODUCTION")"
    exit "$rc"
  fi
else
  rec eval "$CKPT" --metrics "$METRICS" --k "$K" --backend "$BACKEND"
fi

# 5. Promote (checks the gate eval itself; the first promotion needs only a completed run).
rec promote "$CKPT" --to "$STATE"
say "promoted $CKPT"
