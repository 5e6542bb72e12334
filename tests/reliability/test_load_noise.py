"""Issue 8, item 12: no transformers loading report for weights the project chose not to load;
one line when a user's checkpoint really lacks backbone weights. (Run in a subprocess: the
report is written by transformers' own stderr handler, which pytest's capture may not see.)"""
from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO

SCRIPT = r"""
import sys
from pathlib import Path
from safetensors.torch import load_file, save_file
from kgbert.checkpoints import make_random_checkpoint
from kgbert.models import build_model
from kgbert.models.loading import RANDOM_INIT_MARKER

tiny = dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
            max_position_embeddings=32)
root = Path(sys.argv[1])
init = make_random_checkpoint(root / "init", texts=["头痛发热"], **tiny)
print("== random init", file=sys.stderr, flush=True)
for task in ("token", "sequence"):
    build_model("bert", task, 3, backbone=str(init))
user = make_random_checkpoint(root / "user", texts=["头痛发热"], **tiny)
(user / RANDOM_INIT_MARKER).unlink(missing_ok=True)  # now it is "a user's checkpoint"
print("== complete user checkpoint", file=sys.stderr, flush=True)
build_model("bert", "token", 3, backbone=str(user))
weights = load_file(user / "model.safetensors")
save_file({k: v for k, v in weights.items() if "attention.self.query" not in k}, user / "model.safetensors",
          metadata={"format": "pt"})
print("== user checkpoint lacking weights", file=sys.stderr, flush=True)
build_model("bert", "token", 3, backbone=str(user))
"""


def _sections(err: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    current = None
    for line in err.splitlines():
        if line.startswith("== "):
            current = out.setdefault(line[3:], [])
        elif current is not None and line.strip() and "Loading weights" not in line and "it/s]" not in line:
            current.append(line)
    return out


def test_loading_report_only_when_a_users_checkpoint_lacks_weights(tmp_path):
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "LOAD REPORT" not in proc.stderr and "Consider training" not in proc.stderr, proc.stderr
    parts = _sections(proc.stderr)
    assert parts["random init"] == [] and parts["complete user checkpoint"] == [], parts
    lacking = parts["user checkpoint lacking weights"]
    assert len(lacking) == 1 and "lacks 2 backbone weight(s)" in lacking[0] and "query" in lacking[0], lacking
