#!/usr/bin/env bash
# One short GPU check, run from the repository root on a machine with a CUDA device:
# the GPU test module, the sampling benchmark on the GPU, and seconds per two-site sweep
# on 1,000 MNIST images (D = 10, 50, 100). Uses the machine's own python3 and torch; set
# DEPS to a folder holding packages that python3 lacks (quimb, cotengra, autoray, mlxtend).
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
timeout 200 python3 - <<'EOF'
import time

import torch

import tnborn.linalg
from tnborn import MPSBornMachine
from tnborn.datasets import mnist

data = mnist(limit=1000, seed=0).cuda()
host_svd_max = tnborn.linalg.HOST_SVD_MAX
for bond, where in ((10, "host"), (50, "host"), (100, "host"), (50, "GPU")):
    tnborn.linalg.HOST_SVD_MAX = host_svd_max if where == "host" else 0
    model = MPSBornMachine(784, max_bond=bond, seed=0, device="cuda")
    model.fit(data, sweeps=3, progress=False)  # let the bonds grow
    torch.cuda.synchronize()
    start = time.perf_counter()
    record = model.fit(data, sweeps=2, progress=False)[-1]
    torch.cuda.synchronize()
    print(f"GPU sweep at max_bond {bond}, SVD on the {where}: "
          f"{(time.perf_counter() - start) / 2:.2f} s per sweep "
          f"(bond {record['max_bond']}, NLL {record['train_nll']:.2f})")
EOF
