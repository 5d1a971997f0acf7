"""The compare bar chart labels every bar, so a 0.00 bar is not mistaken for a missing one; without
matplotlib (the ``plots`` extra) the plots say how to get them."""
import matplotlib.pyplot as plt
import pytest

from spacy_dice.evaluation.plots import per_label_figure, plot_per_label_f1


def test_bars_carry_their_values_zero_and_missing_distinct(tmp_path):
    per_label = {"ce": {"all (F1)": 0.5, "PER": 0.0, "LOC": 0.25}, "dsc": {"all (F1)": 0.4, "PER": 0.1}}
    fig = per_label_figure(per_label)
    texts = [t.get_text() for t in fig.axes[0].texts]
    plt.close(fig)
    assert sorted(texts) == sorted(["50.0", "0.0", "25.0", "40.0", "10.0", "n/a"])
    path = plot_per_label_f1(per_label, tmp_path / "bars.png")
    assert path.stat().st_size > 1000


def test_without_matplotlib_the_plots_say_how_to_get_them(tmp_path, monkeypatch):
    """matplotlib is the ``plots`` extra: without it the module still imports and each plot
    raises an ImportError that names ``pip install "spacy-dice[plots]"``."""
    import sys

    from spacy_dice.evaluation import plots

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    plots._pyplot.cache_clear()
    try:
        with pytest.raises(plots.PlotsUnavailable, match=r'pip install "spacy-dice\[plots\]"'):
            plots.plot_dev_curves({"ce": [(0, 0.0)]}, tmp_path / "curve.png")
        assert isinstance(plots.PlotsUnavailable(ImportError("x")), ImportError)
        assert not (tmp_path / "curve.png").exists()
    finally:
        plots._pyplot.cache_clear()
