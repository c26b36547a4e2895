"""``tapereg export``: a saved model as a TensorFlow SavedModel."""

from __future__ import annotations

from .output import quiet_tensorflow
from .paths import Output, check_paths
from .status import ExitStatus


def run_export_command(args) -> int:
    from ..io.persistence import load

    check_paths(
        [("model file", args.model)],
        [Output("the export folder", args.directory, "replaced folder")],
    )
    estimator = load(args.model)
    quiet_tensorflow()
    from ..io.export import export_saved_model, signature_names

    export_saved_model(estimator, args.directory)
    inputs, outputs = signature_names(estimator)
    print(f"SavedModel written to {args.directory}")
    print(
        f"serving_default: inputs {', '.join(inputs)} -> outputs {', '.join(outputs)}"
    )
    return ExitStatus.SUCCESS
