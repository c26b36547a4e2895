"""From a table to the model's numbers: formulas, text categories, missing values."""
