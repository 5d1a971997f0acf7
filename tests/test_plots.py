"""The compare bar chart labels every bar, so a 0.00 bar is not mistaken for a missing one."""
import matplotlib.pyplot as plt

from spacy_dice.experiments.plots import per_label_figure, plot_per_label_f1


def test_bars_carry_their_values_zero_and_missing_distinct(tmp_path):
    per_label = {"ce": {"all (F1)": 0.5, "PER": 0.0, "LOC": 0.25}, "dsc": {"all (F1)": 0.4, "PER": 0.1}}
    fig = per_label_figure(per_label)
    texts = [t.get_text() for t in fig.axes[0].texts]
    plt.close(fig)
    assert sorted(texts) == sorted(["50.0", "0.0", "25.0", "40.0", "10.0", "n/a"])
    path = plot_per_label_f1(per_label, tmp_path / "bars.png")
    assert path.stat().st_size > 1000
