#!/usr/bin/env bash
# Package a trained recognizer as a shipped model: export to ONNX, evaluate it on every set of the
# fixed evaluation sets (eval/SCRIPT), and write its folder (model.onnx, card.json, card.md).
# Usage: [LM=lm.json.gz LM_WEIGHT=w LM_BONUS=b] scripts/ship_model.sh SCRIPT RUN_DIR NAME HARDWARE HOURS [--limit "..."]...
#   e.g. scripts/ship_model.sh khmer runs/khmer_rec_ship khmer_rec_v7 "2-core CPU" 1.42
# With LM set, the language model ships beside the model (--lm shipped) and every set is also
# evaluated with it (sets named SET+lm in the card).
set -euo pipefail
cd "$(dirname "$0")/.."
SCRIPT="$1"; RUN="$2"; NAME="$3"; HARDWARE="$4"; HOURS="$5"; shift 5
AKSAR="${AKSAR:-.venv/bin/aksar}"
WORK="$RUN/ship"
mkdir -p "$WORK"
$AKSAR export "$RUN/checkpoints/best.pt" --out "$WORK/model.onnx"
evals=()
lm_args=()
if [ -n "${LM:-}" ]; then
  lm_args=(--lm "$LM" --lm-weight "$LM_WEIGHT" --lm-bonus "$LM_BONUS")
fi
for set in eval/"$SCRIPT"/*/; do
  set=$(basename "$set")
  case "$set" in pages_*) continue ;; esac  # page sets are measured by benchmarks/page_ocr.py
  $AKSAR eval "$WORK/model.onnx" "eval/$SCRIPT/$set" --output-dir "$WORK/eval_$set" --threads 1 --no-progress
  evals+=(--eval-json "$set=$WORK/eval_$set/report.json")
  if [ -n "${LM:-}" ]; then
    $AKSAR eval "$WORK/model.onnx" "eval/$SCRIPT/$set" --output-dir "$WORK/eval_${set}_lm" --threads 1 --no-progress \
      "${lm_args[@]}"
    evals+=(--eval-json "$set+lm=$WORK/eval_${set}_lm/report.json")
  fi
done
$AKSAR models card "$WORK/model.onnx" --name "$NAME" --alias "$SCRIPT" --checkpoint "$RUN/checkpoints/best.pt" \
  --train-config "configs/${SCRIPT}_rec_ship.yaml" --hardware "$HARDWARE" --hours "$HOURS" \
  "${evals[@]}" "${lm_args[@]}" "$@" --output-dir "src/aksar/zoo/$NAME"
