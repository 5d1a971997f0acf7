"""The paired bootstrap of the benchmarks (benchmarks/bootstrap.py) and the per-doc counts it
resamples (benchmarks/calibrated_accuracy.py): they must agree with spaCy's own scorers."""
import numpy
import pytest
import spacy
from spacy.scorer import PRFScore

from benchmarks.bootstrap import seed_intervals, doc_draws, label_recall, micro_f1, paired_interval
from conftest import train
from span_synthetic import SMALL_SPANCAT_MODEL, span_examples
from synthetic import SMALL_TAGGER_MODEL, ner_examples

from spacy_dice.corpus._docs import SOURCE_DOC


def trained_spancat(path):
    """A tiny ``dice_spancat`` pipeline trained a few steps on synthetic spans, saved to ``path``."""
    nlp = spacy.blank("en")
    nlp.add_pipe("dice_spancat", name="spancat", config={
        "model": SMALL_SPANCAT_MODEL, "suggester": {"@misc": "spacy.ngram_suggester.v1", "sizes": [1, 2, 3, 4]}})
    train(nlp, span_examples(nlp, 40), steps=3)
    nlp.to_disk(path)
    return nlp


def _random_counts(rng, n_docs=300, n_labels=3, scale=2):
    return rng.poisson(scale, size=(n_docs, n_labels, 3)).astype("int32")


def test_micro_f1_is_spacys_prf_over_summed_counts():
    rng = numpy.random.default_rng(0)
    counts = _random_counts(rng)
    prf = PRFScore(tp=int(counts[..., 0].sum()), fp=int(counts[..., 1].sum()), fn=int(counts[..., 2].sum()))
    assert micro_f1(counts) == pytest.approx(prf.fscore)
    assert micro_f1(numpy.zeros((4, 2, 3))) == 0.0
    assert label_recall(counts, 1) == pytest.approx(counts[:, 1, 0].sum() / counts[:, 1, [0, 2]].sum())


def test_identical_rows_give_a_zero_interval():
    counts = _random_counts(numpy.random.default_rng(1))
    interval = paired_interval([counts], [counts.copy()])
    assert (interval.delta, interval.low, interval.high) == (0.0, 0.0, 0.0)
    assert not interval.beyond_noise


def test_a_row_better_on_many_docs_is_beyond_noise_and_the_sign_flips():
    rng = numpy.random.default_rng(2)
    a = _random_counts(rng)
    b = a.copy()
    fixed = rng.random(len(a)) < 0.3  # on 30% of docs b finds one entity a missed
    b[fixed, 0, 0] += 1
    b[fixed, 0, 2] = numpy.maximum(b[fixed, 0, 2] - 1, 0)
    up = paired_interval([a], [b])
    down = paired_interval([b], [a])
    assert up.delta > 0 and up.low > 0 and up.beyond_noise
    assert down.delta == pytest.approx(-up.delta) and down.high < 0
    assert up.low <= up.delta <= up.high


def test_pairing_makes_the_interval_narrower_than_independent_noise():
    """Two rows that differ on a few docs: the paired interval is far narrower than the spread
    of either row's own F1 under the same resampling."""
    rng = numpy.random.default_rng(3)
    a = _random_counts(rng, n_docs=500)
    b = a.copy()
    b[:20, 1, 1] += 1  # 20 more false positives
    interval = paired_interval([a], [b])
    draws = doc_draws(len(a))
    own = [micro_f1(a[d]) for d in draws]
    assert interval.high - interval.low < 0.25 * (100 * (numpy.percentile(own, 97.5) - numpy.percentile(own, 2.5)))
    assert interval.high < 0


def test_pooled_delta_is_the_mean_over_seeds_and_draws_are_seeded():
    rng = numpy.random.default_rng(4)
    rows = {f"{row}/s{s}": _random_counts(rng) for row in ("x/as_trained", "x/calibrated") for s in (0, 1, 2)}
    out = seed_intervals(rows, "x/as_trained", "x/calibrated", [0, 1, 2], resamples=200)
    assert set(out) == {"seed 0", "seed 1", "seed 2", "pooled"}
    assert out["pooled"].delta == pytest.approx(numpy.mean([out[f"seed {s}"].delta for s in (0, 1, 2)]))
    again = seed_intervals(rows, "x/as_trained", "x/calibrated", [0, 1, 2], resamples=200)
    assert str(again["pooled"]) == str(out["pooled"])


def test_bad_inputs_are_refused():
    a = numpy.zeros((5, 2, 3))
    with pytest.raises(ValueError, match="same number of seeds"):
        paired_interval([a], [a, a])
    with pytest.raises(ValueError, match="n_docs=5"):
        paired_interval([a], [numpy.zeros((4, 2, 3))])
    with pytest.raises(ValueError, match="at least one test doc"):
        doc_draws(0)


@pytest.mark.parametrize("what", ["spans", "ents"])
def test_per_doc_counts_sum_to_spacys_scores(what):
    """What the bootstrap resamples adds up to spaCy's own P / R / F1 of the same pipeline."""
    from benchmarks.calibrated_accuracy import model_labels, summarize, test_counts

    nlp = spacy.blank("en")
    if what == "spans":
        nlp.add_pipe("dice_spancat", name="spancat", config={
            "model": SMALL_SPANCAT_MODEL, "suggester": {"@misc": "spacy.ngram_suggester.v1", "sizes": [1, 2, 3, 4]}})
        examples, test = span_examples(nlp, 40), span_examples(nlp, 30, seed=5)
        name, prefix = "spancat", "spans_sc"
    else:
        nlp.add_pipe("dice_ner", name="ner", config={"model": SMALL_TAGGER_MODEL})
        examples, test = ner_examples(nlp, 40), ner_examples(nlp, 30, seed=5)
        name, prefix = "ner", "ents"
    train(nlp, examples, steps=3)  # half-trained: some right, some wrong, some missed
    labels = model_labels(nlp, name, test, what)
    counts = test_counts(nlp, test, what, labels)
    ours = summarize(counts, labels)
    scores = nlp.evaluate(test)
    assert counts[..., 0].sum() > 0 and counts[..., 1:].sum() > 0
    assert ours["f"] == pytest.approx(scores[f"{prefix}_f"])
    assert ours["p"] == pytest.approx(scores[f"{prefix}_p"])
    assert ours["r"] == pytest.approx(scores[f"{prefix}_r"])
    for label, prf in scores[f"{prefix}_per_type"].items():
        assert ours["per_type"][label]["f"] == pytest.approx(prf["f"])


@pytest.mark.slow  # spaCy's find_threshold reloads the pipeline 11 times
def test_find_global_threshold_chooses_what_spacys_find_threshold_chooses(tmp_path):
    """The benchmark's one-prediction version of ``spacy find-threshold`` agrees with spaCy's own
    function (which reloads the pipeline for every value)."""
    from spacy.cli.find_threshold import find_threshold
    from spacy.tokens import DocBin

    from benchmarks.calibrated_accuracy import find_global_threshold

    nlp = trained_spancat(tmp_path / "model")
    DocBin(docs=[eg.reference for eg in span_examples(nlp, 30, seed=7)]).to_disk(tmp_path / "dev.spacy")
    theirs, their_f, _ = find_threshold(str(tmp_path / "model"), tmp_path / "dev.spacy", "spancat",
                                        "threshold", "spans_sc_f", n_trials=11, silent=True)
    ours = find_global_threshold(nlp, tmp_path / "dev.spacy", "spancat", 11)
    assert ours["threshold"] == pytest.approx(theirs)
    assert ours["dev_f"] == pytest.approx(their_f)
    assert theirs not in (0.5,), "a case where the search moves the threshold"
    assert nlp.get_pipe("spancat").cfg["threshold"] == 0.5


def test_recall_rules_are_compared_with_the_model_as_trained_and_calibrated_for_f1():
    from benchmarks.calibrated_accuracy import comparisons

    records = [
        {"name": "ce", "seed": 0, "rules": {"as_trained": {}, "calibrated": {}, "recall_at_current": {}}},
        {"name": "dsc", "seed": 0, "rules": {"as_trained": {}, "calibrated": {}, "recall_at_current": {}}},
    ]
    pairs = comparisons(records, reference="ce")
    assert ("ce/as_trained", "ce/recall_at_current") in pairs
    assert ("ce/calibrated", "ce/recall_at_current") in pairs
    assert ("ce/calibrated", "dsc/calibrated") in pairs
    assert ("ce/recall_at_current", "dsc/recall_at_current") not in pairs  # losses compare on F1 rules


@pytest.mark.slow  # fits every decision rule on 3 outer folds
def test_rules_are_scored_on_dev_docs_they_were_not_fitted_on(tmp_path):
    """benchmarks/calibration_rules.py: every dev doc is counted once, by the rules fitted on the
    other outer folds; with nothing fitted the pooled held-out counts are the whole dev set's."""
    from spacy.tokens import DocBin

    from benchmarks.calibrated_accuracy import model_labels, test_counts
    from benchmarks.calibration_rules import EVERY_UNIT, held_out_counts, pair_rule, parse_pairs

    assert parse_pairs("0.95:0, 0.99:0.5:holm,0.95:0:holm:source,0.95:0:holm:source:10,0.95:0:holm:doc:loo") == [
        (0.95, 0.0, "none", "doc", 5), (0.99, 0.5, "holm", "doc", 5), (0.95, 0.0, "holm", "source", 5),
        (0.95, 0.0, "holm", "source", 10), (0.95, 0.0, "holm", "doc", EVERY_UNIT)]
    assert [pair_rule(*pair) for pair in parse_pairs("0.95:0:holm:source,0.95:0:holm:source:10,0.95:0:none:doc:loo")] \
        == ["calibrate@0.95/global@0/holm/source", "calibrate@0.95/global@0/holm/source/folds@10",
            "calibrate@0.95/global@0/folds@loo"]
    for bad in ("0.95", "0.95:1", "a:b", "0.95:0:bonferroni", "0.95:0:holm:x", "0.95:0:holm:doc:1",
                "0.95:0:holm:doc:all", "0.95:0:holm:doc:5:5"):
        with pytest.raises(ValueError, match="--pairs"):
            parse_pairs(bad)

    nlp = trained_spancat(tmp_path / "model")
    dev = span_examples(nlp, 30, seed=7)
    DocBin(docs=[eg.reference for eg in dev]).to_disk(tmp_path / "dev.spacy")
    found = held_out_counts(tmp_path / "model", "uner_spans", tmp_path / "dev.spacy", folds=3, trials=11,
                            pairs=parse_pairs("0.95:0,0.95:0:holm"))
    assert set(found["counts"]) == {"as_trained", "find_threshold", "global_only", "calibrate@0", "calibrate@0.95",
                                    "calibrate@0.95/global@0", "calibrate@0.95/global@0/holm"}
    assert len(found["chosen"]["calibrate@0.95/global@0"]) == 3
    # --extend: the rules already counted are kept as saved, the others fitted as before
    saved = {"calibrate@0": (found["counts"]["calibrate@0"] + 1, found["chosen"]["calibrate@0"])}
    extended = held_out_counts(tmp_path / "model", "uner_spans", tmp_path / "dev.spacy", folds=3, trials=11,
                               pairs=parse_pairs("0.95:0:holm"), saved=saved)
    assert list(extended["counts"])[0] == "calibrate@0"
    assert (extended["counts"]["calibrate@0"] == found["counts"]["calibrate@0"] + 1).all()
    for rule in ("as_trained", "calibrate@0.95", "calibrate@0.95/global@0/holm"):
        assert (extended["counts"][rule] == found["counts"][rule]).all(), rule
    assert found["n_docs"] == 30 and found["labels"] == model_labels(nlp, "spancat", dev, "spans")
    whole = test_counts(nlp, dev, "spans", found["labels"])
    assert (found["counts"]["as_trained"] == whole).all()
    assert len(found["chosen"]["find_threshold"]) == 3  # one choice per outer fold
    gold = whole[..., 0] + whole[..., 2]
    for counts in found["counts"].values():  # every rule sees every gold span once
        assert ((counts[..., 0] + counts[..., 2]) == gold).all()
    assert found["outer_unit"] == "doc" and found["n_units"] == 30
    # dev docs that name their source documents (3 sentences each): the outer folds take whole sources,
    # and a study counted on other folds cannot be extended
    for i, eg in enumerate(dev):
        eg.reference.user_data[SOURCE_DOC] = f"source-{i // 3}"
    DocBin(docs=[eg.reference for eg in dev], store_user_data=True).to_disk(tmp_path / "dev_sources.spacy")
    by_source = held_out_counts(tmp_path / "model", "uner_spans", tmp_path / "dev_sources.spacy", folds=3,
                                trials=11, confidences=[0.95], pairs=parse_pairs("0.95:0:holm:source,0.95:0:holm:source:loo"))
    assert by_source["outer_unit"] == "source" and by_source["n_units"] == 10
    for rule in ("calibrate@0.95/global@0/holm/source", "calibrate@0.95/global@0/holm/source/folds@loo"):
        assert ((by_source["counts"][rule][..., 0] + by_source["counts"][rule][..., 2]) == gold).all(), rule
        assert len(by_source["chosen"][rule]) == 3
    assert (by_source["counts"]["as_trained"] == whole).all()
    with pytest.raises(ValueError, match="--extend"):
        held_out_counts(tmp_path / "model", "uner_spans", tmp_path / "dev_sources.spacy", folds=3, trials=11,
                        confidences=[0.95], saved=saved, saved_unit="doc")


def test_resampling_whole_source_documents():
    """``units``: a resample draws whole source documents. One doc per unit is the doc-level
    bootstrap; a test set whose every document is three copies of one sentence holds a third of
    the evidence it seems to, and its interval by source is the one of the single sentences."""
    from benchmarks.bootstrap import by_unit

    rng = numpy.random.RandomState(0)
    a, b = _random_counts(rng, n_docs=100), _random_counts(rng, n_docs=100)
    counts = {"x/as_trained/s0": numpy.repeat(a, 3, axis=0), "x/calibrated/s0": numpy.repeat(b, 3, axis=0)}
    units = numpy.repeat(numpy.arange(100), 3)
    assert (by_unit(counts["x/as_trained/s0"], units) == 3 * a).all()
    by_doc = seed_intervals(counts, "x/as_trained", "x/calibrated", [0])["pooled"]
    by_source = seed_intervals(counts, "x/as_trained", "x/calibrated", [0], units=units)["pooled"]
    alone = seed_intervals(counts, "x/as_trained", "x/calibrated", [0], units=numpy.arange(300))["pooled"]
    assert (alone.low, alone.high) == (by_doc.low, by_doc.high)
    single = paired_interval([3 * a], [3 * b])
    assert (by_source.low, by_source.high) == (single.low, single.high)
    assert by_source.high - by_source.low > 1.4 * (by_doc.high - by_doc.low)


def test_text_class_counts_give_spacys_positive_class_f1(tmp_path):
    """MRPC's score: per doc counts of the positive class add up to spaCy's ``cats_score`` with
    ``positive_label`` set (the F1 of that class), and the summed counts of both classes to its
    per-class P / R / F1."""
    from benchmarks.calibrated_accuracy import cats_counts, positive_class_model, summarize
    from synthetic import SMALL_TEXTCAT_MODEL, textcat_examples

    nlp = spacy.blank("en")
    nlp.add_pipe("dice_textcat", name="textcat",
                 config={"model": SMALL_TEXTCAT_MODEL, "positive_label": "POS"})
    examples, test = textcat_examples(nlp, 40), textcat_examples(nlp, 60, seed=5)
    train(nlp, examples, steps=10)  # half-trained: some right, some wrong, some missed
    scores = nlp.evaluate(test)
    counts = cats_counts(nlp, test, ["POS"])
    assert counts[..., 0].sum() > 0 and counts[..., 1:].sum() > 0
    assert counts.sum(axis=(1, 2)).max() <= 1  # a doc is one decision of the positive class
    assert summarize(counts, ["POS"])["f"] == pytest.approx(scores["cats_score"])
    both = summarize(cats_counts(nlp, test, ["NEG", "POS"]), ["NEG", "POS"])
    for label in ("NEG", "POS"):
        for key in ("p", "r", "f"):
            assert both["per_type"][label][key] == pytest.approx(scores["cats_f_per_type"][label][key])
    # calibrate tunes for the reported class: a model trained without positive_label gets a copy with it
    nlp.get_pipe("textcat").cfg["positive_label"] = None
    nlp.to_disk(tmp_path / "model-best")
    copy = positive_class_model(nlp, "textcat", "POS", tmp_path / "model-best")
    assert copy == tmp_path / "decisions" / "model-best-POS"
    assert nlp.get_pipe("textcat").cfg["positive_label"] is None  # the model in memory is left as it was
    reloaded = spacy.load(copy)
    assert reloaded.get_pipe("textcat").cfg["positive_label"] == "POS"
    assert reloaded.evaluate(test)["cats_score"] == pytest.approx(scores["cats_score"])
    assert positive_class_model(reloaded, "textcat", "POS", copy) == copy  # nothing to copy


def test_count_sets_counts_per_doc_and_raises_or_skips_a_label_outside():
    from types import SimpleNamespace

    from benchmarks.calibrated_accuracy import count_sets

    class Pipe:
        def pipe(self, docs, batch_size):
            return list(docs)

    examples = [SimpleNamespace(predicted=SimpleNamespace(copy=lambda: f"doc {i}"), reference=i) for i in range(3)]
    sets = {0: ({("A", 1), ("B", 2), ("C", 3)}, {("A", 1), ("B", 9)}), 1: None, 2: (set(), {("A", 4)})}
    counts = count_sets(Pipe(), examples, ["A", "B"], lambda doc, reference: sets[reference], outside="skip")
    assert counts.tolist() == [[[1, 0, 0], [0, 1, 1]], [[0, 0, 0], [0, 0, 0]], [[0, 0, 1], [0, 0, 0]]]
    with pytest.raises(ValueError, match="label 'C' of doc 0 is not among the counted labels"):
        count_sets(Pipe(), examples, ["A", "B"], lambda doc, reference: sets[reference])


def test_calibration_rules_of_score_run_in_order_with_their_folders_and_options():
    from benchmarks.calibrated_accuracy import RULE_BEFORE, calibration_rules

    rules = calibration_rules(["current", "0.5"])
    assert [(rule, folder) for rule, folder, _, _ in rules] == [
        ("calibrated", "model-calibrated"), ("calibrated_rule_before", "model-calibrated-rule-before"),
        ("recall_at_current", "model-recall_at_current"), ("recall_at_0.5", "model-recall_at_0.5")]
    assert rules[0][2:] == ({}, {}) and rules[1][2:] == (RULE_BEFORE, RULE_BEFORE)
    assert rules[3][2:] == ({"metric": "recall", "min_precision": "0.5"}, {"min_precision": "0.5"})
    assert [rule for rule, *_ in calibration_rules(calibrated_only=True)] == ["calibrated"]


def test_global_gain_folds_parses_fold_counts_and_summarises_the_seeds():
    from benchmarks.calibration_rules import EVERY_UNIT
    from benchmarks.global_gain_folds import parse_folds, summary

    assert parse_folds("5, 10,loo") == [5, 10, EVERY_UNIT]
    for bad in ("1", "five", "", "5,-2", "2.5"):
        with pytest.raises(ValueError, match="--folds"):
            parse_folds(bad)
    entries = [{"folds": 5, "gain": g, "adopted": g > 0, "value": v} for g, v in ((-0.5, 0.2), (0.25, 0.2), (1.0, 0.15))]
    assert summary(entries) == {"folds": 5, "fold_seeds": 3, "mean_gain": 0.25, "min_gain": -0.5, "max_gain": 1.0,
                                "adopted": 2, "values": [0.15, 0.2]}


@pytest.mark.slow  # trains a model and fits calibrate five times
def test_global_gain_folds_refits_calibrate_per_fold_seed_and_leaves_one_source_out(tmp_path):
    """benchmarks/global_gain_folds.py: each entry is what ``calibrate`` decides with those folds;
    ``loo`` is one fold per source document and runs once."""
    from spacy.tokens import DocBin

    from benchmarks.calibration_rules import EVERY_UNIT
    from benchmarks.global_gain_folds import global_decisions
    from spacy_dice.decisions import calibrate, read_dev

    nlp = trained_spancat(tmp_path / "model")
    dev = span_examples(nlp, 30, seed=7)
    for i, eg in enumerate(dev):
        eg.reference.user_data[SOURCE_DOC] = f"source-{i // 3}"
    DocBin(docs=[eg.reference for eg in dev], store_user_data=True).to_disk(tmp_path / "dev.spacy")
    found = global_decisions(tmp_path / "model", tmp_path / "dev.spacy", [3, EVERY_UNIT], fold_seeds=2)
    assert set(found) == {"spancat"}
    by_setting = found["spancat"]
    assert [e["seed"] for e in by_setting["3"]] == [0, 1] and [e["folds"] for e in by_setting["3"]] == [3, 3]
    assert [(e["seed"], e["folds"]) for e in by_setting["loo"]] == [(0, 10)]  # 10 source documents
    for setting, k in (("3", 3), ("loo", 10)):
        for entry in by_setting[setting]:
            fit = calibrate(spacy.load(tmp_path / "model"), read_dev(nlp, tmp_path / "dev.spacy"), folds=k,
                            seed=entry["seed"]).results[0].fit
            assert entry["gain"] == round(100 * fit.global_gain.value, 2)
            assert entry["adopted"] == (fit.global_value is not None) == (fit.global_gain.value > 0)


def test_the_rules_tables_name_each_calibrate_rule_with_its_flags():
    from benchmarks.calibration_rules import EVERY_UNIT, pair_rule
    from benchmarks.make_tables import held_out_rule

    flags = "`calibrate --confidence 0.95 --global-confidence 0"
    assert held_out_rule(pair_rule(0.95, 0.0)) == f"{flags} --correction none --unit doc`"
    assert held_out_rule(pair_rule(0.95, 0.0, "holm", "source")) == f"{flags} --correction holm --unit source`"
    assert held_out_rule(pair_rule(0.95, 0.0, "holm", "source", 10)) == \
        f"{flags} --correction holm --unit source --folds 10`"
    assert held_out_rule(pair_rule(0.95, 0.0, "holm", "source", EVERY_UNIT)) == \
        f"{flags} --correction holm --unit source`, one fold per source document"
    assert held_out_rule(pair_rule(0.95, 0.0, folds=EVERY_UNIT)) == \
        f"{flags} --correction none --unit doc`, one fold per dev doc"
    assert held_out_rule("calibrate@0") == "`calibrate --confidence 0 --unit doc` (one bar)"
    assert held_out_rule("find_threshold") == "spaCy `find-threshold`"
