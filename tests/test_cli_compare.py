"""``python -m spacy_dice compare`` / ``sweep`` on a slice of the shipped sample, and the plots."""
from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib.image as mpimg
import pytest
from typer.testing import CliRunner

from spacy_dice.cli import app
from spacy_dice.evaluation.plots import plot_dev_curves, plot_per_label_f1, plot_sweep
from spacy_dice.training.compare import sweep_params

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def _assert_png(path: Path) -> None:
    assert path.exists(), path
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = mpimg.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100


def test_plots_are_valid_pngs(tmp_path):
    per_label = {"ce": {"all (F1)": 0.5, "LOC": 0.6, "PER": 0.4}, "dsc": {"all (F1)": 0.55, "LOC": 0.7}}
    _assert_png(plot_per_label_f1(per_label, tmp_path / "bars.png"))
    _assert_png(plot_dev_curves({"ce": [(0, 0.0), (10, 0.3)], "dsc": []}, tmp_path / "curve.png"))
    _assert_png(plot_sweep([0.1, 0.5], {"F1": [0.3, None], "F1 LOC": [0.2, 0.4]}, tmp_path / "s.png",
                           xlabel="alpha", dashed=["F1 LOC"]))


def test_sweep_ties_tversky_beta():
    assert sweep_params("tversky", "alpha", 0.3, True) == ("alpha=0.3,beta=0.7", {"alpha": 0.3, "beta": 0.7})
    assert sweep_params("tversky", "alpha", 0.3, False) == ("alpha=0.3", {"alpha": 0.3})
    assert sweep_params("dsc", "alpha", 0.1, True) == ("alpha=0.1", {"alpha": 0.1})


def test_compare_rejects_unknown_loss(tmp_path):
    cfg = tmp_path / "c.cfg"
    cfg.write_text((ROOT / "configs" / "ner_cnn.cfg").read_text())
    data = tmp_path / "x.spacy"
    data.write_bytes(b"")
    result = runner.invoke(app, ["compare", str(cfg), "--train", str(data), "--dev", str(data),
                                 "--losses", "ce,nope"])
    assert result.exit_code != 0
    assert "nope" in result.output


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    """A 60-sentence slice of the sample converted, and the project's NER config."""
    tmp = tmp_path_factory.mktemp("compare")
    result = runner.invoke(app, ["project-convert", "sample", "--sample-dir", str(ROOT / "assets" / "sample"),
                                 "--output", str(tmp / "corpus"), "--limit", "60"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["project-config", "sample", "--configs-dir", str(ROOT / "configs"),
                                 "--output", str(tmp / "config.cfg")])
    assert result.exit_code == 0, result.output
    return tmp


def _common(tmp: Path) -> list:
    corpus = tmp / "corpus"
    return ["--train", str(corpus / "train.spacy"), "--dev", str(corpus / "dev.spacy"),
            "--test", str(corpus / "test.spacy"), "--max-steps", "6", "--eval-frequency", "3",
            "--quiet"]


@pytest.mark.slow
def test_compare_two_losses(sample_run):
    tmp = sample_run
    out = tmp / "metrics" / "compare"
    result = runner.invoke(app, ["compare", str(tmp / "config.cfg"), *_common(tmp),
                                 "--losses", "ce,dsc", "--runs-dir", str(tmp / "runs"),
                                 "--output", str(out)])
    assert result.exit_code == 0, (result.output, result.exception)
    table = out.with_suffix(".md").read_text()
    assert "| loss | P | R | F1 |" in table
    assert "train words/s" in table
    rows = [line for line in table.splitlines() if line.startswith("| ce ") or line.startswith("| dsc ")]
    assert len(rows) == 2
    data = json.loads(out.with_suffix(".json").read_text())
    assert [run["name"] for run in data["runs"]] == ["ce", "dsc"]
    assert all(run["dev_curve"] for run in data["runs"])
    _assert_png(tmp / "metrics" / "compare_per_label_f1.png")
    _assert_png(tmp / "metrics" / "compare_dev_curve.png")


@pytest.mark.slow
def test_sweep_two_values(sample_run):
    tmp = sample_run
    out = tmp / "metrics" / "sweep"
    result = runner.invoke(app, ["sweep", str(tmp / "config.cfg"), *_common(tmp),
                                 "--loss", "tversky", "--param", "alpha", "--values", "0.3,0.7",
                                 "--runs-dir", str(tmp / "sweep"), "--output", str(out)])
    assert result.exit_code == 0, (result.output, result.exception)
    table = out.with_suffix(".md").read_text()
    assert "| alpha=0.3,beta=0.7 |" in table and "| alpha=0.7,beta=0.3 |" in table
    data = json.loads(out.with_suffix(".json").read_text())
    assert [run["loss"]["beta"] for run in data["runs"]] == [0.7, 0.3]
    _assert_png(tmp / "metrics" / "sweep.png")
    _assert_png(tmp / "metrics" / "sweep_dev_curve.png")


@pytest.mark.slow
def test_compare_without_matplotlib_writes_the_tables_and_says_how_to_get_the_plots(sample_run, monkeypatch):
    import sys

    from spacy_dice.evaluation import plots

    tmp = sample_run
    out = tmp / "metrics" / "no_plots"
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    plots._pyplot.cache_clear()
    try:
        result = runner.invoke(app, ["compare", str(tmp / "config.cfg"), *_common(tmp),
                                     "--losses", "ce", "--runs-dir", str(tmp / "runs"), "--resume",
                                     "--output", str(out)])  # ce's run of test_compare_two_losses if there
    finally:
        plots._pyplot.cache_clear()
    assert result.exit_code == 0, (result.output, result.exception)
    assert out.with_suffix(".md").exists() and out.with_suffix(".json").exists()
    assert not list(out.parent.glob("no_plots*.png"))
    output = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", result.output).split())
    assert "Skipped the PNG plots" in output
    assert 'pip install "spacy-dice[plots]"' in output
