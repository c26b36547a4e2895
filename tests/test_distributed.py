"""Training across workers: shards and the pooled moments (transport-free parts)."""

import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
from conftest import correlated_problem
from test_nist import MIN_LRE, lre
from test_nist import load as load_nist

from tapereg.numerics.exact import solve_least_squares, solve_least_squares_stream
from tapereg.numerics.moments import data_moments, pooled_moments
from tapereg.parallel.shards import ShardedBlocks


def _in_lockstep(n_workers):
    """A ``sum_across`` for n threads: each deposits its array, all get the sum."""
    barrier = threading.Barrier(n_workers)
    slots = [None] * n_workers

    def for_worker(k):
        def sum_across(array):
            slots[k] = array
            barrier.wait()
            total = sum(slots)
            barrier.wait()  # nobody overwrites a slot before all have summed
            return total

        return sum_across

    return for_worker


@pytest.mark.parametrize("weighted", [False, True])
def test_pooled_moments_equal_the_moments_of_all_rows(weighted):
    X, y, _ = correlated_problem(1001, 4, seed=3)
    X = X + 1e6  # offsets: raw second moments about 0 would cancel
    Y = np.column_stack([y, 2 * y])
    w = np.random.default_rng(0).uniform(0.5, 2.0, 1001) if weighted else None
    shards = [slice(0, 400), slice(400, 400), slice(400, 1001)]  # one is empty
    local = [
        data_moments(X[s], Y[s], None if w is None else w[s])
        if s.stop > s.start
        else None
        for s in shards
    ]
    sum_for = _in_lockstep(len(shards))
    with ThreadPoolExecutor(len(shards)) as pool:
        pooled = list(
            pool.map(
                lambda k: pooled_moments(local[k], 6, 4, sum_for(k)),
                range(len(shards)),
            )
        )
    whole = data_moments(X, Y, w)
    for result in pooled:
        assert result.n_samples == 1001 and result.n_features == 4
        assert result.weighted == weighted
        np.testing.assert_allclose(result.total_weight, whole.total_weight, rtol=1e-14)
        np.testing.assert_allclose(result.mean, whole.mean, rtol=1e-14)
        np.testing.assert_allclose(result.covariance, whole.covariance, rtol=1e-9)


def _gathering(sum_across, index, count):
    """A ``gather`` over a ``sum_across``, as ``distributed.Across.gather`` does."""

    def gather(array):
        slots = np.zeros((count, *np.shape(array)))
        slots[index] = array
        return sum_across(slots)

    return gather


@pytest.mark.parametrize("name", MIN_LRE)
def test_exact_solver_across_shards_keeps_the_certified_digits(name):
    """The NIST problems split over three workers (one with no rows): each factors
    its shard centred on the pooled means, the stacked factors give every worker
    the solution, to the digits one process certifies (Filip: 7.4 against 8.3)."""
    problem = load_nist(name)
    X, Y = problem.X, problem.y[:, None]
    n, d = X.shape
    shards = [slice(0, n // 3), slice(n // 3, n // 3), slice(n // 3, n)]
    sum_for = _in_lockstep(len(shards))

    def worker(k):
        rows = shards[k]
        blocks = [(X[rows], Y[rows])] if rows.stop > rows.start else []
        local = data_moments(X[rows], Y[rows]) if blocks else None
        moments = pooled_moments(local, d + 1, d, sum_for(k))
        return solve_least_squares_stream(
            blocks,
            moments,
            d,
            fit_intercept=problem.fit_intercept,
            gather=_gathering(sum_for(k), k, len(shards)),
        )

    with ThreadPoolExecutor(len(shards)) as pool:
        solutions = list(pool.map(worker, range(len(shards))))
    for solution in solutions:
        assert np.array_equal(solution.coef, solutions[0].coef)
        digits = lre(solution.coef[:, 0], problem.coef)
        assert digits.min() >= MIN_LRE[name][0], f"{name}: LRE {np.round(digits, 1)}"
        if problem.fit_intercept:
            assert lre(solution.intercept[0], problem.intercept) >= MIN_LRE[name][0]


def test_exact_solver_across_weighted_shards_equals_all_rows():
    X, y, _ = correlated_problem(1001, 4, seed=3)
    X = X * [1.0, 1e3, 1e-3, 1.0] + 1e6
    Y = np.column_stack([y, 2 * y - 1])
    w = np.random.default_rng(1).uniform(0.5, 2.0, 1001)
    shards = [slice(0, 700), slice(700, 1001)]
    sum_for = _in_lockstep(2)

    def worker(k):
        rows = shards[k]
        moments = pooled_moments(
            data_moments(X[rows], Y[rows], w[rows]), 6, 4, sum_for(k)
        )
        chunks = [(X[r], Y[r], w[r]) for r in np.array_split(np.arange(1001)[rows], 3)]
        return solve_least_squares_stream(
            chunks, moments, 4, alpha=0.1, gather=_gathering(sum_for(k), k, 2)
        )

    with ThreadPoolExecutor(2) as pool:
        solutions = list(pool.map(worker, range(2)))
    whole = solve_least_squares(X, Y, w, alpha=0.1)
    for solution in solutions:
        np.testing.assert_allclose(solution.coef, whole.coef, rtol=1e-9)
        np.testing.assert_allclose(solution.intercept, whole.intercept, rtol=1e-9)
        np.testing.assert_allclose(solution.gram_inverse, whole.gram_inverse, rtol=1e-8)
        assert solution.rank == whole.rank == 4


def _numbered_csv(path, n_rows, newline="\n", bad_row=None):
    """A CSV whose column ``i`` numbers its rows (1-based), ``x`` and ``y`` values;
    row ``bad_row`` (if any) holds text in ``x``."""
    lines = ["i,x,y"] + [
        f"{k},{'oops' if k == bad_row else 0.5 * k},{k % 7}"
        for k in range(1, n_rows + 1)
    ]
    path.write_bytes(newline.join(lines).encode() + newline.encode())
    return path


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["LF", "CRLF"])
def test_shard_of_one_file_deals_its_blocks_evenly_unparsed(tmp_path, newline):
    """Three workers on one CSV: each block of the stream goes to one worker, in
    order, the shards within one block of each other; every row once."""
    from tapereg.io.readers import open_table, shard_of

    path = _numbered_csv(tmp_path / "d.csv", 20001, newline)
    stream = open_table(path, "y", block_bytes=8192)
    blocks = [X[:, 0].tolist() for X, _ in stream]
    assert len(blocks) > 20
    shards = [[X[:, 0].tolist() for X, _ in shard_of(stream, k, 3)] for k in range(3)]
    assert sorted(b for shard in shards for b in shard) == sorted(blocks)
    for shard in shards:
        assert shard == [b for b in blocks if b in shard]  # in the stream's order
    sizes = [sum(len(b) for b in shard) for shard in shards]
    assert max(sizes) - min(sizes) <= max(len(b) for b in blocks)
    for k, shard in enumerate(shards):
        table = shard_of(stream, k, 3).read()
        assert table.X[:, 0].tolist() == [row for block in shard for row in block]


def _damage_row_group(path, group):
    """Overwrite the first page header of every column chunk of one row group."""
    import pyarrow.parquet as pq

    with pq.ParquetFile(path) as parquet:
        chunks = parquet.metadata.row_group(group)
        offsets = [chunks.column(c).data_page_offset for c in range(chunks.num_columns)]
    with open(path, "r+b") as file:
        for offset in offsets:
            file.seek(offset)
            file.write(b"\xff" * 16)


def test_shard_of_parquet_reads_only_the_row_groups_of_its_blocks(tmp_path):
    """Row groups of 128 rows, blocks of 64: group g holds blocks 2g and 2g + 1.
    Of three workers, worker 1 owns neither block of group 1 (blocks 2 and 3):
    with that group damaged, it alone reads its shard, since it never reads
    the group; every row goes to exactly one worker."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tapereg.errors import DataError
    from tapereg.io.readers import open_table, shard_of

    n = 1000
    table = pa.table({"i": np.arange(n, dtype=float), "y": np.ones(n)})
    path = tmp_path / "d.parquet"
    pq.write_table(
        table, path, row_group_size=128, compression="none", use_dictionary=False
    )
    stream = open_table(path, "y", block_bytes=64 * 8 * 2)
    rows = []
    for k in range(3):
        rows += [v for X, _ in shard_of(stream, k, 3) for v in X[:, 0]]
    assert sorted(rows) == list(range(n))
    assert len(list(shard_of(stream, 1, 3))) == 5  # blocks 1, 4, 7, 10, 13 of 16

    _damage_row_group(path, 1)
    with pytest.raises(DataError, match="cannot read it"):
        list(stream)
    for k in (0, 2):
        with pytest.raises(DataError, match="cannot read it"):
            list(shard_of(stream, k, 3))
    assert [X[0, 0] for X, _ in shard_of(stream, 1, 3)] == [64, 256, 448, 640, 832]


def test_a_bad_cell_is_found_by_its_blocks_owner_and_named_by_its_row(tmp_path):
    from tapereg.errors import DataError
    from tapereg.io.readers import open_table, shard_of

    path = _numbered_csv(tmp_path / "d.csv", 20001, bad_row=12345)
    stream = open_table(path, "y", block_bytes=8192)
    with pytest.raises(DataError) as whole:
        list(stream)
    assert "row 12345" in str(whole.value)
    owners = []
    for k in range(3):
        try:
            list(shard_of(stream, k, 3))
        except DataError as error:
            assert str(error) == str(whole.value)  # the same row number
            owners.append(k)
    assert len(owners) == 1  # the others never parsed that block


@pytest.mark.parametrize(
    "rows, by_files",
    [
        ([20000] * 4, True),  # two files each
        ([40000, 20000, 20000], True),  # the big one alone, the two small together
        ([20000] * 3, False),  # files would give one worker twice the other's
    ],
)
def test_shard_of_deals_whole_files_only_when_they_balance(tmp_path, rows, by_files):
    from tapereg.io.readers import open_table, shard_of

    paths, first = [], 1
    for k, n in enumerate(rows):
        lines = ["i,y"] + [f"{first + r:06d},1" for r in range(n)]  # equal widths
        path = tmp_path / f"part-{k}.csv"
        path.write_text("\n".join(lines) + "\n")
        paths.append(path)
        first += n
    stream = open_table(paths, "y", block_bytes=4096)
    shards = [shard_of(stream, k, 2) for k in range(2)]
    seen = [sorted(v for X, _ in shard for v in X[:, 0]) for shard in shards]
    assert sorted(seen[0] + seen[1]) == list(range(1, first))
    assert all(
        shard.shard == ((0, 1) if by_files else (k, 2))
        for k, shard in enumerate(shards)
    )
    if by_files:
        assert sorted(len(shard.files) for shard in shards) == sorted(
            [2, 2] if len(rows) == 4 else [1, 2]
        )
    # Equal bytes by files; by blocks within one block of rows.
    largest_block = max(X.shape[0] for X, _ in stream)
    difference = abs(len(seen[0]) - len(seen[1]))
    assert difference == 0 if by_files else 0 < difference <= largest_block


def test_sharded_blocks_split_a_stream_round_robin():
    blocks = [(np.full((2, 1), k), np.zeros((2, 1))) for k in range(7)]
    shards = [ShardedBlocks(blocks, i, 3) for i in range(3)]
    seen = [[int(X[0, 0]) for X, _ in shard] for shard in shards]
    assert seen == [[0, 3, 6], [1, 4], [2, 5]]
    with pytest.raises(ValueError, match="worker index 3"):
        ShardedBlocks(blocks, 3, 3)


# -- two real workers on loopback ----------------------------------------------------

# One pair of worker processes runs every API job below in turn (a process builds
# one multi-worker strategy and keeps it), printing each worker's results as one
# JSON line; a test per job then compares them with one process's fit.
WORKER = """
import json, sys, warnings
import numpy as np
import pandas as pd
from tapereg import LinearRegressor
from tapereg.io.readers import open_table, shard_of
from tapereg.parallel.cluster import resolve_strategy, worker_index

index, count = worker_index(resolve_strategy("multi-worker"))


def rows(path, mode, params):
    calls = params.pop("partial_fit", 0)
    model = LinearRegressor(strategy="multi-worker", dtype="float64", **params)
    if mode == "stream":  # every other block of rows
        blocks = shard_of(open_table(path, "y", block_bytes=4096), index, count)
        if calls:
            model.partial_fit_stream(blocks)
        else:
            model.fit_stream(blocks)
        rows = sum(X.shape[0] for X, _ in blocks)
    else:  # in memory: every other row
        table = open_table(path, "y").read()
        X, y = table.X[index::count], table.y[index::count, 0]
        if calls:  # the same number of calls on every worker
            for part in np.array_split(np.arange(X.shape[0]), calls):
                model.partial_fit(X[part], y[part])
        else:
            model.fit(X, y)
        rows = X.shape[0]
    return {"index": index, "count": count, "rows": rows,
            "coef": model.coef_.tolist(), "intercept": model.intercept_,
            "nobs": getattr(model, "nobs_", None), "n_iter": model.n_iter_,
            "engine": model.engine_, "optimizer": model.optimizer_,
            "cov": {t: model.cov_params(t).values.tolist()
                    for t in ("nonrobust", "HC0", "HC1", "HC2", "HC3")}
            if model.cov_type != "nonrobust" else None}


def clusters(path):
    data = np.load(path, allow_pickle=True)
    rows = slice(index, None, count)  # every other row: most clusters on both
    X, Y, w, labels = (data[k][rows] for k in ("X", "Y", "w", "labels"))
    cuts = [0, 100, 101, 450, X.shape[0]]
    blocks = [(X[a:b], Y[a:b], w[a:b], labels[a:b]) for a, b in zip(cuts, cuts[1:])]
    model = LinearRegressor(
        strategy="multi-worker", solver="exact", cov_type="cluster"
    )
    model.fit_stream(blocks)
    return {"index": index, "n_groups": model.statistics_.n_groups,
            "local_groups": len(set(labels.tolist())),
            "cov": model.cov_params().values.tolist(),
            "fvalue": model.fvalue_.tolist(),
            "diagnostics": [model.llf_.tolist(), model.aic_.tolist(),
                            model.bic_.tolist(),
                            model.jarque_bera_.values.tolist(),
                            model.omnibus_.values.tolist(),
                            model.condition_number_, model.vif_.tolist()],
            "durbin_watson": model.durbin_watson_.tolist()}


def formula(path):
    table = pd.read_pickle(path)
    mine = table.iloc[:150] if index == 0 else table.iloc[150:]  # firms apart
    blocks = [mine.iloc[k:k + 40] for k in range(0, len(mine), 40)]
    model = LinearRegressor(strategy="multi-worker", solver="exact", missing="drop",
                            formula="invest ~ np.log(value) + capital + C(firm)")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit_stream(blocks)
    return {"index": index, "names": list(model.feature_names_in_),
            "coef": model.coef_.tolist(), "intercept": model.intercept_,
            "std_err": model.summary()["std_err"].tolist(),
            "warnings": [str(w.message) for w in caught]}


for name, job, *arguments in json.loads(sys.argv[1]):  # [name, function, *args]
    print(json.dumps({name: globals()[job](*arguments)}), flush=True)
"""


def _free_ports(n):
    import socket

    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _start_workers(command, n=2, folders=None):
    """``python *command`` on n workers of a loopback cluster (free ports, TF_CONFIG),
    each in its own folder when ``folders`` is given."""
    import json
    import os
    import subprocess
    import sys

    cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(n)]}
    # As a user runs it: without TF_CPP_MIN_LOG_LEVEL the CLI quiets TensorFlow.
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return [
        subprocess.Popen(
            [sys.executable, *command],
            cwd=None if folders is None else folders[i],
            env={
                **env,
                "TF_CONFIG": json.dumps(
                    {"cluster": cluster, "task": {"type": "worker", "index": i}}
                ),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(n)
    ]


ROWS_JOBS = {
    "gram-engine-streamed": ("stream", {}),
    "data-engine-in-memory": ("memory", {"engine": "data"}),
    "exact-solver-streamed": ("stream", {"solver": "exact"}),
    "exact-solver-in-memory": ("memory", {"solver": "exact"}),
    "robust-covariances-streamed": ("stream", {"cov_type": "HC1"}),
    # Non-negative coefficients: projected gradient descent, and the exact
    # solver's NNLS from the stacked factors.
    "positive-streamed": ("stream", {"positive": True}),
    "positive-exact-streamed": ("stream", {"solver": "exact", "positive": True}),
    # partial_fit: each call's new rows' moments pooled over workers, then
    # merged with those before (partial_fit_stream, or three calls each).
    "partial-fit-streamed": ("stream", {"partial_fit": 1}),
    "partial-fit-in-memory": ("memory", {"partial_fit": 3}),
    "quantile-loss-in-memory": ("memory", {"loss": "quantile", "quantile": 0.7}),
}


def _rows_frame():
    X, y, _ = correlated_problem(2001, 3, seed=7)  # an odd number of rows
    # Scales and offsets apart; the signs make w ≥ 0 bind on b alone.
    X = X * [-1.0, -100.0, 0.01] + [0.0, -5.0, -3.0]
    return pd.DataFrame(X, columns=["a", "b", "c"]).assign(y=y)


def _clustered():
    X, y, _ = correlated_problem(1201, 3, seed=11)
    rng = np.random.default_rng(5)
    Y = np.column_stack([y, y + X[:, 0] * rng.normal(0, 3, 1201)])
    w = rng.uniform(0.5, 2.0, 1201)
    labels = np.array([f"shop {k}" for k in rng.integers(0, 12, 1201)], object)
    labels[[0, 1]] = ["only on worker 0", "only on worker 1"]
    return X, Y, w, labels


def _grunfeld():
    import statsmodels.api as sm

    table = sm.datasets.grunfeld.load_pandas().data
    table.loc[[3, 200], "value"] = np.nan
    return table


def _filip_frame():
    problem = load_nist("Filip")
    names = [f"x{i}" for i in range(1, problem.X.shape[1] + 1)]
    return pd.DataFrame(problem.X, columns=names).assign(y=problem.y)


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory):
    """Every job's results, as [worker 0's, worker 1's], by job name."""
    import json

    folder = tmp_path_factory.mktemp("two_workers")
    _rows_frame().to_csv(folder / "d.csv", index=False)
    X, Y, w, labels = _clustered()
    np.savez(folder / "clustered.npz", X=X, Y=Y, w=w, labels=labels)
    _grunfeld().to_pickle(folder / "grunfeld.pkl")
    # float_format: Filip's digits, every one of them.
    _filip_frame().to_csv(folder / "filip.csv", index=False, float_format="%.17g")
    jobs = [
        [name, "rows", str(folder / "d.csv"), mode, params]
        for name, (mode, params) in ROWS_JOBS.items()
    ]
    jobs += [
        ["clusters", "clusters", str(folder / "clustered.npz")],
        ["formula", "formula", str(folder / "grunfeld.pkl")],
        # In memory, every other row (a file this small is one block of text).
        ["filip", "rows", str(folder / "filip.csv"), "memory", {}],
    ]
    workers = _start_workers(["-c", WORKER, json.dumps(jobs)])
    outputs = []
    for process in workers:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-3000:]
        lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        outputs.append(
            {name: result for line in lines for name, result in line.items()}
        )
    return {name: [outputs[0][name], outputs[1][name]] for name, *_ in jobs}


@pytest.mark.parametrize("job", ROWS_JOBS)
def test_two_workers_equal_one_process(two_workers, job):
    from tapereg import LinearRegressor

    _, job_params = ROWS_JOBS[job]
    params = {k: v for k, v in job_params.items() if k != "partial_fit"}
    outputs = two_workers[job]
    frame = _rows_frame()
    single = LinearRegressor(dtype="float64", **params).fit(
        frame[["a", "b", "c"]], frame.y
    )
    assert [o["index"] for o in outputs] == [0, 1]
    rows = [o["rows"] for o in outputs]
    assert sum(rows) == 2001 and rows[0] != rows[1]  # shards of different sizes
    # The exact solver's stacked factors give the single solve's digits.
    rtol = 1e-10 if params.get("solver") == "exact" else 1e-4
    for o in outputs:
        no_statistics = params.get("positive") or "loss" in params
        assert o["nobs"] == (None if no_statistics else 2001)  # OLS statistics
        assert o["engine"] == single.engine_
        np.testing.assert_allclose(o["coef"], single.coef_, rtol=rtol)
        np.testing.assert_allclose(o["intercept"], single.intercept_, rtol=rtol)
    if params.get("positive"):  # scikit-learn's zero pattern: b at its bound
        from sklearn.linear_model import LinearRegression as Reference

        nnls = Reference(positive=True).fit(frame[["a", "b", "c"]], frame.y)
        assert (nnls.coef_ > 0).tolist() == [True, False, True]
        for o in outputs:
            assert (np.asarray(o["coef"]) > 0).tolist() == [True, False, True]
    # Both workers pooled the same moments, so they trained identically.
    assert outputs[0]["coef"] == outputs[1]["coef"]
    if params.get("cov_type"):  # the HC sums of both shards' rows, added
        for cov_type, matrix in outputs[0]["cov"].items():
            np.testing.assert_allclose(
                matrix, single.cov_params(cov_type).to_numpy(), rtol=1e-9
            )


def test_two_workers_cluster_errors_equal_one_process(two_workers):
    """Two targets, weights and text labels, each cluster's rows dealt to both
    workers (two one-row clusters to one each): the per-label score sums are
    added across workers, so the cluster covariance, G and the Wald F equal
    one process's."""
    from tapereg import LinearRegressor

    X, Y, w, labels = _clustered()
    outputs = two_workers["clusters"]
    single = LinearRegressor(solver="exact", cov_type="cluster")
    single.fit(X, Y, sample_weight=w, groups=labels)
    assert single.statistics_.n_groups == 14
    assert sorted(o["local_groups"] for o in outputs) == [13, 13]
    for o in outputs:
        assert o["n_groups"] == 14
        np.testing.assert_allclose(o["cov"], single.cov_params().values, rtol=1e-9)
        np.testing.assert_allclose(o["fvalue"], single.fvalue_, rtol=1e-9)
        # The residual sums are added too; Durbin–Watson needs one row order.
        expected = [single.llf_, single.aic_, single.bic_, single.jarque_bera_.values]
        expected += [single.omnibus_.values, single.condition_number_, single.vif_]
        for ours, theirs in zip(o["diagnostics"], expected, strict=True):
            np.testing.assert_allclose(ours, theirs, rtol=1e-9)
        assert np.isnan(o["durbin_watson"]).all()
    assert np.isfinite(single.durbin_watson_).all()
    assert outputs[0]["cov"] == outputs[1]["cov"]


def test_two_workers_learn_one_formula_design(two_workers):
    """A formula over Grunfeld split by rows so that each worker sees only some
    firms, with missing cells on both: the levels are gathered, so both workers
    build one design, and the fit equals one process's (the dropped rows counted
    over both)."""
    from tapereg import LinearRegressor

    table = _grunfeld()
    outputs = two_workers["formula"]
    formula = "invest ~ np.log(value) + capital + C(firm)"
    with pytest.warns(UserWarning, match="dropped 2 of 220"):
        single = LinearRegressor(solver="exact", missing="drop", formula=formula)
        single.fit(table)
    assert pd.Series(table.iloc[:150].firm).nunique() < table.firm.nunique()
    for o in outputs:
        assert o["names"] == list(single.feature_names_in_)
        np.testing.assert_allclose(o["coef"], single.coef_, rtol=1e-9)
        np.testing.assert_allclose(o["std_err"], single.summary()["std_err"], rtol=1e-9)
        assert any("dropped 2 of 220" in w for w in o["warnings"])


def test_two_workers_whiten_filip_from_their_stacked_row_factors(two_workers):
    """Filip's moments cannot resolve its optimum (κ² ≈ 1e16), so the defaults whiten
    from the rows' triangular factor; across two workers that factor is stacked from
    each worker's rows, and both reach one process's fit and NIST's 7 digits."""
    from tapereg import LinearRegressor

    problem = load_nist("Filip")
    frame = _filip_frame()
    outputs = two_workers["filip"]
    single = LinearRegressor(dtype="float64").fit(frame.drop(columns="y"), frame.y)
    assert sorted(o["rows"] for o in outputs) == [41, 41]
    for o in outputs:
        assert o["nobs"] == 82 and o["optimizer"] == "whitened gd"
        assert lre(np.asarray(o["coef"]), problem.coef).min() >= 6.5
        np.testing.assert_allclose(o["coef"], single.coef_, rtol=1e-6)
        np.testing.assert_allclose(o["intercept"], single.intercept_, rtol=1e-6)
    assert outputs[0]["coef"] == outputs[1]["coef"]


def _cli_workers(tmp_path, args, n=2, *, module=True):
    """``tapereg`` started on n workers, each in its own folder with the CSV files
    (``python args`` instead when not ``module``)."""
    import shutil

    folders = []
    for i in range(n):
        folder = tmp_path / f"worker{i}"
        folder.mkdir()
        for path in tmp_path.glob("*.csv"):
            shutil.copy(path, folder / path.name)
        folders.append(folder)
    return _start_workers(["-m", "tapereg", *args] if module else args, n, folders)


def _write_halves(frame, folder, prefix="d"):
    frame.iloc[:1001].to_csv(folder / f"{prefix}1.csv", index=False)  # shards of 1001
    frame.iloc[1001:].to_csv(folder / f"{prefix}2.csv", index=False)  # and 1000 rows


def _correlated_frame():
    X, y, _ = correlated_problem(2001, 3, seed=11)
    return pd.DataFrame(X * [1.0, 100.0, 0.01], columns=["a", "b", "c"]).assign(y=y)


def _nearly_exact_frame():
    """Noise 1e-6: mini-batch SGD's own noise then falls far below the 1e-4 at
    which two runs (different batches) are compared."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(2001, 3)) * [1.0, 3.0, 0.5] + [1.0, -2.0, 0.0]
    y = X @ [1.5, -0.7, 2.0] + 0.3 + 1e-6 * rng.normal(size=2001)
    return pd.DataFrame(X, columns=["a", "b", "c"]).assign(y=y)


# The full-batch data engine across workers is the API test's
# (test_two_workers_equal_one_process); mini-batches take it streamed here.
# Per engine: its data files, its flags, and the rtol of the metrics.
ENGINES = {
    "gram": (["d1.csv", "d2.csv"], [], 1e-9),
    "mini-batch": (
        ["n1.csv", "n2.csv"],
        ["--batch-size", "256", "--seed", "0", "--epochs", "10", "--tol", "none"],
        None,
    ),
    "exact": (["d1.csv", "d2.csv"], ["--solver", "exact"], 1e-9),
}


def _fit_args(engine):
    files, extra, _ = ENGINES[engine]
    return ["fit", *files, "--target", "y", "--json", "--quiet", *extra]


# ``tapereg`` commands, one after another, in one process (each JSON line is one's).
CLI_RUNS = """
import json, sys
from tapereg.cli import main

for args in json.loads(sys.argv[1]):
    status = main(args)
    if status:
        sys.exit(status)
"""


# The data engine's resume on two workers: 4 epochs checkpointed, 9 straight, then
# 9 resumed from the 4 (the straight run between them: see the test).
RESUME = {
    "resume: first": ["--epochs", "4", "--checkpoint-every", "2"],
    "resume: straight": ["--epochs", "9"],
    "resume: resumed": ["--epochs", "9", "--checkpoint-every", "2", "--resume"],
}


@pytest.fixture(scope="module")
def orphaned_chief(tmp_path_factory):
    """A cluster whose other worker is killed at once, before the cluster forms:
    its chief waits for it up to the registration timeout (20 s) and fails. It
    starts before the CLI's runs (``cli_two_workers`` asks for it), so that wait
    overlaps them; a thread waits on the chief. A future of the chief's exit
    status, its stderr and the seconds from the kill to its end."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    folder = tmp_path_factory.mktemp("orphaned_chief")
    _write_halves(_correlated_frame(), folder)
    args = ["fit", "d1.csv", "d2.csv", "--target", "y", "--strategy", "multi-worker"]
    chief, other = _cli_workers(folder, args)
    other.kill()
    killed = time.monotonic()

    def wait():
        _, err = chief.communicate(timeout=120)
        elapsed = time.monotonic() - killed
        other.communicate()
        return chief.returncode, err, elapsed

    with ThreadPoolExecutor(1) as pool:
        yield pool.submit(wait)


@pytest.fixture(scope="module")
def cli_two_workers(tmp_path_factory, orphaned_chief):
    """``tapereg fit`` on two workers, every run one after another in one pair of
    processes: each engine's, saving and plotting to files of its own, then the
    resume's three. The folder, each worker's (stdout, stderr), and the chief's
    reports by run. (``orphaned_chief`` waits out its timeout meanwhile.)"""
    import json

    folder = tmp_path_factory.mktemp("cli_two_workers")
    _write_halves(_correlated_frame(), folder)
    _write_halves(_nearly_exact_frame(), folder, "n")
    multi = ["--strategy", "multi-worker"]
    runs = {
        engine: [*_fit_args(engine), *multi, "--save", f"{engine}.json"]
        for engine in ENGINES
    }
    for engine, args in runs.items():
        args += ["--plot", f"{engine}.png"]
    resume = ["fit", "d1.csv", "d2.csv", "--target", "y", "--json", "--quiet"]
    resume += ["--engine", "data", "--tol", "none", *multi]
    checkpoints = ["--checkpoint-dir", str(folder / "ck")]
    for name, extra in RESUME.items():
        runs[name] = [*resume, *extra]
        if "--checkpoint-every" in extra:
            runs[name] += checkpoints
    command = ["-c", CLI_RUNS, json.dumps(list(runs.values()))]
    workers = _cli_workers(folder, command, module=False)
    outputs = [process.communicate(timeout=240) for process in workers]
    for process, (_, err) in zip(workers, outputs, strict=True):
        assert process.returncode == 0, err[-2000:]
    lines = outputs[0][0].splitlines()
    reports = dict(zip(runs, map(json.loads, lines), strict=True))
    return folder, outputs, reports


@pytest.mark.parametrize("engine", ENGINES)
def test_cli_on_two_workers_equals_one_process(
    engine, cli_two_workers, capsys, monkeypatch
):
    """The chief's coefficients equal one process's for each engine (rtol 1e-4).

    The report's metrics are all-reduced sums: on the gram engine both runs take
    the same steps and agree to 1e-9; the data engine's first step differs a
    little (one process estimates it by power iteration, the workers take it
    from the pooled moments), and the mean absolute error moves with it.
    """
    from tapereg.cli import main

    folder, outputs, reports = cli_two_workers
    metrics_rtol = ENGINES[engine][2]
    assert [err.strip() for _, err in outputs] == ["", ""]
    assert outputs[1][0] == ""  # the other worker prints nothing
    chief = reports[engine]
    for written in (f"{engine}.json", f"{engine}.png"):
        assert (folder / "worker0" / written).exists()
        assert not (folder / "worker1" / written).exists()
    monkeypatch.chdir(folder)  # one process: this one
    assert main(_fit_args(engine)) == 0
    alone = json.loads(capsys.readouterr().out)
    assert chief["strategy"] == "multi-worker"
    expected = {"gram": "gram", "exact": None}.get(engine, "data")
    assert chief["engine"] == alone["engine"] == expected
    assert chief["streamed"] and not alone["streamed"]
    np.testing.assert_allclose(chief["coef"], alone["coef"], rtol=1e-4)
    np.testing.assert_allclose(chief["intercept"], alone["intercept"], rtol=1e-4)
    if metrics_rtol is not None:
        for key in ("mse", "mae", "r2"):
            np.testing.assert_allclose(
                chief["metrics"][key], alone["metrics"][key], rtol=metrics_rtol
            )
    if metrics_rtol == 1e-9:  # the summary and its diagnostics, from the same sums
        ours, theirs = chief["summary"], alone["summary"]
        for key in ("std_err", "llf", "aic", "bic", "condition_number", "fvalue"):
            np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-9)
        for key in ("jarque_bera", "omnibus", "vif"):
            np.testing.assert_allclose(
                list(ours[key].values()), list(theirs[key].values()), rtol=1e-9
            )
        assert ours["durbin_watson"] is None and theirs["durbin_watson"] > 0


class _LockstepReducer:
    """What ``StrategyReducer`` gives a worker, over threads in lockstep."""

    def __init__(self, index, count, sum_across):
        self.index, self.count, self.sum = index, count, sum_across

    def gather(self, array):
        return _gathering(self.sum, self.index, self.count)(array)

    def maximum(self, value):
        return float(self.gather(value).max())


@pytest.mark.parametrize("rows", [(3000, 3000), (500, 10)])
def test_the_plots_sample_is_drawn_from_every_workers_rows(rows):
    """Worker 0's x lie in [0, 1), worker 1's in [10, 11): the sample every worker
    ends with is the same, and holds rows of both in proportion to their counts."""
    from tapereg.fitting.tables import streamed_metrics

    class Shard(list):
        feature_names, target_names = ["x"], ["y"]

    rng = np.random.default_rng(0)
    shards = []
    for k, n in enumerate(rows):
        x = 10 * k + rng.random((n, 1))
        shards.append(Shard([(x[:500], 2 * x[:500]), (x[500:], 2 * x[500:])]))
    sum_for = _in_lockstep(2)
    model = [(np.array([[2.0]]), np.array([0.0]))]

    def worker(k):
        return streamed_metrics(
            shards[k],
            model,
            want_sample=True,
            sample_rows=1000,
            shift=np.array([0.0]),
            reducer=_LockstepReducer(k, 2, sum_for(k)),
        )

    with ThreadPoolExecutor(2) as pool:
        (metrics, sample), (_, other) = pool.map(worker, range(2))
    assert metrics[0]["mse"].tolist() == [0.0]
    assert np.array_equal(sample.X, other.X) and np.array_equal(sample.y, other.y)
    assert sample.X.shape == (min(1000, sum(rows)), 1)
    np.testing.assert_array_equal(sample.y, 2 * sample.X)
    from_second = int(np.sum(sample.X[:, 0] >= 10))
    if sum(rows) <= 1000:
        assert from_second == rows[1]  # fewer rows than the sample: all are in
    else:
        assert 400 < from_second < 600  # half, within 6 standard deviations


def test_cluster_scores_of_one_label_are_added_across_workers():
    """Three workers of different G (one without rows): the sums of a label held by
    several are added, text and numbers that pandas groups together merge, and
    every worker ends with the same clusters, in the same order."""
    from tapereg.numerics.robust import label_hashes, merge_cluster_scores

    rng = np.random.default_rng(0)
    labels = [
        np.array(["a", "b", "c", 7], object),
        np.array([], object),
        np.array(["c", 7.0, "7", "d", "a"], object),
    ]
    sums = [rng.normal(size=(len(k), 2, 3)) for k in labels]
    sum_for = _in_lockstep(3)

    def worker(k):
        reducer = _LockstepReducer(k, 3, sum_for(k))
        return merge_cluster_scores(labels[k], sums[k], reducer)

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(worker, range(3)))
    expected = {
        "a": sums[0][0] + sums[2][4],
        "b": sums[0][1],
        "c": sums[0][2] + sums[2][0],
        7: sums[0][3] + sums[2][1],
        "7": sums[2][2],
        "d": sums[2][3],
    }
    hashes = label_hashes(np.array(list(expected), object))
    for merged_hashes, merged in results:
        assert merged_hashes.dtype == np.uint64 and merged.shape == (6, 2, 3)
        assert sorted(merged_hashes.tolist()) == sorted(hashes.tolist())
        for label, h in zip(expected, hashes, strict=True):
            (row,) = np.flatnonzero(merged_hashes == h)
            np.testing.assert_allclose(merged[row], expected[label], rtol=1e-15)
    for other in results[1:]:
        assert np.array_equal(other[0], results[0][0])
        assert np.array_equal(other[1], results[0][1])


def test_label_hashes_are_the_same_in_every_process():
    """Python salts ``hash`` of text per process; the labels' hashes may not."""
    import os
    import subprocess
    import sys

    from tapereg.numerics.robust import label_hashes

    labels = np.array(["shop 1", "é", 3, 2.5, True, np.int64(1), b"x"], object)
    hashes = label_hashes(labels)
    assert hashes[4] == hashes[5]  # True and 1: one group for pandas, one hash
    assert len(set(hashes.tolist())) == 6
    script = (
        "import numpy as np; from tapereg.numerics.robust import label_hashes; "
        "print(label_hashes(np.array(['shop 1', 'é', 3, 2.5, True, np.int64(1), "
        "b'x'], object)).tolist())"
    )
    for seed in ("1", "2"):
        out = subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert out.strip() == str(hashes.tolist())


@pytest.fixture(scope="module")
def dead_workers(tmp_path_factory, orphaned_chief):
    """Both ways a worker dies: by case, the chief's exit status, its stderr and
    the seconds from the kill to its end.

    "before joining": the other worker is killed at once, before the cluster
    forms (``orphaned_chief``). "while training": it is killed in the middle of
    the data engine's epochs (each all-reduces), once the chief has checkpointed.
    """
    import time

    folder = tmp_path_factory.mktemp("dead_worker")
    _write_halves(_correlated_frame(), folder)
    args = ["fit", "d1.csv", "d2.csv", "--target", "y", "--strategy", "multi-worker"]
    args += ["--engine", "data", "--epochs", "1000000", "--tol", "none", "--quiet"]
    args += ["--checkpoint-dir", "ck", "--checkpoint-every", "1"]
    chief, other = _cli_workers(folder, args)
    checkpoint = folder / "worker0" / "ck" / "checkpoint"
    deadline = time.monotonic() + 120
    while not checkpoint.exists():  # the chief has trained
        assert chief.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    other.kill()
    killed = time.monotonic()
    _, err = chief.communicate(timeout=90)
    elapsed = time.monotonic() - killed
    other.communicate()
    return {
        "before joining": orphaned_chief.result(timeout=120),
        "while training": (chief.returncode, err, elapsed),
    }


@pytest.mark.parametrize("case", ["before joining", "while training"])
def test_a_dead_worker_stops_the_other_with_one_line(dead_workers, case):
    """The chief's next step with the dead worker fails: one line, exit 2, well
    within 60 s."""
    status, err, elapsed = dead_workers[case]
    assert status == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("tapereg: error: the cluster failed")
    assert elapsed < 60


def test_resume_from_the_chiefs_checkpoint_continues(cli_two_workers):
    """4 epochs checkpointed, then resumed to 9, equal 9 straight epochs, bit for
    bit. On the data engine the other worker has no checkpoint: it starts from the
    state the chief restored (an all-reduce), and both run the same chunks. (The
    gram engine's epochs run on pooled moments, the same on both workers: its
    resume is one process's, tested in test_checkpoints.py.)

    The runs share one pair of processes. The straight run comes between the two
    others, so the state a worker could keep from the run before the resumed one
    is the 9th epoch's, not the checkpoint's: starting from it instead of the
    chief's restored state would show.
    """
    _, outputs, reports = cli_two_workers
    assert outputs[1][0] == ""  # the other worker prints nothing
    straight, resumed = reports["resume: straight"], reports["resume: resumed"]
    assert reports["resume: first"]["n_iter"] == 4
    assert resumed["n_iter"] == straight["n_iter"] == 9
    assert resumed["coef"] == straight["coef"]
    assert resumed["intercept"] == straight["intercept"]


@pytest.mark.parametrize(
    "params, rtol",
    [({}, 1e-12), ({"engine": "data"}, 1e-6), ({"solver": "exact"}, 1e-12)],
    ids=["gram", "data", "exact"],
)
def test_mirrored_strategy_on_one_machine_equals_no_strategy(params, rtol):
    from tapereg import LinearRegressor

    X, y, _ = correlated_problem(500, 4, seed=2)
    mirrored = LinearRegressor(strategy="mirrored", dtype="float64", **params)
    mirrored.fit(X, y)
    alone = LinearRegressor(dtype="float64", **params).fit(X, y)
    np.testing.assert_allclose(mirrored.coef_, alone.coef_, rtol=rtol)
    assert mirrored.nobs_ == 500 and mirrored.engine_ == alone.engine_


MIRRORED_ON_TWO_DEVICES = """
import json
import numpy as np
import tensorflow as tf
from conftest import correlated_problem

cpu = tf.config.list_physical_devices("CPU")[0]
two = [tf.config.LogicalDeviceConfiguration()] * 2
tf.config.set_logical_device_configuration(cpu, two)
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
from tapereg import LinearRegressor
from tapereg.parallel.reducers import StrategyReducer

X, y, _ = correlated_problem(1001, 4, seed=2)
weights = np.random.default_rng(0).uniform(0.5, 2.0, 1001)
parts = StrategyReducer(strategy).rows((X, y))
result = {"parts": [[v.device[-5:], v.shape[0]] for v in parts[0].values]}
for name, params in [("gram", {}), ("data", {"engine": "data"}),
                     ("momentum", {"engine": "data", "optimizer": "momentum"})]:
    kwargs = dict(dtype="float64", **params)
    two = LinearRegressor(strategy=strategy, **kwargs).fit(X, y, sample_weight=weights)
    one = LinearRegressor(**kwargs).fit(X, y, sample_weight=weights)
    result[name] = [two.coef_.tolist(), one.coef_.tolist(), two.engine_]
blocks = [(X[k : k + 100], y[k : k + 100, None]) for k in range(0, 1001, 100)]
kwargs = dict(dtype="float64", engine="data")
two = LinearRegressor(strategy=strategy, **kwargs).fit_stream(blocks)
one = LinearRegressor(**kwargs).fit(X, y)
result["streamed"] = [two.coef_.tolist(), one.coef_.tolist(), two.engine_]
print(json.dumps(result))
"""


def test_mirrored_strategy_splits_rows_over_two_devices():
    """MirroredStrategy on two (logical CPU) devices, as on a machine with two
    GPUs: the data engine's full batch in memory is split by rows, one part on
    each device, and the fit equals one process's; so do the gram engine and
    streamed epochs (computed on one device, summed over the replicas once)."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    tests = Path(__file__).parent
    run = subprocess.run(
        [sys.executable, "-c", MIRRORED_ON_TWO_DEVICES],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "PYTHONPATH": str(tests)},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["parts"] == [["CPU:0", 501], ["CPU:1", 500]]
    for name in ("gram", "data", "momentum", "streamed"):
        two, one, engine = result[name]
        assert engine == ("gram" if name == "gram" else "data")
        np.testing.assert_allclose(two, one, rtol=1e-6)


def test_mirrored_mini_batches_reach_the_least_squares_fit():
    from tapereg import LinearRegressor

    rng = np.random.default_rng(1)
    X = rng.normal(size=(301, 3))
    y = X @ [1.0, -2.0, 0.5] + 3.0 + 1e-7 * rng.normal(size=301)
    model = LinearRegressor(
        strategy="mirrored", dtype="float64", batch_size=32, max_iter=20, tol=None
    ).fit(X, y)
    exact = np.linalg.lstsq(np.column_stack([X, np.ones(301)]), y, rcond=None)[0]
    np.testing.assert_allclose(model.coef_, exact[:3], rtol=1e-5)
    np.testing.assert_allclose(model.intercept_, exact[3], rtol=1e-5)


WORKERS = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}


@pytest.mark.parametrize(
    "tf_config, message",
    [
        (None, "needs the cluster in the TF_CONFIG environment variable, which is"),
        ("{'cluster': {}}", "TF_CONFIG is not JSON (Expecting property name"),
        ({"cluster": {}}, 'TF_CONFIG has no "cluster" with a "worker" list'),
        ({"cluster": {"worker": "a:1"}}, 'TF_CONFIG has no "cluster" with a'),
        (
            {"cluster": {**WORKERS, "ps": ["b:1"]}, "task": {"type": "worker"}},
            "TF_CONFIG's cluster has 'ps' jobs; multi-worker training takes",
        ),
        ({"cluster": WORKERS}, 'TF_CONFIG has no "task" naming this worker'),
        (
            {"cluster": WORKERS, "task": {"type": "worker", "index": 2}},
            "TF_CONFIG's task is worker 2, but its cluster has 2 worker address",
        ),
        (
            {"cluster": WORKERS, "task": {"type": "chief", "index": 0}},
            "TF_CONFIG's task is chief 0, but its cluster has 0 chief address",
        ),
    ],
    ids=[
        "unset",
        "not-json",
        "no-workers",
        "not-a-list",
        "parameter-servers",
        "no-task",
        "index-out-of-range",
        "no-such-job",
    ],
)
def test_a_bad_tf_config_is_named(monkeypatch, tf_config, message):
    import json

    from tapereg import LinearRegressor
    from tapereg.errors import ClusterError

    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        text = tf_config if isinstance(tf_config, str) else json.dumps(tf_config)
        monkeypatch.setenv("TF_CONFIG", text)
    X, y, _ = correlated_problem(50, 2, seed=2)
    with pytest.raises(ClusterError, match=re.escape(message)):
        LinearRegressor(strategy="multi-worker").fit(X, y)


def test_a_one_worker_cluster_is_a_cluster(monkeypatch):
    import json

    from tapereg.parallel.cluster import cluster_config

    config = {
        "cluster": {"worker": ["127.0.0.1:1"]},
        "task": {"type": "worker", "index": 0},
    }
    monkeypatch.setenv("TF_CONFIG", json.dumps(config))
    assert cluster_config() == config


def test_an_unknown_strategy_is_refused():
    from tapereg import LinearRegressor
    from tapereg.errors import ParameterError

    X, y, _ = correlated_problem(50, 2, seed=2)
    with pytest.raises(ParameterError, match="strategy must be one of"):
        LinearRegressor(strategy="tpu").fit(X, y)
