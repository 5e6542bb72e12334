"""Two-process data-parallel training on CPU (gloo) through torchrun."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import yaml

from tests.training.helpers import ner_config


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_torchrun_two_processes_gloo(tmp_path):
    cfg = ner_config(tmp_path, epochs=1, ddp_backend="gloo")
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(_free_port()),
           "-m", "kgbert.train", str(path)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-4000:]
    m = json.loads((tmp_path / "run/metrics.json").read_text())
    assert m["world_size"] == 2
    # 48 examples, 8 per device, 2 devices -> 3 optimizer steps in the one epoch.
    assert m["global_step"] == 3
    assert len((tmp_path / "run/predictions/test.jsonl").read_text().splitlines()) == 16
