"""The results directory: its format, how it is read and how it is published.

    result.py    EvalResult, load_result, the file names, `dumps` (the JSON writer)
    publish.py   StagedOutput: staged, then published whole (a local swap; on object stores a
                 generation named by a commit object written last)
    slices.py    slice identity, matching and labels, shared by engine, validation and report
    undefined.py strict JSON: non-finite values as null with their reason, integer counts
"""
