"""Optional hooks into the tools data scientists already use; each needs its own extra.

- `assay.integrations.mlflow` (extra `[mlflow]`): log an evaluation to an MLflow run.

Nothing here is imported by `import assay`.
"""
