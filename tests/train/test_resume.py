"""Resuming from a checkpoint in a fresh process equals the uninterrupted run, bit for bit."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from tests.train import resume_run

ROOT = Path(__file__).resolve().parents[2]


def test_resume_in_fresh_process_is_bit_identical(tmp_path):
    full_params, full_losses = resume_run.run("full", "")
    ckpt = tmp_path / "epoch3.npz"
    first_params, _ = resume_run.run("first", str(ckpt))
    assert ckpt.exists()
    assert not any(np.array_equal(a, b) for a, b in zip(first_params, full_params))

    out = tmp_path / "resumed.npz"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    proc = subprocess.run(
        [sys.executable, "-m", "tests.train.resume_run", "resume", str(ckpt), str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    with np.load(out) as z:
        resumed = [z[f"p{i}"] for i in range(len(full_params))]
        losses = z["losses"].tolist()
    for a, b in zip(full_params, resumed):
        assert a.dtype == b.dtype == np.float32
        assert a.tobytes() == b.tobytes()  # bit-identical, not approximately equal
    assert losses == full_losses  # the restored history continues the same curve
