"""Paired bootstrap intervals for F1 differences between two rows scored on the same test docs.

Each row is an ``(n_docs, n_labels, 3)`` array of true positives, false positives and false
negatives per test doc and label (what :mod:`benchmarks.calibrated_accuracy` saves). Micro F1 of
a set of docs is ``2 TP / (2 TP + FP + FN)`` over their summed counts, as spaCy's scorers count.

A resample draws ``n_docs`` doc indices with replacement and scores BOTH rows on the same
draw, so the interval is of the difference, not of two independent scores (the paired
bootstrap of Koehn 2004 / Berg-Kirkpatrick et al. 2012). With several seeds per row the draw is
also shared by every seed: the pooled difference of a resample is the mean over seeds of
``F1(b, seed) - F1(a, seed)``, so the pooled interval holds the test docs' noise and averages the
seeds' own. The 95 % interval is the 2.5th and 97.5th percentile of the resampled differences;
"beyond noise" means it excludes 0.

    python benchmarks/bootstrap.py --counts benchmarks/results/uner_spans_calib_counts.npz \
        --a bce/threshold_0.5 --b bce/calibrated
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy

RESAMPLES = 1000
"""Resamples of the test documents per interval."""


def micro_f1(counts: numpy.ndarray) -> numpy.ndarray:
    """Micro F1 of counts summed over docs and labels: ``counts[..., n_docs, n_labels, 3]`` -> ``[...]``
    (0 where there is no gold and no prediction)."""
    tp, fp, fn = (counts[..., k].sum(axis=(-2, -1)) for k in range(3))
    denominator = 2 * tp + fp + fn
    return numpy.where(denominator > 0, 2 * tp / numpy.maximum(denominator, 1), 0.0)


def label_recall(counts: numpy.ndarray, label: int) -> float:
    """Recall of one label over all docs."""
    tp = counts[:, label, 0].sum()
    fn = counts[:, label, 2].sum()
    return float(tp / (tp + fn)) if tp + fn else 0.0


@dataclass
class Interval:
    """A difference ``b - a`` (in F1 points, 0-100) and its paired bootstrap 95 % interval."""

    delta: float
    low: float
    high: float
    resamples: int

    @property
    def beyond_noise(self) -> bool:
        return self.low > 0 or self.high < 0

    def __str__(self) -> str:
        return f"{self.delta:+.2f} [{self.low:+.2f}, {self.high:+.2f}]"

    def to_json(self) -> Dict[str, float]:
        return {"delta": round(self.delta, 4), "low": round(self.low, 4), "high": round(self.high, 4),
                "resamples": self.resamples, "beyond_noise": self.beyond_noise}


def doc_draws(n_docs: int, resamples: int = RESAMPLES, seed: int = 0) -> numpy.ndarray:
    """``(resamples, n_docs)`` doc indices drawn with replacement (shared by every row compared)."""
    if n_docs < 1:
        raise ValueError("the bootstrap needs at least one test doc")
    return numpy.random.default_rng(seed).integers(0, n_docs, size=(resamples, n_docs))


def _resampled_f1(counts: numpy.ndarray, draws: numpy.ndarray) -> numpy.ndarray:
    """F1 of every resample: sum the drawn docs' counts (a doc drawn twice counts twice)."""
    per_doc = counts.sum(axis=1)  # (n_docs, 3): micro F1 needs only the label sums
    sums = numpy.stack([numpy.bincount(d, minlength=len(per_doc)) @ per_doc for d in draws])
    tp, fp, fn = sums[:, 0], sums[:, 1], sums[:, 2]
    denominator = 2 * tp + fp + fn
    return numpy.where(denominator > 0, 2 * tp / numpy.maximum(denominator, 1), 0.0)


def paired_interval(a: Sequence[numpy.ndarray], b: Sequence[numpy.ndarray], *,
                    resamples: int = RESAMPLES, seed: int = 0) -> Interval:
    """The pooled difference ``mean_s F1(b_s) - F1(a_s)`` and its 95 % interval.

    ``a`` and ``b`` hold one counts array per seed, in the same seed order, all over the same
    test docs in the same order; one seed each gives the per-seed interval."""
    if len(a) != len(b) or not a:
        raise ValueError(f"paired rows need the same number of seeds, got {len(a)} and {len(b)}")
    n_docs = a[0].shape[0]
    for counts in list(a) + list(b):
        if counts.ndim != 3 or counts.shape[0] != n_docs or counts.shape[2] != 3:
            raise ValueError(f"counts must be (n_docs={n_docs}, n_labels, 3) arrays, got {counts.shape}")
    draws = doc_draws(n_docs, resamples, seed)
    deltas = numpy.mean([_resampled_f1(cb, draws) - _resampled_f1(ca, draws) for ca, cb in zip(a, b)], axis=0)
    point = float(numpy.mean([micro_f1(cb) - micro_f1(ca) for ca, cb in zip(a, b)]))
    low, high = numpy.percentile(deltas, [2.5, 97.5])
    return Interval(100 * point, 100 * float(low), 100 * float(high), resamples)


def by_unit(counts: numpy.ndarray, units: numpy.ndarray) -> numpy.ndarray:
    """Per-doc counts summed per unit (``units[d]``: the unit of doc ``d``, from 0, e.g. its source
    document), so that a resample draws whole units."""
    out = numpy.zeros((int(units.max()) + 1,) + counts.shape[1:], dtype=counts.dtype)
    numpy.add.at(out, units, counts)
    return out


def seed_intervals(counts: Dict[str, numpy.ndarray], a: str, b: str, seeds: Sequence[int], *,
                   resamples: int = RESAMPLES, units: Optional[numpy.ndarray] = None) -> Dict[str, Interval]:
    """Per seed and pooled intervals of ``b - a``; ``counts`` maps ``"ROW/RULE/sSEED"`` to arrays.
    ``units``: resample whole units (e.g. the test docs' source documents, :func:`by_unit`)
    instead of docs."""
    def rows(row: str) -> Dict[int, numpy.ndarray]:
        return {s: counts[f"{row}/s{s}"] if units is None else by_unit(counts[f"{row}/s{s}"], units) for s in seeds}

    first, second = rows(a), rows(b)
    out = {}
    for s in seeds:
        out[f"seed {s}"] = paired_interval([first[s]], [second[s]], resamples=resamples)
    out["pooled"] = paired_interval([first[s] for s in seeds], [second[s] for s in seeds], resamples=resamples)
    return out


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--counts", required=True, help="an .npz of benchmarks/calibrated_accuracy.py")
    p.add_argument("--a", required=True, help="ROW/RULE, e.g. bce/threshold_0.5")
    p.add_argument("--b", required=True, help="ROW/RULE, e.g. bce/calibrated")
    p.add_argument("--seeds", default="", help="comma-separated (default: every seed both rows have)")
    p.add_argument("--resamples", type=int, default=RESAMPLES)
    args = p.parse_args(argv)
    counts = dict(numpy.load(args.counts))
    have = lambda row: {int(k.rsplit("/s", 1)[1]) for k in counts if k.rsplit("/s", 1)[0] == row}  # noqa: E731
    seeds = [int(s) for s in args.seeds.split(",") if s] or sorted(have(args.a) & have(args.b))
    if not seeds:
        raise SystemExit(f"no seed has both {args.a!r} and {args.b!r}; keys: {sorted(counts)[:12]} ...")
    for name, interval in seed_intervals(counts, args.a, args.b, seeds, resamples=args.resamples).items():
        print(f"{args.b} - {args.a}, {name}: {interval}" + ("  (beyond noise)" if interval.beyond_noise else ""))


if __name__ == "__main__":
    main()
