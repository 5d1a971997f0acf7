"""PNG plots for ``python -m spacy_dice compare`` and ``sweep`` (matplotlib, no display needed).

matplotlib is an optional extra (``pip install "spacy-dice[plots]"``): this module imports without
it, and each plot function raises :class:`PlotsUnavailable` (an ``ImportError`` that says how to
get the plots) when it is missing.

* :func:`plot_per_label_f1`: grouped bars, one group per label (plus the headline score),
  one bar per loss, each labelled with its value.
* :func:`plot_dev_curves`: the dev score against the training step, one line per loss.
* :func:`plot_sweep`: scores against a loss parameter's value.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union

from ..formatting import percent

PathLike = Union[str, Path]
INSTALL_HINT = 'pip install "spacy-dice[plots]"'


class PlotsUnavailable(ImportError):
    """matplotlib is not installed: no PNG can be drawn."""

    def __init__(self, error: ImportError) -> None:
        super().__init__(f"the PNG plots need matplotlib ({error}); install it with: {INSTALL_HINT}")


@lru_cache(maxsize=None)
def _pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (no display), imported on first use."""
    try:
        import matplotlib
    except ImportError as err:
        raise PlotsUnavailable(err) from err
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    _pyplot().close(fig)
    return path


def plot_per_label_f1(
    per_label: Mapping[str, Mapping[str, Optional[float]]],
    path: PathLike,
    *,
    title: str = "F1 by label and loss",
    ylabel: str = "F1 (%)",
    errors: Optional[Mapping[str, Mapping[str, Optional[float]]]] = None,
) -> Path:
    """Grouped bars: ``per_label[run][label]`` (0..1) for each label, one bar colour per run.

    Labels are in first-seen order; put an overall score first (e.g. ``"all (F1)"``) to have
    it as the leftmost group. Every bar carries its value (``0.0`` is a bar of height 0;
    ``n/a`` marks a label the run has no score for). ``errors[run][label]``: a standard
    deviation (0..1, e.g. over seeds) drawn as an error bar.
    """
    return _save(per_label_figure(per_label, title=title, ylabel=ylabel, errors=errors), path)


def per_label_figure(
    per_label: Mapping[str, Mapping[str, Optional[float]]],
    *,
    title: str = "F1 by label and loss",
    ylabel: str = "F1 (%)",
    errors: Optional[Mapping[str, Mapping[str, Optional[float]]]] = None,
):
    """The figure of :func:`plot_per_label_f1` (not saved)."""
    runs = list(per_label)
    labels: List[str] = []
    for values in per_label.values():
        labels.extend(label for label in values if label not in labels)
    n_runs = max(len(runs), 1)
    width = 0.8 / n_runs
    fig_w = min(max(6.0, 0.35 * len(labels) * n_runs + 2.0), 30.0)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(fig_w, 4.5))
    cmap = plt.get_cmap("tab10")
    for i, run in enumerate(runs):
        xs = [j + (i - (n_runs - 1) / 2) * width for j in range(len(labels))]
        values = [per_label[run].get(label) for label in labels]
        ys = [100 * (v or 0.0) for v in values]
        yerr = None
        if errors is not None and run in errors:
            yerr = [100 * (errors[run].get(label) or 0.0) for label in labels]
        bars = ax.bar(xs, ys, width=width, label=run, color=cmap(i % 10), yerr=yerr,
                      capsize=2 if yerr else 0)
        ax.bar_label(
            bars, labels=[percent(v, 1, "n/a") for v in values],
            fontsize=6 if n_runs * len(labels) > 24 else 7, rotation=90 if n_runs > 3 else 0,
            padding=2,
        )
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=45 if len(labels) > 8 else 0, ha="right" if len(labels) > 8 else "center")
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 112)  # room for the value labels above a bar at 100
    ax.set_yticks(range(0, 101, 20))
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(title="loss", fontsize=8, ncol=min(n_runs, 7), loc="upper center",
              bbox_to_anchor=(0.5, -0.12 if len(labels) <= 8 else -0.3))
    return fig


def plot_dev_curves(
    curves: Mapping[str, Sequence[Tuple[int, float]]],
    path: PathLike,
    *,
    title: str = "Dev score during training",
    ylabel: str = "dev score (%)",
    legend_title: str = "loss",
) -> Path:
    """One line per run: the dev score (0..1) against the training step."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    cmap = plt.get_cmap("tab10")
    for i, (run, points) in enumerate(curves.items()):
        if not points:
            continue
        steps = [s for s, _ in points]
        scores = [100 * v for _, v in points]
        ax.plot(steps, scores, marker="o", markersize=3, label=run, color=cmap(i % 10))
    ax.set_xlabel("training step")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(title=legend_title, fontsize=8)
    return _save(fig, path)


def plot_sweep(
    values: Sequence[float],
    series: Mapping[str, Sequence[Optional[float]]],
    path: PathLike,
    *,
    xlabel: str,
    title: str = "Loss parameter sweep",
    ylabel: str = "score (%)",
    dashed: Sequence[str] = (),
    errors: Optional[Mapping[str, Sequence[Optional[float]]]] = None,
) -> Path:
    """Lines of scores (0..1) against a parameter's values; names in ``dashed`` are dashed;
    ``errors[name]``: a standard deviation per value (0..1, e.g. over seeds), drawn as bars."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    cmap = plt.get_cmap("tab10")
    for i, (name, ys) in enumerate(series.items()):
        errs = list((errors or {}).get(name) or [None] * len(values))
        pts = [(x, 100 * y, 100 * (e or 0.0)) for x, y, e in zip(values, ys, errs) if y is not None]
        if not pts:
            continue
        ax.errorbar([p[0] for p in pts], [p[1] for p in pts],
                    yerr=[p[2] for p in pts] if errors and name in errors else None, marker="o",
                    label=name, linestyle="--" if name in dashed else "-",
                    linewidth=2.2 if i == 0 else 1.4, color=cmap(i % 10), capsize=3)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)

