#!/usr/bin/env bash
# GPU check of spacy-dice on a transformer, for any CUDA machine without network access. Runs ON
# the GPU machine, from the root of a copy of the checkout that includes .gpu/bundle/.
#
# Needs there: x86_64 Linux, a CUDA GPU, CPython 3.12 with a CUDA build of torch, cupy and numpy;
# everything else (spaCy, thinc, spacy-transformers, MiniLM, UNER data) comes in the bundle.
#
# With network access, once:  benchmarks/build_gpu_wheels.sh        # -> .gpu/bundle/ (~46 MB)
# On the GPU machine:         bash benchmarks/gpu_check.sh
#
# 1. unpacks .gpu/bundle/site.tar.xz (spaCy, thinc, spacy-transformers, transformers 4.x, ... for
#    CPython 3.12) to /tmp and puts it after the checkout on PYTHONPATH (torch, cupy and numpy are
#    the machine's own);
# 2. python -m benchmarks.gpu_check check: the tiny-BERT code-path checks (CE, DSC, ce_then_dsc: loss on
#    cupy, transformer on cuda, decoding), then, when the bundle has MiniLM and UNER data, STEPS
#    updates of dice_ner per loss on MiniLM: words/s (train, predict), P/R/F1 on UNER test, and the
#    DSC/CE speed ratio (target >= 0.95); then, when the bundle has ud_zh/ (UD Chinese-GSD r1.4, the
#    paper's UD1.4, as character docs), the UD1.4 row: dice_seg_tagger (joint word segmentation +
#    UPOS) with CE and DSC on the CNN (ZH_STEPS updates) and on a random BERT with one word piece
#    per character (ZH_TRF_SIZE, default bert-base-chinese's sizes; ZH_TRF_STEPS updates), each run
#    cut at ZH_MAX_SECONDS of training: joint F1 on dev/test, characters/s, DSC/CE speed ratio.
#    About 5-8 minutes in all on an H100 with the defaults (an estimate: not run on a GPU yet).
# Results: $OUT/gpu_check.json and $OUT/gpu_check.log when OUT names a folder, metrics/gpu_check/
# otherwise. Exit status 0 = every check passed.
#
# Environment: BUNDLE (.gpu/bundle), STEPS (300), GPU_ID (0), MIXED_PRECISION (0), PYTHON (python3),
# SKIP (parts not to run, comma-separated: tiny_bert, minilm, ud_zh), ZH_STEPS (1500), ZH_TRF_STEPS (400),
# ZH_TRF_SIZE (base; small, tiny), ZH_BACKBONES (cnn,trf), ZH_MAX_SECONDS (60).
#
# With this workplace's device tool (.gpu/ is git-ignored, so it travels only when carried):
#   run(command="bash benchmarks/gpu_check.sh", carry=[".gpu/bundle"], timeout_s=600)
#   run(command="SKIP=tiny_bert,minilm bash benchmarks/gpu_check.sh", carry=[".gpu/bundle"])  # UD1.4 only
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUNDLE="${BUNDLE:-.gpu/bundle}"
STEPS="${STEPS:-300}"
GPU_ID="${GPU_ID:-0}"
PYTHON="${PYTHON:-python3}"
OUT_DIR="${OUT:-metrics/gpu_check}"
mkdir -p "$OUT_DIR"
[ -f "$BUNDLE/site.tar.xz" ] || {
  echo "error: $BUNDLE/site.tar.xz not found: run benchmarks/build_gpu_wheels.sh on a machine with" \
       "network access and copy $BUNDLE here with the checkout" >&2; exit 2; }

SITE_ROOT="$(mktemp -d /tmp/spacy-dice-site.XXXX)"
tar -xJf "$BUNDLE/site.tar.xz" -C "$SITE_ROOT"
export PYTHONPATH="$ROOT:$SITE_ROOT/site${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false

echo "== device and packages"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PYTHON" -c "
import sys, torch, cupy, numpy, spacy, thinc, transformers, spacy_transformers, spacy_dice
print('python', sys.version.split()[0], '| torch', torch.__version__, '(CUDA', torch.version.cuda, ') | cupy',
      cupy.__version__, '| numpy', numpy.__version__, '| spacy', spacy.__version__, '| thinc', thinc.__version__,
      '| transformers', transformers.__version__)
print('GPU:', torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none')
"

extra=()
[ "${MIXED_PRECISION:-0}" = "1" ] && extra+=(--mixed-precision)
[ -d "$BUNDLE/minilm" ] && extra+=(--minilm "$BUNDLE/minilm")
[ -d "$BUNDLE/data" ] && extra+=(--data "$BUNDLE/data")
[ -d "$BUNDLE/ud_zh" ] && extra+=(--ud-zh "$BUNDLE/ud_zh")
[ -n "${SKIP:-}" ] && extra+=(--skip "$SKIP")
extra+=(--zh-steps "${ZH_STEPS:-1500}" --zh-trf-steps "${ZH_TRF_STEPS:-400}" --zh-trf-size "${ZH_TRF_SIZE:-base}"
        --zh-backbone "${ZH_BACKBONES:-cnn,trf}" --zh-max-seconds "${ZH_MAX_SECONDS:-60}")
echo "== checks (tiny BERT, then MiniLM: $STEPS steps per loss, then UD1.4 when $BUNDLE/ud_zh is there)"
set +e
"$PYTHON" -m benchmarks.gpu_check check --gpu-id "$GPU_ID" --steps "$STEPS" \
  --out "$OUT_DIR/gpu_check.json" ${extra[@]+"${extra[@]}"} 2>&1 | tee "$OUT_DIR/gpu_check.log"
status="${PIPESTATUS[0]}"
rm -rf "$SITE_ROOT"
exit "$status"
