"""Short training runs on slices of the real corpora in ../shared/data (skipped when it is absent).

Thresholds: a small CNN trained for a few epochs on 800 sentences cannot match a full run, so the
bars are set to "clearly learned the task", well above what a majority-class or untrained model gets
(UPOS majority class NOUN: ~17% accuracy; NER all-O: F1 0), and below what the runs reached when the
test was written (printed by the test: ents_f 0.358, pos_acc 0.899 with the paper's DSC loss) to
leave room for noise across machines.
"""
import itertools
import random

import pytest
import spacy
from spacy.training import Example
from spacy.util import fix_random_seed, minibatch
from thinc.api import Adam

from spacy_dice.corpus import read_conllu, read_uner

from realdata import DATA, skip_reason  # noqa: E402
pytestmark = [
    pytest.mark.realdata,
    pytest.mark.slow,
    pytest.mark.skipif(not DATA.is_dir(), reason=skip_reason(DATA)),
]
DSC = {"@losses": "spacy-dice.DiceLoss.v1", "alpha": 0.01, "smooth": 1.0, "square_denominator": True}
MODEL = {
    "@architectures": "spacy.Tagger.v2",
    "tok2vec": {
        "@architectures": "spacy.HashEmbedCNN.v2",
        "pretrained_vectors": None,
        "width": 96,
        "depth": 2,
        "embed_size": 3000,
        "window_size": 1,
        "maxout_pieces": 3,
        "subword_features": True,
    },
}


def train_and_score(nlp, train_docs, test_docs, key, epochs=6):
    fix_random_seed(0)
    train = [Example(nlp.make_doc(doc.text), doc) for doc in train_docs]
    test = [Example(nlp.make_doc(doc.text), doc) for doc in test_docs]
    nlp.initialize(lambda: train)
    optimizer = Adam(0.002)
    rng = random.Random(0)
    for _ in range(epochs):
        rng.shuffle(train)
        for batch in minibatch(train, size=16):
            nlp.update(batch, sgd=optimizer, drop=0.1)
    score = nlp.evaluate(test)[key]
    print(f"{key} = {score:.3f}")
    return score


def test_dice_ner_on_uner_slice():
    nlp = spacy.blank("en")
    vocab = nlp.vocab
    train = list(itertools.islice(read_uner(DATA / "uner_english_ewt" / "en_ewt-ud-dev.iob2", vocab=vocab), 800))
    test = list(itertools.islice(read_uner(DATA / "uner_english_ewt" / "en_ewt-ud-test.iob2", vocab=vocab), 400))
    nlp.add_pipe("dice_ner", config={"model": MODEL, "loss": DSC})
    assert train_and_score(nlp, train, test, "ents_f") >= 0.25


def test_dice_tagger_on_ewt_slice():
    nlp = spacy.blank("en")
    vocab = nlp.vocab
    path = DATA / "ud_english_ewt"
    train = list(itertools.islice(read_conllu(path / "en_ewt-ud-train.conllu", vocab=vocab), 800))
    test = list(itertools.islice(read_conllu(path / "en_ewt-ud-test.conllu", vocab=vocab), 400))
    nlp.add_pipe("dice_tagger", config={"model": MODEL, "attr": "pos", "loss": DSC})
    assert train_and_score(nlp, train, test, "pos_acc") >= 0.85
