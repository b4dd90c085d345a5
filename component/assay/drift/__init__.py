"""Drift: per-slice sketches of features, label and predictions stored by every evaluation
(assay_sketches.json), and drift statistics against a reference evaluation (numpy only).

sketches (NumericSketch, CategoricalSketch), extension (the pass), files (the file format),
stats (PSI, Jensen-Shannon, KS, chi-square), reference (reading / resolving the reference),
section (the "drift" section), config (`drift:`, `reference:`), thresholds (`{drift: ...}`).
"""
