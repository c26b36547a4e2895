"""The cluster: ``tf.distribute`` strategies, TF_CONFIG checked, dead workers noticed.

:func:`resolve_strategy` builds the strategy a name asks for (one per process, as
TensorFlow allows), with collective and heartbeat timeouts, so a dead worker is an
error within seconds rather than a hang; :func:`cluster_config` refuses a missing
or broken ``TF_CONFIG`` with one line. What the workers add up, and how, is in
:mod:`tapereg.parallel.reducers`.
"""

from __future__ import annotations

STRATEGIES = ("none", "mirrored", "multi-worker")
# Seconds a collective may wait for a peer before it fails (a dead worker).
COLLECTIVE_TIMEOUT = 30.0
# How fast a dead worker is noticed: missed heartbeats, and peers that never join.
HEARTBEAT_TIMEOUT_MS = 3000
REGISTER_TIMEOUT_MS = 20000
_created: dict = {}  # TensorFlow allows one multi-worker strategy per process


def resolve_strategy(strategy):
    """A ``tf.distribute.Strategy`` for a name (None for "none"), or the one given.

    "multi-worker" reads the cluster from ``TF_CONFIG``; its collectives time out
    after ``COLLECTIVE_TIMEOUT`` seconds, so a dead worker stops the others with an
    error instead of a hang.
    """
    if strategy is None or strategy == "none":
        return None
    if not isinstance(strategy, str):
        return strategy
    if strategy not in _created:
        import tensorflow as tf

        if strategy == "mirrored":
            _created[strategy] = tf.distribute.MirroredStrategy()
        else:
            _configure_heartbeats(cluster_config()["cluster"])
            options = tf.distribute.experimental.CommunicationOptions(
                timeout_seconds=COLLECTIVE_TIMEOUT
            )
            _created[strategy] = tf.distribute.MultiWorkerMirroredStrategy(
                communication_options=options
            )
    return _created[strategy]


def strategy_name(strategy) -> str:
    """The ``strategy`` parameter's name for a strategy object: "mirrored",
    "multi-worker", or "none" for any other kind (a model file keeps values)."""
    kind = type(strategy).__name__
    if kind.startswith("MultiWorkerMirroredStrategy"):
        return "multi-worker"
    return "mirrored" if kind.startswith("MirroredStrategy") else "none"


TF_CONFIG_EXAMPLE = (
    '{"cluster": {"worker": ["host1:2222", "host2:2222"]}, '
    '"task": {"type": "worker", "index": 0}}'
)


def cluster_config() -> dict:
    """``TF_CONFIG``, checked: a ClusterError naming what is wrong with it.

    TensorFlow's own resolver takes a missing or broken ``TF_CONFIG`` as a
    cluster of one, or fails deep inside with a traceback; a worker that was
    meant to join a cluster must say so instead.
    """
    import json
    import os

    from ..errors import ClusterError

    text = os.environ.get("TF_CONFIG", "").strip()
    if not text:
        raise ClusterError(
            "strategy multi-worker needs the cluster in the TF_CONFIG environment "
            f"variable, which is not set; for example {TF_CONFIG_EXAMPLE}"
        )
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ClusterError(f"TF_CONFIG is not JSON ({error})") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    jobs = {"chief", "worker"}
    addresses = (
        [cluster.get(job) or [] for job in jobs] if isinstance(cluster, dict) else []
    )
    if not any(addresses) or not all(
        isinstance(hosts, list) and all(isinstance(h, str) for h in hosts)
        for hosts in addresses
    ):
        raise ClusterError(
            'TF_CONFIG has no "cluster" with a "worker" list of "host:port" '
            f"addresses; for example {TF_CONFIG_EXAMPLE}"
        )
    others = sorted(set(cluster) - jobs - {"evaluator"})
    if others:
        raise ClusterError(
            f"TF_CONFIG's cluster has {', '.join(map(repr, others))} jobs; "
            "multi-worker training takes 'chief' and 'worker' jobs only"
        )
    task = config.get("task")
    kind = task.get("type") if isinstance(task, dict) else None
    index = task.get("index") if isinstance(task, dict) else None
    if kind not in jobs or not isinstance(index, int) or isinstance(index, bool):
        raise ClusterError(
            'TF_CONFIG has no "task" naming this worker, as {"type": "worker", '
            f'"index": 0}}; got {task!r}'
        )
    if not 0 <= index < len(cluster.get(kind) or []):
        raise ClusterError(
            f"TF_CONFIG's task is {kind} {index}, but its cluster has "
            f"{len(cluster.get(kind) or [])} {kind} address(es)"
        )
    return config


def is_chief() -> bool:
    """Whether this process is the cluster's chief, the one worker that writes
    (the "chief" task, else worker 0), from ``TF_CONFIG`` alone: no TensorFlow."""
    config = cluster_config()
    task = config["task"]
    if "chief" in config["cluster"]:
        return task["type"] == "chief"
    return task["index"] == 0


def joined_cluster() -> bool:
    """Whether this process built a multi-worker strategy (joined a TF cluster)."""
    return "multi-worker" in _created


def _configure_heartbeats(cluster: dict) -> None:
    """Make a dead worker an error within seconds, not a hang.

    By default a worker whose peer dies before they have all connected waits
    forever. TensorFlow's coordination service can time out registration and watch
    heartbeats, but only through its (private) context API, which must be set
    before the strategy is built; where that API is missing we go on without it
    and the collective timeout still bounds a dead peer once training has started.
    """
    n_workers = len(cluster.get("worker", [])) + len(cluster.get("chief", []))
    if n_workers < 2:
        return
    try:
        from tensorflow.compiler.xla.tsl.protobuf import (
            coordination_config_pb2 as coordination,
        )
        from tensorflow.python.eager import context

        leader = "chief" if "chief" in cluster else "worker"
        jobs = [
            coordination.CoordinatedJob(name=job, num_tasks=len(cluster[job]))
            for job in ("chief", "worker")
            if cluster.get(job)
        ]
        context.context().configure_coordination_service(
            service_type="standalone",
            service_leader=f"/job:{leader}/replica:0/task:0",
            heartbeat_timeout_in_ms=HEARTBEAT_TIMEOUT_MS,
            cluster_register_timeout_in_ms=REGISTER_TIMEOUT_MS,
            coordinated_jobs=jobs,
        )
        # Without the barrier the leader still waits forever for a dead peer.
        config = context.context()._coordination_service_config
        config.cluster_register_with_barrier = True
    except (ImportError, AttributeError, ValueError, RuntimeError):
        pass


def worker_index(strategy) -> tuple[int, int]:
    """(this worker's index, the number of workers); (0, 1) without a cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or resolver.task_type is None:
        return 0, 1
    spec = resolver.cluster_spec().as_dict()
    workers = len(spec.get("worker", [])) + len(spec.get("chief", []))
    index = resolver.task_id + (
        len(spec.get("chief", [])) if resolver.task_type == "worker" else 0
    )
    return int(index), max(int(workers), 1)
