#!/usr/bin/env bash
# GPU checks and figures, run on a lent CUDA machine over a copy of this repo (see BENCHMARKS.md).
# It has no network: the wheels (.whl: uharfbuzz, lmdb, pillow, freetype-py -- the glyph-cache renderer needs it), the Khmer fonts and FriBiDi (.gpu/fonts,
# .gpu/lib) and a built corpus (.gpu/corpus, from `aksar corpus build --preset khmer`) travel with it.
#   part "checks": fp32/bf16/fp16 steps, batch_size auto, torchrun+NCCL, samples/s and loader share per preset
#                  model (issue 13: the CTC presets should wait on the loader under 10% of the step)
#   part "train":  a longer bf16 run of one model (default ctc_fast) whose checkpoint comes back in $OUT
set -uo pipefail
PART="${1:-checks}"; MODEL="${2:-ctc_fast}"; MINUTES="${3:-7}"; STEPS="${4:-7000}"
OUT="${OUT:-/tmp/out}"; mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/src LD_LIBRARY_PATH=$PWD/.gpu/lib:${LD_LIBRARY_PATH:-} PYTHONUNBUFFERED=1
W=$(( $(nproc) - 2 ))
FONTS="data.synth.font_dirs=[$PWD/.gpu/fonts]"
COMMON=(-o data.corpus_dir=.gpu/corpus -o data.val_dir=/tmp/val -o "$FONTS" -o data.num_workers=$W)
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, PIL.features as f; print('torch', torch.__version__, torch.cuda.get_device_name(0), 'raqm', f.check('raqm'))"
python3 -m aksar valset --corpus-dir .gpu/corpus --output-dir /tmp/val --num-samples 2000 --workers $W \
  --font-dir .gpu/fonts | tail -3
if [ "$PART" = checks ]; then
  echo "== samples/s per preset model (bf16, batch 128, $W loader workers)"
  python3 benchmarks/train.py --configs configs/khmer_ctc_main.yaml --device cuda --warmup 10 --steps 30 \
    --models ctc_fast ctc_small ctc_medium ctc_large ctc_mobilenet seq2seq_small seq2seq_medium \
    "${COMMON[@]}" -o data.batch_size=128 -o run.precision=bf16 2>&1 | grep -v Warning | tee "$OUT/gpu_models.md"
  echo "== precision: fp32 / fp16 (GradScaler) / bf16 on ctc_small"
  python3 benchmarks/train.py --configs configs/khmer_ctc_main.yaml --device cuda --warmup 10 --steps 30 \
    "${COMMON[@]}" -o data.batch_size=128 -o run.precision=fp32 2>&1 | tail -1 | tee -a "$OUT/gpu_precision.md"
  python3 benchmarks/train.py --configs configs/khmer_ctc_main.yaml --device cuda --warmup 10 --steps 30 \
    "${COMMON[@]}" -o data.batch_size=128 -o run.precision=fp16 2>&1 | tail -1 | tee -a "$OUT/gpu_precision.md"
  echo "== batch_size: auto"
  python3 -m aksar train configs/khmer_ctc_main.yaml --output-dir /tmp/auto "${COMMON[@]}" -o data.batch_size=auto \
    -o run.max_steps=20 -o data.val_max_samples=64 -o logging.log_every_steps=10 2>&1 | grep -iE "batch|error|step 20" | head -8
  echo "== torchrun, 1 process, NCCL"
  torchrun --standalone --nproc_per_node 1 -m aksar train configs/khmer_ctc_main.yaml --output-dir /tmp/ddp \
    "${COMMON[@]}" -o run.max_steps=30 -o data.val_max_samples=64 -o run.precision=bf16 -o logging.log_every_steps=10 \
    2>&1 | grep -iE "nccl|backend|world|error|step 30|val" | head -8
else
  echo "== train $MODEL for $MINUTES minutes (bf16)"
  python3 -m aksar train configs/khmer_ctc_main.yaml --output-dir /tmp/run_$MODEL "${COMMON[@]}" -o model.name=$MODEL \
    -o data.batch_size=128 -o run.precision=bf16 -o run.epochs=100 -o run.val_every_steps=1000 \
    -o data.samples_per_epoch=200000 -o data.val_max_samples=1000 -o optimizer.lr=0.002 \
    -o early_stopping.patience=null -o run.max_steps=$STEPS --max-minutes "$MINUTES" 2>&1 | grep -vE "Warning" | tail -40 | tee "$OUT/train_log.txt"
  cp /tmp/run_$MODEL/checkpoints/best.pt "$OUT/${MODEL}_best.pt"; cp /tmp/run_$MODEL/metrics.jsonl "$OUT/${MODEL}_metrics.jsonl"
fi
