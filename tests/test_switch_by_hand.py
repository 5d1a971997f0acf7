"""README "Switching an existing spaCy config by hand": the block edits it lists, applied to a
config of ``spacy init config``, give a pipeline that trains; left undone, they fail with the
component's message."""
from __future__ import annotations

import copy

import pytest
import spacy
from spacy.cli.init_config import init_config
from spacy.util import load_model_from_config
from thinc.api import Adam

from synthetic import ner_examples

LISTENER = {"@architectures": "spacy.Tok2VecListener.v1",
            "width": "${components.tok2vec.model.encode.width}", "upstream": "tok2vec"}


@pytest.fixture(scope="module")
def spacy_config():
    return init_config(lang="en", pipeline=["ner", "tagger", "textcat", "spancat"], optimize="efficiency",
                       gpu=False)


def switch_by_hand(config):
    """The README table, block by block."""
    config = copy.deepcopy(config)
    c = config["components"]
    c["ner"]["factory"] = "dice_ner"
    for key in ("moves", "update_with_oracle_cut_size", "incorrect_spans_key"):
        del c["ner"][key]
    c["ner"]["model"] = {"@architectures": "spacy.Tagger.v2", "nO": None, "normalize": False,
                         "tok2vec": c["ner"]["model"]["tok2vec"]}
    c["tagger"]["factory"] = "dice_tagger"
    c["tagger"]["attr"] = "tag"
    for key in ("neg_prefix", "label_smoothing"):
        del c["tagger"][key]
    c["tagger"]["scorer"] = {"@scorers": "spacy-dice.tagger_scorer.v1"}
    c["textcat"]["factory"] = "dice_textcat"
    del c["textcat"]["threshold"]
    c["textcat"]["model"] = {"@architectures": "spacy.TextCatReduce.v1", "exclusive_classes": True,
                             "use_reduce_first": False, "use_reduce_last": False, "use_reduce_max": False,
                             "use_reduce_mean": True, "nO": None, "tok2vec": dict(LISTENER)}
    c["spancat"]["factory"] = "dice_spancat"
    c["ner"]["loss"] = {"@losses": "spacy-dice.DiceLoss.v1", "alpha": 0.01}
    c["spancat"]["loss"] = {"@losses": "spacy-dice.DiceLoss.v1", "alpha": 0.01, "level": "set",
                            "activation": "sigmoid"}
    return config


def _examples(nlp):
    examples = ner_examples(nlp, n_docs=8)
    for i, eg in enumerate(examples):
        doc = eg.reference
        for token in doc:
            token.tag_ = "NNP" if token.text[:1].isupper() else "NN"
        doc.cats = {"POS": float(i % 2 == 0), "NEG": float(i % 2 == 1)}
        doc.spans["sc"] = list(doc.ents)
    return examples


def test_switched_config_trains(spacy_config):
    if not spacy.language.Language.has_factory("dice_spancat"):
        pytest.skip("dice_spancat is not installed in this checkout")
    nlp = load_model_from_config(switch_by_hand(spacy_config), auto_fill=True, validate=True)
    assert [nlp.get_pipe_meta(n).factory for n in nlp.pipe_names] == [
        "tok2vec", "dice_ner", "dice_tagger", "dice_textcat", "dice_spancat"]
    examples = _examples(nlp)
    nlp.initialize(lambda: examples)
    optimizer = Adam(0.001)
    for _ in range(2):
        losses = nlp.update(examples, sgd=optimizer)
    assert set(losses) >= {"ner", "tagger", "textcat", "spancat"}


def test_only_the_factory_changed_is_refused_with_the_block_to_use(spacy_config):
    config = copy.deepcopy(spacy_config)
    config["components"]["ner"]["factory"] = "dice_ner"
    for key in ("moves", "update_with_oracle_cut_size", "incorrect_spans_key"):
        del config["components"]["ner"][key]
    with pytest.raises(ValueError, match=r"\[ner\] model: got spaCy's transition-based model.*spacy.Tagger.v2"):
        load_model_from_config(config, auto_fill=True)


def test_efficiency_textcat_model_is_refused(spacy_config):
    config = copy.deepcopy(spacy_config)
    config["components"]["textcat"]["factory"] = "dice_textcat"
    del config["components"]["textcat"]["threshold"]
    with pytest.raises(ValueError, match=r"\[textcat\] model: the output layer 'softmax_activation'"):
        load_model_from_config(config, auto_fill=True)
