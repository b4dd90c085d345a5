"""Perturbations and permutation feature importance (numpy and pyarrow only).

``config`` parses `perturbations:` and `sensitivity:`; ``apply`` edits one feature of a batch;
``scoring`` adds each perturbation to the pass as the model "perturbed:NAME" with its paired
metrics against the candidate; ``importance`` ranks the permuted features (the `sensitivity`
section, through ``extension``); ``thresholds`` gates on them ({perturbation: NAME, ...}).
"""
