"""Calibration quality: reliability bins, expected calibration error (ECE) and the reliability diagram.

A model is calibrated when, among the predictions it makes with confidence ``c``, a fraction ``c``
is correct. Binning the predictions by confidence into ``n_bins`` equal-width bins of ``[0, 1]``
(Guo et al. 2017, 15 bins), the expected calibration error is the bins' average gap between
accuracy and mean confidence, weighted by the bins' shares of the predictions::

    ECE = sum_b (n_b / N) * | accuracy_b - mean_confidence_b |

Bins are ``[i / n, (i + 1) / n)``; the last one also holds confidence 1.0, the first holds 0.0.
The inputs are host arrays (numpy or anything ``numpy.asarray`` takes); what "confidence" and
"correct" mean per component is :mod:`spacy_dice.evaluation.confidences`' business: the
probability of the predicted class and whether it is right (top-label), or the probability of a
binary column and whether its gold is 1 (binary reliability).

:func:`plot_reliability` draws the diagram (matplotlib, the ``plots`` extra; raises
:class:`spacy_dice.evaluation.plots.PlotsUnavailable` without it).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import numpy

N_BINS = 15
"""The number of equal-width confidence bins (Guo et al. 2017)."""


@dataclass
class ReliabilityBins:
    """Per confidence bin: how many predictions, their mean confidence and their accuracy."""

    edges: List[float]  # n_bins + 1 bin edges, 0.0 .. 1.0
    counts: List[int]
    mean_confidence: List[Optional[float]]  # None for an empty bin
    accuracy: List[Optional[float]]  # None for an empty bin

    @property
    def n(self) -> int:
        """The number of predictions binned."""
        return int(sum(self.counts))

    def _gaps(self) -> List[Tuple[int, float]]:
        """``(count, |accuracy - mean confidence|)`` of every non-empty bin."""
        if not self.n:
            raise ValueError("no predictions: the calibration error is undefined")
        return [(count, abs(acc - conf)) for count, conf, acc in
                zip(self.counts, self.mean_confidence, self.accuracy) if count]

    @property
    def ece(self) -> float:
        """The expected calibration error (0..1); raises ``ValueError`` when no prediction was binned."""
        return float(sum(count / self.n * gap for count, gap in self._gaps()))

    @property
    def mce(self) -> float:
        """The maximum calibration error: the largest gap of a non-empty bin (0..1)."""
        return float(max(gap for _, gap in self._gaps()))

    @property
    def accuracy_overall(self) -> float:
        """The fraction of correct predictions over all bins."""
        if not self.n:
            raise ValueError("no predictions")
        return float(sum(c * a for c, a in zip(self.counts, self.accuracy) if c) / self.n)

    @property
    def confidence_overall(self) -> float:
        """The mean confidence over all predictions."""
        if not self.n:
            raise ValueError("no predictions")
        return float(sum(c * m for c, m in zip(self.counts, self.mean_confidence) if c) / self.n)

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready: the bins and, when there are predictions, ECE and MCE."""
        out: Dict[str, Any] = {
            "n": self.n,
            "edges": [round(e, 6) for e in self.edges],
            "counts": list(self.counts),
            "mean_confidence": list(self.mean_confidence),
            "accuracy": list(self.accuracy),
        }
        if self.n:
            out.update(ece=self.ece, mce=self.mce, accuracy_overall=self.accuracy_overall,
                       confidence_overall=self.confidence_overall)
        return out


def _inputs(confidences: Any, correct: Any) -> "tuple[numpy.ndarray, numpy.ndarray]":
    conf = numpy.asarray(confidences, dtype="float64").reshape(-1)
    corr = numpy.asarray(correct).reshape(-1)
    if conf.shape != corr.shape:
        raise ValueError(f"{conf.size} confidences but {corr.size} correct flags: give one flag per confidence")
    if conf.size and (not numpy.isfinite(conf).all() or conf.min() < 0.0 or conf.max() > 1.0):
        bad = conf[~(numpy.isfinite(conf) & (conf >= 0.0) & (conf <= 1.0))][0]
        raise ValueError(f"a confidence of {bad!r} is not a probability in [0, 1]")
    if corr.dtype != bool:
        values = set(numpy.unique(corr).tolist())
        if not values <= {0, 1}:
            raise ValueError(f"correct must be 0/1 or booleans, not {sorted(values)[:5]}")
        corr = corr.astype(bool)
    return conf, corr


def bin_index(confidences: Any, n_bins: int = N_BINS) -> numpy.ndarray:
    """The bin of each confidence: ``floor(c * n_bins)``, with 1.0 in the last bin."""
    conf = numpy.asarray(confidences, dtype="float64").reshape(-1)
    return numpy.minimum((conf * n_bins).astype("int64"), n_bins - 1)


def reliability_bins(confidences: Any, correct: Any, n_bins: int = N_BINS) -> ReliabilityBins:
    """Bin ``confidences`` (probabilities in [0, 1]) with their ``correct`` flags (bool or 0/1).

    Raises ``ValueError`` for a confidence outside [0, 1] (or NaN), mismatched lengths, a flag
    other than 0/1, or ``n_bins < 1``. No prediction gives empty bins (``n == 0``).
    """
    if not isinstance(n_bins, int) or isinstance(n_bins, bool) or n_bins < 1:
        raise ValueError(f"n_bins={n_bins!r}: use an integer >= 1")
    conf, corr = _inputs(confidences, correct)
    index = bin_index(conf, n_bins)
    counts = numpy.bincount(index, minlength=n_bins)
    sum_conf = numpy.bincount(index, weights=conf, minlength=n_bins)
    sum_corr = numpy.bincount(index, weights=corr.astype("float64"), minlength=n_bins)
    mean_conf: List[Optional[float]] = []
    accuracy: List[Optional[float]] = []
    for count, s_conf, s_corr in zip(counts.tolist(), sum_conf.tolist(), sum_corr.tolist()):
        mean_conf.append(s_conf / count if count else None)
        accuracy.append(s_corr / count if count else None)
    edges = [i / n_bins for i in range(n_bins + 1)]
    return ReliabilityBins(edges, [int(c) for c in counts.tolist()], mean_conf, accuracy)


def expected_calibration_error(confidences: Any, correct: Any, n_bins: int = N_BINS) -> float:
    """The ECE (0..1) of ``confidences`` against ``correct`` over ``n_bins`` equal-width bins.

    Raises ``ValueError`` when there is no prediction (the error is undefined) and for the bad
    inputs of :func:`reliability_bins`.
    """
    return reliability_bins(confidences, correct, n_bins).ece


PathLike = Union[str, Path]


def reliability_figure(
    panels: Mapping[str, Mapping[str, ReliabilityBins]],
    *,
    title: str = "Reliability diagram",
):
    """The figure of :func:`plot_reliability` (not saved)."""
    from .plots import _pyplot

    plt = _pyplot()
    names = list(panels)
    n_cols = min(3, max(len(names), 1))
    n_rows = max(1, -(-len(names) // n_cols))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(4.2 * n_cols, 4.0 * n_rows), squeeze=False)
    cmap = plt.get_cmap("tab10")
    for k, ax in enumerate(axes.reshape(-1)):
        if k >= len(names):
            ax.axis("off")
            continue
        name = names[k]
        ax.plot([0, 1], [0, 1], linestyle="--", color="0.5", linewidth=1, label="calibrated")
        for i, (run, bins) in enumerate(panels[name].items()):
            color = cmap(i % 10)
            if i == 0 and bins.n:  # where the predictions are: share per bin, light bars
                width = bins.edges[1] - bins.edges[0]
                centers = [(a + b) / 2 for a, b in zip(bins.edges, bins.edges[1:])]
                ax.bar(centers, [c / bins.n for c in bins.counts], width=width * 0.9,
                       color=color, alpha=0.15, label=f"{run}: share of predictions")
            pts = [(c, a) for n, c, a in zip(bins.counts, bins.mean_confidence, bins.accuracy) if n]
            label = f"{run} (ECE {100 * bins.ece:.2f})" if bins.n else f"{run} (no predictions)"
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", markersize=4,
                        color=color, label=label)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("confidence")
        ax.set_ylabel("accuracy")
        ax.set_title(name, fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(title, fontsize=11)
    return fig


def plot_reliability(
    panels: Mapping[str, Mapping[str, ReliabilityBins]],
    path: PathLike,
    *,
    title: str = "Reliability diagram",
) -> Path:
    """One panel per ``panels`` key (a component and what it scores), one line per run (model)
    inside: each non-empty bin's accuracy against its mean confidence, the diagonal, and the first
    run's share of predictions per bin as light bars. The legend carries each run's ECE (%).
    """
    from .plots import _save

    return _save(reliability_figure(panels, title=title), path)

