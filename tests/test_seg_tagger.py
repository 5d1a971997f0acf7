"""``dice_seg_tagger``: joint word segmentation + POS over characters on ``dice_ner``'s lattice.

The decoder gives a well-formed segmentation on any scores (every non-space character in exactly
one word, whitespace tokens alone, no word across whitespace); the words are written back as
tokens with their POS and confidences; the scorer against hand-counted examples; training on a few
made-up sentences reaches their gold; save / load / train on; the label bias moves the words as it
should; calibrate, debug-data and evaluate-table's confidences handle the component; mixed input;
a fresh process that never imports spacy_dice loads and runs the pipeline.
"""
import json
import math

import numpy
import pytest
import spacy
from spacy.tokens import Doc, Span
from spacy.training import Example
from spacy.util import fix_random_seed
from thinc.api import Adam

from fresh_python import fresh_python
from conftest import train
from seg_synthetic import SENTENCES, XPOS, char_doc, gold_doc, seg_example, seg_examples
from spacy_dice.pipeline.biluo import spans_from_tags
from spacy_dice.pipeline.decoder import decode_log_probs_batch
from spacy_dice.pipeline.marginals import entity_marginals
from spacy_dice.pipeline.seg_tagger_scorer import seg_tagger_score
from synthetic import SMALL_TAGGER_MODEL

FACTORY = "dice_seg_tagger"
MIXED = "iPhone 12 很好  看"


def seg_nlp(**config):
    nlp = spacy.blank("zh")
    nlp.add_pipe(FACTORY, config={"model": SMALL_TAGGER_MODEL, **config})
    return nlp


@pytest.fixture(scope="module")
def trained():
    """A pipeline trained to the gold of :data:`SENTENCES`, and its examples."""
    fix_random_seed(0)
    nlp = seg_nlp()
    examples = [seg_example(nlp, s) for s in SENTENCES]
    train(nlp, examples, 40, seed=None)
    return nlp, examples


def words_of(doc):
    return [(t.text, t.pos_) for t in doc]


def gold_pairs(sentence):
    return [(word, pos) for word, pos in sentence]


# --- the decoder: a well-formed segmentation on any scores ---------------------------------------------
def random_docs(vocab, n_docs, rng):
    """Docs of characters, Latin letters, digits and whitespace tokens, with random trailing spaces."""
    pool = list("我們喜歡看書他在北京工作好") + list("abcXYZ0123") + ["，", "。"]
    docs = []
    for _ in range(n_docs):
        n = int(rng.integers(1, 25))
        words, spaces = [], []
        for _ in range(n):
            if words and not spaces[-1] and rng.random() < 0.12:
                words.append(" " * int(rng.integers(1, 3)) if rng.random() < 0.7 else "\n")
                spaces.append(False)
            else:
                words.append(str(rng.choice(pool)))
                spaces.append(bool(rng.random() < 0.2))
        docs.append(Doc(vocab, words=words, spaces=spaces))
    return docs


def check_segmentation(doc, words):
    """Every non-space token in exactly one word, whitespace tokens in none, no word across
    whitespace (only its last token may be followed by whitespace)."""
    covered = numpy.zeros(len(doc), dtype=int)
    for start, end, _ in words:
        assert 0 <= start < end <= len(doc)
        covered[start:end] += 1
        assert not any(doc[i].is_space for i in range(start, end)), (doc.text, start, end)
        assert not any(doc[i].whitespace_ for i in range(start, end - 1)), (doc.text, start, end)
    for token in doc:
        assert covered[token.i] == (0 if token.is_space else 1), (doc.text, token.i, covered)


def test_decoder_is_well_formed_on_random_scores(trained):
    nlp, _ = trained
    pipe = nlp.get_pipe(FACTORY)
    names = pipe.class_names
    rng = numpy.random.default_rng(0)
    docs = random_docs(nlp.vocab, 300, rng)
    for scale in (0.5, 4.0):
        raw = [rng.normal(0.0, scale, (len(d), len(names))).astype("float32") for d in docs]
        # O the favourite of every character: the decoder must still put each in a word
        for r in raw[::3]:
            r[:, names.index("O")] += 20.0
        for bias in ({}, {"NOUN": 3.0, "VERB": -2.0}):
            pipe.set_decisions(bias)
            for doc, ids in zip(docs, pipe.decode(pipe.log_probs(docs, raw))):
                check_segmentation(doc, spans_from_tags(ids, names))
    pipe.set_decisions({})
    # the model's own scores, then the words written back
    scores = pipe.predict(docs)
    for doc, ids in zip(docs, pipe.decode(scores)):
        check_segmentation(doc, spans_from_tags(ids, names))
    copies = [d.copy() for d in docs]
    pipe.set_annotations(copies, scores)
    for before, after in zip(docs, copies):
        assert after.text == before.text
        for token in after:
            if token.is_space:
                assert token.pos_ == "SPACE"
            else:
                assert token.pos_ in pipe.labels and not any(c.isspace() for c in token.text)
        scores_ = after.spans["words"].attrs["scores"]
        assert len(scores_) == sum(1 for t in after if not t.is_space)
        assert all(0.0 <= v <= 1.0 for v in scores_)


def test_a_single_character_is_one_word_and_its_confidence_the_renormalized_unit_tags(trained):
    nlp, _ = trained
    pipe = nlp.get_pipe(FACTORY)
    names = pipe.class_names
    doc = nlp.make_doc("書")
    lp = pipe.predict([doc])[0]
    units = [i for i, name in enumerate(names) if name.startswith("U-")]
    probs = numpy.exp(lp[0, units] - numpy.logaddexp.reduce(lp[0, units]))
    nlp.get_pipe(FACTORY).set_annotations([doc], [lp])
    assert [t.text for t in doc] == ["書"] and doc[0].pos_ == "NOUN"
    assert doc.spans["words"].attrs["scores"][0] == pytest.approx(probs.max(), rel=1e-9)


# --- words written back ----------------------------------------------------------------------------------
def test_training_lowers_the_loss_and_reaches_the_gold():
    fix_random_seed(0)
    nlp = seg_nlp()
    examples = [seg_example(nlp, s) for s in SENTENCES]
    nlp.initialize(lambda: examples)
    optimizer = Adam(0.01)
    losses = [nlp.update(examples, sgd=optimizer)[FACTORY] for _ in range(40)]
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < 0.05 * losses[0]
    scores = nlp.evaluate(examples)
    assert scores["pos_f"] == 1.0 and scores["seg_f"] == 1.0
    for sentence in SENTENCES:
        text = "".join(word for word, _ in sentence)
        assert words_of(nlp(text)) == gold_pairs(sentence)


def test_words_become_tokens_with_their_pos_and_confidences(trained):
    nlp, _ = trained
    doc = nlp("我們喜歡看書。")
    assert words_of(doc) == [("我們", "PRON"), ("喜歡", "VERB"), ("看", "VERB"), ("書", "NOUN"), ("。", "PUNCT")]
    group = doc.spans["words"]
    assert [(s.start, s.end, s.label_) for s in group] == [(t.i, t.i + 1, t.pos_) for t in doc]
    assert len(group.attrs["scores"]) == len(doc) and all(0.5 < v <= 1.0 for v in group.attrs["scores"])
    assert nlp("").text == "" and len(nlp("")) == 0


def test_xpos_labels_go_to_token_tag():
    fix_random_seed(0)
    nlp = seg_nlp(attr="tag", scores_key=None)
    examples = [seg_example(nlp, s, attr="tag") for s in SENTENCES]
    train(nlp, examples, 40, seed=None)
    doc = nlp("他在北京工作。")
    assert [(t.text, t.tag_) for t in doc] == [("他", "PRP"), ("在", "IN"), ("北京", "NNP"), ("工作", "VV"), ("。", ".")]
    assert all(t.pos_ == "" for t in doc)
    assert "words" not in doc.spans  # scores_key null: no confidences
    assert nlp.evaluate(examples)["pos_f"] == 1.0


def test_mixed_input_latin_digits_and_spaces(trained):
    nlp, _ = trained
    doc = nlp(MIXED)
    assert doc.text == MIXED
    assert [t.text for t in doc if t.is_space] == [" "]  # the second space of "好  看"
    labels = nlp.get_pipe(FACTORY).labels
    for token in doc:
        if token.is_space:
            assert token.pos_ == "SPACE"
        else:
            assert token.pos_ in labels and not any(c.isspace() for c in token.text)
    # no word crosses whitespace: every token lies inside one whitespace-separated chunk
    chunks = set(MIXED.split())
    for token in doc:
        if not token.is_space:
            assert any(token.text in chunk for chunk in chunks)
    assert "".join(t.text_with_ws for t in doc) == MIXED
    assert {"很", "好", "看"} <= {c for t in doc for c in t.text}
    assert doc.has_annotation("POS")


# --- gold ---------------------------------------------------------------------------------------------
def test_gold_masks_what_does_not_align_and_unknown_labels(trained):
    nlp, _ = trained
    pipe = nlp.get_pipe(FACTORY)
    index = {name: i for i, name in enumerate(pipe.class_names)}
    reference = gold_doc(nlp, [("我們", "PRON"), ("喜歡", "VERB"), ("看", "VERB"), ("書", "NOUN"), ("。", "INTJ")])
    predicted = Doc(nlp.vocab, words=["我", "們", "喜", "歡看", "書", "。"], spaces=[False] * 6)
    ids = pipe.gold_ids(Example(predicted, reference), index)
    names = [pipe.class_names[i] if i >= 0 else None for i in ids]
    # 歡看 cuts across 喜歡 | 看: both words masked; INTJ was not seen at initialize
    assert names == ["B-PRON", "L-PRON", None, None, "U-NOUN", None]
    bare = Example(char_doc(nlp, "我們"), char_doc(nlp, "我們"))
    assert pipe.gold_ids(bare, index).tolist() == [-1, -1]


def test_gold_of_the_same_tokens_skips_the_alignment_and_agrees_with_it(trained, monkeypatch):
    """Training docs and predicted docs share their character tokens: the gold words' own
    offsets are used, and they give what spaCy's alignment gives."""
    from spacy_dice.pipeline import seg_tagger

    nlp, _ = trained
    pipe = nlp.get_pipe(FACTORY)
    index = {name: i for i, name in enumerate(pipe.class_names)}
    examples = seg_examples(nlp, 30, seed=3)
    spaced = Doc(nlp.vocab, words=["我", "們", "看"], spaces=[False, True, False])  # same ORTHs, other text
    assert all(seg_tagger.same_tokens(eg) for eg in examples)
    assert not seg_tagger.same_tokens(Example(spaced, char_doc(nlp, "我們看")))
    direct = [pipe.gold_ids(eg, index) for eg in examples]
    monkeypatch.setattr(seg_tagger, "same_tokens", lambda example: False)
    assert all(numpy.array_equal(a, pipe.gold_ids(eg, index)) for a, eg in zip(direct, examples))


def test_refusals():
    nlp = spacy.blank("zh")
    with pytest.raises(ValueError, match="attr='upos' is not allowed; use 'pos'"):
        nlp.add_pipe(FACTORY, config={"attr": "upos"})
    with pytest.raises(ValueError, match="words_key='' is not allowed"):
        nlp.add_pipe(FACTORY, config={"words_key": ""})
    nlp = seg_nlp()
    xpos = [seg_example(nlp, s, attr="tag") for s in SENTENCES]
    with pytest.raises(ValueError, match=r"Universal POS names.*'\.', 'CD', 'IN'.*use attr=\"tag\""):
        nlp.initialize(lambda: xpos)
    unlabelled = seg_example(nlp, SENTENCES[0])
    unlabelled.reference.spans["words"] = [Span(unlabelled.reference, 0, 2)]
    with pytest.raises(ValueError, match="some gold words .* have no label"):
        nlp.initialize(lambda: [unlabelled])
    nlp = seg_nlp(words_key="gold")
    with pytest.raises(ValueError, match=r"no training doc has gold words in doc.spans\['gold'\]"):
        nlp.initialize(lambda: [seg_example(nlp, s) for s in SENTENCES])
    trained_nlp = seg_nlp()
    examples = [seg_example(trained_nlp, s) for s in SENTENCES]
    trained_nlp.initialize(lambda: examples)
    pipe = trained_nlp.get_pipe(FACTORY)
    with pytest.raises(ValueError, match="label_bias names the label 'NN'"):
        pipe.set_decisions({"NN": 1.0})


def test_a_merged_doc_is_not_annotated_again(trained):
    nlp, _ = trained
    pipe = nlp.get_pipe(FACTORY)
    doc = nlp("我們喜歡看書。")  # merged: the characters' scores no longer fit
    with pytest.raises(ValueError, match="doc 0 has 5 tokens but its scores have 7 rows.*cannot be annotated again"):
        pipe.set_annotations([doc], pipe.predict([nlp.make_doc("我們喜歡看書。")]))


# --- the scorer ---------------------------------------------------------------------------------------
def predicted_doc(nlp, words, spaces, pos):
    doc = Doc(nlp.vocab, words=words, spaces=spaces)
    for token, p in zip(doc, pos):
        token.pos_ = p
        token.tag_ = XPOS.get(p, "")
    return doc


def test_scorer_on_hand_counted_examples():
    nlp = spacy.blank("zh")
    # gold 我們/PRON 喜歡/VERB 看/VERB 書/NOUN 。/PUNCT; predicted 我們/PRON 喜歡看/VERB 書/VERB 。/PUNCT
    first = Example(
        predicted_doc(nlp, ["我們", "喜歡看", "書", "。"], [False] * 4, ["PRON", "VERB", "VERB", "PUNCT"]),
        gold_doc(nlp, [("我們", "PRON"), ("喜歡", "VERB"), ("看", "VERB"), ("書", "NOUN"), ("。", "PUNCT")]),
    )
    scores = seg_tagger_score([first])
    # joint: 我們/PRON and 。/PUNCT right of 4 predicted, 5 gold; spans: 我們, 書, 。
    assert (scores["pos_p"], scores["pos_r"]) == (pytest.approx(2 / 4), pytest.approx(2 / 5))
    assert scores["pos_f"] == pytest.approx(2 * 0.5 * 0.4 / 0.9)
    assert (scores["seg_p"], scores["seg_r"]) == (pytest.approx(3 / 4), pytest.approx(3 / 5))
    assert scores["seg_f"] == pytest.approx(2 * 0.75 * 0.6 / 1.35)
    per_type = scores["pos_per_type"]
    assert per_type["PRON"] == per_type["PUNCT"] == {"p": pytest.approx(1.0), "r": pytest.approx(1.0),
                                                     "f": pytest.approx(1.0)}
    assert per_type["VERB"]["p"] == 0.0 and per_type["VERB"]["r"] == 0.0 and per_type["NOUN"]["r"] == 0.0
    # whitespace: a whitespace token is no word; the gold has its characters with the same text
    text_words = list("iPhone") + [" "] + list("很好")
    reference = Doc(nlp.vocab, words=text_words, spaces=[False] * 5 + [True] + [False] * 3)
    reference.spans["words"] = [Span(reference, 0, 6, "PROPN"), Span(reference, 7, 8, "ADV"),
                                Span(reference, 8, 9, "ADJ")]
    second = Example(predicted_doc(nlp, ["iPhone", " ", "很好"], [True, False, False], ["PROPN", "SPACE", "ADJ"]),
                     reference)
    assert second.predicted.text == second.reference.text == "iPhone  很好"
    unannotated = Example(predicted_doc(nlp, ["書"], [False], ["NOUN"]), char_doc(nlp, "書"))
    both = seg_tagger_score([first, second, unannotated])
    # joint: 3 right of 6 predicted, 8 gold; spans: 4 right
    assert both["pos_p"] == pytest.approx(3 / 6) and both["pos_r"] == pytest.approx(3 / 8)
    assert both["pos_f"] == pytest.approx(2 * (3 / 6) * (3 / 8) / (3 / 6 + 3 / 8))
    assert both["seg_p"] == pytest.approx(4 / 6) and both["seg_r"] == pytest.approx(4 / 8)
    assert both["pos_per_type"]["ADJ"] == {"p": 0.0, "r": 0.0, "f": 0.0}
    assert both["pos_per_type"]["PROPN"]["f"] == pytest.approx(1.0)
    # the tag attribute, and no annotated doc at all
    gold_xpos = gold_doc(nlp, [("我們", "PRON"), ("喜歡", "VERB"), ("看", "VERB"), ("書", "NOUN"), ("。", "PUNCT")],
                         attr="tag")
    tagged = seg_tagger_score([Example(first.predicted, gold_xpos)], attr="tag")
    assert tagged["pos_f"] == scores["pos_f"] and tagged["seg_f"] == scores["seg_f"]
    assert set(seg_tagger_score([unannotated]).values()) == {None}
    with pytest.raises(ValueError, match="attr='upos' is not allowed"):
        seg_tagger_score([first], attr="upos")


# --- decisions ----------------------------------------------------------------------------------------
def test_label_bias_moves_the_words_as_expected(trained):
    nlp, _ = trained
    pipe = nlp.get_pipe(FACTORY)
    texts = ["我們喜歡看書。", "他在北京工作。", "電影很好看。", "學生吃蘋果，老師看電影。"]
    docs = [nlp.make_doc(t) for t in texts]
    scores = pipe.predict(docs)
    names = pipe.class_names

    def noun_chars(bias):
        pipe.set_decisions(bias)
        words = [spans_from_tags(ids, names) for ids in pipe.decode(scores)]
        return sum(e - s for doc_words in words for s, e, label in doc_words if label == "NOUN")

    try:
        counts = [noun_chars({"NOUN": b}) for b in (-30.0, -3.0, 0.0, 3.0, 30.0)]
        # the characters in NOUN words never decrease as the NOUN bias grows; the extremes are all or none
        assert counts == sorted(counts)
        assert counts[0] == 0 and counts[-1] == sum(len(t) for t in texts)
        pipe.set_decisions({"NOUN": 30.0})
        copies = [d.copy() for d in docs]
        pipe.set_annotations(copies, scores)
        assert all(t.pos_ == "NOUN" for d in copies for t in d)
        # predict stays decision-free: the same scores decode back to the gold without the bias
        pipe.set_decisions({})
        again = [d.copy() for d in docs]
        pipe.set_annotations(again, scores)
        assert words_of(again[0]) == gold_pairs(SENTENCES[0])
    finally:
        pipe.set_decisions({})


def test_calibrate_debug_data_and_confidences_handle_the_component(trained):
    from spacy_dice.decisions import calibrate
    from spacy_dice.evaluation.confidences import collect_confidences
    from spacy_dice.evaluation.imbalance import component_stats

    nlp, examples = trained
    pipe = nlp.get_pipe(FACTORY)
    calibration = calibrate(nlp, [eg.copy() for eg in examples], folds=2, min_support=1)
    assert [(r.name, r.factory, r.setting, r.score_key) for r in calibration.results] == [
        (FACTORY, FACTORY, "label_bias", "pos_f")]
    result = calibration.results[0]
    assert result.objective == "F1 (micro)"
    assert result.fit.score_before == pytest.approx(1.0)  # the training docs: nothing to gain
    assert pipe.cfg["label_bias"] == {}
    stats, other = component_stats(nlp, examples, examples[:2])
    assert other == [] and len(stats) == 1
    stat = stats[0]
    assert (stat.task, stat.unit) == ("words", "words (doc.spans['words'])")
    assert stat.train_counts["PRON"] == 4 and stat.train_counts["PUNCT"] == 7
    assert stat.positives + stat.negatives == sum(len(eg.reference) for eg in examples)
    collected = collect_confidences(nlp, [eg.copy() for eg in examples])
    assert collected.skipped == {}
    sets = {s.what: s for s in collected.sets}
    assert set(sets) == {"character (BILU-POS tag)", "word"}
    conf, correct = sets["word"].arrays()
    assert len(conf) == sum(len(eg.reference.spans["words"]) for eg in examples) and correct.all()
    assert ((0.0 <= conf) & (conf <= 1.0)).all()
    conf, correct = sets["character (BILU-POS tag)"].arrays()
    assert len(conf) == sum(len(eg.reference) for eg in examples) and correct.all()


def test_calibrate_stores_a_bias_that_pays():
    from spacy_dice.decisions import calibrate

    fix_random_seed(0)
    nlp = seg_nlp()
    train(nlp, [seg_example(nlp, s) for s in SENTENCES], 3, seed=None)  # right, but unsure
    pipe = nlp.get_pipe(FACTORY)
    # dev gold where every word is a NOUN: a NOUN bias pays, and calibrate finds and stores it
    nouns = [seg_example(nlp, [(w, "NOUN") for w, _ in s]) for s in SENTENCES]
    before = nlp.evaluate(nouns)["pos_f"]
    # (calibrate annotates the predicted docs it is given: their characters become words)
    calibration = calibrate(nlp, [eg.copy() for eg in nouns], folds=2, min_support=1, confidence=0.0)
    result = calibration.results[0]
    assert pipe.cfg["label_bias"].get("NOUN", 0.0) > 0
    assert result.config == {"label_bias": pipe.cfg["label_bias"]}
    assert result.fit.score_before == pytest.approx(before)
    assert nlp.evaluate(nouns)["pos_f"] == pytest.approx(result.fit.score_after) and result.fit.score_after > before


def test_evaluate_table_reads_the_scores_and_the_confidences(trained, tmp_path):
    from spacy.tokens import DocBin

    from spacy_dice.evaluation.evaluate_table import evaluate_table
    from spacy_dice.training.runner import headline_scores

    nlp, examples = trained
    nlp.to_disk(tmp_path / "model")
    DocBin(docs=[eg.reference for eg in examples], store_user_data=True).to_disk(tmp_path / "dev.spacy")
    scores = nlp.evaluate(examples)
    table = evaluate_table(scores, model=tmp_path / "model", data=tmp_path / "dev.spacy")
    summary = table.summary
    assert summary.task == "words" and summary.main == ("F1", 1.0)
    assert dict(summary.metrics)["segmentation F1"] == 1.0 and summary.per_label["NOUN"]["f"] == 1.0
    assert summary.support["PUNCT"] == 7
    run = table.runs[0]
    assert set(run.sets) == {f"{FACTORY} (character (BILU-POS tag))", f"{FACTORY} (word)"} and not run.skipped
    flat, per_type = headline_scores(scores)
    assert (flat["p"], flat["r"], flat["f"], flat["seg_f"]) == (1.0, 1.0, 1.0, 1.0) and per_type["VERB"] == 1.0


def test_the_calibrate_command_stores_the_bias_in_the_saved_pipeline(tmp_path):
    from spacy.tokens import DocBin
    from typer.testing import CliRunner

    from spacy_dice.cli import app

    fix_random_seed(0)
    nlp = seg_nlp()
    train(nlp, [seg_example(nlp, s) for s in SENTENCES], 3, seed=None)
    nlp.to_disk(tmp_path / "model")
    nouns = [gold_doc(nlp, [(w, "NOUN") for w, _ in s]) for s in SENTENCES]
    DocBin(docs=nouns, store_user_data=True).to_disk(tmp_path / "dev.spacy")
    run = CliRunner().invoke(app, ["calibrate", str(tmp_path / "model"), str(tmp_path / "dev.spacy"), "--output",
                                   str(tmp_path / "calibrated"), "--folds", "2", "--min-support", "1",
                                   "--confidence", "0"])
    assert run.exit_code == 0, run.output
    calibrated = spacy.load(tmp_path / "calibrated")
    bias = calibrated.get_pipe(FACTORY).cfg["label_bias"]
    assert bias.get("NOUN", 0.0) > 0 and calibrated.config["components"][FACTORY]["label_bias"] == bias
    assert f"{FACTORY} ({FACTORY}, label_bias; F1 (micro)): 18.18 before" in run.output


# --- save, load, train on -----------------------------------------------------------------------------
def test_to_disk_from_disk_and_train_on(trained, tmp_path):
    nlp, examples = trained
    pipe = nlp.get_pipe(FACTORY)
    pipe.set_decisions({"VERB": 0.5})
    try:
        texts = [s for s in ("我們喜歡看書。", MIXED, "", "學生在台北學習。")]
        want = [(words_of(d), [round(float(v), 9) for v in d.spans["words"].attrs["scores"]]) for d in nlp.pipe(texts)]
        nlp.to_disk(tmp_path / "model")
    finally:
        pipe.set_decisions({})
    loaded = spacy.load(tmp_path / "model")
    other = loaded.get_pipe(FACTORY)
    assert (other.cfg["attr"], other.cfg["words_key"], other.cfg["scores_key"]) == ("pos", "words", "words")
    assert other.cfg["label_bias"] == {"VERB": 0.5} and other.labels == pipe.labels
    got = [(words_of(d), [round(float(v), 9) for v in d.spans["words"].attrs["scores"]]) for d in loaded.pipe(texts)]
    assert got == want
    from_bytes = seg_nlp()
    from_bytes.from_bytes(nlp.to_bytes())
    assert words_of(from_bytes("他在北京工作。")) == gold_pairs(SENTENCES[1])
    # train on: the loss is finite, the weights and the step move on
    step = other.cfg["update_step"]
    params = [p.copy() for node in other.model.walk() for p in (node.get_param(n) for n in node.param_names)]
    fresh = [seg_example(loaded, s) for s in SENTENCES]
    losses = loaded.update(fresh, sgd=loaded.resume_training())
    assert math.isfinite(losses[FACTORY]) and other.cfg["update_step"] == step + 1
    new = [p for node in other.model.walk() for p in (node.get_param(n) for n in node.param_names)]
    assert any(not numpy.array_equal(a, b) for a, b in zip(params, new))


def test_marginals_are_those_of_the_constrained_lattice(trained):
    nlp, _ = trained
    pipe = nlp.get_pipe(FACTORY)
    text = "學生吃蘋果"
    lp = pipe.predict([nlp.make_doc(text)])[0]
    names = pipe.class_names
    words = spans_from_tags(decode_log_probs_batch([lp], names)[0], names)
    doc = nlp(text)
    numpy.testing.assert_allclose(doc.spans["words"].attrs["scores"], entity_marginals([lp], [words], names)[0],
                                  rtol=1e-12)
    # under the constrained lattice the words of every split covering character 0 sum to 1 with no O
    first = [(0, e, label) for label in pipe.labels for e in range(1, len(text) + 1)]
    assert entity_marginals([lp], [first], names)[0].sum() == pytest.approx(1.0, abs=1e-9)


# --- a fresh process ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_fresh_process_that_never_imports_spacy_dice_loads_and_segments(tmp_path):
    fix_random_seed(0)
    nlp = seg_nlp()
    train(nlp, seg_examples(nlp, 20), 30, seed=None)
    nlp.to_disk(tmp_path / "model")
    text = "看似簡單，只是二選一做決擇"
    program = (
        "import json, sys, spacy\n"
        "assert 'spacy_dice' not in sys.modules\n"
        f"nlp = spacy.load({str(tmp_path / 'model')!r})\n"
        f"doc = nlp({text!r})\n"
        "print(json.dumps([[t.text, t.pos_] for t in doc]))\n"
    )
    result = fresh_python(["-c", program], check=True, cwd=tmp_path)
    tokens = json.loads(result.stdout.strip().splitlines()[-1])
    assert "".join(t for t, _ in tokens) == text
    assert all(pos in nlp.get_pipe(FACTORY).labels for _, pos in tokens)
    assert [tuple(t) for t in tokens] == words_of(nlp(text))
