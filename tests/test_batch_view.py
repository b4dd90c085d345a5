"""assay.engine.extensions.BatchView: the rows' keys are made once, and only when read."""

import numpy as np
import pyarrow as pa

from assay.engine.extensions import BatchView
from assay.metrics import bootstrap


def test_row_keys_are_made_on_first_read_only_and_once():
    calls = []
    kept = np.array([0, 2, 3])

    def keys_of():
        calls.append(1)
        return bootstrap.row_keys("part-0", 10 + np.arange(4))[kept]

    batch = pa.RecordBatch.from_arrays([pa.array([1, 2, 3, 4])], ["x"])
    view = BatchView(batch.take(pa.array(kept)), batch, {}, "part-0", 10, kept, keys_of, {})
    assert calls == []  # an extension that never reads them costs nothing
    first = view.row_keys
    np.testing.assert_array_equal(first, bootstrap.row_keys("part-0", np.array([10, 12, 13])))
    assert view.row_keys is first and calls == [1]
