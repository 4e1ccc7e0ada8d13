"""`cnnviz train --distribute`, for real: MirroredStrategy over two logical CPU devices."""

import re

import pytest

from cnnviz.distribute import scaled
from tests.library.helpers import cnnviz


def test_scaling_rule():
    assert scaled(32, 1e-4, 4) == (128, 4e-4)
    assert scaled(32, 1e-4, 4, scale_lr=False) == (128, 1e-4)


@pytest.mark.slow
def test_distributed_training_on_two_logical_cpus_learns(tiny_kaggle, tmp_path):
    r = cnnviz(
        "train", "--data", tiny_kaggle, "--train-samples", 32, "--val-samples", 16, "--batch-size", 8,
        "--learning-rate", 5e-5, "--epochs", 6, "--distribute", "--logical-cpus", 2,
        env_extra={"CNNVIZ_CACHE": str(tmp_path / "cache")},
    )
    assert r.returncode == 0, r.stderr
    assert "MirroredStrategy over 2 replicas; global batch 16 (8 per replica), learning rate 1.0e-04" in r.stdout
    losses = [float(m) for m in re.findall(r"^epoch \d+: loss ([0-9.]+)", r.stdout, flags=re.M)]
    assert len(losses) == 6
    assert losses[-1] < losses[0], f"training loss should fall over 6 epochs: {losses}"
