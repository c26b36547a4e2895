"""The one path from data to a fitted model.

``source`` wraps the input (arrays in memory, or a re-iterable of blocks), ``plan``
decides once how to fit (small pure functions of the parameters), ``solve`` runs
the fit on a source with a reducer and callbacks and returns one ``FitOutcome``
(``outcome``), which the estimator stores. ``tables`` fits a table read from files
for the command line (shards, in memory or streamed, the report's reference and
metrics).
"""
