"""Two-process data-parallel pretraining on CPU (gloo) through torchrun."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from tests.pretraining.helpers import tiny_config
from tests.training.test_distributed import _free_port


@pytest.mark.slow
def test_torchrun_pretraining_two_processes(tmp_path):
    cfg = tiny_config(tmp_path, **{"training.max_steps": 4, "training.ddp_backend": "gloo", "training.save_steps": 2})
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg.to_dict(), allow_unicode=True), encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(_free_port()),
           "-m", "kgbert.pretrain", str(path)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-4000:]
    info = json.loads((cfg.run_dir / "metrics.json").read_text())
    assert info["global_step"] == 4
    assert info["tokens_seen"] == 4 * 2 * 8 * 32  # two processes, 8 sequences of 32 tokens each per step
    assert (cfg.run_dir / "best" / "model.safetensors").is_file()
