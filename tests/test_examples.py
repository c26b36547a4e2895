"""The example scripts run, and reproduce what the seeds printed."""

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _run(name, *args):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_seed_000_example_prints_100_epochs_and_the_exact_answer(tmp_path):
    lines = _run("seed_000_line_tutorial.py", "--plot", str(tmp_path / "line.png"))
    assert sum(line.startswith("Epoch count") for line in lines) == 100
    assert any("least squares" in line for line in lines)
    assert (tmp_path / "line.png").stat().st_size > 0


def test_seed_001_example_learns_w_3_b_2():
    lines = _run("seed_001_basic_training_loop.py")
    assert sum(line.startswith("Epoch") for line in lines) == 20
    last = lines[19]  # "Epoch 19: W=2.99 b=1.99, loss=..."
    w = float(last.split("W=")[1].split()[0])
    b = float(last.split("b=")[1].split(",")[0])
    assert abs(w - 3) < 0.1 and abs(b - 2) < 0.1
