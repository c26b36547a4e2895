"""What a fit reports: the report behind text and ``--json``, and the plots."""
