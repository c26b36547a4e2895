"""The example scripts run, and reproduce what the seeds printed.

Both run, as ``__main__``, one after the other in one fresh process (one
TensorFlow start-up for the two).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# Each script as ``python SCRIPT ARGS`` would run it, a marker line before its output.
RUN_EACH = """
import json, runpy, sys
for script, *args in json.loads(sys.argv[1]):
    sys.argv = [script, *args]
    print(f"=== {script}", flush=True)
    runpy.run_path(script, run_name="__main__")
"""


@pytest.fixture(scope="module")
def printed(tmp_path_factory):
    """Each example's stdout lines, by file name; and the folder of its plot."""
    folder = tmp_path_factory.mktemp("examples")
    runs = [
        [
            str(EXAMPLES / "seed_000_line_tutorial.py"),
            "--plot",
            str(folder / "line.png"),
        ],
        [str(EXAMPLES / "seed_001_basic_training_loop.py")],
    ]
    result = subprocess.run(
        [sys.executable, "-c", RUN_EACH, json.dumps(runs)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    lines = {}
    for line in result.stdout.splitlines():
        if line.startswith("=== "):
            current = lines.setdefault(Path(line[4:]).name, [])
        else:
            current.append(line)
    return lines, folder


def test_seed_000_example_prints_100_epochs_and_the_exact_answer(printed):
    lines, folder = printed
    lines = lines["seed_000_line_tutorial.py"]
    assert sum(line.startswith("Epoch count") for line in lines) == 100
    assert any("least squares" in line for line in lines)
    assert (folder / "line.png").stat().st_size > 0


def test_seed_001_example_learns_w_3_b_2(printed):
    lines = printed[0]["seed_001_basic_training_loop.py"]
    assert sum(line.startswith("Epoch") for line in lines) == 20
    last = lines[19]  # "Epoch 19: W=2.99 b=1.99, loss=..."
    w = float(last.split("W=")[1].split()[0])
    b = float(last.split("b=")[1].split(",")[0])
    assert abs(w - 3) < 0.1 and abs(b - 2) < 0.1
