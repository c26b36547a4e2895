"""Input and output: CSV/Parquet readers, model files, SavedModel export."""
