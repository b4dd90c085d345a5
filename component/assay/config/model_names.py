"""The names of the models of an evaluation, and of the diff records between them.

An evaluation has a `candidate` (the model the verdict is about), optionally a `baseline` (the
model it is compared with, usually the latest blessed one) and any number of other named
models, benchmarks such as `previous` or `heuristic`, all evaluated in the same pass over the
same examples:

    models:
      candidate: {path: serving_model_dir}
      baseline: {path: blessed_model_dir}
      previous: {prediction: score_v6}        # a benchmark: any other name
      heuristic: {prediction: rule_score}

Every model that is not the baseline gets a diff record against the baseline (its value minus
the baseline's, and the cross-model metrics such as flip rates). The candidate's diff record
keeps the model name "diff", as with two models, so two-model results do not change; another
model's is "diff:NAME" ("diff:previous").

Example:
    >>> diff_name("candidate"), diff_name("previous"), diff_of("diff:previous")
    ('diff', 'diff:previous', 'previous')
    >>> ordered(["heuristic", "baseline", "candidate", "previous"])
    ['candidate', 'baseline', 'heuristic', 'previous']
"""

from __future__ import annotations

import difflib
import re
from typing import Iterable, List, Optional

from assay.errors import ConfigError

CANDIDATE = "candidate"
BASELINE = "baseline"
DIFF = "diff"
DIFF_PREFIX = "diff:"
# A model name is a plain identifier-like word, so that it reads well in a record, a reason, a
# CLI flag (--model NAME=PATH) and a TFMA ModelSpec name.
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")


def diff_name(model: str) -> str:
    """The record model name of `model`'s diff against the baseline: "diff" or "diff:NAME"."""
    return DIFF if model == CANDIDATE else DIFF_PREFIX + model


def diff_of(record_model: str) -> Optional[str]:
    """The model whose diff a record of model `record_model` holds; None for a model's own."""
    if record_model == DIFF:
        return CANDIDATE
    if record_model.startswith(DIFF_PREFIX):
        return record_model[len(DIFF_PREFIX):]
    return None


def ordered(names: Iterable[str]) -> List[str]:
    """Candidate first, then the baseline, then the other models in the order given."""
    names = list(dict.fromkeys(names))
    first = [n for n in (CANDIDATE, BASELINE) if n in names]
    return first + [n for n in names if n not in first]


def check_model_name(name: object, present: Iterable[str] = ()) -> str:
    """`name` when it may name a model, else ConfigError saying why.

    Args:
      name: the name to check.
      present: the names given alongside it: a name close to 'candidate' or 'baseline' while
        that one is missing is taken for a misspelling rather than a benchmark model.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"model names must start with a letter and hold only letters, digits, "
                          f"'_', '.' and '-' (at most 64 characters), e.g. previous or "
                          f"heuristic_v2 (got {name!r} in 'models')")
    if name == DIFF:
        raise ConfigError("'diff' cannot name a model: the diff records of the results are "
                          "called 'diff' (candidate - baseline) and 'diff:NAME'")
    present = set(present)
    if name not in (CANDIDATE, BASELINE):
        for known in (CANDIDATE, BASELINE):
            if known not in present and difflib.get_close_matches(name, [known], cutoff=0.75):
                raise ConfigError(f"unknown key '{name}' in models; did you mean '{known}'? "
                                  f"(a name other than candidate and baseline names a "
                                  f"benchmark model, and this one is too close to {known})")
    return name


__all__ = ["BASELINE", "CANDIDATE", "DIFF", "DIFF_PREFIX", "check_model_name", "diff_name",
           "diff_of", "ordered"]
