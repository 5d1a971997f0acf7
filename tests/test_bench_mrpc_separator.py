"""benchmarks/mrpc_pair_separator.py: the MRPC corpora copied with ``[SEP]`` between the sentences."""
from __future__ import annotations

import pytest
import spacy
from spacy.tokens import DocBin

from benchmark_scripts import load_benchmark_script
from spacy_dice.corpus.pairs import make_pair_text

separator = load_benchmark_script("mrpc_pair_separator")


def _write_splits(folder, texts_and_cats):
    nlp = spacy.blank("en")
    folder.mkdir()
    for split in ("train", "dev", "test"):
        docs = DocBin()
        for text, cats in texts_and_cats:
            doc = nlp.make_doc(text)
            doc.cats = cats
            docs.add(doc)
        docs.to_disk(folder / f"{split}.spacy")


def test_the_separator_replaces_the_shipped_one_and_keeps_the_cats(tmp_path):
    pairs = [(make_pair_text("It rained.", "It was wet."), {"paraphrase": 1.0, "not_paraphrase": 0.0}),
             (make_pair_text("A | b", "c d"), {"paraphrase": 0.0, "not_paraphrase": 1.0})]
    _write_splits(tmp_path / "mrpc", pairs)
    counts = separator.copy_with_separator(tmp_path / "mrpc", tmp_path / "sep")
    assert counts == {"train": 2, "dev": 2, "test": 2}
    nlp = spacy.blank("en")
    docs = list(DocBin().from_disk(tmp_path / "sep" / "dev.spacy").get_docs(nlp.vocab))
    assert [d.text for d in docs] == ["It rained. [SEP] It was wet.", "A | b [SEP] c d"]
    assert [d.cats for d in docs] == [cats for _, cats in pairs]


def test_a_doc_that_is_not_one_pair_is_named(tmp_path):
    _write_splits(tmp_path / "mrpc", [("no separator here", {"paraphrase": 1.0})])
    with pytest.raises(SystemExit, match=r"train\.spacy, doc 0: expected one '\|\|\|'"):
        separator.copy_with_separator(tmp_path / "mrpc", tmp_path / "sep")
    with pytest.raises(SystemExit, match="run benchmarks/run_accuracy.py --task mrpc_trf once first"):
        separator.copy_with_separator(tmp_path / "missing", tmp_path / "sep")


def test_a_bert_tokenizer_reads_the_literal_separator_as_its_token(tmp_path):
    """The premise of the probe: ``[SEP]`` in the text becomes the separator id, not wordpieces."""
    BertTokenizerFast = pytest.importorskip("transformers").BertTokenizerFast
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "it", "rained", "was", "wet", "."]))
    tokenizer = BertTokenizerFast(vocab_file=str(vocab))
    ids = tokenizer("It rained. [SEP] It was wet.")["input_ids"]
    sep = tokenizer.convert_tokens_to_ids("[SEP]")
    assert ids.count(sep) == 2 and ids[-1] == sep and ids[4] == sep
