#!/bin/sh
# Runs bench/gpu_check.py on a machine with an NVIDIA GPU, within 10 minutes in all.
# Results (gpu_check.json, one log per part, environment.txt) go to $OUT, else output/gpu_check.
#
#   sh bench/gpu_check.sh                    # parity, N = 1000, 3000, 10000, MNIST-1D at batch 100 and 1000,
#                                            # each with dense and per-synapse projections
#   sh bench/gpu_check.sh --sizes 1000 3000 --projections dense  # options are passed on to gpu_check.py
#   PYTHON=/path/to/python sh bench/gpu_check.sh
set -u
cd "$(dirname "$0")/.."
if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
OUT=${OUT:-output/gpu_check}
export OUT
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
{
    nvidia-smi
    nvcc --version
    "$PYTHON" -c "import sys, brian2, brian2cuda; print(sys.version); print('brian2', brian2.__version__, 'brian2cuda', brian2cuda.__version__)"
} > "$OUT/environment.txt" 2>&1
if ! "$PYTHON" -c "import brian2cuda, gle_brian" 2>/dev/null; then
    echo "$PYTHON cannot import brian2cuda and gle_brian: install them with pip install -e '.[cuda]' (details in $OUT/environment.txt)" >&2
    exit 2
fi
exec timeout 590 "$PYTHON" bench/gpu_check.py --budget 560 "$@"
