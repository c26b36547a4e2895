"""Issue 6: one process against two workers, for each engine, side by side.

Writes two CSV files (the halves of one problem, one row more in the first), then
runs ``tapereg fit`` on both files in one process (``--stream``, the reading path the
workers take) and on a two-worker loopback cluster (``--strategy multi-worker``,
``TF_CONFIG`` with free ports), for the gram engine, the data engine's full batch,
mini-batches and the exact solver. Prints a Markdown table: training seconds (the
report's, which leave out import and reading for the report) and wall seconds of
each, the largest relative difference between the two runs' coefficients, and each
run's MSE and its excess over the exact least-squares MSE (relative); then one JSON
line.

Both workers share this machine's cores, so this measures correctness and the
all-reduces' overhead, not a speed-up. Last, how long worker 0 of 1, 2 and 4 takes
to read its shard of one file (CSV and Parquet), which does shrink with the
number of workers: the other workers' blocks are skipped without being parsed.

    python benchmarks/distributed.py [--rows 1000001] [--features 10]
        [--dir /tmp/tapereg-distributed]
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--rows", type=int, default=1_000_001)
parser.add_argument("--features", type=int, default=10)
parser.add_argument("--dir", default="/tmp/tapereg-distributed")
args = parser.parse_args()

ENGINES = {
    "gram (default)": [],
    "data, full batch, 20 epochs": ["--engine", "data", "--epochs", "20"],
    "mini-batch 4096, 8 epochs": ["--batch-size", "4096", "--epochs", "8"],
    "exact solver (blocked QR)": ["--solver", "exact"],
}
COMMON = ["--target", "y", "--json", "--quiet", "--tol", "none", "--seed", "0"]


def write_halves(n_rows: int, n_features: int) -> list[str]:
    """y = X·w + noise, unscaled features with offsets, split in two files."""
    rng = np.random.default_rng(0)
    scales = np.geomspace(0.1, 100, n_features)
    X = rng.normal(size=(n_rows, n_features)) * scales + rng.uniform(-5, 5, n_features)
    y = X @ (rng.normal(size=n_features) / scales) + rng.normal(size=n_rows)
    names = [f"x{i}" for i in range(n_features)] + ["y"]
    paths, half = [], (n_rows + 1) // 2
    for k, rows in enumerate((slice(0, half), slice(half, n_rows))):
        path = os.path.join(args.dir, f"part-{k}.csv")
        table = pa.table(dict(zip(names, [*X[rows].T, y[rows]], strict=True)))
        pcsv.write_csv(table, path)
        paths.append(path)
    return paths


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def one_process(command: list[str]) -> tuple[dict, float]:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout), time.perf_counter() - started


def two_workers(command: list[str]) -> tuple[dict, float]:
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    started = time.perf_counter()
    workers = [
        subprocess.Popen(
            command,
            env={
                **os.environ,
                "TF_CONFIG": json.dumps(
                    {"cluster": cluster, "task": {"type": "worker", "index": i}}
                ),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outputs = [w.communicate() for w in workers]
    seconds = time.perf_counter() - started
    for worker, (_, err) in zip(workers, outputs, strict=True):
        if worker.returncode:
            sys.exit(f"a worker failed: {err[-2000:]}")
    return json.loads(outputs[0][0]), seconds


def largest_relative(a, b) -> float:
    a, b = np.ravel(a), np.ravel(b)
    return float(np.max(np.abs(a - b) / np.abs(b)))


os.makedirs(args.dir, exist_ok=True)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
files = write_halves(args.rows, args.features)
fit = [sys.executable, "-m", "tapereg", "fit", *files, *COMMON]
results = []
for name, extra in ENGINES.items():
    alone, alone_wall = one_process([*fit, *extra, "--stream"])
    chief, chief_wall = two_workers([*fit, *extra, "--strategy", "multi-worker"])
    results.append(
        {
            "engine": name,
            "one_process_s": alone["seconds"],
            "two_workers_s": chief["seconds"],
            "one_process_wall_s": alone_wall,
            "two_workers_wall_s": chief_wall,
            "coef_difference": largest_relative(chief["coef"], alone["coef"]),
            "excess_mse": [alone["relative_excess_mse"], chief["relative_excess_mse"]],
            "mse": [alone["metrics"]["mse"], chief["metrics"]["mse"]],
            "coef": [alone["coef"], chief["coef"]],
            "intercept": [alone["intercept"], chief["intercept"]],
        }
    )


def shard_reads(path: str) -> list[dict]:
    """Seconds for worker 0 of n to read its shard of one file (shard_of: the other
    workers' blocks are skipped unparsed), against reading every block and
    keeping every n-th (ShardedBlocks), best of two."""
    from tapereg.io.readers import open_table, shard_of
    from tapereg.parallel.shards import ShardedBlocks

    def best(shard) -> float:
        times = []
        for _ in range(2):
            started = time.perf_counter()
            for _block in shard:
                pass
            times.append(time.perf_counter() - started)
        return min(times)

    stream = open_table(path, "y")
    best(stream)  # warm: the file in the page cache, pyarrow's readers loaded
    rows = []
    for count in (1, 2, 4):
        rows.append(
            {
                "workers": count,
                "shard_of_s": best(shard_of(stream, 0, count)),
                "every_block_s": best(ShardedBlocks(stream, 0, count)),
            }
        )
    return rows


def parquet_copy(path: str) -> str:
    """The CSV file as Parquet, in row groups of 65,536 rows."""
    import pyarrow.parquet as pq

    target = path.replace(".csv", ".parquet")
    pq.write_table(pcsv.read_csv(path), target, row_group_size=65_536)
    return target


reads = {
    "CSV": shard_reads(files[0]),
    "Parquet": shard_reads(parquet_copy(files[0])),
}
csv_megabytes = os.path.getsize(files[0]) / 1e6
shutil.rmtree(args.dir, ignore_errors=True)

print(
    f"{args.rows} rows x {args.features} features in two CSV files; both workers on "
    "this machine (loopback)\n"
)
print(
    "| engine | training s, one process | training s, two workers | wall s, one | "
    "wall s, two | coef max rel. difference | MSE: one / two | excess MSE: one / two |"
)
print("|---|---:|---:|---:|---:|---:|---|---|")
for r in results:
    print(
        f"| {r['engine']} | {r['one_process_s']:.2f} | {r['two_workers_s']:.2f} | "
        f"{r['one_process_wall_s']:.1f} | {r['two_workers_wall_s']:.1f} | "
        f"{r['coef_difference']:.2g} | {r['mse'][0]:.10g} / {r['mse'][1]:.10g} | "
        f"{r['excess_mse'][0]:.2g} / {r['excess_mse'][1]:.2g} |"
    )
print("\nCoefficients, one process / two workers:\n")
print("| term | " + " | ".join(r["engine"] for r in results) + " |")
print("|---|" + "---|" * len(results))
terms = [f"x{i}" for i in range(args.features)] + ["intercept"]
for k, term in enumerate(terms):
    cells = []
    for r in results:
        one, two = (
            np.ravel(r["intercept"][i])
            if term == "intercept"
            else np.ravel(r["coef"][i])
            for i in (0, 1)
        )
        at = 0 if term == "intercept" else k
        cells.append(f"{one[at]:.9g} / {two[at]:.9g}")
    print(f"| {term} | " + " | ".join(cells) + " |")
print(
    f"\nWorker 0 of n reading its shard of one file ({csv_megabytes:.0f} MB of CSV, "
    "the same rows in Parquet), seconds:\n"
)
print("| file | workers | shard_of | every block parsed, every n-th kept | ratio |")
print("|---|---:|---:|---:|---:|")
for kind, rows in reads.items():
    for r in rows:
        print(
            f"| {kind} | {r['workers']} | {r['shard_of_s']:.2f} | "
            f"{r['every_block_s']:.2f} | {r['every_block_s'] / r['shard_of_s']:.1f} |"
        )
print(json.dumps({"fits": results, "shard_reads": reads}))
