"""The template's ``custom`` data set (your own files) and compare/sweep keeping to their folders."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import srsly
from typer.testing import CliRunner

from spacy_dice.cli import app
from spacy_dice.project import project_config

from conftest import run_workflow_in_process

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()
IOB = "Ann\tB-PER\nLee\tI-PER\nlives\tO\nin\tO\nRome\tB-LOC\n\n#rome\tO\nis\tO\nnice\tO\n\n"


def flat(output: str) -> str:
    """CLI output without rich's box characters and line wraps."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", output).split())


def _commands():
    project = srsly.read_yaml(ROOT / "project.yml")
    return project, {c["name"]: c for c in project["commands"]}


@pytest.mark.parametrize("workflow", ["compare", "sweep"])
def test_compare_and_sweep_write_only_under_their_run_folder(workflow):
    """Issue 13, item 3: `run compare --vars.max_steps 50` must not rewrite the main run's config."""
    project, commands = _commands()
    steps = project["workflows"][workflow]
    assert "config" not in steps
    for step in steps:
        lines = commands[step]["script"]
        text = " ".join(lines + commands[step].get("outputs", []))
        assert "training/${vars.name}" not in text, step
        runs = re.search(r"--runs-dir (\S+)", text)
        for line in lines:
            output = re.search(r"project-config .* --output (\S+)", line)
            if output:
                assert runs and output.group(1).startswith(runs.group(1) + "/"), line


def _files(tmp_path: Path, dev: bool = True):
    for split in ("train", "dev", "test") if dev else ("train", "test"):
        (tmp_path / f"{split}.tsv").write_text(IOB * 10, encoding="utf8")
    return [str(tmp_path / f"{s}.tsv") if (tmp_path / f"{s}.tsv").exists() else "" for s in ("train", "dev", "test")]


def test_custom_dataset_converts_own_iob_files(tmp_path):
    train, dev, test = _files(tmp_path)
    out = tmp_path / "corpus"
    result = runner.invoke(app, ["project-convert", "custom", "--output", str(out), "--train-file", train,
                                 "--dev-file", dev, "--test-file", test])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.glob("*.spacy")} == {"train.spacy", "dev.spacy", "test.spacy"}
    assert "PER 10" in result.output


def test_custom_dataset_without_dev_splits_train(tmp_path):
    train, dev, test = _files(tmp_path, dev=False)
    assert dev == ""
    out = tmp_path / "corpus"
    result = runner.invoke(app, ["project-convert", "custom", "--output", str(out), "--train-file", train,
                                 "--dev-file", "", "--test-file", test])
    assert result.exit_code == 0, result.output
    assert (out / "dev.spacy").is_file()


def test_custom_dataset_errors(tmp_path):
    result = runner.invoke(app, ["project-convert", "custom", "--output", str(tmp_path), "--test-file", "x"])
    assert result.exit_code != 0 and "needs a train file: --vars.train_file PATH" in flat(result.output)
    result = runner.invoke(app, ["project-convert", "custom", "--output", str(tmp_path), "--train-file",
                                 str(tmp_path / "nope.tsv"), "--test-file", str(tmp_path / "nope.tsv")])
    assert result.exit_code == 1 and "missing train file" in result.output
    result = runner.invoke(app, ["project-convert", "custom", "--output", str(tmp_path), "--train-file", "a",
                                 "--test-file", "b", "--custom-format", "csv"])
    assert result.exit_code == 2 and "--custom-format 'csv': unknown format" in flat(result.output)


@pytest.mark.parametrize("fmt,task,attr", [("iob", "ner", None), ("conllu", "tagger", "pos"), ("sst2", "textcat", None)])
def test_custom_dataset_config_follows_the_format(fmt, task, attr):
    config, component = project_config("custom", "cnn", "ce", configs_dir=ROOT / "configs", custom_format=fmt)
    assert component == task
    if attr:
        assert config["components"][task]["attr"] == attr


@pytest.mark.slow
def test_custom_run_all_then_compare_leaves_the_main_run_alone(tmp_path):
    """The workflow `all` on your own files (the custom data set), then the workflow `compare`
    with another max_steps (the command lines of project.yml, run in this process): compare writes
    only under its own run folder and leaves training/<name>/config.cfg byte for byte as it was,
    the file weasel's dependency check of `train` reads (so the next `run all` skips training:
    weasel itself runs in tests/test_project.py). Calibration is off here."""
    shutil.copy(ROOT / "project.yml", tmp_path / "project.yml")
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    own = tmp_path / "own"
    own.mkdir()
    train, dev, test = _files(own)
    custom = {"dataset": "custom", "train_file": train, "dev_file": dev, "test_file": test}
    run_workflow_in_process(tmp_path, "all", **custom, max_steps=6, eval_frequency=3, calibrate="false")
    assert (tmp_path / "metrics" / "custom-cnn-dsc.json").is_file()
    config = tmp_path / "training" / "custom-cnn-dsc" / "config.cfg"
    before = config.read_bytes()
    run_workflow_in_process(tmp_path, "compare", **custom, compare_losses="ce", max_steps=4, eval_frequency=2)
    assert config.read_bytes() == before
    assert (tmp_path / "training" / "compare-custom-cnn" / "base.cfg").is_file()
    assert sorted(p.name for p in (tmp_path / "training").iterdir()) == ["compare-custom-cnn", "custom-cnn-dsc"]
