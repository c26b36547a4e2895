"""NumPy only: moments, the gram, standardization, the exact solver, OLS
statistics, step sizes, metrics, checks, and the linear formula and names.
"""
