"""The results directory: its format, how it is read and how it is published.

    result.py    EvalResult, load_result, the file names, `dumps` (the JSON writer)
    publish.py   StagedOutput: written beside the output, renamed into place when complete
    slices.py    slice identity, matching and labels, shared by engine, validation and report
"""
