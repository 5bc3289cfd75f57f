#!/usr/bin/env bash
# One short GPU check, run from the repository root on a machine with a CUDA device:
# the GPU test module (NCCL and torchrun on one GPU included), the sampling benchmark on
# the GPU, and what bounds a two-site sweep on 1,000 MNIST images (D = 10, 100) on the
# GPU against this machine's CPU (benchmarks/mps_sweep_gpu.py). Uses the machine's own
# python3 and torch; set DEPS to a folder holding packages that python3 lacks (quimb,
# cotengra, autoray, mlxtend).
#
#     DEPS=/path/to/packages bash benchmarks/gpu_check.sh
#
# Such a folder can be filled from this project's .venv, since those packages are pure
# Python: cp -r .venv/lib/python3*/site-packages/{quimb,cotengra,autoray,mlxtend} DIR
set -u
export PYTHONPATH="${DEPS:+$DEPS:}$PWD"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
timeout 300 python3 -m pytest -q -p no:cacheprovider tests/test_gpu.py
timeout 200 python3 benchmarks/mps_sampling.py --device cuda --repeats 3
timeout 400 python3 benchmarks/mps_sweep_gpu.py --bonds 10 100
