"""The pass: plan -> read -> extract -> predict -> slice -> accumulate -> merge -> assemble.

    plan.py      EvalPlan (data only, shipped to every worker) and make_plan
    prepare.py   model adapters, custom metrics, metric-name checks, task inference
    extract.py   labels, weights and predictions of a batch; invalid values counted (Problems)
    slicing.py   the slices of a batch, vectorised per spec
    passes.py    the stages as plain functions, shared by both engines
    local.py     runs the passes on this machine's cores (no Beam import)
    beam.py      runs the passes on any Beam runner
    assemble.py  the records of assay_metrics.json and assay_plots.json from the merged results
"""
