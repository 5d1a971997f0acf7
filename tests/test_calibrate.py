"""``python -m spacy_dice calibrate``: the search (global first, departures earned on held-out
folds), every decision setting path, the atomic save, the bad inputs, and a fresh-process reload."""
import json
from pathlib import Path

import numpy
import pytest
import spacy
from spacy.tokens import DocBin, Span
from spacy.training import Example
from spacy.util import fix_random_seed
from thinc.api import Adam
from typer.testing import CliRunner

from fresh_python import fresh_python
from span_synthetic import (
    KEY,
    SMALL_SINGLELABEL_MODEL,
    SMALL_SPAN_FINDER_MODEL,
    SMALL_SPANCAT_MODEL,
    SPACY_SPANCAT_MODEL,
    span_examples,
)
from synthetic import (
    SMALL_TAGGER_MODEL,
    SMALL_TEXTCAT_MODEL,
    ner_examples,
    tagger_examples,
    textcat_examples,
)
from spacy_dice.decisions import (
    CURRENT,
    CalibrationError,
    Objective,
    calibrate,
    fit_problem,
    make_folds,
    parse_min_precision,
    read_dev,
)
from spacy_dice.decisions.search import fit_global
from spacy_dice.decisions.targets import Candidates, threshold_problem
from spacy_dice.decisions.write import check_output, write_pipeline
from spacy_dice.cli import app

runner = CliRunner()


def _text(result):
    """The command's output on one line (wasabi wraps long messages)."""
    return " ".join(result.output.split())
NGRAMS = {"@misc": "spacy.ngram_suggester.v1", "sizes": [1, 2, 3, 4]}
PRESET = {"@misc": "spacy.preset_spans_suggester.v1", "spans_key": KEY}


# --- the search ----------------------------------------------------------------------------------
def test_folds_are_seeded_disjoint_and_cover_every_doc():
    folds = make_folds(23, 5, seed=1)
    assert len(folds) == 5 and sorted(numpy.concatenate(folds).tolist()) == list(range(23))
    assert {len(f) for f in folds} <= {4, 5}
    again = make_folds(23, 5, seed=1)
    assert all((a == b).all() for a, b in zip(folds, again))
    assert any((a != b).any() for a, b in zip(folds, make_folds(23, 5, seed=2)) if len(a) == len(b))


def _candidates(rng, spec, n_docs=200):
    """Independent synthetic decisions: per label (positives per doc, positive score mean,
    negative score mean); every doc has 3 negatives per label."""
    docs, probs, gold, total = [], [], [], numpy.zeros((n_docs, len(spec)), dtype="int64")
    for d in range(n_docs):
        for i, (rate, pos_mean, neg_mean) in enumerate(spec):
            n_pos = int(rng.random() < rate)
            total[d, i] = n_pos
            for is_pos, count, mean in ((True, n_pos, pos_mean), (False, 3, neg_mean)):
                for _ in range(count):
                    row = numpy.full(len(spec), 0.0)
                    row[i] = numpy.clip(rng.normal(mean, 0.08), 0.001, 0.999)
                    g = numpy.zeros(len(spec), dtype=bool)
                    g[i] = is_pos
                    docs.append(d), probs.append(row), gold.append(g)
    return Candidates(numpy.asarray(docs), numpy.asarray(probs), numpy.asarray(gold), total,
                      numpy.ones(n_docs, dtype=bool))


def _exclusive_problem(seed, n_docs=150, n_labels=3, lean=0.8):
    """Coupled decisions (an exclusive classifier's label biases): each doc is one item, decided by
    the argmax of its log-probabilities plus the biases; label 0 is favoured by ``lean``."""
    from spacy_dice.decisions import BIAS_GRID, Problem

    rng = numpy.random.RandomState(seed)
    gold = rng.randint(n_labels, size=n_docs)
    logits = rng.normal(0.0, 1.0, (n_docs, n_labels))
    logits[numpy.arange(n_docs), gold] += 1.0
    logits[:, 0] += lean

    def count_fn(values):
        guess = numpy.argmax(logits + numpy.asarray(values), axis=1)
        out = numpy.zeros((n_docs, n_labels, 3), dtype="int64")
        right = guess == gold
        out[numpy.flatnonzero(right), guess[right], 0] += 1
        out[numpy.flatnonzero(~right), guess[~right], 1] += 1
        out[numpy.flatnonzero(~right), gold[~right], 2] += 1
        return out

    return Problem([f"L{i}" for i in range(n_labels)], BIAS_GRID, [0.0] * n_labels, neutral=0.0,
                   support=numpy.bincount(gold, minlength=n_labels), n_docs=n_docs, count_fn=count_fn)


def test_global_first_then_departures_that_earn_it_and_have_support():
    rng = numpy.random.RandomState(0)
    # A and B: many positives, scored low (best threshold ~0.2); C: scored high, best ~0.6 but
    # rare (support < min_support) -> stays global; D: like A -> no gain in departing
    spec = [(0.5, 0.3, 0.08), (0.5, 0.3, 0.08), (0.04, 0.75, 0.45), (0.5, 0.3, 0.08)]
    cands = _candidates(rng, spec)
    labels = ["A", "B", "C", "D"]
    problem = threshold_problem(cands, labels, [0.5] * 4, numpy.round(numpy.arange(1, 100) / 100, 2))
    fit = fit_problem(problem, Objective(), folds=5, seed=0, min_support=20)
    assert fit.global_value is not None and fit.global_value < 0.3
    assert fit.support[2] < 20 and not fit.departed[2]
    assert "min_support" in fit.reasons[2]
    assert fit.after_values[2] == fit.global_value
    assert fit.score_after > fit.score_before and fit.score_cv_chosen > fit.score_before
    # with min_support 0 the rare label C may depart only when its cross-fitted gain is > 0
    free = fit_problem(problem, Objective(), folds=5, seed=0, min_support=0)
    assert free.departed[2] == (free.gains[2] > 0)
    for i, label in enumerate(labels):
        assert free.reasons[i].startswith("own value") == free.departed[i]


def test_the_current_setting_stays_when_nothing_beats_it_on_held_out_folds():
    rng = numpy.random.RandomState(1)
    cands = _candidates(rng, [(0.5, 0.9, 0.1)], n_docs=60)  # separable: 0.5 is already perfect
    problem = threshold_problem(cands, ["A"], [0.5], numpy.round(numpy.arange(1, 100) / 100, 2))
    fit = fit_problem(problem, Objective(), folds=5)
    assert fit.global_value is None and fit.after_values == (0.5,)
    assert any("does not beat the current setting" in note for note in fit.notes)


def test_one_dev_doc_cannot_be_cross_fitted_so_nothing_changes():
    rng = numpy.random.RandomState(3)
    cands = _candidates(rng, [(1.0, 0.3, 0.1)], n_docs=1)
    problem = threshold_problem(cands, ["A"], [0.5], numpy.round(numpy.arange(1, 100) / 100, 2))
    fit = fit_problem(problem, Objective(), folds=5)
    assert fit.folds == 0 and fit.after_values == (0.5,) and fit.global_value is None
    assert "too few" in fit.reasons[0] and any("kept" in note for note in fit.notes)


def test_recall_with_min_precision_keeps_the_precision():
    rng = numpy.random.RandomState(2)
    cands = _candidates(rng, [(0.5, 0.45, 0.3)])
    problem = threshold_problem(cands, ["A"], [0.5], numpy.round(numpy.arange(1, 100) / 100, 2))
    objective = Objective("recall", min_precision=0.8)
    value = fit_global(problem, objective)
    tp, fp, fn = problem.totals((value,))[0]
    assert tp / (tp + fp) >= 0.8
    lower = round(value - 0.01, 2)
    tp2, fp2, _ = problem.totals((lower,))[0]
    assert tp2 / (tp2 + fp2) < 0.8 or tp2 == tp  # one step lower breaks the constraint (or gains nothing)


def test_min_precision_current_keeps_the_current_precision():
    rng = numpy.random.RandomState(4)
    # A: negatives scored above its positives (a lower threshold adds positives and precision);
    # B: positives and negatives overlap (a lower threshold costs B precision)
    cands = _candidates(rng, [(0.6, 0.42, 0.6), (0.6, 0.5, 0.45)])
    problem = threshold_problem(cands, ["A", "B"], [0.5, 0.5], numpy.round(numpy.arange(1, 100) / 100, 2))
    before = problem.totals(problem.current)
    objective = Objective("recall", min_precision=CURRENT)
    resolved = objective.resolve(before)
    precision = [tp / (tp + fp) for tp, fp, _ in before]
    micro_tp, micro_fp, micro_fn = before.sum(axis=0)
    assert resolved.label_floors == pytest.approx(tuple(precision))
    assert resolved.min_precision == pytest.approx(micro_tp / (micro_tp + micro_fp))
    assert "current precision" in objective.describe() and "micro >=" in resolved.describe()
    assert Objective("recall", 0.5).resolve(before) == Objective("recall", 0.5)  # numbers stay
    with pytest.raises(ValueError, match="resolve"):
        objective.score(before)

    fit = fit_problem(problem, objective, folds=5, min_support=5)
    assert fit.objective.label_floors == resolved.label_floors
    tp, fp, fn = fit.after.sum(axis=0)
    assert tp / (tp + fp) >= resolved.min_precision and tp > micro_tp  # micro: precision kept, recall up
    assert fit.after_values[0] < 0.5 and fit.after[0][0] > before[0][0]  # A buys recall
    assert fit.departed[1] and fit.after_values[1] == 0.5  # B's own floor holds it where it was
    for i in range(2):
        if fit.departed[i]:
            assert fit.after[i][0] / fit.after[i][:2].sum() + 1e-12 >= precision[i]

    # a fit on part of dev keeps the current precision of that part (the floors of its own docs)
    docs = numpy.arange(problem.n_docs // 3)
    part = problem.totals(problem.current, docs)
    value = fit_global(problem, objective, docs)
    tp, fp, _ = problem.totals((value, value), docs).sum(axis=0)
    assert tp / (tp + fp) + 1e-12 >= part[:, 0].sum() / part[:, :2].sum()
    assert objective.resolve(part) != resolved  # its floors differ from all of dev's


# The choices of the rule before issue 25 (commit 9c30c12, no bootstrap, no find-threshold
# candidate) on the synthetic problems of this file: (global value, values after, departed).
RULE_BEFORE = {
    'gfirst/f1/0': [0.21, [0.24, 0.21, 0.66, 0.22], [1, 0, 1, 1]],
    'gfirst/f1/20': [0.21, [0.22, 0.21, 0.21, 0.19], [1, 0, 0, 1]],
    'gfirst/rec08/0': [0.63, [0.23, 0.23, 0.63, 0.22], [1, 1, 0, 1]],
    'gfirst/rec08/20': [0.63, [0.23, 0.23, 0.63, 0.22], [1, 1, 0, 1]],
    'gfirst/reccur/0': [0.09, [0.36, 0.09, 0.5, 0.09], [1, 0, 1, 0]],
    'gfirst/reccur/20': [0.09, [0.36, 0.09, 0.09, 0.09], [1, 0, 0, 0]],
    'separable/f1/0': [None, [0.5], [0]],
    'separable/f1/20': [None, [0.5], [0]],
    'separable/rec08/0': [None, [0.5], [0]],
    'separable/rec08/20': [None, [0.5], [0]],
    'separable/reccur/0': [None, [0.5], [0]],
    'separable/reccur/20': [None, [0.5], [0]],
    'recall/f1/0': [0.4, [0.4], [0]],
    'recall/f1/20': [0.4, [0.4], [0]],
    'recall/rec08/0': [None, [0.5], [0]],
    'recall/rec08/20': [None, [0.5], [0]],
    'recall/reccur/0': [None, [0.5], [0]],
    'recall/reccur/20': [None, [0.5], [0]],
    'current/f1/0': [0.18, [0.18, 0.43], [0, 1]],
    'current/f1/20': [0.18, [0.18, 0.43], [0, 1]],
    'current/rec08/0': [None, [0.5, 0.5], [0, 0]],
    'current/rec08/20': [None, [0.5, 0.5], [0, 0]],
    'current/reccur/0': [0.18, [0.18, 0.5], [0, 1]],
    'current/reccur/20': [0.18, [0.18, 0.5], [0, 1]],
    'exclusive0/f1': [None, [-1.5, 0.0, 0.0], [1, 0, 0]],
    'exclusive0/macro': [None, [-1.5, 0.0, 0.0], [1, 0, 0]],
    'exclusive1/f1': [None, [-0.5, 0.0, 0.5], [1, 0, 1]],
    'exclusive1/macro': [None, [-0.5, 0.0, 0.5], [1, 0, 1]],
    'exclusive2/f1': [None, [0.0, 0.0, 0.0], [0, 0, 0]],
    'exclusive2/macro': [None, [0.0, 0.0, 0.0], [0, 0, 0]],
    'choice0': [1, 0.39, True],
    'choice1': [1, 0.37, True],
}
RULE_BEFORE_SPECS = {
    "gfirst": (0, [(0.5, 0.3, 0.08), (0.5, 0.3, 0.08), (0.04, 0.75, 0.45), (0.5, 0.3, 0.08)], 200),
    "separable": (1, [(0.5, 0.9, 0.1)], 60),
    "recall": (2, [(0.5, 0.45, 0.3)], 200),
    "current": (4, [(0.6, 0.42, 0.6), (0.6, 0.5, 0.45)], 200),
}


def test_confidence_0_reproduces_the_choices_of_the_rule_before():
    """``confidence=0``: any positive cross-fitted gain is adopted, as before the bootstrap rule,
    and the held-out counts kept per doc sum to the same totals: the same choices on every
    synthetic problem (independent thresholds, coupled biases, a joint choice)."""
    from spacy_dice.decisions.search import fit_choice

    objectives = {"f1": Objective(), "rec08": Objective("recall", 0.8), "reccur": Objective("recall", CURRENT)}
    grid = numpy.round(numpy.arange(1, 100) / 100, 2)
    got = {}
    for name, (seed, spec, n_docs) in RULE_BEFORE_SPECS.items():
        cands = _candidates(numpy.random.RandomState(seed), spec, n_docs=n_docs)
        problem = threshold_problem(cands, [chr(65 + i) for i in range(len(spec))], [0.5] * len(spec), grid)
        for key, objective in objectives.items():
            for min_support in (0, 20):  # one problem: its counts are cached by value
                fit = fit_problem(problem, objective, folds=5, seed=0, min_support=min_support, confidence=0)
                got[f"{name}/{key}/{min_support}"] = [fit.global_value, list(fit.after_values),
                                                      [int(d) for d in fit.departed]]
                assert (fit.cv_chosen_docs.sum(axis=0) == fit.cv_chosen).all()
                assert (fit.cv_global_docs.sum(axis=0) == fit.cv_global).all()
                assert len(fit.global_candidates) == 1  # no find-threshold candidate unless asked
    for seed in (0, 1, 2):
        for key, objective in (("f1", Objective()), ("macro", Objective("macro_f1"))):
            fit = fit_problem(_exclusive_problem(seed), objective, folds=5, seed=0, min_support=5, confidence=0)
            got[f"exclusive{seed}/{key}"] = [fit.global_value, list(fit.after_values), [int(d) for d in fit.departed]]
    for seed in (0, 1):
        base = _candidates(numpy.random.RandomState(seed), [(0.5, 0.35, 0.2), (0.5, 0.4, 0.2)], n_docs=120)
        options = []
        for shift in (0.0, 0.15, -0.05):
            probs = numpy.clip(numpy.where(base.is_gold, base.probs + shift, base.probs - 0.02), 0, 1)
            cands = Candidates(base.doc, probs, base.is_gold, base.total, base.annotated)
            options.append(threshold_problem(cands, ["A", "B"], [0.5, 0.5], grid))
        choice = fit_choice(options, Objective(), current=0, folds=5, seed=0, confidence=0)
        got[f"choice{seed}"] = [choice.option, choice.value, choice.adopted]
    assert got == RULE_BEFORE


@pytest.mark.parametrize("value, expected", [("current", CURRENT), (" Current ", CURRENT), ("0.7", 0.7), (0.25, 0.25)])
def test_min_precision_values(value, expected):
    assert parse_min_precision(value) == expected


@pytest.mark.parametrize("value", ["1.5", "-0.1", "high", "nan"])
def test_min_precision_refuses_what_is_not_a_precision(value):
    with pytest.raises(CalibrationError, match=r"min_precision=.*use a number in \[0, 1\], or 'current'"):
        parse_min_precision(value)


# --- the atomic save -----------------------------------------------------------------------------
class HalfWriter:
    """Writes one file of a pipeline, then fails (an error, or Ctrl-C)."""

    def __init__(self, error):
        self.error = error

    def to_disk(self, path):
        Path(path, "meta.json").write_text("{}")
        raise self.error


@pytest.mark.parametrize("error", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_an_error_mid_write_leaves_no_output_folder(tmp_path, error):
    out = tmp_path / "model-calibrated"
    with pytest.raises(type(error)):
        write_pipeline(HalfWriter(error), out, {})
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary folder either


def test_an_error_mid_write_keeps_the_existing_output(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old").write_text("old")
    with pytest.raises(RuntimeError):
        write_pipeline(HalfWriter(RuntimeError("x")), out, {}, overwrite=True)
    assert (out / "old").read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out"]


def test_the_written_pipeline_folder_is_readable_by_everyone(tmp_path):
    class Writer:
        def to_disk(self, path):
            Path(path, "meta.json").write_text("{}")
            Path(path, "config.cfg").write_text("[components]\n")

    out = write_pipeline(Writer(), tmp_path / "model-calibrated", {})
    assert out.stat().st_mode & 0o777 == 0o755  # not mkdtemp's owner-only 0o700


def test_overwrite_rules(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    with pytest.raises(CalibrationError, match="model folder itself"):
        check_output(model, model, overwrite=False)
    check_output(model, model, overwrite=True)
    out = tmp_path / "out"
    check_output(model, out, overwrite=False)
    out.mkdir()
    with pytest.raises(CalibrationError, match="overwrite=True"):
        check_output(model, out, overwrite=False)
    check_output(model, out, overwrite=True)


# --- pipelines -------------------------------------------------------------------------------------
def _train(nlp, examples, steps, annotates=()):
    fix_random_seed(0)
    nlp.initialize(lambda: examples)
    optimizer = Adam(0.01)
    for _ in range(steps):
        nlp.update(examples, sgd=optimizer, annotates=list(annotates))
    return nlp


def _save(nlp, examples, path):
    nlp.to_disk(path / "model")
    DocBin(docs=[eg.reference for eg in examples]).to_disk(path / "dev.spacy")
    return path / "model", path / "dev.spacy"


def spancat_nlp(factory="dice_spancat", model=SMALL_SPANCAT_MODEL, steps=4):
    nlp = spacy.blank("en")
    nlp.add_pipe(factory, name="spancat", config={"model": model, "suggester": NGRAMS})
    multilabel = factory != "dice_spancat_singlelabel"
    return _train(nlp, span_examples(nlp, 40, multilabel=multilabel), steps), multilabel


@pytest.fixture(scope="module")
def dice_spancat_model(tmp_path_factory):
    nlp, _ = spancat_nlp()
    return _save(nlp, span_examples(nlp, 60, seed=3), tmp_path_factory.mktemp("spancat"))


def _spans(nlp, texts):
    return [sorted((s.start, s.end, s.label_) for s in doc.spans[KEY]) for doc in nlp.pipe(texts)]


TEXTS = ["the Acme Corp in Paris was Alice", "Bob of Lima and Eve", "a the of", "Globex Corp in Oslo"]


@pytest.mark.slow
def test_cli_calibrates_dice_spancat_per_label_and_a_fresh_process_reloads_it(dice_spancat_model, tmp_path):
    model, dev = dice_spancat_model
    out = tmp_path / "calibrated"
    result = runner.invoke(app, ["calibrate", str(model), str(dev), "--output", str(out), "--min-support", "5"])
    assert result.exit_code == 0, result.output
    assert "cross-fitted" in result.output and "support" in result.output
    report = json.loads((tmp_path / "calibrated-calibration.json").read_text())
    assert (tmp_path / "calibrated-calibration.md").exists()
    comp = report["components"][0]
    assert comp["factory"] == "dice_spancat" and comp["setting"] == "thresholds"
    assert comp["summary"]["score_after_in_sample"] > comp["summary"]["score_before"]
    # the rule: a one-sided 95% bound per change, spaCy's find-threshold grid a global candidate
    assert report["options"]["confidence"] == 0.95
    assert comp["summary"]["global"]["rule"].startswith("adopted (")
    assert len(comp["summary"]["global"]["candidates"]) == 2
    assert all(len(row["gain_interval_95"]) == 2 and isinstance(row["flags"], list) for row in comp["labels"])
    stored = comp["config"]
    # config.cfg and the component's cfg agree
    config = spacy.util.load_config(out / "config.cfg")
    block = config["components"]["spancat"]
    assert block["threshold"] == stored["threshold"] != 0.5
    assert dict(block.get("thresholds") or {}) == stored["thresholds"]
    cfg = json.loads((out / "spancat" / "cfg").read_text())
    assert cfg["threshold"] == stored["threshold"] and cfg["thresholds"] == stored["thresholds"]
    for row in comp["labels"]:
        expected = stored["thresholds"].get(row["label"], stored["threshold"])
        assert row["after"] == pytest.approx(expected)
        assert row["departed"] == (row["label"] in stored["thresholds"])
    # a fresh process that never imports spacy_dice gives the calibrated spans
    program = (
        "import json, spacy\n"
        f"nlp = spacy.load({str(out)!r})\n"
        f"print(json.dumps([sorted([s.start, s.end, s.label_] for s in d.spans['sc']) for d in nlp.pipe({TEXTS!r})]))\n"
    )
    proc = fresh_python(["-c", program], check=True, cwd=tmp_path)
    fresh = json.loads(proc.stdout.strip().splitlines()[-1])
    assert fresh == [[list(s) for s in doc] for doc in _spans(spacy.load(out), TEXTS)]
    before = _spans(spacy.load(model), TEXTS)
    assert fresh != [[list(s) for s in doc] for doc in before]  # lower thresholds: more spans
    # the model itself is untouched; writing over an existing output needs --overwrite
    assert spacy.load(model).get_pipe("spancat").cfg["threshold"] == 0.5
    again = runner.invoke(app, ["calibrate", str(model), str(dev), "--output", str(out)])
    assert again.exit_code == 1 and "--overwrite" in _text(again)
    over_model = runner.invoke(app, ["calibrate", str(model), str(dev), "--output", str(model)])
    assert over_model.exit_code == 1 and "model folder itself" in _text(over_model)


@pytest.mark.slow
def test_spacy_spancat_is_calibrated_with_one_global_threshold(tmp_path):
    nlp, _ = spancat_nlp("spancat", SPACY_SPANCAT_MODEL)
    model, dev = _save(nlp, span_examples(nlp, 60, seed=3), tmp_path)
    out = tmp_path / "out"
    result = runner.invoke(app, ["calibrate", str(model), str(dev), "-o", str(out), "--report", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    comp = json.loads((tmp_path / "r.json").read_text())["components"][0]
    assert set(comp["config"]) == {"threshold"}
    assert len({row["after"] for row in comp["labels"]}) == 1
    assert all("global only" in row["rule"] for row in comp["labels"])
    block = spacy.util.load_config(out / "config.cfg")["components"]["spancat"]
    assert block["threshold"] == comp["config"]["threshold"] and "thresholds" not in block
    assert spacy.load(out).get_pipe("spancat").cfg["threshold"] == comp["config"]["threshold"]


def _calibrate(nlp, dev_examples, tmp_path, **kwargs):
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "dev.spacy"
    DocBin(docs=[eg.reference for eg in dev_examples]).to_disk(path)
    return calibrate(nlp, read_dev(nlp, path), min_support=5, **kwargs)


@pytest.mark.slow
@pytest.mark.parametrize("factory", ["dice_ner", "dice_textcat", "dice_tagger", "dice_spancat_singlelabel"])
def test_label_bias_components(factory, tmp_path):
    nlp = spacy.blank("en")
    if factory == "dice_ner":
        nlp.add_pipe(factory, config={"model": SMALL_TAGGER_MODEL})
        make = ner_examples
    elif factory == "dice_textcat":
        nlp.add_pipe(factory, config={"model": SMALL_TEXTCAT_MODEL, "positive_label": "POS"})
        make = textcat_examples
    elif factory == "dice_tagger":
        nlp.add_pipe(factory, config={"model": SMALL_TAGGER_MODEL})
        make = lambda n, k, seed=0: tagger_examples(n, "tag", k, seed=seed)  # noqa: E731
    else:
        nlp.add_pipe(factory, config={"model": SMALL_SINGLELABEL_MODEL, "suggester": NGRAMS})
        make = lambda n, k, seed=0: span_examples(n, k, seed=seed, multilabel=False)  # noqa: E731
    _train(nlp, make(nlp, 40), 3)
    calibration = _calibrate(nlp, make(nlp, 40, seed=3), tmp_path)
    (result,) = calibration.results
    assert result.setting == "label_bias" and result.fit is not None
    fit = result.fit
    assert fit.score_after >= fit.score_before
    pipe = nlp.get_pipe(factory)
    assert pipe.cfg["label_bias"] == result.config.get("label_bias", {})
    assert all(v != 0 for v in pipe.cfg["label_bias"].values())
    # the saved pipeline holds the bias in config.cfg and in the component's cfg
    changes = {result.name: result.config} if result.config else {}
    out = write_pipeline(nlp, tmp_path / "out", changes)
    loaded = spacy.load(out)
    assert loaded.get_pipe(factory).cfg["label_bias"] == pipe.cfg["label_bias"]
    block = loaded.config["components"][factory]
    assert dict(block["label_bias"]) == pipe.cfg["label_bias"]

    # recall at the current precision, on the coupled decisions of the decoders too
    (recall,) = _calibrate(nlp, make(nlp, 40, seed=3), tmp_path / "recall", metric="recall",
                           min_precision="current").results
    assert recall.objective.startswith("recall with each label's current precision kept (micro >=")
    assert recall.fit.score_after >= recall.fit.score_before  # the current setting is feasible


@pytest.mark.slow
def test_span_finder_is_tuned_for_the_spancat_after_it(tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("dice_span_finder", name="span_finder", config={"model": SMALL_SPAN_FINDER_MODEL, "max_length": 4})
    nlp.add_pipe("dice_spancat", name="spancat", config={"model": SMALL_SPANCAT_MODEL, "suggester": PRESET})
    _train(nlp, span_examples(nlp, 40), 6, annotates=["span_finder"])
    calibration = _calibrate(nlp, span_examples(nlp, 60, seed=3), tmp_path)
    finder, spancat = calibration.results
    assert finder.name == "span_finder" and finder.choice is not None
    rows = finder.finder_rows
    assert rows[0]["current"] and len(rows) > 5
    # a lower finder threshold proposes at least as many candidates, with at least the recall
    by_value = sorted((r["finder_threshold"], r["candidates"], r["candidate_recall"]) for r in rows[1:])
    assert all(a[1] >= b[1] and a[2] >= b[2] for a, b in zip(by_value, by_value[1:]))
    assert spancat.name == "spancat" and any("span finder" in n for n in spancat.notes)
    if finder.config:
        assert nlp.get_pipe("span_finder").cfg["threshold"] == finder.config["threshold"]

    finder, spancat = _calibrate(nlp, span_examples(nlp, 60, seed=3), tmp_path / "recall", metric="recall",
                                 min_precision="current").results
    assert finder.objective.startswith("recall with each label's current precision kept (micro >=")
    assert finder.objective.endswith("of spancat")
    assert not finder.choice.adopted or finder.choice.score_cv > finder.choice.score_before


# --- bad input -----------------------------------------------------------------------------------
@pytest.mark.slow
def test_bad_inputs_name_the_problem(dice_spancat_model, tmp_path):
    model, dev = dice_spancat_model
    empty = tmp_path / "empty.spacy"
    DocBin().to_disk(empty)
    result = runner.invoke(app, ["calibrate", str(model), str(empty), "-o", str(tmp_path / "o1")])
    assert result.exit_code == 1 and "holds no docs" in _text(result)
    assert not (tmp_path / "o1").exists()

    nlp = spacy.blank("en")
    no_gold = tmp_path / "no_gold.spacy"
    DocBin(docs=[nlp.make_doc("Alice met Bob in Paris")] * 3).to_disk(no_gold)
    result = runner.invoke(app, ["calibrate", str(model), str(no_gold), "-o", str(tmp_path / "o2")])
    assert result.exit_code == 1 and "[spancat]" in _text(result)
    assert "doc.spans['sc']" in _text(result)

    plain = spacy.blank("en")
    plain.add_pipe("sentencizer")
    plain.to_disk(tmp_path / "plain")
    result = runner.invoke(app, ["calibrate", str(tmp_path / "plain"), str(dev), "-o", str(tmp_path / "o3")])
    assert result.exit_code == 1
    assert "nothing to calibrate" in _text(result) and "sentencizer" in _text(result)

    # a dev label the model does not know: reported and ignored
    docs = []
    for eg in span_examples(nlp, 30, seed=5):
        doc = eg.reference
        doc.spans[KEY] = list(doc.spans[KEY]) + [Span(doc, 0, 1, label="XYZ")]
        docs.append(doc)
    odd = tmp_path / "odd.spacy"
    DocBin(docs=docs).to_disk(odd)
    result = runner.invoke(app, ["calibrate", str(model), str(odd), "-o", str(tmp_path / "o4")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "o4-calibration.json").read_text())
    assert report["components"][0]["unknown_labels"] == {"XYZ": 30}
    assert "XYZ" in result.output

    result = runner.invoke(app, ["calibrate", str(model), str(dev), "-o", str(tmp_path / "o5"),
                                 "--metric", "recall", "--min-precision", "most"])
    assert result.exit_code == 1 and "--min-precision 'most'" in _text(result)
    assert not (tmp_path / "o5").exists()


@pytest.mark.slow
def test_overwrite_replaces_the_model_in_place(tmp_path):
    nlp, _ = spancat_nlp()
    model, dev = _save(nlp, span_examples(nlp, 60, seed=3), tmp_path)
    result = runner.invoke(app, ["calibrate", str(model), str(dev), "-o", str(model), "--overwrite"])
    assert result.exit_code == 0, result.output
    assert spacy.load(model).get_pipe("spancat").cfg["threshold"] != 0.5
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@pytest.mark.slow
def test_recall_at_min_precision_through_the_pipeline(dice_spancat_model):
    model, dev = dice_spancat_model
    nlp = spacy.load(model)
    calibration = calibrate(nlp, read_dev(nlp, dev), metric="recall", min_precision=0.9, min_support=5)
    (result,) = calibration.results
    assert result.objective == "recall with precision >= 0.9"
    fit = result.fit
    tp, fp, fn = fit.after.sum(axis=0)
    assert tp / max(tp + fp, 1) >= 0.9 or fit.after_values == fit.before_values
    assert tp / (tp + fn) >= fit.before.sum(axis=0)[0] / (tp + fn)  # recall does not drop
    for i, departed in enumerate(fit.departed):
        if departed:  # a label with its own value keeps the precision on dev
            ltp, lfp, _ = fit.after[i]
            assert ltp / max(ltp + lfp, 1) >= 0.9


@pytest.mark.slow
def test_recall_at_the_current_precision_through_the_cli(dice_spancat_model, tmp_path):
    model, dev = dice_spancat_model
    out = tmp_path / "recall"
    result = runner.invoke(app, ["calibrate", str(model), str(dev), "-o", str(out),
                                 "--metric", "recall", "--min-precision", "current", "--min-support", "5"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "recall-calibration.json").read_text())
    assert report["options"]["min_precision"] == "current"
    (component,) = report["components"]
    assert component["objective"].startswith("recall with each label's current precision kept (micro >=")
    for row in component["labels"]:
        assert row["r_after"] >= row["r_before"] - 1e-9, row
        if row["departed"]:
            assert row["p_after"] >= row["p_before"] - 1e-9, row
    assert "precision >= current" in (tmp_path / "recall-calibration.md").read_text()


def test_the_project_step_is_a_no_op_when_calibrate_is_false(tmp_path):
    result = runner.invoke(app, [
        "project-calibrate", "--enabled", "false", "--model", str(tmp_path / "missing"),
        "--dev", "dev.spacy", "--test", "test.spacy", "--output", str(tmp_path / "out"),
        "--metrics", str(tmp_path / "m"),
    ])
    assert result.exit_code == 0 and "nothing to do" in _text(result)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_dice_ner_docs_that_no_bias_can_change_are_counted_once_and_right():
    from spacy_dice.decisions.calibration import _decoded_entities, _fixed_docs
    from spacy_dice.decisions.search import BIAS_GRID
    from spacy_dice.decisions.targets import annotation_problem, span_gold

    nlp = spacy.blank("en")
    nlp.add_pipe("dice_ner", config={"model": SMALL_TAGGER_MODEL})
    _train(nlp, ner_examples(nlp, 40), 6)
    pipe = nlp.get_pipe("dice_ner")
    examples = ner_examples(nlp, 40, seed=3)
    examples += [Example.from_dict(nlp.make_doc("the of and to in"), {"entities": ["O"] * 5})]
    docs = [eg.predicted for eg in examples]
    scores = pipe.predict(docs)
    labels = list(pipe.labels)
    gold = span_gold(examples, labels, "ents")
    fixed = _fixed_docs(pipe, scores, "ents_f", float(max(BIAS_GRID)))
    assert fixed is not None and fixed.any() and not fixed.all()

    def problem(skip, items=None):
        return annotation_problem(
            labels=labels, grid=BIAS_GRID, current=[0.0] * len(labels), neutral=0.0, docs=docs,
            gold=gold, apply=pipe.set_decisions, what="ents", fixed=skip, items=items,
            annotate=lambda copies, rows: pipe.set_annotations(
                copies, scores if rows is None else [scores[i] for i in rows.tolist()]),
        )

    # the shortcuts (fixed docs counted once; entities read from the decoder without writing
    # doc.ents) count exactly what set_annotations on copies of the docs gives
    full = problem(None)
    fast = problem(fixed, _decoded_entities(pipe, scores))
    for values in [(0.0,) * len(labels), (4.0,) * len(labels), (-2.0, 3.0, 1.0)[: len(labels)]]:
        assert (fast.counts(values) == full.counts(values)).all()
        assert full.counts(values)[:, :, 0].sum() > 0


@pytest.mark.slow
def test_spacy_textcat_multilabel_and_a_lone_span_finder_get_one_threshold(tmp_path):
    nlp = spacy.blank("en")
    model = dict(SMALL_TEXTCAT_MODEL, exclusive_classes=False)
    nlp.add_pipe("textcat_multilabel", config={"model": model})
    _train(nlp, textcat_examples(nlp, 40), 3)
    (result,) = _calibrate(nlp, textcat_examples(nlp, 40, seed=3), tmp_path).results
    assert result.setting == "threshold" and result.score_key == "cats_micro_f"
    assert any("macro AUC" in note for note in result.notes)
    if result.config:
        assert set(result.config) == {"threshold"}
        assert nlp.get_pipe("textcat_multilabel").cfg["threshold"] == result.config["threshold"]

    finder = spacy.blank("en")
    finder.add_pipe("dice_span_finder", name="span_finder",
                    config={"model": SMALL_SPAN_FINDER_MODEL, "max_length": 4})
    _train(finder, span_examples(finder, 40), 3)
    (result,) = _calibrate(finder, span_examples(finder, 40, seed=3), tmp_path / "f").results
    assert result.fit is not None and result.fit.labels == ["start+end"]
    if result.config:
        pipe = finder.get_pipe("span_finder")
        assert pipe.cfg["threshold"] == result.config["threshold"] and pipe.cfg["thresholds"] == {}


@pytest.mark.slow
def test_a_component_whose_score_has_weight_0_is_left_alone(tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("dice_ner", config={"model": SMALL_TAGGER_MODEL})
    _train(nlp, ner_examples(nlp, 20), 1)
    nlp._config["training"]["score_weights"]["ents_f"] = 0.0
    assert nlp.config["training"]["score_weights"]["ents_f"] == 0.0
    with pytest.raises(CalibrationError, match="ents_f has weight 0"):
        _calibrate(nlp, ner_examples(nlp, 20, seed=3), tmp_path)
