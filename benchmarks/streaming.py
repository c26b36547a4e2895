"""Issue 4's bigger-than-memory targets: flat peak memory and CSV throughput.

Writes CSV files of growing row counts (correlated, unscaled features, written in
chunks so the writer stays small), then, each in a fresh process so peak memory is
its own:

- reads every block of the file with ``tapereg.io.readers.open_table`` (parse MB/s);
- ``tapereg fit FILE --stream`` with the gram engine (the default), the data engine
  (a few epochs) and mini-batches (one epoch);

and prints a Markdown table with each run's peak RSS, its ratio to the smallest
file's, and the seconds taken, then one JSON line.

    python benchmarks/streaming.py [--rows 1000000 4000000] [--features 10]
        [--dir /tmp/tapereg-streaming] [--keep]
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--rows", type=float, nargs="+", default=[1e6, 4e6])
parser.add_argument("--features", type=int, default=10)
parser.add_argument("--dir", default="/tmp/tapereg-streaming")
parser.add_argument("--keep", action="store_true", help="keep the CSV files")
args = parser.parse_args()

READ = """
import sys, time
from tapereg.io.readers import open_table
started = time.perf_counter()
rows = sum(X.shape[0] for X, _ in open_table(sys.argv[1], "y"))
print(rows, time.perf_counter() - started)
"""


def write_csv(path: str, n_rows: int, n_features: int, chunk: int = 500_000) -> None:
    """Rows of y = X·w + noise with scales 0.1–100 and offsets, chunk by chunk."""
    rng = np.random.default_rng(0)
    scales = np.geomspace(0.1, 100, n_features)
    offsets = rng.uniform(-500, 500, n_features)
    coef = rng.normal(size=n_features) / scales
    names = [f"x{i}" for i in range(n_features)] + ["y"]
    writer = None
    for start in range(0, n_rows, chunk):
        rows = min(chunk, n_rows - start)
        X = rng.normal(size=(rows, n_features)) * scales + offsets
        y = X @ coef + rng.normal(size=rows)
        table = pa.table(dict(zip(names, [*X.T, y], strict=True)))
        if writer is None:
            writer = pcsv.CSVWriter(path, table.schema)
        writer.write_table(table)
    writer.close()


def peak_of(command: list[str]) -> tuple[float, float, str]:
    """(peak RSS in MiB, seconds, stdout) of a command run in a fresh process."""
    wrapper = (
        "import resource, subprocess, sys, time; t = time.perf_counter(); "
        "r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
        "sys.stderr.write(r.stderr); print(r.stdout.strip()); "
        "print(time.perf_counter() - t); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    done = subprocess.run(
        [sys.executable, "-c", wrapper, *command],
        capture_output=True,
        text=True,
        check=True,
    )
    *out, seconds, peak_kib = done.stdout.strip().splitlines()
    return int(peak_kib) / 1024, float(seconds), "\n".join(out)


os.makedirs(args.dir, exist_ok=True)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
tapereg = [sys.executable, "-m", "tapereg", "fit"]
runs = {
    "read all blocks": lambda p: [sys.executable, "-c", READ, p],
    "fit --stream (gram engine)": lambda p: [*tapereg, p, "--target", "y", "--stream"],
    "fit --stream --engine data --epochs 3": lambda p: [
        *tapereg,
        p,
        "--target",
        "y",
        "--stream",
        "--engine",
        "data",
        "--epochs",
        "3",
    ],
    "fit --stream --batch-size 4096 --epochs 1": lambda p: [
        *tapereg,
        p,
        "--target",
        "y",
        "--stream",
        "--batch-size",
        "4096",
        "--epochs",
        "1",
    ],
}
results = []
for n_rows in (int(r) for r in args.rows):
    path = os.path.join(args.dir, f"rows-{n_rows}.csv")
    if not os.path.exists(path):
        write_csv(path, n_rows, args.features)
    size_mb = os.path.getsize(path) / 1e6
    for name, command in runs.items():
        peak, seconds, out = peak_of([*command(path), *(["--quiet"] * ("fit" in name))])
        row = {"rows": n_rows, "file_mb": size_mb, "run": name}
        row.update(peak_mib=peak, seconds=seconds)
        if name == "read all blocks":
            rows_read, read_seconds = out.split()
            assert int(rows_read) == n_rows
            row["mb_per_s"] = size_mb / float(read_seconds)
        results.append(row)
    if not args.keep:
        os.remove(path)
if not args.keep:
    shutil.rmtree(args.dir, ignore_errors=True)

smallest = {r["run"]: r["peak_mib"] for r in results if r["rows"] == results[0]["rows"]}
print(
    f"{args.features} features, CSV written by pyarrow; peak RSS of a fresh process\n"
)
print(
    "| rows | file MB | run | seconds | CSV MB/s | peak MiB | peak / smallest file's |"
)
print("|---:|---:|---|---:|---:|---:|---:|")
for r in results:
    r["peak_ratio"] = r["peak_mib"] / smallest[r["run"]]
    speed = f"{r['mb_per_s']:.0f}" if "mb_per_s" in r else ""
    print(
        f"| {r['rows']:,} | {r['file_mb']:.0f} | {r['run']} | {r['seconds']:.1f} | "
        f"{speed} | {r['peak_mib']:.0f} | {r['peak_ratio']:.2f} |"
    )
print(json.dumps(results))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, "MiB (this script)")
