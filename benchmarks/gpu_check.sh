#!/usr/bin/env bash
# The checks that need a GPU, in one short run (a device lease is ~15 minutes):
#   bash benchmarks/gpu_check.sh            # from the repository root, with deepq's packages installed
# 1. the CUDA tests (tests/test_cuda.py: each value head's learn step against the CPU's, runs on CUDA);
# 2. the Atari loop's steps/s on CUDA and, for scale, on the CPU (benchmarks/atari_throughput.py);
# 3. the same with the rainbow-pong preset's head (C51 + noisy + dueling) on CUDA.
# Uses this checkout's src/ whatever is installed; PYTHON picks the interpreter (default python3).
set -u
PY=${PYTHON:-python3}
export PYTHONPATH="src${PYTHONPATH:+:$PYTHONPATH}" SDL_VIDEODRIVER=dummy PYTHONUNBUFFERED=1
status=0
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))" || exit 1
echo "== CUDA tests"
$PY -m pytest -q -p no:cacheprovider tests/test_cuda.py || status=1
echo "== Atari loop, Nature DQN (pong preset), CUDA"
$PY benchmarks/atari_throughput.py --device cuda --steps 20000 --learning-starts 2000 || status=1
echo "== Atari loop, CPU, for scale"
$PY benchmarks/atari_throughput.py --device cpu --steps 2000 --learning-starts 2000 --threads 8 || status=1
echo "== Atari loop, rainbow-pong's head, CUDA"
$PY benchmarks/atari_throughput.py --device cuda --steps 10000 --learning-starts 2000 --preset rainbow-pong || status=1
exit $status
