"""Run the torch-style scripts of tests/compat/scripts, each in a fresh interpreter.

Each script is ordinary PyTorch code with only the import lines changed (``import minigrad as
torch``, ``import minigrad.nn as nn``, ``from minigrad.utils.data import ...``) and asserts its
own results against closed forms or NumPy.
"""

import os
import pathlib
import subprocess
import sys

import pytest

SCRIPTS = sorted((pathlib.Path(__file__).parent / "scripts").glob("*.py"))
ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_torch_style_script_runs(script):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(script.stem + ":"), done.stdout


def test_scripts_change_only_the_imports():
    """No script mentions minigrad anywhere but in its import lines."""
    for script in SCRIPTS:
        for line in script.read_text().splitlines():
            if "minigrad" in line:
                assert line.startswith(("import minigrad", "from minigrad")), (script.name, line)
