#!/usr/bin/env bash
# The main job on built-in defaults: Khmer corpus -> fonts -> preview -> fixed validation set ->
# a short on-the-fly CTC training -> evaluation -> ONNX export -> prediction; then the shipped
# Khmer model on a held-out evaluation set; then whole pages (a page image and a PDF) read with the shipped
# detector and recognizer into every output format.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${1:-data}"
RUN="${RUN:-runs/demo}"
MINUTES="${DEMO_MINUTES:-6}"
AKSAR=".venv/bin/aksar"

step() { printf '\n==> %s\n' "$*"; }

step "corpus: normalize, filter, split the built-in Khmer corpus"
$AKSAR corpus build --preset khmer --output-dir "$DATA/processed"

step "fonts: Khmer fonts on this machine and their coverage"
$AKSAR fonts --script khmer --charset "$DATA/processed/charset.txt"

step "preview: a contact sheet of augmented samples"
$AKSAR preview --preset khmer --num-samples 32 --out "$DATA/preview_khmer.png"

step "pages: four synthetic A4 pages with each line's polygon, text and reading order (detection data)"
$AKSAR pages --corpus-dir "$DATA/processed" --output-dir "$DATA/pages" --splits train -o pages.train=4 \
  --workers 1 --overwrite
step "corpus for the short CPU training: lines of at most 25 characters (as configs/khmer_ctc_dev.yaml)"
$AKSAR corpus build --preset khmer --max-length 25 --output-dir "$DATA/khmer_dev/corpus"

step "valset: the fixed validation set of the short-line corpus"
$AKSAR valset --corpus-dir "$DATA/khmer_dev/corpus" --output-dir "$DATA/khmer_dev/validation" \
  --num-samples "${DEMO_VALSET:-512}" --workers 2

rm -rf "$RUN"  # the demo starts a fresh run each time (aksar train refuses to overwrite a run)
step "train: configs/khmer_ctc_dev.yaml (ctc_fast) on the fly for at most $MINUTES minutes"
$AKSAR train configs/khmer_ctc_dev.yaml --output-dir "$RUN" --max-minutes "$MINUTES" \
  -o data.corpus_dir="$DATA/khmer_dev/corpus" -o data.val_dir="$DATA/khmer_dev/validation"

step "eval: the best checkpoint on the fixed validation set"
$AKSAR eval "$RUN/checkpoints/best.pt" "$DATA/khmer_dev/validation" --output-dir "$RUN/eval"

step "export: ONNX with its charset and preprocessing, parity-checked"
$AKSAR export "$RUN/checkpoints/best.pt" --out "$RUN/model.onnx"

step "predict: the exported model on the validation list"
$AKSAR predict "$RUN/model.onnx" "$DATA/khmer_dev/validation/labels.tsv" --out "$RUN/preds.tsv"
head -5 "$RUN/preds.tsv"

step "shipped model: the Khmer recognizer that comes with aksar, on held-out degraded lines (no training)"
$AKSAR models
$AKSAR eval --model khmer eval/khmer/degraded --output-dir "$RUN/eval_shipped_degraded" --threads 1 --no-progress
step "shipped model with its shipped character language model (beam search) on the same lines"
$AKSAR eval --model khmer --lm shipped eval/khmer/degraded --output-dir "$RUN/eval_shipped_degraded_lm" --threads 1 \
  --no-progress

step "ocr: a degraded page in fonts the shipped models never saw -> txt, JSON, hOCR, ALTO, PAGE-XML, searchable PDF"
$AKSAR ocr eval/khmer/pages_degraded/images/test_000000.jpg --format txt,json,hocr,alto,page,pdf \
  --output-dir "$RUN/ocr" --threads 1 --no-progress
head -5 "$RUN/ocr/test_000000.txt"

step "ocr: a two-page PDF (two synthetic pages from the pages step)"
.venv/bin/python - "$DATA/pages/train/images" "$RUN/two_pages.pdf" <<'PY'
import sys
from pathlib import Path
from PIL import Image
pages = [Image.open(p).convert("RGB") for p in sorted(Path(sys.argv[1]).glob("*.png"))[:2]]
pages[0].save(sys.argv[2], "PDF", resolution=150.0, save_all=True, append_images=pages[1:])
PY
$AKSAR ocr "$RUN/two_pages.pdf" --dpi 150 --format txt,json,hocr,alto,page,pdf --output-dir "$RUN/ocr_pdf" \
  --threads 1 --no-progress

step "eval: whole-page reading on 8 held-out-font degraded pages as aksar ocr reads them, with the shipped LM (page CER, matched-line CER, detection hmean)"
$AKSAR eval eval/khmer/pages_degraded --det khmer_det --rec khmer --lm auto --output-dir "$RUN/eval_pages" --threads 1 \
  --no-progress

step "done: reports in $RUN/eval (report.html, report.json), $RUN/eval_shipped_degraded, TensorBoard logs in $RUN/tensorboard; pages with their line polygons drawn in $DATA/pages/train/contact_sheet.png; page reading in $RUN/ocr, $RUN/ocr_pdf and $RUN/eval_pages/report.html; try: .venv/bin/aksar serve"
