"""The alert rule: the newest value of a series against the band of its trailing window.

Rule `sd` (the default): the band is mean +- k * sd of the last `window` values before the
newest (sd the sample standard deviation, n - 1 in the denominator); rule `interval`: the band
runs from the mean of those values' lower interval bounds to the mean of their upper bounds
(values without an interval are left out). The newest value alerts when it lies strictly
outside the band, above or below. A series with fewer than two earlier values (or, for
`interval`, none with an interval) has no band and never alerts. NaN and missing values are
left out of the window and never alert.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Dict, Optional, Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class Band:
    """The band of a trailing window: [lower, upper], from `n` earlier values."""

    lower: float
    upper: float
    mean: float
    sd: Optional[float]
    n: int
    rule: str


@dataclasses.dataclass(frozen=True)
class Alert:
    """The newest value of a series outside its band.

    Attributes:
      slice, metric: which series; value: the newest value; band: the band it left;
      side: "above" or "below"; message: the alert in words.
    """

    slice: Dict[str, Any]
    metric: str
    value: float
    band: Band
    side: str
    message: str

    def to_dict(self) -> Dict[str, Any]:
        return {"slice": dict(self.slice), "metric": self.metric, "value": self.value,
                "side": self.side, "band": band_dict(self.band), "message": self.message}


def band_dict(band: Optional[Band]) -> Optional[Dict[str, Any]]:
    return None if band is None else dataclasses.asdict(band)


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def band_of(points: Sequence[Any], window: int, k: float, rule: str) -> Optional[Band]:
    """The band of the `window` points before the last one, or None (see the module docstring).

    Args:
      points: oldest first; each has .value, .lower, .upper (None when absent).
    """
    earlier = [p for p in points[:-1] if _finite(p.value)][-window:]
    if rule == "interval":
        bounded = [p for p in earlier if _finite(p.lower) and _finite(p.upper)]
        if not bounded:
            return None
        mean = float(np.mean([p.value for p in bounded]))
        return Band(float(np.mean([p.lower for p in bounded])),
                    float(np.mean([p.upper for p in bounded])), mean, None, len(bounded), rule)
    if len(earlier) < 2:
        return None
    values = np.array([p.value for p in earlier], dtype=float)
    mean, sd = float(values.mean()), float(values.std(ddof=1))
    return Band(mean - k * sd, mean + k * sd, mean, sd, len(values), rule)


def alert_for(slice_: Dict[str, Any], metric: str, points: Sequence[Any], window: int, k: float,
              rule: str, label: str = "") -> Optional[Alert]:
    """The alert of a series, or None when its newest value is inside its band (or it has none).

    Example:
        >>> from types import SimpleNamespace as P
        >>> pts = [P(value=v, lower=None, upper=None) for v in (0.80, 0.81, 0.79, 0.70)]
        >>> alert_for({}, "auc", pts, window=5, k=3, rule="sd").side
        'below'
    """
    band = band_of(points, window, k, rule)
    newest = points[-1].value if points else None
    if band is None or not _finite(newest) or band.lower <= newest <= band.upper:
        return None
    side = "above" if newest > band.upper else "below"
    how = (f"mean {band.mean:.4g} +- {k:g} sd ({band.sd:.4g})" if rule == "sd"
           else "the mean interval")
    where = "overall" if not slice_ else ", ".join(f"{f}={v}" for f, v in slice_.items())
    message = (f"{metric} on slice {where} is {newest:.4g}{' in ' + label if label else ''}, "
               f"{side} the band [{band.lower:.4g}, {band.upper:.4g}] of the last {band.n} "
               f"evaluations ({how})")
    return Alert(dict(slice_), metric, float(newest), band, side, message)


__all__ = ["Alert", "Band", "alert_for", "band_dict", "band_of"]
