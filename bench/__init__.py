"""The benchmark harness of issue 5: assay against TFMA and against the floor (see docs/benchmarks.md)."""
