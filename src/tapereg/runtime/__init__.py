"""What runs beside training: checkpoints, per-epoch callbacks and the progress
bar, the row cache of streamed fits, atomic writes.
"""
