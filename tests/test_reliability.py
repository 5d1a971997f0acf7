"""Calibration quality (issue 17, item 4): the expected calibration error on hand-made cases, the
confidences each component contributes, and ``evaluate-table``'s ECE table, JSON and reliability
diagram (skipped, with the reason, without matplotlib)."""
import json
import random
import sys

import numpy
import pytest
import spacy
from spacy.tokens import DocBin
from spacy.util import fix_random_seed
from thinc.api import Adam
from typer.testing import CliRunner

from span_synthetic import SMALL_SPAN_FINDER_MODEL, SMALL_SPANCAT_MODEL
from synthetic import SMALL_TAGGER_MODEL, SMALL_TEXTCAT_MODEL, ner_examples
from spacy_dice.cli import app
from spacy_dice.evaluation import plots
from spacy_dice.evaluation.confidences import BINARY, TOP_LABEL, collect_confidences
from spacy_dice.evaluation.reliability import (
    N_BINS,
    bin_index,
    expected_calibration_error,
    plot_reliability,
    reliability_bins,
)


# --- the error itself ------------------------------------------------------------------------------
def reference_ece(conf, correct, n_bins=N_BINS):
    """A loop over the bins, written independently of the module."""
    conf, correct = list(conf), [bool(c) for c in correct]
    total = 0.0
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        members = [i for i, c in enumerate(conf) if lo <= c < hi or (b == n_bins - 1 and c == 1.0)]
        if members:
            acc = sum(correct[i] for i in members) / len(members)
            mean = sum(conf[i] for i in members) / len(members)
            total += len(members) / len(conf) * abs(acc - mean)
    return total


def test_perfectly_calibrated_is_zero():
    # 0.7 ten times with 7 right, 0.2 five times with 1 right, 1.0 twice with both right
    conf = [0.7] * 10 + [0.2] * 5 + [1.0] * 2
    correct = [1] * 7 + [0] * 3 + [1] + [0] * 4 + [1, 1]
    assert expected_calibration_error(conf, correct) == pytest.approx(0.0, abs=1e-12)


def test_always_certain_and_half_wrong_is_one_half():
    assert expected_calibration_error([1.0] * 10, [True, False] * 5) == pytest.approx(0.5)
    # never confident and always right: the largest possible gap
    assert expected_calibration_error([0.0] * 4, [1] * 4) == pytest.approx(1.0)


def test_bins_are_weighted_by_their_share():
    # bin of 0.9 (4 items, 2 right: gap 0.4) and bin of 0.3 (1 item, right: gap 0.7)
    conf, correct = [0.9] * 4 + [0.3], [1, 1, 0, 0, 1]
    assert expected_calibration_error(conf, correct) == pytest.approx(4 / 5 * 0.4 + 1 / 5 * 0.7)
    bins = reliability_bins(conf, correct)
    assert bins.n == 5 and bins.mce == pytest.approx(0.7)
    assert bins.accuracy_overall == pytest.approx(0.6)
    assert bins.confidence_overall == pytest.approx((4 * 0.9 + 0.3) / 5)


def test_bin_edges_zero_one_and_boundaries():
    assert bin_index([0.0, 1.0]).tolist() == [0, N_BINS - 1]
    bins = reliability_bins([0.0, 1.0, 1.0], [0, 1, 0])
    assert bins.counts[0] == 1 and bins.counts[-1] == 2 and bins.n == 3
    assert bins.mean_confidence[0] == 0.0 and bins.accuracy[0] == 0.0
    assert bins.accuracy[-1] == 0.5 and bins.mean_confidence[-1] == 1.0
    assert all(m is None for m in bins.mean_confidence[1:-1])
    assert len(bins.edges) == N_BINS + 1 and bins.edges[0] == 0.0 and bins.edges[-1] == 1.0
    # a bin is [lo, hi): a confidence on an inner edge starts the next bin
    assert bin_index([2 / N_BINS - 1e-9, 2 / N_BINS + 1e-12], N_BINS).tolist() == [1, 2]
    assert bin_index([0.5], 2).tolist() == [1]
    assert expected_calibration_error([0.0, 1.0], [0, 1]) == 0.0


def test_matches_a_loop_over_the_bins():
    rng = random.Random(3)
    conf = [rng.random() for _ in range(500)] + [0.0, 1.0, 1 / 3, 2 / 3]
    correct = [rng.random() < c ** 2 for c in conf]
    for n_bins in (1, 10, 15):
        assert expected_calibration_error(conf, correct, n_bins) == pytest.approx(
            reference_ece(conf, correct, n_bins), abs=1e-12)
    assert expected_calibration_error(conf, correct, 1) == pytest.approx(
        abs(numpy.mean(correct) - numpy.mean(conf)))


@pytest.mark.parametrize("conf, correct, match", [
    ([1.2], [1], "not a probability"),
    ([-0.1], [1], "not a probability"),
    ([float("nan")], [1], "not a probability"),
    ([0.5, 0.5], [1], "one flag per confidence"),
    ([0.5], [2], "0/1"),
])
def test_bad_inputs_are_refused(conf, correct, match):
    with pytest.raises(ValueError, match=match):
        reliability_bins(conf, correct)


def test_no_prediction_has_empty_bins_and_no_error():
    bins = reliability_bins([], [])
    assert bins.n == 0 and sum(bins.counts) == 0 and "ece" not in bins.to_dict()
    with pytest.raises(ValueError, match="no predictions"):
        expected_calibration_error([], [])
    with pytest.raises(ValueError, match="n_bins"):
        reliability_bins([0.5], [1], n_bins=0)


def test_reliability_png_and_without_matplotlib(tmp_path, monkeypatch):
    bins = reliability_bins([0.9, 0.8, 0.2, 0.1], [1, 0, 0, 0])
    other = reliability_bins([0.6, 0.6, 0.3, 0.3], [1, 0, 0, 0])
    path = plot_reliability({"ner (token)": {"before": bins, "after": other}, "textcat (doc)": {"before": bins}},
                            tmp_path / "rel.png")
    assert path.stat().st_size > 1000
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    plots._pyplot.cache_clear()
    try:
        with pytest.raises(plots.PlotsUnavailable, match=r'pip install "spacy-dice\[plots\]"'):
            plot_reliability({"x": {"a": bins}}, tmp_path / "none.png")
        assert not (tmp_path / "none.png").exists()
    finally:
        plots._pyplot.cache_clear()


# --- a small trained pipeline ----------------------------------------------------------------------
def annotate(examples):
    """Besides the entities: the same spans for spancat (sc) and the span finder (sf), a tag per
    token (NAME inside an entity, W outside), cats POS when a PER is in the doc."""
    for eg in examples:
        ref = eg.reference
        ref.spans["sc"] = list(ref.ents)
        ref.spans["sf"] = list(ref.ents)
        inside = {t.i for ent in ref.ents for t in ent}
        for token in ref:
            token.tag_ = "NAME" if token.i in inside else "W"
        positive = any(ent.label_ == "PER" for ent in ref.ents)
        ref.cats = {"POS": float(positive), "NEG": float(not positive)}
    return examples


def make_pipeline():
    nlp = spacy.blank("en")
    nlp.add_pipe("dice_ner", config={"model": SMALL_TAGGER_MODEL})
    nlp.add_pipe("dice_tagger", config={"model": SMALL_TAGGER_MODEL})
    nlp.add_pipe("dice_span_finder", config={"model": SMALL_SPAN_FINDER_MODEL, "spans_key": "sf"})
    nlp.add_pipe("dice_spancat", config={
        "model": SMALL_SPANCAT_MODEL, "suggester": {"@misc": "spacy.ngram_suggester.v1", "sizes": [1, 2]}})
    nlp.add_pipe("dice_textcat", config={"model": SMALL_TEXTCAT_MODEL, "positive_label": "POS"})
    return nlp


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A pipeline of five dice components trained 25 steps, saved, a test .spacy and its metrics."""
    root = tmp_path_factory.mktemp("calibration")
    nlp = make_pipeline()
    train = annotate(ner_examples(nlp, 40))
    fix_random_seed(0)
    nlp.initialize(lambda: train)
    optimizer = Adam(0.01)
    for _ in range(25):
        nlp.update(train, sgd=optimizer)
    nlp.to_disk(root / "model-best")
    test = annotate(ner_examples(nlp, 20, seed=1))
    DocBin(docs=[eg.reference for eg in test]).to_disk(root / "test.spacy")
    scores = nlp.evaluate(test)
    (root / "metrics.json").write_text(json.dumps(scores), encoding="utf8")
    return root


KINDS = {
    "dice_ner (token (BILUO tag))": TOP_LABEL,
    "dice_tagger (token (tag))": TOP_LABEL,
    "dice_span_finder (token x start/end)": BINARY,
    "dice_spancat (candidate span x label)": BINARY,
    "dice_textcat (document)": TOP_LABEL,
}


def expected_kinds(nlp):
    """KINDS, and the entities where this dice_ner writes entity confidences (``scores_key``)."""
    if nlp.get_pipe("dice_ner").cfg.get("scores_key"):
        return {**KINDS, "dice_ner (entity)": TOP_LABEL}
    return KINDS


def test_every_component_gives_confidences_and_predictions_are_the_pipelines(trained):
    nlp = spacy.load(trained / "model-best")
    from spacy.training import Corpus

    examples = list(Corpus(str(trained / "test.spacy"))(nlp))
    collected = collect_confidences(nlp, examples)
    assert {s.name: s.kind for s in collected.sets} == expected_kinds(nlp)
    n_tokens = sum(len(eg.reference) for eg in examples)
    for found in collected.sets:
        conf, correct = found.arrays()
        assert len(conf) == len(correct) > 0 and conf.min() >= 0.0 and conf.max() <= 1.0
        if found.what.startswith("token ("):
            assert len(conf) == n_tokens
        if found.what == "token x start/end":
            assert len(conf) == 2 * n_tokens
        if found.what == "document":
            assert len(conf) == len(examples)
    # no entity confidences written by this dice_ner: reported, not invented
    assert "dice_ner (entity)" in collected.skipped or any(s.what == "entity" for s in collected.sets)
    # the docs carry the pipeline's own annotations, as nlp.pipe gives them
    piped = list(nlp.pipe(eg.reference.text for eg in examples))
    for eg, doc in zip(examples, piped):
        assert [(e.start, e.end, e.label_) for e in eg.predicted.ents] == [(e.start, e.end, e.label_) for e in doc.ents]
        assert [t.tag_ for t in eg.predicted] == [t.tag_ for t in doc]
        assert eg.predicted.cats == pytest.approx(doc.cats)
        assert [(s.start, s.end, s.label_) for s in eg.predicted.spans["sc"]] == \
            [(s.start, s.end, s.label_) for s in doc.spans["sc"]]


def test_textcat_top_label_confidence_is_the_max_of_cats(trained):
    nlp = spacy.load(trained / "model-best")
    from spacy.training import Corpus

    examples = list(Corpus(str(trained / "test.spacy"))(nlp))
    found = next(s for s in collect_confidences(nlp, examples).sets if s.component == "dice_textcat")
    conf, correct = found.arrays()
    assert conf.tolist() == pytest.approx([max(eg.predicted.cats.values()) for eg in examples])
    expected = [max(eg.predicted.cats, key=eg.predicted.cats.get) == max(eg.reference.cats, key=eg.reference.cats.get)
                for eg in examples]
    assert correct.tolist() == expected


def test_entity_confidences_are_scored_when_written(trained, monkeypatch):
    """Where ``dice_ner`` stores entity confidences (``doc.spans["ents"].attrs["scores"]``), each
    predicted entity counts, correct when its characters and label are exactly a gold entity's."""
    nlp = spacy.load(trained / "model-best")
    pipe = nlp.get_pipe("dice_ner")
    original = type(pipe).set_annotations

    def with_scores(self, docs, scores):
        docs = list(docs)
        original(self, docs, scores)
        for doc in docs:
            doc.spans["ents"] = list(doc.ents)
            doc.spans["ents"].attrs["scores"] = [0.75] * len(doc.ents)

    monkeypatch.setattr(type(pipe), "set_annotations", with_scores)
    from spacy.training import Corpus

    examples = list(Corpus(str(trained / "test.spacy"))(nlp))
    collected = collect_confidences(nlp, examples)
    found = next(s for s in collected.sets if s.name == "dice_ner (entity)")
    conf, correct = found.arrays()
    n_pred = sum(len(eg.predicted.ents) for eg in examples)
    assert len(conf) == n_pred > 0 and set(conf.tolist()) == {0.75}
    gold = [{(e.start_char, e.end_char, e.label_) for e in eg.reference.ents} for eg in examples]
    expected = [(e.start_char, e.end_char, e.label_) in g for eg, g in zip(examples, gold) for e in eg.predicted.ents]
    assert correct.tolist() == expected
    assert "dice_ner (entity)" not in collected.skipped


def test_shared_tok2vec_listeners_see_the_pipelines_tensors():
    """configs/ner_cnn.cfg: ``dice_ner`` listens to a shared ``tok2vec``; the pass component by
    component gives the probabilities the model gives on ``nlp.pipe``'s docs."""
    from pathlib import Path

    from spacy_dice.layers.outputs import output_normalizes, probabilities

    config = spacy.util.load_config(Path(__file__).resolve().parents[1] / "configs" / "ner_cnn.cfg")
    nlp = spacy.util.load_model_from_config(config, auto_fill=True)
    train = ner_examples(nlp, 30)
    fix_random_seed(0)
    nlp.initialize(lambda: train)
    optimizer = Adam(0.01)
    for _ in range(5):
        nlp.update(train, sgd=optimizer)
    test = ner_examples(nlp, 10, seed=2)
    (tokens,) = [s for s in collect_confidences(nlp, test).sets if s.what == "token (BILUO tag)"]
    docs = list(nlp.pipe(eg.reference.text for eg in test))
    pipe = nlp.get_pipe("ner")
    expected = [probabilities(p, output_normalizes(pipe.model)).max(axis=1) for p in pipe.model.predict(docs)]
    assert tokens.arrays()[0] == pytest.approx(numpy.concatenate(expected), abs=1e-5)
    for eg, doc in zip(test, docs):
        assert [(e.start, e.end, e.label_) for e in eg.predicted.ents] == [(e.start, e.end, e.label_) for e in doc.ents]


def test_spacys_own_components_give_confidences():
    nlp = spacy.blank("en")
    nlp.add_pipe("textcat")
    nlp.add_pipe("spancat", config={"spans_key": "sc"})
    nlp.add_pipe("ner")
    examples = annotate(ner_examples(nlp, 8))
    nlp.initialize(lambda: examples)
    collected = collect_confidences(nlp, examples)
    kinds = {s.name: s.kind for s in collected.sets}
    assert kinds == {"textcat (document)": TOP_LABEL, "spancat (candidate span x label)": BINARY}
    assert "transition-based" in collected.skipped["ner"]


# --- evaluate-table ---------------------------------------------------------------------------------
def run_table(trained, *extra):
    args = ["evaluate-table", str(trained / "metrics.json"), "--output", str(trained / "out" / "m.md"),
            "--model", str(trained / "model-best"), "--data", str(trained / "test.spacy"), *extra]
    return CliRunner().invoke(app, args, catch_exceptions=False)


def test_evaluate_table_has_ece_per_component_json_and_png(trained):
    result = run_table(trained)
    assert result.exit_code == 0, result.output
    text = (trained / "out" / "m.md").read_text(encoding="utf8")
    assert "## Per label" in text and "## Calibration" in text
    rows = [line for line in text.splitlines() if line.startswith("| dice_")]
    kinds = expected_kinds(spacy.load(trained / "model-best"))
    assert len(rows) == len(kinds)
    data = json.loads((trained / "out" / "m.reliability.json").read_text(encoding="utf8"))
    components = data["runs"]["model-best"]["components"]
    assert set(components) == set(kinds) and data["n_bins"] == 15
    for name, entry in components.items():
        assert len(entry["counts"]) == 15 and entry["n"] == sum(entry["counts"])
        assert 0.0 <= entry["ece"] <= 1.0
        row = next(r for r in rows if r.startswith(f"| {entry['component']} ") and f"| {entry['decision']} |" in r)
        assert f"| {100 * entry['ece']:.2f} |" in row
    assert (trained / "out" / "m.reliability.png").stat().st_size > 1000
    assert "m.reliability.png" in text


def test_evaluate_table_compares_two_models(trained):
    """The same pipeline under another folder name: every difference is 0, except where the copy
    has a decision setting that moves probabilities (a textcat ``label_bias``, where the component
    has that setting: ``doc.cats = softmax(log p + b)``)."""
    other = trained / "other" / "model-calibrated"
    other.parent.mkdir(exist_ok=True)
    nlp = spacy.load(trained / "model-best")
    biased = "label_bias" in nlp.get_pipe("dice_textcat").cfg
    if biased:
        nlp.get_pipe("dice_textcat").cfg["label_bias"] = {"POS": 3.0}
    nlp.to_disk(other)
    result = run_table(trained, "--compare-model", str(other), "--plot", str(trained / "out" / "both.png"))
    assert result.exit_code == 0, result.output
    text = (trained / "out" / "m.md").read_text(encoding="utf8")
    assert "| pipeline | n | accuracy | mean confidence | ECE | ECE change |" in text
    rows = [line.split(" | ") for line in text.splitlines() if line.startswith("| dice_")]
    assert len(rows) == 2 * len(expected_kinds(nlp))
    assert [row[3] for row in rows] == ["model-best", "model-calibrated"] * len(expected_kinds(nlp))
    for row in rows:
        what, pipeline, change = row[1], row[3], row[-1]
        if pipeline == "model-calibrated":
            assert change == "|", row  # the change stands on the first pipeline's row
        else:
            assert (change == "+0.00 |") != (biased and what == "document"), row
    runs = json.loads((trained / "out" / "m.reliability.json").read_text(encoding="utf8"))["runs"]
    assert set(runs) == {"model-best", "model-calibrated"}
    assert (trained / "out" / "both.png").stat().st_size > 1000


def test_evaluate_table_without_matplotlib_keeps_the_ece(trained, monkeypatch):
    (trained / "out" / "m.reliability.png").unlink(missing_ok=True)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    plots._pyplot.cache_clear()
    try:
        result = run_table(trained)
    finally:
        plots._pyplot.cache_clear()
    assert result.exit_code == 0, result.output
    text = (trained / "out" / "m.md").read_text(encoding="utf8")
    assert "## Calibration" in text and "reliability diagram skipped" in text
    assert 'pip install "spacy-dice[plots]"' in " ".join(result.output.split())
    assert not (trained / "out" / "m.reliability.png").exists()
    assert (trained / "out" / "m.reliability.json").exists()


def test_evaluate_table_old_invocations(trained):
    """project.yml's call (with --gpu-id) still works; --no-calibration and a call without --model
    write the table alone."""
    result = run_table(trained, "--gpu-id", "-1")
    assert result.exit_code == 0, result.output
    result = run_table(trained, "--no-calibration")
    assert result.exit_code == 0 and "## Calibration" not in (trained / "out" / "m.md").read_text(encoding="utf8")
    result = CliRunner().invoke(app, ["evaluate-table", str(trained / "metrics.json"), "--output",
                                      str(trained / "out" / "plain.md")])
    assert result.exit_code == 0 and "## Calibration" not in (trained / "out" / "plain.md").read_text(encoding="utf8")
    result = CliRunner().invoke(app, ["evaluate-table", str(trained / "metrics.json"), "--output",
                                      str(trained / "out" / "plain.md"), "--compare-model", str(trained / "model-best")])
    assert result.exit_code == 1 and "--compare-model needs --model and --data" in result.output
