"""``tapereg export``: a saved model as a TensorFlow SavedModel."""

from __future__ import annotations

import sys

from .output import quiet_tensorflow
from .paths import Output, check_paths
from .status import ExitStatus
from .vocabulary import in_cli_terms


def run_export_command(args) -> int:
    from ..io.persistence import load

    check_paths(
        [("model file", args.model)],
        [Output("the export folder", args.directory, "replaced folder")],
    )
    estimator = load(args.model)
    quiet_tensorflow()
    from ..io.export import export_saved_model, signature_names

    metadata = export_saved_model(estimator, args.directory, level=args.level)
    _, outputs = signature_names(estimator)
    inputs = [  # a category's input is text (or true/false): say so
        spec["key"]
        if spec["dtype"] == "float32"
        else f"{spec['key']} ({spec['dtype']})"
        for spec in metadata["inputs"]
    ]
    print(f"SavedModel written to {args.directory}")
    print(
        f"serving_default: inputs {', '.join(inputs)} -> outputs {', '.join(outputs)}"
    )
    interval = metadata["predict_interval"]
    if interval["exported"]:
        print(
            f"predict_interval: level {interval['level']:g}, cov_type "
            f"{interval['cov_type']} -> outputs {', '.join(interval['outputs'])}"
        )
    else:  # the model keeps no covariance: the export serves predictions only
        reason = in_cli_terms(interval["reason"])
        print(
            f"tapereg: note: no predict_interval signature: {reason}", file=sys.stderr
        )
    return ExitStatus.SUCCESS
