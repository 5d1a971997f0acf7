"""``python -m spacy_dice debug-data`` (issue 17, item 5): the label statistics ``spacy debug data``
skips for the dice factories, on the shipped sample (assets/sample, converted with ``convert uner
--spans-key sc``) and the shipped configs; bad train files; spaCy's own components alike."""
import json
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin, Span
from typer.testing import CliRunner

from synthetic import ner_examples, tagger_examples, textcat_examples
from spacy_dice.cli import app
from spacy_dice.evaluation.imbalance import component_stats

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "assets" / "sample"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample")
    for split in ("train", "dev"):
        result = CliRunner().invoke(app, ["convert", "uner", str(SAMPLE / f"{split}.iob2"),
                                          str(out / f"{split}.spacy"), "--spans-key", "sc"])
        assert result.exit_code == 0, result.output
    return out


def debug(config, train, dev, *extra):
    args = ["debug-data", str(ROOT / "configs" / config), "--paths.train", str(train), "--paths.dev", str(dev), *extra]
    return CliRunner().invoke(app, args, catch_exceptions=False)


def flat(result):
    """The output with wasabi's line wrapping undone."""
    return " ".join(result.output.split())


def test_sample_ner(corpus, tmp_path):
    result = debug("ner_cnn.cfg", corpus / "train.spacy", corpus / "dev.spacy", "--output", str(tmp_path / "ner.json"))
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "ner.json").read_text(encoding="utf8"))
    assert data["n_train_docs"] == 1000 and data["n_dev_docs"] == 300
    (ner,) = data["components"]
    assert ner["factory"] == "dice_ner" and data["not_covered"] == ["tok2vec"]
    assert ner["train_counts"] == {"LOC": 197, "PER": 193, "ORG": 58}
    assert ner["dev_counts"] == {"LOC": 81, "ORG": 44, "PER": 20}
    assert (ner["negatives"], ner["positives"]) == (10851, 711)
    assert ner["negatives_per_positive"] == pytest.approx(10851 / 711)
    assert ner["negative_share"] == pytest.approx(10851 / 11562)
    assert ner["rarest"][0] == ["ORG", 58] and ner["dev_only"] == []
    out = flat(result)
    assert "ner (dice_ner)" in out and "10,851 O tokens against 711 entity tokens" in out
    assert "15.3 negatives per positive" in out and "CoNLL-2003 NER 4.98" in out
    assert "Which loss to pick" in out and "Rarest labels (train): ORG (58)" in out


def test_sample_spancat_counts_the_suggesters_negatives(corpus, tmp_path):
    result = debug("spancat_cnn.cfg", corpus / "train.spacy", corpus / "dev.spacy", "--output", str(tmp_path / "sc.json"))
    assert result.exit_code == 0, result.output
    (sc,) = json.loads((tmp_path / "sc.json").read_text(encoding="utf8"))["components"]
    assert sc["factory"] == "dice_spancat" and sc["train_counts"] == {"LOC": 197, "PER": 193, "ORG": 58}
    # n-grams of 1-4 tokens over 11,562 tokens; 438 of the 448 gold spans are among them
    assert (sc["positives"], sc["negatives"]) == (438, 42208)
    assert any("438 of 448 gold spans" in note for note in sc["notes"])
    assert "__negative__" in flat(result) and "96.4 negatives per positive" in flat(result)


def test_sample_span_finder_and_preset_suggester(corpus, tmp_path):
    result = debug("spans_cnn.cfg", corpus / "train.spacy", corpus / "dev.spacy", "--output", str(tmp_path / "sf.json"))
    assert result.exit_code == 0, result.output
    finder, spancat = json.loads((tmp_path / "sf.json").read_text(encoding="utf8"))["components"]
    assert finder["factory"] == "dice_span_finder"
    assert (finder["positives"], finder["negatives"]) == (448, 11562 - 448)
    assert spancat["positives"] is None and any("upstream component" in n for n in spancat["notes"])


def test_labels_only_in_dev_are_named(corpus, tmp_path):
    nlp = spacy.blank("en")
    doc = nlp("Ada Lovelace wrote in London")
    doc.ents = [Span(doc, 0, 2, "PERSON_NEW"), Span(doc, 4, 5, "LOC")]
    DocBin(docs=[doc]).to_disk(tmp_path / "dev.spacy")
    result = debug("ner_cnn.cfg", corpus / "train.spacy", tmp_path / "dev.spacy")
    assert result.exit_code == 0, result.output
    assert "Labels in dev but not in train (never predicted): PERSON_NEW" in flat(result)
    assert "Labels in train but not in dev (not evaluated): ORG, PER" in flat(result)


def test_missing_or_empty_train_file_is_an_error(corpus, tmp_path):
    result = debug("ner_cnn.cfg", tmp_path / "absent.spacy", corpus / "dev.spacy")
    assert result.exit_code == 1
    assert "Cannot read the train corpus" in flat(result) and "absent.spacy" in flat(result)
    DocBin().to_disk(tmp_path / "empty.spacy")
    result = debug("ner_cnn.cfg", tmp_path / "empty.spacy", corpus / "dev.spacy")
    assert result.exit_code == 1 and "The train corpus has no documents" in flat(result)
    result = CliRunner().invoke(app, ["debug-data", str(ROOT / "configs" / "ner_cnn.cfg")])
    assert result.exit_code == 1 and "give --paths.train" in flat(result)


def test_spacys_own_components_and_texts_and_tags():
    nlp = spacy.blank("en")
    nlp.add_pipe("ner")
    nlp.add_pipe("spancat", config={"spans_key": "sc", "suggester": {"@misc": "spacy.ngram_suggester.v1", "sizes": [1, 2]}})
    nlp.add_pipe("tagger")
    nlp.add_pipe("dice_textcat", config={"positive_label": "POS"})
    ner, tags, cats = ner_examples(nlp, 30), tagger_examples(nlp, n_docs=30), textcat_examples(nlp, 40)
    for eg in ner:
        eg.reference.spans["sc"] = list(eg.reference.ents)
    stats, other = component_stats(nlp, ner + tags + cats, ner[:5] + cats[:4])
    by_name = {s.component: s for s in stats}
    assert other == [] and set(by_name) == {"ner", "spancat", "tagger", "dice_textcat"}
    spancat = by_name["spancat"]
    n_spans = sum(len(eg.reference.spans["sc"]) for eg in ner)
    n_bigrams = sum(2 * len(eg.reference) - 1 for eg in ner)
    assert spancat.positives == n_spans and spancat.positives + spancat.negatives == n_bigrams
    assert any(f"{n_spans} of {n_spans} gold spans (100.0 %)" in note for note in spancat.notes)
    ner_stats = by_name["ner"]
    assert ner_stats.negative_name == "O tokens" and ner_stats.positives > 0
    assert ner_stats.negatives_per_positive > 1
    tagger = by_name["tagger"]
    assert max(tagger.train_counts, key=tagger.train_counts.get) == "NOUN"
    assert any("majority tag 'NOUN'" in note for note in tagger.notes)
    textcat = by_name["dice_textcat"]
    assert textcat.train_counts == {"NEG": 30, "POS": 10}
    assert (textcat.positives, textcat.negatives) == (10, 30) and textcat.negatives_per_positive == 3.0
    assert any("majority class 'NEG': 75.0 %" in note for note in textcat.notes)
