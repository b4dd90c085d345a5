"""Translation of a tfma.MetricsSpec's query_key, binarize and aggregate options, and of TFMA's
ranking and multi-label metric classes, to assay's config (part of `assay.config.tfma`).

  * `query_key` -> the config's `query_key` (one for the whole config); NDCG (its `gain_key`
    and `top_k_list`, or the spec's `binarize.top_k_list`) -> `gain_key`, `ranking_top_k` and
    the names ndcg@k; MinLabelPosition -> min_label_position (its `label_key` must be the
    model's label); QueryStatistics -> total_queries, total_documents, min_documents,
    max_documents.
  * `binarize.class_ids` -> the per-class names `{metric}/{class id}` (precision/3);
    `aggregate` micro_average / macro_average / weighted_macro_average -> `{metric}_micro`,
    `{metric}_macro`, `{metric}_weighted`, for Precision, Recall, F1Score and AUC (assay's
    per-class multiclass and multilabel metrics; class names are the class ids when the config
    has no label_vocabulary). `class_weights` are accepted only when they weigh every class the
    same (assay's macro average does).
  * ExactMatch, SetMatchPrecision, SetMatchRecall, MultiLabelConfusionMatrixPlot -> assay's
    multilabel metrics (exact_match, set_match_precision, set_match_recall, the
    multi_label_confusion_matrix plot), and the config's `task: multilabel`: TFMA decides by
    the shape of the label, assay is told, and these classes are the ones that say so.

Example:
    >>> tr = type("Tr", (), {"problems": [], "unsupported": lambda s, w, m: s.problems.append(m)})()
    >>> opts = read_options(tr, "metrics_specs[0]", {"query_key": "q"})
    >>> ndcg = {"class_name": "NDCG", "config": '"gain_key": "g", "top_k_list": [5]'}
    >>> metric_names(tr, "m", ndcg, opts)
    ['ndcg@5']
    >>> settings(tr)
    {'query_key': 'q', 'gain_key': 'g', 'ranking_top_k': [5]}
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Dict, List, Mapping, Optional, Tuple

_SET_MATCH_DEFAULTS = {"prediction_class_key": "classes", "prediction_score_key": "scores"}
RANKING_CLASSES = ("NDCG", "MinLabelPosition", "QueryStatistics")
MULTILABEL_CLASSES = {"ExactMatch": "exact_match", "SetMatchPrecision": "set_match_precision",
                      "SetMatchRecall": "set_match_recall", "MultiLabelConfusionMatrixPlot": None}
# assay names that have per-class and averaged forms ({m}/{class}, {m}_{average}).
PER_CLASS = ("precision", "recall", "f1", "auc")
_AVERAGES = (("micro_average", "micro"), ("macro_average", "macro"),
             ("weighted_macro_average", "weighted"))


@dataclasses.dataclass
class SpecOptions:
    """One metrics spec's options: its query key, binarized class ids, aggregation, top_k."""

    query_key: Optional[str] = None
    class_ids: Tuple[int, ...] = ()
    averages: Tuple[str, ...] = ()
    top_k_list: Tuple[int, ...] = ()


def _values(option: Any) -> List[Any]:
    """The values of a RepeatedInt32Value in its dict form ({'values': [...]}) or a list."""
    if isinstance(option, Mapping):
        return list(option.get("values") or [])
    return list(option or [])


def read_options(tr: Any, where: str, spec: Mapping[str, Any]) -> SpecOptions:
    """The spec's query_key, binarize and aggregate options; what assay cannot do is noted in
    `tr` (the Translation)."""
    opts = SpecOptions()
    if spec.get("query_key"):
        opts.query_key = spec["query_key"]
        known = getattr(tr, "query_key", None)
        if known not in (None, opts.query_key):
            tr.unsupported(f"{where}.query_key", f"a second query key '{opts.query_key}' (the "
                                                 f"config has one: '{known}')")
        tr.query_key = opts.query_key
    binarize = spec.get("binarize") or {}
    opts.class_ids = tuple(int(c) for c in _values(binarize.get("class_ids")))
    opts.top_k_list = tuple(int(k) for k in _values(binarize.get("top_k_list")))
    if _values(binarize.get("k_list")):
        tr.unsupported(f"{where}.binarize.k_list", "not supported (the k-th class metrics); "
                                                   "use class_ids")
    aggregate = spec.get("aggregate") or {}
    opts.averages = tuple(short for key, short in _AVERAGES if aggregate.get(key))
    weights = aggregate.get("class_weights") or {}
    if len(set(weights.values())) > 1:
        tr.unsupported(f"{where}.aggregate.class_weights", f"unequal class weights {weights} "
                                                           f"(assay averages classes equally)")
    if _values(aggregate.get("top_k_list")):
        tr.unsupported(f"{where}.aggregate.top_k_list", "not supported")
    return opts


def _config(tr: Any, where: str, metric: Mapping[str, Any]) -> Dict[str, Any]:
    raw = metric.get("config") or ""
    try:
        return json.loads(raw if raw.startswith("{") else "{" + raw + "}") if raw else {}
    except ValueError:
        tr.unsupported(where, f"config {raw!r} is not JSON")
        return {}


def _ranking_names(tr: Any, where: str, class_name: str, cfg: Mapping[str, Any],
                   opts: SpecOptions) -> List[str]:
    if not opts.query_key:
        tr.unsupported(where, f"{class_name} needs the metrics spec's query_key (as in TFMA)")
        return []
    # QueryStatistics' per-statistic name settings are accepted at TFMA's defaults (which
    # TFMA's own serialisation writes out): assay writes the default names.
    extra = sorted(k for k, v in cfg.items()
                   if k not in ("name", "gain_key", "top_k_list", "label_key")
                   and not (k.endswith("_name") and v in (None, k[:-len("_name")])))
    if extra:
        tr.unsupported(where, f"{class_name} config {extra} (not supported)")
    if class_name == "QueryStatistics":
        return ["total_queries", "total_documents", "min_documents", "max_documents"]
    if class_name == "MinLabelPosition":
        label = getattr(tr, "label", None)
        if cfg.get("label_key") and cfg["label_key"] != label:
            tr.unsupported(where, f"MinLabelPosition label_key '{cfg['label_key']}' other than "
                                  f"the model's label (assay ranks by the label)")
        return ["min_label_position"]
    top_k = [int(k) for k in (cfg.get("top_k_list") or opts.top_k_list)]
    if not top_k or not cfg.get("gain_key"):
        tr.unsupported(where, "NDCG needs gain_key and top_k_list (as in TFMA)")
        return []
    gain = getattr(tr, "gain_key", None)
    if gain not in (None, cfg["gain_key"]):
        tr.unsupported(where, f"a second NDCG gain_key '{cfg['gain_key']}' (the config has one: "
                              f"'{gain}')")
    tr.gain_key = cfg["gain_key"]
    tr.ranking_top_k = list(dict.fromkeys(list(getattr(tr, "ranking_top_k", [])) + top_k))
    return [f"ndcg@{k}" for k in top_k]


def metric_names(tr: Any, where: str, metric: Mapping[str, Any], opts: SpecOptions
                 ) -> Optional[List[str]]:
    """The assay names of a ranking or multi-label metric class ([] for the plot, or when it
    cannot be translated); None for any other class (assay.config.tfma_metrics does those)."""
    class_name = metric.get("class_name", "")
    if class_name in RANKING_CLASSES:
        return _ranking_names(tr, where, class_name, _config(tr, where, metric), opts)
    if class_name in MULTILABEL_CLASSES:
        cfg = _config(tr, where, metric)
        # TFMA reads the top classes from a `classes` / `scores` prediction dict by default;
        # assay's multi-hot scores stand in for that dict, so only those defaults are accepted.
        extra = sorted(k for k, v in cfg.items() if k != "name" and v is not None
                       and _SET_MATCH_DEFAULTS.get(k) != v)
        if extra:
            tr.unsupported(where, f"{class_name} config {extra} (assay's {class_name} reads "
                                  f"multi-hot labels and scores at the decision threshold)")
        tr.multilabel = True
        name = MULTILABEL_CLASSES[class_name]
        return [name] if name else []
    return None


def expand(tr: Any, where: str, name: Optional[str], opts: SpecOptions) -> List[str]:
    """The names a translated metric gives under the spec's binarize and aggregate options."""
    if name is None or not (opts.class_ids or opts.averages):
        return [] if name is None else [name]
    if name.endswith("_tfma") and name[:-len("_tfma")] in PER_CLASS:
        # TFMA's own AUC (auc_tfma) has no per-class form: per class, assay's exact area
        # (TFMA's sums 10000 buckets; they agree within 2e-3 in tests/test_multilabel.py).
        name = name[:-len("_tfma")]
    if name not in PER_CLASS:
        tr.unsupported(where, f"binarize/aggregate on {name} (assay has per-class and averaged "
                              f"forms of {', '.join(PER_CLASS)} only)")
        return []
    return [f"{name}/{c}" for c in opts.class_ids] + [f"{name}_{a}" for a in opts.averages]


def settings(tr: Any) -> Dict[str, Any]:
    """The config keys that the translated specs set: query_key, gain_key, ranking_top_k,
    task."""
    out: Dict[str, Any] = {}
    for key in ("query_key", "gain_key"):
        if getattr(tr, key, None):
            out[key] = getattr(tr, key)
    if getattr(tr, "ranking_top_k", None):
        out["ranking_top_k"] = list(tr.ranking_top_k)
    if getattr(tr, "multilabel", False):
        out["task"] = "multilabel"
    return out


__all__ = ["MULTILABEL_CLASSES", "PER_CLASS", "RANKING_CLASSES", "SpecOptions", "expand",
           "metric_names", "read_options", "settings", "translate"]


def translate(tr: Any, where: str, metric: Mapping[str, Any], opts: SpecOptions
              ) -> Tuple[str, Any, float]:
    """(TFMA's name, the assay name (a list when it gives several; None: none), bound scale)
    of one MetricConfig under its spec's options: what Translation.metric returns, extended."""
    names = metric_names(tr, where, metric, opts)
    if names is None:
        tfma_name, name, scale = tr.metric(where, metric)
        if not (opts.class_ids or opts.averages):
            return tfma_name, name, scale
        names = expand(tr, where, name, opts)
    else:
        from assay.config.tfma_metrics import default_metric_name

        tfma_name = _config(tr, where, metric).get("name") or \
            default_metric_name(metric.get("class_name", ""))
        scale = 1.0
    return tfma_name, (names[0] if len(names) == 1 else names or None), scale
