"""The TFMA plots' matrices along the ROC curve, computed at once, equal one message per point.

`_curve_confusion` builds every ConfusionMatrixAtThreshold of a curve with numpy and parses them
from their wire form; the reference here is the obvious per-point construction with `_matrix`
(the rule TFMA derives its rates by), compared byte for byte after serialization.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from assay.results import tfma_metrics
from assay.results.tfma_proto import metrics_for_slice_pb2 as pb


def _reference(roc, positives, negatives) -> pb.ConfusionMatrixAtThresholds:
    out = pb.ConfusionMatrixAtThresholds()
    for t, fpr, tpr in zip(roc["thresholds"], roc["fpr"], roc["tpr"]):
        if t is not None:
            tp, fp = tpr * positives, fpr * negatives
            out.matrices.append(tfma_metrics._matrix(float(t), tp, fp, negatives - fp,
                                                     positives - tp))
    return out


def _random_curve(rng, n):
    fpr = np.sort(rng.random(n)).tolist()
    tpr = np.sort(rng.random(n)).tolist()
    thresholds = [None] + sorted(rng.random(n - 1).tolist(), reverse=True)
    return {"thresholds": thresholds, "fpr": [0.0] + fpr[1:], "tpr": [0.0] + tpr[1:]}


@pytest.mark.parametrize("seed", range(5))
def test_curve_matrices_equal_the_per_point_messages_byte_for_byte(seed):
    rng = np.random.default_rng(seed)
    roc = _random_curve(rng, int(rng.integers(2, 400)))
    positives, negatives = float(rng.integers(1, 5000)), float(rng.integers(1, 5000)) + 0.25
    got = tfma_metrics._curve_confusion(roc, positives, negatives)
    assert got.SerializeToString() == _reference(roc, positives, negatives).SerializeToString()
    assert len(got.matrices) == len(roc["thresholds"]) - 1


@pytest.mark.parametrize("positives,negatives", [(0.0, 10.0), (10.0, 0.0), (0.0, 0.0), (3, 4),
                                                 (-0.0, 2.0)])
def test_zero_denominators_integers_and_signed_zero_match_too(positives, negatives):
    roc = {"thresholds": [None, 1, 0.5, 0.25, 0], "fpr": [0, 0, 0.5, 1, 1],
           "tpr": [0, 0.5, 1, 1, 1]}
    got = tfma_metrics._curve_confusion(roc, positives, negatives)
    assert got.SerializeToString() == _reference(roc, positives, negatives).SerializeToString()


def test_hand_computed_point_and_an_empty_curve():
    roc = {"thresholds": [None, 0.5], "fpr": [0.0, 0.25], "tpr": [0.0, 0.75]}
    (m,) = tfma_metrics._curve_confusion(roc, 8.0, 4.0).matrices
    assert (m.threshold, m.true_positives, m.false_positives, m.true_negatives,
            m.false_negatives) == (0.5, 6.0, 1.0, 3.0, 2.0)
    assert m.precision == pytest.approx(6 / 7) and m.recall == pytest.approx(0.75)
    assert m.false_positive_rate == pytest.approx(0.25) and m.f1 == pytest.approx(12 / 15)
    assert m.accuracy == pytest.approx(9 / 12) and m.false_omission_rate == pytest.approx(2 / 5)
    (z,) = tfma_metrics._curve_confusion(roc, 0.0, 4.0).matrices
    assert z.precision == 0.0 and math.isnan(z.recall)  # recall 0 / 0: NaN, as in TFMA
    empty = tfma_metrics._curve_confusion({"thresholds": [None], "fpr": [0], "tpr": [0]}, 1, 1)
    assert empty.SerializeToString() == b""


@pytest.mark.parametrize("thresholds", [[0.9, 0.5, 0.1], [None, 0.9, None, 0.1], [0.9, None],
                                        [None, None]])
def test_curves_without_the_usual_first_point_match_too(thresholds):
    """A curve whose points without a threshold are not just the first (or none at all) takes
    the general path: the same bytes as the per-point messages."""
    n = len(thresholds)
    roc = {"thresholds": thresholds, "fpr": np.linspace(0, 1, n).tolist(),
           "tpr": np.linspace(0.2, 1, n).tolist()}
    got = tfma_metrics._curve_confusion(roc, 7.0, 5.0)
    assert got.SerializeToString() == _reference(roc, 7.0, 5.0).SerializeToString()
    assert len(got.matrices) == sum(t is not None for t in thresholds)
