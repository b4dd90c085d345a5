"""Ranking metrics with a query key: NDCG@k, min_label_position and the query statistics.

References: TFMA 0.47's own NDCG, MinLabelPosition and QueryStatistics, run model-agnostic on
the same examples (one run, module-scoped); sklearn.metrics.ndcg_score, which averages tied
predictions as assay does; hand-computed cases. Results must not depend on the batch size or
the engine.
"""

import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import ndcg_score

import assay
from assay import cli
from assay.config.schema import EvalConfig
from assay.errors import ConfigError, DataError
from assay.metrics.batch import ModelBatch
from assay.metrics.ranking import RankingMetrics
from assay.metrics.registry import metric_direction

TOP_K = (1, 3, 5)
N_QUERIES = 30


def _examples(seed=7):
    """~8 documents per query; query-level country and weight; distinct predictions."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 15, N_QUERIES)
    qid = np.repeat(np.arange(N_QUERIES) * 7 + 100, sizes)
    n = len(qid)
    pred = rng.permutation(n) / n + 0.001  # no ties: TFMA orders ties arbitrarily
    rel = rng.integers(0, 4, n).astype(float)
    rel[qid == 100] = 0.0  # a query with no gain: left out of NDCG, as TFMA
    clicked = (rel >= 2).astype(float)
    country = np.where((qid // 7) % 3 == 0, "fr", "us")
    weight = 1.0 + (qid % 4).astype(float)
    order = rng.permutation(n)  # a query's documents are scattered over the file
    return {"qid": qid[order], "pred": pred[order], "rel": rel[order],
            "clicked": clicked[order], "country": country[order], "weight": weight[order]}


def _write_tfrecord(cols, path):
    import tensorflow as tf

    def feature(v):
        if isinstance(v, str):
            return tf.train.Feature(bytes_list=tf.train.BytesList(value=[v.encode()]))
        if isinstance(v, (int, np.integer)):
            return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v)]))
        return tf.train.Feature(float_list=tf.train.FloatList(value=[float(v)]))

    with tf.io.TFRecordWriter(path) as w:
        for i in range(len(cols["qid"])):
            ex = {k: feature(v[i].item() if hasattr(v[i], "item") else v[i])
                  for k, v in cols.items()}
            w.write(tf.train.Example(features=tf.train.Features(feature=ex))
                    .SerializeToString())


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("ranking")
    cols = _examples()
    # float32, as a tf.Example stores it, so that both evaluators see the same numbers.
    cols = {k: (v.astype(np.float32).astype(np.float64) if v.dtype.kind == "f" else v)
            for k, v in cols.items()}
    pq.write_table(pa.table(cols), str(root / "rank.parquet"))
    _write_tfrecord(cols, str(root / "rank.tfrecord"))
    return root, cols


CONFIG = {"label": "clicked", "weight": "weight", "models": {"candidate": {"prediction": "pred"}},
          "query_key": "qid", "gain_key": "rel", "ranking_top_k": list(TOP_K),
          "slices": [["country"]]}



TFMA_CONFIG = """
  model_specs { label_key: "clicked" prediction_key: "pred" example_weight_key: "weight" }
  metrics_specs {
    query_key: "qid"
    metrics { class_name: "NDCG" config: '"gain_key": "rel", "top_k_list": [1, 3, 5]' }
    metrics { class_name: "MinLabelPosition" }
    metrics { class_name: "QueryStatistics" }
  }
  slicing_specs {}
  slicing_specs { feature_keys: ["country"] }
"""
UNWEIGHTED_SPEC = """
  metrics_specs {
    query_key: "qid"
    example_weights { unweighted: true }
    metrics { class_name: "NDCG" config: '"gain_key": "rel", "top_k_list": [1, 3, 5]' }
    metrics { class_name: "MinLabelPosition" }
    metrics { class_name: "QueryStatistics" }
  }
"""

@pytest.fixture(scope="module")
def tfma_values(data):
    """TFMA's {(slice, metric key): value} on the same examples (one model-agnostic run)."""
    import tensorflow_model_analysis as tfma
    from google.protobuf import text_format

    root, _ = data
    eval_config = text_format.Parse(TFMA_CONFIG + UNWEIGHTED_SPEC, tfma.EvalConfig())
    out = str(root / "tfma_out")
    tfma.run_model_analysis(eval_config=eval_config, data_location=str(root / "rank.tfrecord"),
                            output_path=out)
    values = {}
    for record in tfma.load_metrics(out):
        slice_ = tuple((s.column, s.bytes_value.decode())
                       for s in record.slice_key.single_slice_keys)
        for kv in record.metric_keys_and_values:
            name = kv.key.name
            if kv.key.sub_key.HasField("top_k"):
                name = f"{name}@{kv.key.sub_key.top_k.value}"
            values[(slice_, name, kv.key.example_weighted.value)] = kv.value.double_value.value
    return values


@pytest.fixture(scope="module")
def local_result(data, tmp_path_factory):
    root, _ = data
    return assay.evaluate(CONFIG, str(root / "rank.parquet"),
                          str(tmp_path_factory.mktemp("out") / "local"), engine="local",
                          write_report=False)


RANKING_NAMES = [f"ndcg@{k}" for k in TOP_K] + ["min_label_position", "total_queries",
                                               "total_documents", "min_documents",
                                               "max_documents"]


@pytest.mark.parametrize("slice_", [(), (("country", "fr"),), (("country", "us"),)])
def test_weighted_metrics_equal_tfma(local_result, tfma_values, slice_):
    ours = local_result.metrics(dict(slice_) if slice_ else None)
    for name in RANKING_NAMES:
        theirs = tfma_values[(slice_, name, True)]
        assert ours[name] == pytest.approx(theirs, rel=1e-9, abs=1e-12), name


def test_unweighted_query_statistics_equal_tfma(data, tfma_values, tmp_path):
    root, _ = data
    cfg = {k: v for k, v in CONFIG.items() if k != "weight"}
    ours = assay.evaluate(cfg, str(root / "rank.parquet"), str(tmp_path / "o"), engine="local",
                          write_report=False).metrics()
    for name in RANKING_NAMES:
        assert ours[name] == pytest.approx(tfma_values[((), name, False)], rel=1e-9), name
    assert ours["total_queries"] == N_QUERIES


def test_ndcg_equals_sklearn_with_tied_predictions():
    rng = np.random.default_rng(3)
    n = 400
    qid = rng.integers(0, 50, n)
    pred = np.round(rng.random(n), 1)  # many ties
    gain = rng.integers(0, 4, n).astype(float)
    batch = ModelBatch(gain, pred, np.ones(n), pa.record_batch([pa.array(qid)], ["qid"]))
    metric = RankingMetrics("qid", top_k=(1, 2, 10))
    values = metric.result(metric.add(metric.create(), batch))
    for k in (1, 2, 10):
        per_query = [1.0 if (qid == q).sum() == 1 else
                     ndcg_score([gain[qid == q]], [pred[qid == q]], k=k)
                     for q in np.unique(qid) if gain[qid == q].max() > 0]
        assert values[f"ndcg@{k}"] == pytest.approx(np.mean(per_query), abs=1e-12)


def test_hand_computed_case():
    # Query a: gains by prediction order 0, 2, 1 -> DCG@2 = 2/log2(3), ideal 2 + 1/log2(3).
    # Query b: two tied documents, one positive -> first positive at 1 + (2-1)/(1+1) = 1.5.
    features = pa.record_batch([pa.array(["a", "a", "a", "b", "b"])], ["q"])
    batch = ModelBatch(np.array([0., 2., 1., 0., 1.]), np.array([.9, .5, .1, .3, .3]),
                       np.ones(5), features)
    metric = RankingMetrics("q", top_k=(2,))
    values = metric.result(metric.add(metric.create(), batch))
    ndcg_a = (2 / np.log2(3)) / (2 + 1 / np.log2(3))
    ndcg_b = 0.5 * (1 + 1 / np.log2(3)) / 1.0  # the positive's gain spread over both places
    assert values["ndcg@2"] == pytest.approx((ndcg_a + ndcg_b) / 2)
    assert values["min_label_position"] == pytest.approx((2 + 1.5) / 2)
    assert (values["total_queries"], values["total_documents"], values["min_documents"],
            values["max_documents"]) == (2, 5, 2, 3)


def test_empty_input_gives_nan_and_zero_counts():
    metric = RankingMetrics("q")
    values = metric.result(metric.create())
    assert np.isnan(values["ndcg@1"]) and np.isnan(values["min_label_position"])
    assert values["total_queries"] == 0 and np.isnan(values["max_documents"])


def test_queries_split_over_batches_and_shards_give_one_result(data):
    _, cols = data
    features = pa.record_batch([pa.array(cols["qid"])], ["qid"])
    batch = ModelBatch(cols["rel"], cols["pred"], cols["weight"], features)
    metric = RankingMetrics("qid", top_k=TOP_K)
    whole = metric.result(metric.add(metric.create(), batch))
    n = len(batch)
    for size in (1, 3, 17):
        parts = [metric.add(metric.create(), batch.take(np.arange(i, min(i + size, n))))
                 for i in range(0, n, size)]
        assert metric.result(metric.merge(parts[::-1])) == pytest.approx(whole, rel=1e-12)
    groups = np.arange(n) % 4  # add_grouped: one accumulator per group
    grouped = metric.add_grouped(batch, groups, 4)
    assert metric.result(metric.merge(grouped)) == pytest.approx(whole, rel=1e-12)


@pytest.mark.parametrize("engine,batch_size", [("local", 1), ("local", 3), ("local", 100000),
                                               ("beam", 3)])
def test_results_do_not_depend_on_batching_or_engine(data, local_result, tmp_path, engine,
                                                     batch_size):
    root, _ = data
    cfg = dict(CONFIG, batch_size=batch_size)
    result = assay.evaluate(cfg, str(root / "rank.parquet"), str(tmp_path / "o"), engine=engine,
                            write_report=False)
    for slice_ in (None, {"country": "fr"}, {"country": "us"}):
        ours, ref = result.metrics(slice_), local_result.metrics(slice_)
        for name in RANKING_NAMES:
            assert ours[name] == pytest.approx(ref[name], rel=1e-12), (slice_, name)


def test_thresholds_on_ranking_metrics_name_slice_and_value(data, local_result, tmp_path):
    root, _ = data
    fr = local_result.metrics({"country": "fr"})["ndcg@3"]
    cfg = dict(CONFIG, thresholds=[
        {"metric": "ndcg@3", "min": round(fr + 0.01, 4), "slices": [["country"]]},
        {"metric": "min_label_position", "max": 100}])
    result = assay.evaluate(cfg, str(root / "rank.parquet"), str(tmp_path / "o"),
                            engine="local", write_report=False)
    verdict = json.loads((tmp_path / "o" / "validation.json").read_text())
    assert result.blessed is False
    text = json.dumps(verdict)
    assert "ndcg@3" in text and "fr" in text
    assert metric_direction("ndcg@3") == "higher"
    assert metric_direction("min_label_position") == "lower"


def test_cli_end_to_end(data, tmp_path, capsys):
    root, _ = data
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(dict(CONFIG, thresholds=[{"metric": "ndcg@5", "min": 0.2}])))
    code = cli.main(["evaluate", "--config", str(cfg), "--examples", str(root / "rank.parquet"),
                     "--output", str(tmp_path / "out"), "--fail-on-not-blessed"])
    assert code == 0
    result = assay.load_result(str(tmp_path / "out"))
    expected = RankingMetrics("qid", "rel", TOP_K)
    _, cols = data
    batch = ModelBatch(cols["clicked"], cols["pred"], cols["weight"],
                       pa.record_batch([pa.array(cols["qid"]), pa.array(cols["rel"])],
                                       ["qid", "rel"]))
    want = expected.result(expected.add(expected.create(), batch))
    assert result.metrics()["ndcg@5"] == pytest.approx(want["ndcg@5"], rel=1e-12)
    assert os.listdir(tmp_path / "out" / "blessing") == ["BLESSED"]


def test_weights_that_differ_within_a_query_are_refused():
    features = pa.record_batch([pa.array([5, 5, 6])], ["q"])
    batch = ModelBatch(np.array([1., 0., 1.]), np.array([.2, .4, .5]), np.array([1., 2., 1.]),
                       features)
    metric = RankingMetrics("q")
    with pytest.raises(DataError, match=r"query 5 \(query_key 'q'\) have different weights "
                                        r"\(1.0 to 2.0\)"):
        metric.result(metric.add(metric.create(), batch))


def test_bad_ranking_config_is_refused(data, tmp_path):
    with pytest.raises(ConfigError, match="'gain_key' .* needs 'query_key' too"):
        EvalConfig.from_dict({"label": "y", "models": {"candidate": {"prediction": "p"}},
                              "gain_key": "rel"})
    with pytest.raises(ConfigError, match="'ranking_top_k' needs distinct positive integers"):
        EvalConfig.from_dict({"label": "y", "models": {"candidate": {"prediction": "p"}},
                              "query_key": "q", "ranking_top_k": [3, 3]})
    root, _ = data
    with pytest.raises(DataError, match="query_key column 'query' is not in the data"):
        assay.evaluate(dict(CONFIG, query_key="query"), str(root / "rank.parquet"),
                       str(tmp_path / "o"), engine="local", write_report=False)


def test_class_probabilities_are_refused():
    features = pa.record_batch([pa.array([1, 1])], ["q"])
    batch = ModelBatch(np.array([0, 1]), np.array([[.2, .8], [.6, .4]]), np.ones(2), features)
    metric = RankingMetrics("q")
    with pytest.raises(DataError, match=r"one score per example \(got predictions of shape "
                                        r"\(2, 2\)\)"):
        metric.add(metric.create(), batch)


def test_translated_tfma_config_gives_tfma_values(data, tfma_values, tmp_path):
    import tensorflow_model_analysis as tfma
    from google.protobuf import text_format

    from assay.config.tfma import from_tfma

    threshold = ' threshold { value_threshold { lower_bound { value: 0.99 } } }'
    text = TFMA_CONFIG.replace("[1, 3, 5]' }", "[1, 3, 5]'" + threshold + " }")
    cfg = from_tfma(text_format.Parse(text, tfma.EvalConfig()))
    assert (cfg["query_key"], cfg["gain_key"], cfg["ranking_top_k"]) == ("qid", "rel", [1, 3, 5])
    assert sorted(t["metric"] for t in cfg["thresholds"]) == ["ndcg@1", "ndcg@3", "ndcg@5"]
    root, _ = data
    result = assay.evaluate(cfg, str(root / "rank.tfrecord"), str(tmp_path / "o"),
                            engine="local", write_report=False)
    assert result.blessed is False  # NDCG is far below 0.99
    for slice_ in [(), (("country", "us"),)]:
        ours = result.metrics(dict(slice_) if slice_ else None)
        for name in RANKING_NAMES:
            assert ours[name] == pytest.approx(tfma_values[(slice_, name, True)], rel=1e-9)


def test_untranslatable_ranking_options_are_named():
    from assay.config.tfma import TfmaConfigError, from_tfma

    spec = {"model_specs": [{"label_key": "y", "prediction_key": "p"}], "metrics_specs": [
        {"metrics": [{"class_name": "NDCG", "config": '"gain_key": "g"'}]},
        {"query_key": "q", "metrics": [{"class_name": "NDCG", "config": '"gain_key": "g"'},
                                       {"class_name": "MinLabelPosition",
                                        "config": '"label_key": "other"'}]}]}
    with pytest.raises(TfmaConfigError) as e:
        from_tfma(spec)
    text = str(e.value)
    assert "metrics_specs[0].metrics[0] (NDCG): NDCG needs the metrics spec's query_key" in text
    assert "metrics_specs[1].metrics[0] (NDCG): NDCG needs gain_key and top_k_list" in text
    assert "MinLabelPosition label_key 'other' other than the model's label" in text


def test_tfx_executor_with_the_tfma_eval_config(data, tfma_values, tmp_path):
    """TFX's Evaluator interface, model-agnostic: the ranking eval_config as TFX stores it."""
    import shutil

    import tensorflow_model_analysis as tfma
    from google.protobuf import json_format, text_format
    from tfx.types import artifact_utils, standard_artifacts
    from tfx_artifacts import artifact, executor_outputs

    from assay.tfx.executor import Executor

    examples = artifact(standard_artifacts.Examples, tmp_path, "examples",
                        split_names=artifact_utils.encode_split_names(["eval"]))
    os.makedirs(os.path.join(examples.uri, "Split-eval"))
    shutil.copy(data[0] / "rank.tfrecord", os.path.join(examples.uri, "Split-eval", "data"))
    text = TFMA_CONFIG.replace(
        'class_name: "MinLabelPosition" }',
        'class_name: "MinLabelPosition" '
        'threshold { value_threshold { upper_bound { value: 50 } } } }')
    eval_config = json_format.MessageToJson(text_format.Parse(text, tfma.EvalConfig()),
                                            preserving_proto_field_name=True)
    outputs = executor_outputs(tmp_path)
    Executor().Do({"examples": [examples]}, outputs,
                  {"config": None, "eval_config": eval_config,
                   "example_splits": json.dumps(["eval"])})
    assert os.listdir(outputs["blessing"][0].uri) == ["BLESSED"]
    result = assay.load_result(outputs["evaluation"][0].uri)
    checks = result.validation["checks"]
    assert {c["metric"] for c in checks} == {"min_label_position"} and len(checks) == 3
    ours = result.metrics({"country": "fr"})
    for name in RANKING_NAMES:
        assert ours[name] == pytest.approx(tfma_values[((("country", "fr"),), name, True)],
                                           rel=1e-9)


def test_queries_spread_over_files_and_workers(data, local_result, tmp_path):
    """Every query's documents in three files, read by three local workers."""
    _, cols = data
    shards = tmp_path / "shards"
    shards.mkdir()
    part = np.arange(len(cols["qid"])) % 3
    for i in range(3):
        pq.write_table(pa.table({k: v[part == i] for k, v in cols.items()}),
                       str(shards / f"part-{i}.parquet"))
    result = assay.evaluate(dict(CONFIG, batch_size=4), str(shards), str(tmp_path / "o"),
                            engine="local", workers=3, write_report=False)
    for slice_ in (None, {"country": "us"}):
        ours, ref = result.metrics(slice_), local_result.metrics(slice_)
        for name in RANKING_NAMES:
            assert ours[name] == pytest.approx(ref[name], rel=1e-12), (slice_, name)


def test_kfp_executor_runs_a_ranking_evaluation(data, local_result, tmp_path):
    """The KFP component's entrypoint, in-process, with the executor input KFP sends: the
    ranking metrics reach the KFP metrics output and the verdict, equal to a local run's."""
    import shutil

    from test_kfp import hand_built_executor_input

    from assay.kfp import executor

    root, _ = data
    os.makedirs(tmp_path / "examples")
    shutil.copy(root / "rank.tfrecord", tmp_path / "examples" / "rank.tfrecord")
    want = local_result.metrics()
    config = dict(CONFIG, thresholds=[{"metric": f"ndcg@{TOP_K[0]}",
                                       "min": want[f"ndcg@{TOP_K[0]}"] + 0.01}])
    task = hand_built_executor_input(
        str(tmp_path / "task"), {"examples": ("system.Dataset", str(tmp_path / "examples"))},
        {"config": json.dumps(config), "beam_pipeline_args": [], "allow_pickle": False,
         "force_bless": ""})
    executor.run(task)
    # The threshold sits just above the overall value: NOT_BLESSED, as the local run says.
    assert (tmp_path / "task" / "parameters" / "blessed").read_text() == "false"
    scalars = json.loads((tmp_path / "task" / "metrics").read_text())
    for name in RANKING_NAMES:
        if name in scalars:
            assert scalars[name] == pytest.approx(want[name], rel=1e-9), name
    assert f"ndcg@{TOP_K[0]}" in scalars
