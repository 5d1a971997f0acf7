"""The Chinese benchmark harness (issue 23): the tasks ``ud_zh``, ``ud_zh_xpos`` and ``uner_zh`` of
benchmarks/run_accuracy.py (their rows, configs and scored keys), the ``words`` counts of
benchmarks/calibrated_accuracy.py (per doc and POS, as the seg tagger's scorer counts them), the
speed script benchmarks/seg_speed.py and the UD1.4 part of benchmarks/gpu_check.py.

Every Chinese text is made up (tests/seg_synthetic.py); the one slow test runs the harness end to
end on made-up files in the upstream layout (tests/test_project_zh.py's ``fake_data_dir``).
"""
from __future__ import annotations

import json

import numpy
import pytest
import spacy
from spacy.training import Example

from benchmark_scripts import load_benchmark_script
from seg_synthetic import SENTENCES, random_sentences
from spacy_dice.corpus.chars import char_doc
from spacy_dice.pipeline.seg_tagger_scorer import bilu_tag_words_score, seg_tagger_score
from spacy_dice.training.config_rewrites import BILU_TAG_WORDS_SCORER
from synthetic import SMALL_TAGGER_MODEL

run_accuracy = load_benchmark_script("run_accuracy")
ZH_TASKS = ("ud_zh", "ud_zh_xpos", "uner_zh")


# --- run_accuracy: the task definitions ----------------------------------------------------------
def test_zh_tasks_use_the_project_data_sets_and_configs():
    expected = {"ud_zh": ("configs/seg_tagger_cnn.cfg", "seg_tagger", "words", "pos"),
                "ud_zh_xpos": ("configs/seg_tagger_cnn.cfg", "seg_tagger", "words", "tag"),
                "uner_zh": ("configs/ner_zh_cnn.cfg", "ner", "ner", None)}
    for task, (config, component, kind, attr) in expected.items():
        spec = run_accuracy.TASKS[task]
        assert (spec["config"], spec["component"], spec["kind"], spec["dataset"]) == (config, component, kind, task)
        assert spec["chars"] and (run_accuracy.ROOT / config).is_file()
        built = run_accuracy.task_config(task)
        assert built["components"][component].get("attr") == attr
        assert built["nlp"]["lang"] == "zh"


def test_zh_rows_are_the_papers_four_ce_then_dsc_and_spacy():
    for task in ZH_TASKS:
        assert run_accuracy.task_rows(task) == ["ce", "focal", "dl", "dsc", "ce_then_dsc", "spacy"]
        # any other softmax preset can still be asked for
        assert {"wce", "tversky", "combined", "logdice"} <= set(run_accuracy.allowed_rows(task))
    # the other tasks keep their rows
    assert run_accuracy.task_rows("uner") == run_accuracy.ALL_ROWS == run_accuracy.allowed_rows("uner")
    assert run_accuracy.task_rows("uner_spans") == run_accuracy.SPAN_ROWS


@pytest.mark.parametrize("task", ["ud_zh", "ud_zh_xpos"])
def test_seg_rows_swap_the_loss_or_the_component(task):
    losses = {"ce": "spacy-dice.CrossEntropy.v1", "focal": "spacy-dice.FocalLoss.v1",
              "dl": "spacy-dice.DiceLoss.v1", "dsc": "spacy-dice.DiceLoss.v1",
              "ce_then_dsc": "spacy-dice.ScheduledCombinedLoss.v1"}
    base = run_accuracy.task_config(task)
    for row, registered in losses.items():
        section = run_accuracy.row_config(task, row, {})["components"]["seg_tagger"]
        assert (section["factory"], section["loss"]["@losses"]) == ("dice_seg_tagger", registered)
        assert section["attr"] == base["components"]["seg_tagger"]["attr"]
    config = run_accuracy.row_config(task, "spacy", {})
    section = config["components"]["seg_tagger"]
    # spaCy's tagger on the BILU-POS tags, the same tok2vec listener, scored by the joint F1
    assert section["factory"] == "tagger" and "loss" not in section
    assert section["scorer"] == {"@scorers": BILU_TAG_WORDS_SCORER, "words_key": "words"}
    assert section["model"]["tok2vec"] == base["components"]["seg_tagger"]["model"]["tok2vec"]
    assert config["components"]["tok2vec"] == base["components"]["tok2vec"]
    assert config["training"]["score_weights"]["pos_f"] == 1.0


def test_uner_zh_spacy_row_is_spacys_ner_on_the_same_tok2vec():
    base = run_accuracy.task_config("uner_zh")
    config = run_accuracy.row_config("uner_zh", "spacy", {})
    assert config["components"]["ner"]["factory"] == "ner"
    assert config["components"]["ner"]["model"]["tok2vec"] == base["components"]["ner"]["model"]["tok2vec"]
    assert run_accuracy.row_config("uner_zh", "dsc", {})["components"]["ner"]["factory"] == "dice_ner"


def test_a_limit_is_only_for_the_project_data_set_tasks(tmp_path):
    with pytest.raises(ValueError, match="only the tasks of a project data set"):
        run_accuracy.prepare_data("uner", tmp_path, tmp_path, 0, limit=10)


def _words_record(name, f, seg_f, per_type):
    return {"name": name, "seed": 0, "best_step": 10, "last_step": 20, "loss": None,
            "scores": {"p": f, "r": f, "f": f, "seg_f": seg_f, "pos_f": f},
            "dev_scores": {"f": f - 0.01}, "per_type": per_type,
            "train_words_per_s": 1000.0, "predict_words_per_s": 5000.0, "rerun": "python ..."}


def test_words_table_reports_joint_and_segmentation_f1():
    runs = [_words_record("ce", 0.9, 0.95, {"NOUN": 0.9, "SYM": 0.0, "X": 0.5, "VERB": 0.8}),
            _words_record("ce", 0.8, 0.9, {"NOUN": 0.8}) | {"seed": 1}]
    meta = {"note": "n", "command": "c", "machine": "m", "max_steps": 20, "eval_frequency": 10,
            "patience": 0, "predict_batch_size": 1000}
    text = run_accuracy.markdown("ud_zh", runs, meta)
    assert "| row | seed | dev F1 | P | R | F1 | seg F1 | macro F1 (POS) | lowest per-POS F1 |" in text
    assert "| ce | 0 | 89.00 | 90.00 | 90.00 | 90.00 | 95.00 | 55.00 | SYM 0.00, X 50.00, VERB 80.00 |" in text
    assert "Speeds in characters/s" in text and "train chars/s" in text
    assert "test joint F1" in text  # the seed summary
    assert run_accuracy._main_score("words", runs[0]["scores"]) == 0.9


# --- calibrated_accuracy: what is scored, and the words counts ---------------------------------
def test_scored_component_of_the_zh_tasks():
    from benchmarks.calibrated_accuracy import scored_component

    assert scored_component("ud_zh") == ("seg_tagger", "words")
    assert scored_component("ud_zh_xpos") == ("seg_tagger", "words")
    assert scored_component("uner_zh") == ("ner", "ents")
    assert scored_component("uner_spans") == ("spancat", "spans")


def _char_docs(nlp, sentences):
    """Reference docs as ``convert conllu --chars`` writes them: spans and BILU-POS tags."""
    return [char_doc(nlp.vocab, [w for w, _ in s], labels=[p for _, p in s]) for s in sentences]


def _initialized(factory_config):
    nlp = spacy.blank("zh")
    nlp.add_pipe(factory_config.pop("factory"), name="seg_tagger", config=factory_config)
    sentences = list(SENTENCES) + random_sentences(14, seed=1)
    examples = [Example(nlp.make_doc(d.text), d) for d in _char_docs(nlp, sentences)]
    nlp.initialize(lambda: examples)
    return nlp, examples


@pytest.mark.parametrize("factory_config, score", [
    ({"factory": "dice_seg_tagger", "model": SMALL_TAGGER_MODEL}, seg_tagger_score),
    ({"factory": "tagger", "model": SMALL_TAGGER_MODEL,
      "scorer": {"@scorers": BILU_TAG_WORDS_SCORER}}, bilu_tag_words_score),
], ids=["dice_seg_tagger", "spacy_tagger"])
def test_word_counts_add_up_to_the_scorers_pos_f(factory_config, score):
    """Per doc and POS, the counts of an (untrained, so often wrong) pipeline sum to its scorer's
    pos_p / pos_r / pos_f and per-POS scores; spaCy's tagger's BILU labels count by their POS."""
    from benchmarks.calibrated_accuracy import model_labels, summarize, test_counts

    nlp, examples = _initialized(dict(factory_config))
    labels = model_labels(nlp, "seg_tagger", examples, "words")
    assert labels == sorted({s.label_ for eg in examples for s in eg.reference.spans["words"]})
    counts = test_counts(nlp, examples, "words", labels)
    assert counts.shape == (len(examples), len(labels), 3)
    predicted = [Example(doc, eg.reference)
                 for doc, eg in zip(nlp.pipe(eg.predicted.copy() for eg in examples), examples)]
    expected = score(predicted)
    found = summarize(counts, labels)
    assert (found["p"], found["r"], found["f"]) == pytest.approx(
        (expected["pos_p"], expected["pos_r"], expected["pos_f"]))
    for label, prf in expected["pos_per_type"].items():
        assert found["per_type"][label]["f"] == pytest.approx(prf["f"])


def test_word_counts_by_hand(tmp_path):
    """One doc, gold 我們|喜歡|書 (PRON VERB NOUN); predicted 我們 PRON, 喜 VERB, 歡書 NOUN."""
    from benchmarks.calibrated_accuracy import train_counts, word_counts

    nlp = spacy.blank("zh")
    nlp.add_pipe("tagger", name="seg_tagger", config={"model": SMALL_TAGGER_MODEL,
                                                      "scorer": {"@scorers": BILU_TAG_WORDS_SCORER}})
    gold = char_doc(nlp.vocab, ["我們", "喜歡", "書"], labels=["PRON", "VERB", "NOUN"])
    tags = ["B-PRON", "L-PRON", "U-VERB", "B-NOUN", "L-NOUN"]
    nlp.initialize(lambda: [Example(nlp.make_doc(gold.text), gold)])

    def fixed(doc):
        for token, tag in zip(doc, tags):
            token.tag_ = tag
        return doc

    nlp.get_pipe("seg_tagger").pipe = lambda docs, **kwargs: (fixed(doc) for doc in docs)
    counts = word_counts(nlp, [Example(nlp.make_doc(gold.text), gold)], ["NOUN", "PRON", "VERB"])
    # tp / fp / fn per label: NOUN 0/1/1, PRON 1/0/0, VERB 0/1/1
    assert counts[0].tolist() == [[0, 1, 1], [1, 0, 0], [0, 1, 1]]

    from spacy.tokens import DocBin

    path = tmp_path / "train.spacy"
    DocBin(docs=[gold, gold]).to_disk(path)
    assert train_counts(path, "words") == {"PRON": 2, "VERB": 2, "NOUN": 2}


# --- seg_speed and gpu_check ------------------------------------------------------------------
def test_seg_speed_script_tables_and_trained_models(tmp_path):
    load_benchmark_script("run_speed")
    make_tables = load_benchmark_script("make_tables")
    seg_speed = load_benchmark_script("seg_speed")
    assert seg_speed.SEG_TASKS == ["ud_zh", "ud_zh_xpos"]
    (tmp_path / "ce-s0-n20" / "model-best").mkdir(parents=True)
    assert seg_speed.trained_model(tmp_path, "ce", 0) == tmp_path / "ce-s0-n20" / "model-best"
    with pytest.raises(FileNotFoundError, match="spacy-s0-"):
        seg_speed.trained_model(tmp_path, "spacy", 0)
    result = {"best": 10000.0, "median": 9000.0, "best_words_per_s": 6000.0}
    report = {"machine": "m", "command": "c", "rounds": 3, "batch_size": 1000,
              "predict": {"data": "ud_zh test", "characters": 100, "words": 60, "models": "untrained",
                          "results": {"dice_seg_tagger (attr=pos)": {**result, "ratio_to_spacy": 0.8},
                                      "spacy tagger (BILU-POS tags)": {**result, "ratio_to_spacy": 1.0}}},
              "train": {"data": "d", "clock": "cpu", "start_step": 0,
                        "results": {"ce": {**result, "ratio_to_ce": 1.0}, "dsc": {**result, "ratio_to_ce": 0.97},
                                    "spacy": {**result, "ratio_to_ce": 1.01}}}}
    text = seg_speed.seg_speed_markdown(report)
    assert "| dice_seg_tagger (attr=pos) | 10,000 | 9,000 | 6,000 | 0.80 |" in text
    assert "| dsc | 10,000 | 9,000 | 6,000 | 0.970 |" in text and "| spaCy tagger |" in text
    (tmp_path / "seg_speed.json").write_text(json.dumps(report))
    assert make_tables.seg_speed_table(tmp_path) == text + "\n"  # the docs' block is the script's table


def test_gpu_check_knows_the_ud_zh_row():
    from benchmarks import gpu_check

    assert gpu_check.PARTS == ("tiny_bert", "minilm", "ud_zh")
    assert set(gpu_check.ZH_BATCH_WORDS) == set(gpu_check.ZH_BACKBONES) == {"cnn", "trf"}
    assert gpu_check.ZH_BERT_SIZES["base"]["hidden_size"] == 768  # bert-base-chinese's sizes
    table = gpu_check.zh_table([
        {"backbone": "cnn", "loss": "ce", "ok": True, "steps": 10, "train_chars_per_s": 5000.0,
         "predict_chars_per_s": 9000.0, "dev_pos_f": 0.5, "pos_p": 0.4, "pos_r": 0.6, "pos_f": 0.48,
         "seg_f": 0.7, "transformer": None},
        {"backbone": "trf", "loss": "dsc", "ok": False, "error": "AssertionError: numpy"}])
    assert "| cnn | ce | 10 | 5,000 | 9,000 | 0.5000 | 0.4000 | 0.6000 | 0.4800 | 0.7000 |" in table
    assert "| trf | dsc | FAILED: AssertionError: numpy |" in table


def test_gpu_check_skips_parts_by_name(tmp_path):
    pytest.importorskip("torch")
    from benchmarks import gpu_check

    out = tmp_path / "gpu_check.json"
    assert gpu_check.main(["check", "--cpu-dry-run", "--skip", "minilm,bogus", "--out", str(out)]) == 1
    assert gpu_check.main(["check", "--cpu-dry-run", "--skip", "tiny_bert,minilm", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["ok"] and report["device_checks"] == [] and report["ud_zh"].startswith("skipped")


def test_character_bert_has_one_piece_per_character(tmp_path):
    pytest.importorskip("transformers")
    from transformers import AutoTokenizer

    from benchmarks.gpu_check import make_char_bert

    nlp = spacy.blank("zh")
    folder = make_char_bert(tmp_path / "bert", _char_docs(nlp, SENTENCES), "tiny", max_position_embeddings=64)
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    pieces = tokenizer.tokenize("我們在台北看電影。")
    assert pieces == list("我們在台北看電影。") and "[UNK]" not in pieces
    assert json.loads((folder / "config.json").read_text())["hidden_size"] == 64


# --- the harness end to end, on made-up files ---------------------------------------------------
@pytest.mark.slow
def test_tiny_harness_runs_and_calibrates_on_made_up_files(tmp_path):
    """run_accuracy on ud_zh (ce and spaCy's tagger), a few steps on made-up
    files in the upstream layout, then calibrated_accuracy on the ud_zh results: the words counts
    reproduce each model's test pos_f, calibrate tunes dice_seg_tagger and refuses spaCy's tagger."""
    from test_project_zh import fake_data_dir

    from benchmarks import calibrated_accuracy

    data = fake_data_dir(tmp_path / "data")
    out, work = tmp_path / "results", tmp_path / "work"
    common = ["--data-dir", str(data), "--work-dir", str(work), "--out", str(out), "--max-steps", "4",
              "--eval-frequency", "2", "--seeds", "0", "--quiet"]
    run_accuracy.main(["--task", "ud_zh", "--losses", "ce,spacy"] + common)
    results = json.loads((out / "ud_zh.json").read_text())
    assert [r["name"] for r in results["runs"]] == ["ce", "spacy"]
    for run in results["runs"]:
        assert {"pos_p", "pos_r", "pos_f", "seg_p", "seg_r", "seg_f", "f", "seg_f"} <= set(run["scores"])
        assert run["scores"]["f"] == run["scores"]["pos_f"]
        assert set(run["per_type_prf"]) == set(run["per_type"]) and run["per_type"]
    assert "seg F1" in (out / "ud_zh.md").read_text()

    calibrated_accuracy.main(["--results", "ud_zh", "--results-dir", str(out), "--out", str(out),
                              "--resamples", "50"])
    decisions = json.loads((out / "ud_zh_decisions.json").read_text())
    by_row = {r["name"]: r for r in decisions["runs"]}
    for run in results["runs"]:
        as_trained = by_row[run["name"]]["rules"]["as_trained"]
        assert as_trained["f"] == pytest.approx(run["scores"]["pos_f"])
    assert "calibrated" in by_row["ce"]["rules"] and "not_calibrated" in by_row["spacy"]
    counts = dict(numpy.load(out / "ud_zh_counts.npz"))
    assert counts["ce/as_trained/s0"].shape[1:] == (len(by_row["ce"]["labels"]), 3)
    assert decisions["rarest"]["label"] in decisions["rarest"]["train_counts"]
    # after a change of calibrate's defaults: only the calibrated rule is scored again
    calibrated_accuracy.main(["--results", "ud_zh", "--results-dir", str(out), "--out", str(out),
                              "--resamples", "50", "--rows", "ce", "--redo-calibrated"])
    again = {r["name"]: r for r in json.loads((out / "ud_zh_decisions.json").read_text())["runs"]}
    new, old = again["ce"]["rules"], by_row["ce"]["rules"]
    assert set(new) == set(old) and all(new[rule] == old[rule] for rule in old if rule != "calibrated")
    assert new["calibrated"]["f"] == old["calibrated"]["f"]  # the same defaults: the same choice
    assert new["calibrated"]["components"] == old["calibrated"]["components"]
    assert again["spacy"] == by_row["spacy"]
    assert again["ce"]["earlier_rules_git_commit"] == by_row["ce"]["git_commit"]
