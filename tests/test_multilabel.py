"""Multi-label evaluation: multi-hot labels, per-class and averaged binary metrics, whole-example
metrics and the multi-label confusion matrix.

References: TFMA 0.47's binarized (class_ids) and aggregated (micro / macro) metrics, ExactMatch
and MultiLabelConfusionMatrixPlot, run model-agnostic on the same examples (one run,
module-scoped); scikit-learn's precision / recall / f1 / roc_auc with average=micro, macro and
weighted, accuracy_score, hamming_loss and multilabel_confusion_matrix.
"""

import json
import os

import numpy as np
import pytest
import sklearn.metrics as skm

import assay
from assay import cli
from assay.errors import ConfigError, DataError
from assay.metrics.batch import ModelBatch
from assay.metrics.multilabel import MultilabelMetrics

K = 4
N = 120
CLASS_IDS = list(range(K))


def _prf(fn, average):
    return lambda y, p, w: fn(y, p > 0.5, average=average, sample_weight=w, zero_division=np.nan)


# Every class-independent name the family produces -> its reference on (labels [n, k] multi-hot,
# scores [n, k], weights [n]); test_metrics' completeness test reads this too.
MULTILABEL_REFERENCES = {
    "example_count": lambda y, p, w: len(y),
    "weighted_example_count": lambda y, p, w: w.sum(),
    "subset_accuracy": lambda y, p, w: skm.accuracy_score(y, p > 0.5, sample_weight=w),
    "hamming_loss": lambda y, p, w: skm.hamming_loss(y, p > 0.5, sample_weight=w),
    "exact_match": lambda y, p, w: np.average((p == y).mean(axis=1), weights=w),
    "set_match_precision": _prf(skm.precision_score, "micro"),
    "set_match_recall": _prf(skm.recall_score, "micro"),
    **{f"{name}_{avg}": _prf(fn, avg)
       for name, fn in (("precision", skm.precision_score), ("recall", skm.recall_score),
                        ("f1", skm.f1_score)) for avg in ("macro", "micro", "weighted")},
    **{f"auc_{avg}": (lambda y, p, w, avg=avg: skm.roc_auc_score(y, p, average=avg,
                                                                 sample_weight=w))
       for avg in ("macro", "micro", "weighted")},
}


def _examples(seed=11):
    rng = np.random.default_rng(seed)
    labels = (rng.random((N, K)) < np.array([0.5, 0.3, 0.6, 0.2])).astype(np.float64)
    # Scores near the labels, rounded to 0.1 so that some equal 0 or 1 (ExactMatch) and some
    # sit on the threshold 0.5 (predicted negative: score > threshold, as TFMA).
    scores = np.clip(np.round(0.35 * labels + 0.65 * rng.random((N, K)), 1), 0, 1)
    weight = rng.choice([1.0, 2.0, 0.5], N)
    group = np.where(np.arange(N) % 3 == 0, "a", "b")
    return labels, scores, weight, group


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    import tensorflow as tf

    root = tmp_path_factory.mktemp("multilabel")
    labels, scores, weight, group = _examples()
    with tf.io.TFRecordWriter(str(root / "data.tfrecord")) as w:
        for i in range(N):
            features = {
                "label": tf.train.Feature(int64_list=tf.train.Int64List(
                    value=labels[i].astype(int))),
                "scores": tf.train.Feature(float_list=tf.train.FloatList(value=scores[i])),
                "weight": tf.train.Feature(float_list=tf.train.FloatList(value=[weight[i]])),
                "group": tf.train.Feature(bytes_list=tf.train.BytesList(
                    value=[group[i].encode()])),
            }
            w.write(tf.train.Example(features=tf.train.Features(feature=features))
                    .SerializeToString())
    # The scores as TFMA and assay read them back (float32).
    scores = scores.astype(np.float32).astype(np.float64)
    return root, labels, scores, weight, group


CONFIG = {"label": "label", "weight": "weight", "task": "multilabel",
          "models": {"candidate": {"prediction": "scores"}}, "slices": [["group"]]}


@pytest.fixture(scope="module")
def result(data, tmp_path_factory):
    root = data[0]
    return assay.evaluate(CONFIG, str(root / "data.tfrecord"),
                          str(tmp_path_factory.mktemp("out") / "r"), engine="local",
                          write_report=False)



_EQUAL_WEIGHTS = " ".join(f"class_weights {{ key: {c} value: 1 }}" for c in CLASS_IDS)
TFMA_CONFIG = f"""
  model_specs {{ label_key: "label" prediction_key: "scores" example_weight_key: "weight" }}
  metrics_specs {{
    metrics {{ class_name: "Precision" }} metrics {{ class_name: "Recall" }}
    metrics {{ class_name: "AUC" }}
    binarize {{ class_ids {{ values: {CLASS_IDS} }} }}
  }}
  metrics_specs {{
    metrics {{ class_name: "Precision" }} metrics {{ class_name: "Recall" }}
    metrics {{ class_name: "AUC" }}
    aggregate {{ micro_average: true }}
  }}
  metrics_specs {{
    metrics {{ class_name: "Precision" }} metrics {{ class_name: "Recall" }}
    aggregate {{ macro_average: true {_EQUAL_WEIGHTS} }}
  }}
  metrics_specs {{
    metrics {{ class_name: "ExactMatch" }}
    metrics {{ class_name: "MultiLabelConfusionMatrixPlot" }}
  }}
  slicing_specs {{}}
"""

@pytest.fixture(scope="module")
def tfma_run(data):
    """TFMA's ({(metric key text): value}, multi-label matrix entries) on the same examples."""
    import tensorflow_model_analysis as tfma
    from google.protobuf import text_format

    root = data[0]
    eval_config = text_format.Parse(TFMA_CONFIG, tfma.EvalConfig())
    out = str(root / "tfma_out")
    tfma.run_model_analysis(eval_config=eval_config, data_location=str(root / "data.tfrecord"),
                            output_path=out)
    values = {}
    for record in tfma.load_metrics(out):
        for kv in record.metric_keys_and_values:
            key = kv.key
            name = key.name
            if key.sub_key.HasField("class_id"):
                name = f"{name}/{key.sub_key.class_id.value}"
            for avg in ("micro_average", "macro_average"):
                if getattr(key.aggregation_type, avg):
                    name = f"{name}_{avg.split('_')[0]}"
            values[name] = kv.value.double_value.value
    entries = {}
    for record in tfma.load_plots(out):
        for kv in record.plot_keys_and_values:
            matrices = kv.value.multi_label_confusion_matrix_at_thresholds.matrices
            for e in matrices[0].entries:
                entries[(e.actual_class_id, e.predicted_class_id)] = (
                    e.true_positives, e.false_positives, e.true_negatives, e.false_negatives)
    return values, entries


def test_per_class_and_averaged_metrics_equal_tfma(result, tfma_run):
    values, _ = tfma_run
    ours = result.metrics()
    for c in CLASS_IDS:
        for m in ("precision", "recall"):
            assert ours[f"{m}/{c}"] == pytest.approx(values[f"{m}/{c}"], rel=1e-6), (m, c)
        # TFMA's AUC sums 10000 threshold buckets: close to the exact area, not equal.
        assert ours[f"auc/{c}"] == pytest.approx(values[f"auc/{c}"], abs=2e-3), c
    for m in ("precision", "recall", "auc"):
        tol = 2e-3 if m == "auc" else 1e-6
        assert ours[f"{m}_micro"] == pytest.approx(values[f"{m}_micro"], rel=tol), m
    for m in ("precision", "recall"):
        assert ours[f"{m}_macro"] == pytest.approx(values[f"{m}_macro"], rel=1e-6), m
    assert ours["exact_match"] == pytest.approx(values["exact_match"], rel=1e-6)
    assert 0 < ours["exact_match"] < 1


def test_multilabel_confusion_matrix_equals_tfma(result, tfma_run):
    _, entries = tfma_run
    plot = result.plots()["multi_label_confusion_matrix"]
    assert plot["labels"] == [str(c) for c in CLASS_IDS] and plot["threshold"] == 0.5
    for (i, j), (tp, fp, tn, fn) in entries.items():
        ours = plot["entries"][i][j]
        assert (ours["tp"], ours["fp"], ours["tn"], ours["fn"]) == pytest.approx(
            (tp, fp, tn, fn), rel=1e-6), (i, j)
    assert len(entries) == K * K


@pytest.mark.parametrize("slice_", [None, {"group": "a"}, {"group": "b"}])
def test_metrics_equal_sklearn(data, result, slice_):
    _, labels, scores, weight, group = data
    rows = np.ones(N, bool) if slice_ is None else group == slice_["group"]
    y, p, w = labels[rows], scores[rows], weight[rows]
    predicted = p > 0.5
    ours = result.metrics(slice_)
    for avg in ("micro", "macro", "weighted"):
        for m, fn in (("precision", skm.precision_score), ("recall", skm.recall_score),
                      ("f1", skm.f1_score)):
            assert ours[f"{m}_{avg}"] == pytest.approx(
                fn(y, predicted, average=avg, sample_weight=w), rel=1e-12), (m, avg)
        assert ours[f"auc_{avg}"] == pytest.approx(
            skm.roc_auc_score(y, p, average=avg, sample_weight=w), rel=1e-12), avg
    assert ours["subset_accuracy"] == pytest.approx(
        skm.accuracy_score(y, predicted, sample_weight=w), rel=1e-12)
    assert ours["hamming_loss"] == pytest.approx(
        skm.hamming_loss(y, predicted, sample_weight=w), rel=1e-12)
    confusion = skm.multilabel_confusion_matrix(y, predicted, sample_weight=w)
    for c in CLASS_IDS:
        (tn, fp), (fn, tp) = confusion[c]
        assert ours[f"precision/{c}"] == pytest.approx(tp / (tp + fp), rel=1e-12)
        assert ours[f"recall/{c}"] == pytest.approx(tp / (tp + fn), rel=1e-12)
    assert ours["set_match_precision"] == ours["precision_micro"]
    assert ours["weighted_example_count"] == pytest.approx(w.sum())


def test_shards_and_groups_merge_to_one_pass(data):
    _, labels, scores, weight, _ = data
    metric = MultilabelMetrics([str(c) for c in CLASS_IDS], max_exact_scores=None)
    batch = ModelBatch(labels, scores, weight)
    whole = metric.result(metric.add(metric.create(), batch))
    parts = [metric.add(metric.create(), batch.take(np.arange(i, min(i + 7, N))))
             for i in range(0, N, 7)]
    assert metric.result(metric.merge(parts)) == pytest.approx(whole, rel=1e-12, nan_ok=True)
    grouped = metric.add_grouped(batch, np.arange(N) % 5, 5)
    merged = metric.merge(grouped)
    assert metric.result(merged) == pytest.approx(whole, rel=1e-12, nan_ok=True)
    assert np.allclose(merged.pairs, metric.add(metric.create(), batch).pairs)


def test_undefined_class_values_are_nan_and_left_out_of_macro():
    labels = np.array([[1., 0.], [1., 0.], [0., 0.]])  # class 1 has no positives
    scores = np.array([[.9, .2], [.3, .1], [.6, .4]])
    metric = MultilabelMetrics(["x", "y"])
    values = metric.result(metric.add(metric.create(), ModelBatch(labels, scores, np.ones(3))))
    assert np.isnan(values["recall/y"]) and np.isnan(values["auc/y"])
    assert values["recall_macro"] == values["recall/x"] == 0.5
    assert values["precision/x"] == 0.5 and values["subset_accuracy"] == pytest.approx(1 / 3)


def test_cli_end_to_end_with_class_names(data, tmp_path):
    root, labels, scores, weight, _ = data
    names = ["sports", "news", "tech", "art"]
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(dict(CONFIG, label_vocabulary=names,
                                   thresholds=[{"metric": "f1_micro", "min": 0.99}])))
    code = cli.main(["evaluate", "--config", str(cfg), "--examples",
                     str(root / "data.tfrecord"), "--output", str(tmp_path / "out"),
                     "--fail-on-not-blessed"])
    assert code == cli.EXIT_NOT_BLESSED
    result = assay.load_result(str(tmp_path / "out"))
    assert result.task == "multilabel"
    want = skm.recall_score(labels[:, 1], scores[:, 1] > 0.5, sample_weight=weight)
    assert result.metrics()["recall/news"] == pytest.approx(want, rel=1e-12)
    assert os.listdir(tmp_path / "out" / "blessing") == ["NOT_BLESSED"]


def test_label_lists_of_the_wrong_length_are_invalid(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"y": [[1, 0, 1], [0, 1], [1, 1, 0]],
                             "p": [[.9, .1, .8], [.2, .7, .1], [.6, .6, .1]]}),
                   str(tmp_path / "d.parquet"))
    cfg = {"label": "y", "task": "multilabel", "models": {"candidate": {"prediction": "p"}}}
    with pytest.raises(DataError, match=r"label 'y' does not hold 3 values"):
        assay.evaluate(cfg, str(tmp_path / "d.parquet"), str(tmp_path / "o"), engine="local",
                       write_report=False)
    result = assay.evaluate(dict(cfg, invalid_values="skip"), str(tmp_path / "d.parquet"),
                            str(tmp_path / "o2"), engine="local", write_report=False)
    assert result.metrics()["example_count"] == 2


def test_labels_other_than_0_or_1_and_wrong_prediction_width(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"y": [[1, 0], [2, 1]], "p": [[.9, .1], [.2, .7]],
                             "p3": [[.1, .2, .3], [.1, .2, .3]]}), str(tmp_path / "d.parquet"))
    cfg = {"label": "y", "task": "multilabel", "models": {"candidate": {"prediction": "p"}}}
    with pytest.raises(DataError, match=r"label 'y' holds a value other than 0 or 1"):
        assay.evaluate(cfg, str(tmp_path / "d.parquet"), str(tmp_path / "o"), engine="local",
                       write_report=False)
    with pytest.raises(ConfigError, match=r"label_vocabulary names 2 classes but the candidate "
                                          r"gives 3 values"):
        assay.evaluate(dict(cfg, models={"candidate": {"prediction": "p3"}},
                            label_vocabulary=["a", "b"]),
                       str(tmp_path / "d.parquet"), str(tmp_path / "o2"), engine="local",
                       write_report=False)


def test_multilabel_is_never_inferred(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"y": [[1, 0], [0, 1]], "p": [[.9, .1], [.2, .7]]}),
                   str(tmp_path / "d.parquet"))
    cfg = {"label": "y", "models": {"candidate": {"prediction": "p"}}}
    with pytest.raises(DataError, match=r"label column 'y' must hold exactly one value per "
                                        r"example; .* set task: multilabel"):
        assay.evaluate(cfg, str(tmp_path / "d.parquet"), str(tmp_path / "o"), engine="local",
                       write_report=False)


def test_translated_tfma_config_gives_tfma_values(data, tfma_run, tmp_path):
    import tensorflow_model_analysis as tfma
    from google.protobuf import text_format

    from assay.config.tfma import from_tfma

    threshold = "threshold { value_threshold { lower_bound { value: 0.9 } } }"
    text = TFMA_CONFIG.replace('class_name: "ExactMatch" }',
                               f'class_name: "ExactMatch" {threshold} }}')
    cfg = from_tfma(text_format.Parse(text, tfma.EvalConfig()))
    assert cfg["task"] == "multilabel"
    assert [t["metric"] for t in cfg["thresholds"]] == ["exact_match"]
    result = assay.evaluate(cfg, str(data[0] / "data.tfrecord"), str(tmp_path / "o"),
                            engine="local", write_report=False)
    assert result.blessed is False
    values, _ = tfma_run
    ours = result.metrics()
    for name in ["precision/0", "recall/3", "precision_micro", "recall_macro", "exact_match"]:
        assert ours[name] == pytest.approx(values[name], rel=1e-6), name
    assert ours["auc/2"] == pytest.approx(values["auc/2"], abs=2e-3)


def test_untranslatable_multilabel_options_are_named():
    from assay.config.tfma import TfmaConfigError, from_tfma

    spec = {"model_specs": [{"label_key": "y", "prediction_key": "p"}], "metrics_specs": [
        {"metrics": [{"class_name": "MeanLabel"}], "binarize": {"class_ids": {"values": [0]}}},
        {"metrics": [{"class_name": "Recall"}],
         "aggregate": {"macro_average": True, "class_weights": {"0": 1.0, "1": 2.0}}},
        {"metrics": [{"class_name": "SetMatchPrecision", "config": '"top_k": 2'}]}]}
    with pytest.raises(TfmaConfigError) as e:
        from_tfma(spec)
    text = str(e.value)
    assert "binarize/aggregate on mean_label (assay has per-class and averaged forms" in text
    assert "unequal class weights {'0': 1.0, '1': 2.0}" in text
    assert "SetMatchPrecision config ['top_k']" in text


def test_every_default_name_equals_its_reference(data):
    from assay.metrics import DEFAULT_METRIC_NAMES

    _, labels, scores, weight, _ = data
    assert set(DEFAULT_METRIC_NAMES["multilabel"]) == set(MULTILABEL_REFERENCES)
    metric = MultilabelMetrics([str(c) for c in CLASS_IDS])
    values = metric.result(metric.add(metric.create(), ModelBatch(labels, scores, weight)))
    for name, reference in MULTILABEL_REFERENCES.items():
        assert values[name] == pytest.approx(reference(labels, scores, weight), rel=1e-12), name


def test_kfp_executor_runs_a_multilabel_evaluation(data, tmp_path):
    """The KFP component's entrypoint, in-process, with the executor input KFP sends."""
    import shutil

    from test_kfp import hand_built_executor_input

    from assay.kfp import executor

    root, labels, scores, weight, _ = data
    os.makedirs(tmp_path / "examples")
    shutil.copy(root / "data.tfrecord", tmp_path / "examples" / "data.tfrecord")
    config = dict(CONFIG, thresholds=[{"metric": "f1_macro", "min": 0.2}])
    task = hand_built_executor_input(
        str(tmp_path / "task"), {"examples": ("system.Dataset", str(tmp_path / "examples"))},
        {"config": json.dumps(config), "beam_pipeline_args": [], "allow_pickle": False,
         "force_bless": ""})
    executor.run(task)
    assert (tmp_path / "task" / "parameters" / "blessed").read_text() == "true"
    scalars = json.loads((tmp_path / "task" / "metrics").read_text())
    want = skm.f1_score(labels, scores > 0.5, average="macro", sample_weight=weight)
    assert scalars["f1_macro"] == pytest.approx(want, rel=1e-12)
    assert os.listdir(tmp_path / "task" / "blessing") == ["BLESSED"]


def test_beam_engine_and_batch_sizes_give_the_local_result(data, result, tmp_path):
    root = data[0]
    for engine, batch_size in (("beam", 7), ("local", 1)):
        other = assay.evaluate(dict(CONFIG, batch_size=batch_size), str(root / "data.tfrecord"),
                               str(tmp_path / engine), engine=engine, write_report=False)
        for slice_ in (None, {"group": "a"}):
            assert other.metrics(slice_) == pytest.approx(result.metrics(slice_), rel=1e-12,
                                                          nan_ok=True), (engine, slice_)
        assert other.plots() == result.plots()


def test_tfx_executor_runs_a_multilabel_evaluation(data, result, tmp_path):
    """TFX's Evaluator interface (the executor as TFX calls it) with a multi-label config: the
    same values as a direct run, and the verdict in the blessing."""
    import shutil

    from tfx.types import artifact_utils, standard_artifacts
    from tfx_artifacts import artifact, executor_outputs

    from assay.tfx.executor import Executor

    root = data[0]
    examples = artifact(standard_artifacts.Examples, tmp_path, "examples",
                        split_names=artifact_utils.encode_split_names(["eval"]))
    os.makedirs(os.path.join(examples.uri, "Split-eval"))
    shutil.copy(root / "data.tfrecord", os.path.join(examples.uri, "Split-eval", "data"))
    outputs = executor_outputs(tmp_path)
    config = dict(CONFIG, thresholds=[{"metric": "recall_micro", "min": 0.99}])
    Executor().Do({"examples": [examples]}, outputs,
                  {"config": json.dumps(config), "eval_config": None,
                   "example_splits": json.dumps(["eval"])})
    ours = assay.load_result(outputs["evaluation"][0].uri)
    assert ours.task == "multilabel"
    for slice_ in (None, {"group": "a"}):
        assert ours.metrics(slice_) == pytest.approx(result.metrics(slice_), rel=1e-12,
                                                     nan_ok=True)
    blessed = result.metrics()["recall_micro"] >= 0.99
    assert os.listdir(outputs["blessing"][0].uri) == ["BLESSED" if blessed else "NOT_BLESSED"]
