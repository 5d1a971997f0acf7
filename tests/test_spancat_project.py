"""The span task of the project template: NER corpora as doc.spans, configs, evaluation table,
and `spacy project run all --vars.task spans` on the shipped sample."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import spacy
import srsly
from spacy.tokens import Doc, DocBin, Span
from typer.testing import CliRunner

from conftest import run_workflow_in_process
from spacy_dice.cli import app
from spacy_dice.evaluation.scores import summarize_scores
from spacy_dice.project import project_config
from spacy_dice.corpus.spans import count_candidates, ents_as_spans
from spacy_dice.training.config_rewrites import LOSS_PRESETS, SPAN_LOSS_PRESETS

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def test_ents_as_spans_marks_unannotated_docs_as_missing():
    vocab = spacy.blank("en").vocab
    annotated = Doc(vocab, words=["Alice", "met", "Bob"], ents=["B-PER", "O", "B-PER"])
    no_entities = Doc(vocab, words=["it", "rained"], ents=["O", "O"])
    unannotated = Doc(vocab, words=["no", "gold"])
    docs = list(ents_as_spans([annotated, no_entities, unannotated], "sc"))
    assert [(s.start, s.end, s.label_) for s in docs[0].spans["sc"]] == [(0, 1, "PER"), (2, 3, "PER")]
    assert "sc" in docs[1].spans and len(docs[1].spans["sc"]) == 0
    assert "sc" not in docs[2].spans
    with pytest.raises(ValueError, match="spans_key='' is not allowed"):
        list(ents_as_spans([annotated], ""))


def test_count_candidates_gives_the_negative_positive_ratio():
    vocab = spacy.blank("en").vocab
    doc = Doc(vocab, words=["a", "Acme", "Corp", "b"])
    doc.spans["sc"] = [Span(doc, 1, 3, label="ORG"), Span(doc, 1, 3, label="X"), Span(doc, 0, 4, label="Y")]
    counts = count_candidates([doc, Doc(vocab, words=["x"])], [1, 2])
    assert counts["candidates"] == 4 + 3 and counts["positives"] == 1
    assert counts["gold_not_suggested"] == 1 and counts["neg_pos_ratio"] == 6.0


def test_project_convert_and_config_for_span_tasks(tmp_path):
    result = runner.invoke(app, ["project-convert", "sample", "--output", str(tmp_path / "corpus"),
                                 "--sample-dir", str(ROOT / "assets" / "sample"), "--task", "spans",
                                 "--limit", "300"])  # 300 of the 1000 training sentences: 132 spans
    assert result.exit_code == 0, result.output
    docs = list(DocBin().from_disk(tmp_path / "corpus" / "train.spacy").get_docs(spacy.blank("en").vocab))
    assert all([(e.start, e.end, e.label_) for e in d.ents] ==
               [(s.start, s.end, s.label_) for s in d.spans["sc"]] for d in docs)
    assert sum(len(d.spans["sc"]) for d in docs) > 100
    for task, components in (("spans", ["spancat"]), ("spans_finder", ["span_finder", "spancat"])):
        config, component = project_config("sample", "cnn", "dsc", configs_dir=ROOT / "configs", task=task)
        assert component == "spancat"
        for name in components:
            assert config["components"][name]["loss"] == SPAN_LOSS_PRESETS["dsc_set"]
    result = runner.invoke(app, ["project-config", "ud_ewt", "--task", "spans", "--output", str(tmp_path / "x.cfg")])
    assert result.exit_code == 1 and "use an NER data set" in result.output
    # every template loss name has its sigmoid form, the span names themselves too; other names
    # are refused (tests/test_presets.py checks every name and component)
    for name, span_name in (("ce_then_dsc", "bce_then_dsc"), ("dl_set", "dl_set")):
        config, _ = project_config("sample", "cnn", name, configs_dir=ROOT / "configs", task="spans")
        assert config["components"]["spancat"]["loss"] == SPAN_LOSS_PRESETS[span_name]
    with pytest.raises(ValueError, match="unknown loss preset 'softmax_only'"):
        project_config("sample", "cnn", "softmax_only", configs_dir=ROOT / "configs", task="spans")


def test_evaluation_table_reads_span_scores():
    summary = summarize_scores({"spans_sc_p": 0.5, "spans_sc_r": 0.25, "spans_sc_f": 1 / 3,
                         "spans_sc_per_type": {"PER": {"p": 0.5, "r": 0.25, "f": 1 / 3}}})
    assert summary.task == "spans" and summary.main == ("F1", 1 / 3)
    assert summary.per_label["PER"]["r"] == 0.25


@pytest.mark.slow
def test_project_run_all_trains_the_span_task(tmp_path):
    """The workflow ``all`` of project.yml with ``--vars.task spans``, each of its commands run in
    this process (the real ``spacy project run all`` is tests/test_project.py's; calibration is
    off here, `calibrate` on a span categorizer is tests/test_calibrate.py's)."""
    shutil.copy(ROOT / "project.yml", tmp_path / "project.yml")
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    shutil.copytree(ROOT / "assets", tmp_path / "assets", ignore=shutil.ignore_patterns("downloads"))
    assert srsly.read_yaml(tmp_path / "project.yml")["vars"]["task"] == "auto"
    ran = run_workflow_in_process(tmp_path, "all", task="spans", max_steps=20, eval_frequency=10,
                                  name="sample-spans", calibrate="false")
    assert any(" train " in line for line in ran) and any("project-calibrate" in line for line in ran)
    metrics = json.loads((tmp_path / "metrics" / "sample-spans.json").read_text())
    assert 0.0 <= metrics["spans_sc_f"] <= 1.0
    config = (tmp_path / "training" / "sample-spans" / "config.cfg").read_text()
    assert 'factory = "dice_spancat"' in config and 'level = "set"' in config
    assert "| label | P | R | F1 | support |" in (tmp_path / "metrics" / "sample-spans.md").read_text()


def test_convert_command_writes_entities_as_spans(tmp_path):
    sample = ROOT / "assets" / "sample" / "dev.iob2"
    out = tmp_path / "dev.spacy"
    result = runner.invoke(app, ["convert", "uner", str(sample), str(out), "--spans-key", "sc"])
    assert result.exit_code == 0, result.output
    docs = list(DocBin().from_disk(out).get_docs(spacy.blank("en").vocab))
    assert sum(len(d.spans["sc"]) for d in docs) == sum(len(d.ents) for d in docs) > 0
    mrpc = tmp_path / "pairs.txt"
    mrpc.write_text("Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\tA b.\tA b.\n")
    result = runner.invoke(app, ["convert", "mrpc", str(mrpc), str(tmp_path / "p.spacy"), "--spans-key", "sc"])
    assert result.exit_code == 1 and "only NER formats" in result.output


def test_spacy_span_baseline_swaps_factory_and_scorer_only():
    from spacy_dice.training.config_rewrites import load_config, spacy_span_baseline, with_loss

    config = load_config(str(ROOT / "configs" / "spans_cnn.cfg"))
    config = with_loss(config, "spancat", "dl_set")
    spacy_cfg = spacy_span_baseline(spacy_span_baseline(config, "spancat"), "span_finder")
    spancat, finder = spacy_cfg["components"]["spancat"], spacy_cfg["components"]["span_finder"]
    assert spancat["factory"] == "spancat" and "loss" not in spancat
    assert spancat["model"]["scorer"] == {"@layers": "spacy.LinearLogistic.v1"}
    assert spancat["model"]["tok2vec"] == config["components"]["spancat"]["model"]["tok2vec"]
    assert spancat["suggester"] == config["components"]["spancat"]["suggester"]
    assert finder["factory"] == "span_finder" and finder["max_length"] == 8
    assert finder["model"]["scorer"] == {"@layers": "spacy.LinearLogistic.v1", "nO": 2}
    single = spacy_span_baseline(config, "spancat", "dice_spancat_singlelabel", loss="ce")
    section = single["components"]["spancat"]
    assert section["factory"] == "dice_spancat_singlelabel" and section["loss"] == LOSS_PRESETS["ce"]
    assert section["model"]["scorer"] == {"@layers": "Softmax.v2"} and "threshold" not in section
    nlp = spacy.util.load_model_from_config(spacy_cfg, auto_fill=True, validate=True)
    assert nlp.pipe_names == ["tok2vec", "span_finder", "spancat"]
    with pytest.raises(ValueError, match="spacy_span_baseline knows"):
        spacy_span_baseline(load_config(str(ROOT / "configs" / "ner_cnn.cfg")), "ner")
