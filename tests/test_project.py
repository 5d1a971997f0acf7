"""The ``spacy project`` template: project.yml, the shipped sample and the helper commands.

The slow test is the check that the README's main command (``spacy project run all``) works
on a fresh copy of the project, offline, with a tiny step budget.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import srsly
from typer.testing import CliRunner
from weasel.util import get_checksum

from fresh_python import fresh_python
from spacy_dice.cli import app
from spacy_dice.evaluation.scores import summarize_scores, summary_markdown
from spacy_dice.project import DATASETS, project_config
from spacy_dice.training.config_rewrites import LOSS_PRESETS

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ROOT / "project.yml"
runner = CliRunner()


def _project() -> dict:
    return srsly.read_yaml(PROJECT)


def test_project_yml_vars_and_workflows():
    project = _project()
    variables = project["vars"]
    for key in ("dataset", "loss", "backbone", "gpu_id", "seed", "data_dir", "max_steps"):
        assert key in variables, key
    assert variables["dataset"] == "sample"
    assert variables["gpu_id"] == -1
    assert set(variables["compare_losses"].split(",")) == set(LOSS_PRESETS)
    assert project["workflows"]["all"] == ["convert", "config", "train", "evaluate", "calibrate"]
    assert variables["calibrate"] is True  # on by default; --vars.calibrate false makes the step a no-op
    commands = {c["name"]: c for c in project["commands"]}
    for workflow in project["workflows"].values():
        assert all(step in commands for step in workflow)
    # GPU: the same --gpu-id goes to training and to evaluation
    assert "--gpu-id ${vars.gpu_id}" in " ".join(commands["train"]["script"])
    assert all("--gpu-id ${vars.gpu_id}" in line for line in commands["evaluate"]["script"])


def test_project_assets_are_optional_except_the_shipped_sample():
    for asset in _project()["assets"]:
        if asset["dest"].startswith("assets/sample/"):
            path = ROOT / asset["dest"]
            assert path.exists() and "url" not in asset
            assert hashlib.md5(path.read_bytes()).hexdigest() == asset["checksum"]
        else:
            assert asset.get("extra") is True, asset["dest"]
            assert asset["url"].startswith("https://")
            assert asset["dest"].startswith("${vars.data_dir}/")


def test_sample_is_credited_and_not_conll():
    sample = ROOT / "assets" / "sample"
    assert (sample / "LICENSE.txt").read_text(encoding="utf8").startswith("Attribution-ShareAlike 4.0")
    readme = (ROOT / "assets" / "README.md").read_text(encoding="utf8")
    assert "CC BY-SA 4.0" in readme and "UNER" in readme
    assert not any(p.name.startswith("eng.") for p in ROOT.joinpath("assets").rglob("*"))


@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_project_config_for_each_dataset(dataset):
    config, component = project_config(dataset, "cnn", "tversky", configs_dir=ROOT / "configs",
                                       seed=3, max_steps=7, loss_params={"alpha": 0.2})
    section = config["components"][component]
    assert section["loss"]["@losses"] == "spacy-dice.TverskyLoss.v1"
    assert section["loss"]["alpha"] == 0.2
    assert config["system"]["seed"] == 3 and config["training"]["max_steps"] == 7
    ds = DATASETS[dataset]
    if ds.task == "tagger":
        assert section["attr"] == "pos"
    if ds.task == "textcat":
        assert section["positive_label"] == ds.positive_label


def test_project_convert_sample(tmp_path):
    result = runner.invoke(app, ["project-convert", "sample", "--sample-dir", str(ROOT / "assets" / "sample"),
                                 "--output", str(tmp_path), "--limit", "20"])
    assert result.exit_code == 0, result.output
    assert {p.name for p in tmp_path.glob("*.spacy")} == {"train.spacy", "dev.spacy", "test.spacy"}


def test_project_convert_missing_corpus_says_how_to_get_it(tmp_path):
    result = runner.invoke(app, ["project-convert", "conll2003", "--data-dir", str(tmp_path),
                                 "--output", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "project assets" in result.output and "data_dir" in result.output


def test_evaluate_table_formats(tmp_path):
    ner = {"ents_p": 0.5, "ents_r": 0.25, "ents_f": 1 / 3,
           "ents_per_type": {"LOC": {"p": 0.5, "r": 0.5, "f": 0.5}}}
    path = tmp_path / "m.json"
    path.write_text(json.dumps(ner))
    result = runner.invoke(app, ["evaluate-table", str(path)])
    assert result.exit_code == 0, result.output
    text = path.with_suffix(".md").read_text()
    assert "| F1 | 33.33 |" in text and "| LOC | 50.00 | 50.00 | 50.00 |" in text
    cats = summarize_scores({"cats_score": 0.8, "cats_score_desc": "F (paraphrase)", "cats_micro_f": 0.7,
                      "cats_f_per_type": {"paraphrase": {"p": 1, "r": 0.5, "f": 0.6}}})
    assert cats.task == "textcat" and cats.main == ("F (paraphrase)", 0.8)
    pos = summarize_scores({"pos_acc": 0.9}, {"NOUN": {"p": 1.0, "r": 0.5, "f": 2 / 3}})
    assert pos.task == "tagger" and "| NOUN |" in summary_markdown(pos, "t")


@pytest.mark.slow
def test_python_m_spacy_dice_has_the_commands_project_yml_runs():
    """The entry point project.yml relies on, in a fresh process: ``python -m spacy_dice``."""
    scripts = " ".join(line for c in _project()["commands"] for line in c.get("script", []))
    used = set(re.findall(r"python -m spacy_dice ([\w-]+)", scripts))
    assert {"project-convert", "project-config"} <= used
    proc = fresh_python(["-m", "spacy_dice", "--help"], timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    missing = [name for name in sorted(used) if name not in proc.stdout]
    assert not missing, (missing, proc.stdout)


@pytest.mark.slow
def test_project_run_all_on_the_sample(tmp_path):
    """The README's main command, in a fresh copy of the project, with 20 training steps and the
    calibrate step on (the default): ``model-best`` and its test scores are written by ``train``
    and ``evaluate`` and left as they were by ``calibrate``, which writes ``model-calibrated`` and
    the test scores after calibration beside them. (``--vars.calibrate false`` makes the step a
    no-op: tests/test_calibrate.py, in-process.)"""
    shutil.copy(PROJECT, tmp_path / "project.yml")
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    shutil.copytree(ROOT / "assets", tmp_path / "assets", ignore=shutil.ignore_patterns("downloads"))
    cmd = [sys.executable, "-m", "spacy", "project", "run", "all", str(tmp_path),
           "--vars.max_steps", "20", "--vars.eval_frequency", "10"]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout[-4000:], proc.stderr[-4000:])
    out = proc.stdout

    name = "sample-cnn-dsc"
    training, metrics_dir = tmp_path / "training" / name, tmp_path / "metrics"
    assert "E    #" in out  # spaCy's own training table was shown
    assert "project-calibrate --enabled true" in out, out[-3000:]
    assert (training / "model-best" / "meta.json").exists()
    metrics = json.loads((metrics_dir / f"{name}.json").read_text())
    assert 0.0 <= metrics["ents_f"] <= 1.0
    assert set(metrics["ents_per_type"]) <= {"LOC", "PER", "ORG"}
    table = (metrics_dir / f"{name}.md").read_text()
    assert "| label | P | R | F1 | support |" in table
    # calibrate, the last step, left model-best and its test scores as train and evaluate wrote
    # them: their checksums are the ones weasel recorded when those steps ran
    recorded = {out["path"]: out["md5"] for step in srsly.read_yaml(tmp_path / "project.lock").values()
                for out in step.get("outs", [])}
    for path in (f"training/{name}/model-best", f"metrics/{name}.json", f"metrics/{name}.md"):
        assert get_checksum(tmp_path / path) == recorded[path], path
    assert (training / "model-calibrated" / "meta.json").exists()
    after = json.loads((metrics_dir / f"{name}-calibrated.json").read_text())
    assert 0.0 <= after["ents_f"] <= 1.0
    assert "| label | P | R | F1 | support |" in (metrics_dir / f"{name}-calibrated.md").read_text()
    report = json.loads((metrics_dir / f"{name}-calibration.json").read_text())
    assert report["model"] == f"training/{name}/model-best"
    assert report["output"] == f"training/{name}/model-calibrated"
    assert report["options"]["confidence"] == 0.95
    assert report["test"]["before"]["ents_f"] == pytest.approx(metrics["ents_f"])
    assert report["test"]["after"]["ents_f"] == pytest.approx(after["ents_f"])
    assert "## Test set" in (metrics_dir / f"{name}-calibration.md").read_text()
    # nothing stored: model-calibrated decides as model-best does
    stored = any(component["config"] for component in report["components"])
    if not stored:
        assert after["ents_f"] == pytest.approx(metrics["ents_f"])
