"""The library behind the commands, called without typer (issue 24, item 3): ``calibrate`` /
``calibrate_model`` / ``calibrate_and_evaluate`` (spacy_dice.decisions), ``evaluate_table`` /
``write_evaluation_table`` (spacy_dice.evaluation.evaluate_table), ``compare`` / ``sweep``
(spacy_dice.training.compare). They return data, print no report, and their errors name the
parameter, not the command's flag.

The grid tests replace the trials' training by made-up results (the executor's ``run``), so they
check the grid's rows, table, files, resume and plots in a second; one slow test trains for real.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin
from spacy.util import fix_random_seed
from thinc.api import Adam

from span_synthetic import KEY, SMALL_SPANCAT_MODEL, span_examples
from synthetic import ner_examples
from spacy_dice.decisions import (
    CalibratedModel,
    Calibration,
    CalibrationError,
    calibrate,
    calibrate_and_evaluate,
    calibrate_model,
    read_dev,
    tables,
)
from spacy_dice.evaluation.evaluate_table import (
    EvaluationTable,
    evaluate_table,
    write_evaluation_table,
)
from spacy_dice.evaluation.scores import UnknownScores, summarize_scores
from spacy_dice.training.compare import GridError, GridResult, compare, sweep
from spacy_dice.training.executor import TrialExecutor, TrialOutcome
from spacy_dice.training.runner import RunResult

ROOT = Path(__file__).resolve().parents[1]
NGRAMS = {"@misc": "spacy.ngram_suggester.v1", "sizes": [1, 2, 3, 4]}
SPAN_SCORES = {"spans_sc_p": 0.5, "spans_sc_r": 0.25, "spans_sc_f": 1 / 3,
               "spans_sc_per_type": {"PER": {"p": 0.5, "r": 0.25, "f": 1 / 3}}}


# --- decisions -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def spancat(tmp_path_factory):
    """A dice_spancat trained a few steps, saved, and a dev and a test set."""
    tmp = tmp_path_factory.mktemp("api")
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("dice_spancat", name="spancat", config={"model": SMALL_SPANCAT_MODEL, "suggester": NGRAMS})
    train = span_examples(nlp, 40)
    nlp.initialize(lambda: train)
    optimizer = Adam(0.01)
    for _ in range(4):
        nlp.update(train, sgd=optimizer)
    nlp.to_disk(tmp / "model")
    for name, seed in (("dev", 3), ("test", 4)):
        DocBin(docs=[eg.reference for eg in span_examples(nlp, 40, seed=seed)]).to_disk(tmp / f"{name}.spacy")
    return tmp


def test_calibrate_returns_the_settings_and_the_report_data(spancat, capsys):
    nlp = spacy.load(spancat / "model")
    calibration = calibrate(nlp, read_dev(nlp, spancat / "dev.spacy"), min_support=5)
    assert isinstance(calibration, Calibration) and calibration.n_docs == 40
    (result,) = calibration.results
    assert result.name == "spancat" and result.setting == "thresholds"
    assert set(result.config) == {"threshold", "thresholds"}
    assert nlp.get_pipe("spancat").cfg["threshold"] == result.config["threshold"]  # applied in place
    (title, header, rows, notes), = tables(calibration)
    assert "cross-fitted" in title and header[0] == "label" and rows
    assert capsys.readouterr().out == ""  # computing prints nothing


@pytest.mark.parametrize("kwargs, message", [
    ({"metric": "precision"}, "metric='precision': use f1 or recall"),
    ({"min_precision": "most"}, "min_precision='most': use a number in [0, 1]"),
    ({"components": ["nope"]}, "components=['nope']: not in the pipeline (spancat)"),
])
def test_calibrate_errors_name_the_parameter(spancat, kwargs, message):
    nlp = spacy.load(spancat / "model")
    with pytest.raises(CalibrationError) as info:
        calibrate(nlp, read_dev(nlp, spancat / "dev.spacy"), **kwargs)
    assert message in str(info.value) and "--" not in str(info.value)


def test_calibrate_model_writes_the_pipeline_and_the_report(spancat, tmp_path, capsys):
    out = tmp_path / "calibrated"
    done = calibrate_model(spancat / "model", spancat / "dev.spacy", out, min_support=5, components="spancat")
    assert isinstance(done, CalibratedModel) and done.output == out and done.changes
    assert done.report == tmp_path / "calibrated-calibration"
    assert json.loads((tmp_path / "calibrated-calibration.json").read_text()) == done.data
    assert (tmp_path / "calibrated-calibration.md").read_text().startswith("# Calibration of ")
    assert spacy.load(out).get_pipe("spancat").cfg["threshold"] == done.changes["spancat"]["threshold"]
    assert capsys.readouterr().out == ""
    with pytest.raises(CalibrationError, match=r"output=.* exists; pass overwrite=True"):
        calibrate_model(spancat / "model", spancat / "dev.spacy", out)
    with pytest.raises(CalibrationError, match=r"model=.* is not a pipeline folder"):
        calibrate_model(tmp_path / "missing", spancat / "dev.spacy", tmp_path / "o")
    with pytest.raises(CalibrationError, match="holds no docs"):
        DocBin().to_disk(tmp_path / "empty.spacy")
        calibrate_model(spancat / "model", tmp_path / "empty.spacy", tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_calibrate_and_evaluate_scores_the_calibrated_pipeline_on_test(spancat, tmp_path):
    done = calibrate_and_evaluate(spancat / "model", spancat / "dev.spacy", spancat / "test.spacy",
                                  tmp_path / "model-calibrated", tmp_path / "metrics" / "calibrated",
                                  gpu_id=-1)
    assert done.table_error is None, done.table_error
    assert done.metrics == tmp_path / "metrics" / "calibrated.json" and done.metrics.exists()
    table = (tmp_path / "metrics" / "calibrated.md").read_text()
    assert "| pipeline |" in table and "model-best" not in table  # both pipelines' ECE, by folder name
    assert [line.split(":")[0] for line in done.lines] == [f"- spans_{KEY}_f", f"- spans_{KEY}_p", f"- spans_{KEY}_r"]
    report = json.loads((tmp_path / "model-calibrated-calibration.json").read_text())
    assert set(report["test"]["after"]) == {f"spans_{KEY}_{k}" for k in "fpr"}
    assert (tmp_path / "model-calibrated-calibration.md").read_text().endswith("\n".join(done.lines) + "\n")


# --- evaluate-table ----------------------------------------------------------------------------------
def test_evaluate_table_from_a_dict_and_its_errors(tmp_path):
    table = evaluate_table(SPAN_SCORES, title="spans")
    assert isinstance(table, EvaluationTable) and table.summary.task == "spans" and not table.runs
    assert table.markdown().startswith("# spans\n") and "| PER | 50.00 | 25.00 | 33.33 |" in table.markdown()
    written = write_evaluation_table(table, tmp_path / "t.md")
    assert written.markdown.read_text() == written.text and written.reliability_json is None
    with pytest.raises(UnknownScores, match="no NER, span, tagger or textcat scores among speed"):
        evaluate_table({"speed": 1.0})
    with pytest.raises(ValueError, match="compare_model needs model and data"):
        evaluate_table(SPAN_SCORES, compare_model=tmp_path)
    assert summarize_scores({"ents_f": None, "ents_p": 1.0}).metrics[2] == ("F1", None)


def test_evaluate_table_measures_reliability_with_model_and_data(spancat, tmp_path, capsys):
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(SPAN_SCORES))
    table = evaluate_table(path, model=spancat / "model", data=spancat / "test.spacy")
    assert table.title == "Evaluation: metrics" and table.summary.support  # gold support from data
    (run,) = table.runs
    assert run.name == "model" and list(run.bins) == ["spancat (candidate span x label)"]
    assert capsys.readouterr().out == ""
    written = write_evaluation_table(table, tmp_path / "out" / "m.md")
    assert "## Calibration error (ECE)" in written.text
    assert json.loads(written.reliability_json.read_text())["runs"]["model"]["components"]
    assert written.why_no_plot is None and written.plot.stat().st_size > 1000
    assert not table.reliability()["runs"]["model"]["skipped"]


# --- compare / sweep -----------------------------------------------------------------------------------
@pytest.fixture
def grid_data(tmp_path):
    nlp = spacy.blank("en")
    DocBin(docs=[eg.reference for eg in ner_examples(nlp, 12)]).to_disk(tmp_path / "data.spacy")
    return tmp_path


@pytest.fixture
def fake_trials(monkeypatch):
    """Each trial "trains" instantly: its F1 depends on the row name and seed."""
    calls = []

    def run(self, specs, on_result=None, *, label="trials", done_before=0):
        calls.append([spec.key for spec in specs])
        outcomes = []
        for i, spec in enumerate(specs):
            f = 0.5 + 0.01 * spec.seed + 0.1 * (len(spec.name) % 3)
            scores = {"ents_p": f, "ents_r": f, "ents_f": f,
                      "ents_per_type": {"PER": {"p": f, "r": f, "f": f}, "LOC": {"p": 1.0, "r": 0.5, "f": 2 / 3}}}
            result = RunResult(name=spec.name, component="ner", factory="dice_ner", loss=None, seed=spec.seed,
                               max_steps=spec.max_steps, metrics=scores, best_dev_score=f, best_step=10,
                               dev_curve=[(0, 0.0), (10, f)], train_words_per_s=1000.0 + i)
            outcome = TrialOutcome(spec.key, spec.name, spec.seed, ok=True, result=json.loads(json.dumps(result.to_dict())),
                                   fingerprint=spec.fingerprint(),
                                   extra={"summary": asdict(summarize_scores(scores))})
            outcomes.append(outcome)
            if on_result is not None:
                on_result(outcome)
        return outcomes

    monkeypatch.setattr(TrialExecutor, "run", run)
    return calls


def test_compare_returns_rows_table_and_files_and_resume_skips_finished(grid_data, fake_trials, capsys):
    kwargs = dict(train=grid_data / "data.spacy", dev=grid_data / "data.spacy", losses="ce,dsc", seeds="0,1",
                  max_steps=10, runs_dir=grid_data / "runs", output=grid_data / "out" / "cmp", quiet=True)
    result = compare(ROOT / "configs" / "ner_cnn.cfg", **kwargs)
    assert isinstance(result, GridResult) and [row.name for row in result.rows] == ["ce", "dsc"]
    assert fake_trials == [["ce seed 0", "ce seed 1", "dsc seed 0", "dsc seed 1"]]
    assert result.table[0].startswith("| loss | seeds | P | R | F1 | F1 PER | F1 LOC |")
    assert "| ce | 0,1 | 70.50 ± 0.71 |" in result.table[2] and not result.failures
    assert result.markdown.read_text().endswith("\n".join(result.table) + "\n")
    data = json.loads(result.json.read_text())
    assert data["complete"] and data["losses"] == ["ce", "dsc"] and len(data["runs"]) == 4
    assert data["rows"][0]["main"]["mean"] == pytest.approx(0.705)
    assert any("Gold support in the evaluation set" in note for note in result.notes)
    assert {p.name for p in result.plots} == {"cmp_per_label_f1.png", "cmp_dev_curve.png"}
    assert "| ce | 0,1 |" not in capsys.readouterr().out  # the table is the caller's to print
    again = compare(ROOT / "configs" / "ner_cnn.cfg", resume=True, **kwargs)
    assert fake_trials[-1] == [] and again.table == result.table


def test_sweep_rows_are_the_values(grid_data, fake_trials):
    result = sweep(ROOT / "configs" / "ner_cnn.cfg", train=grid_data / "data.spacy", dev=grid_data / "data.spacy",
                   loss="tversky", param="alpha", values=[0.3, 0.7], runs_dir=grid_data / "runs",
                   output=grid_data / "sweep", quiet=True)
    assert [row.name for row in result.rows] == ["alpha=0.3,beta=0.7", "alpha=0.7,beta=0.3"]
    assert result.table[0].startswith("| tversky alpha | P | R | F1 |")
    assert json.loads(result.json.read_text())["values"] == [0.3, 0.7]
    assert {p.name for p in result.plots} == {"sweep.png", "sweep_dev_curve.png"}


@pytest.mark.parametrize("grid, kwargs, param, message", [
    (compare, {"losses": "ce,nope"}, "losses", "unknown loss preset(s) nope"),
    (compare, {"seeds": "1,1"}, "seeds", "seed listed twice"),
    (compare, {"component": "textcat"}, "component", "no [components.textcat] in the config"),
    (compare, {"workers": 0}, None, "workers must be at least 1"),
    (sweep, {"param": "gamma"}, "param", "has no 'gamma'"),
    (sweep, {"values": "0.1,x"}, "values", "expected comma-separated numbers"),
    (sweep, {"loss": "nope"}, "loss", "nope"),
])
def test_grid_errors_name_the_parameter(grid_data, grid, kwargs, param, message):
    data = grid_data / "data.spacy"
    with pytest.raises(GridError) as info:
        grid(ROOT / "configs" / "ner_cnn.cfg", train=data, dev=data, output=grid_data / "o", **kwargs)
    assert info.value.param == param and message in info.value.problem
    assert "--" not in str(info.value)
    assert not (grid_data / "o.json").exists()


@pytest.mark.slow
def test_sweep_trains_for_real(grid_data):
    """One value, one seed, two training steps: the trial's own spacy train and its summary."""
    result = sweep(ROOT / "configs" / "ner_cnn.cfg", train=grid_data / "data.spacy", dev=grid_data / "data.spacy",
                   loss="focal", param="gamma", values="2", max_steps=2, eval_frequency=1,
                   runs_dir=grid_data / "runs", output=grid_data / "sweep", quiet=True)
    (row,) = result.rows
    assert row.name == "gamma=2" and len(row.summaries) == 1 and not result.failures
    assert row.summaries[0].task == "ner" and row.results[0].best_step is not None
    assert json.loads(result.json.read_text())["runs"][0]["trial"]["summary"]["task"] == "ner"
