"""Every component refuses a model it cannot train, with a message naming the component, what was
given and the block to use; and warns when the pipeline's tok2vec is not used by it."""
import warnings

import pytest
import spacy
from spacy.pipeline.ner import DEFAULT_NER_MODEL
from spacy.pipeline.textcat import single_label_bow_config
from thinc.api import Config

from synthetic import SMALL_TAGGER_MODEL, SMALL_TEXTCAT_MODEL, SMALL_TOK2VEC, ner_examples

COMPONENTS = ["dice_ner", "dice_tagger", "dice_textcat"]
TRANSITION_MODEL = dict(DEFAULT_NER_MODEL)
TRANSITION_MODEL["tok2vec"] = dict(SMALL_TOK2VEC)
# spacy.TextCatBOW.v3 ends in softmax_activation, which back-propagates probability gradients.
BOW_MODEL = Config().from_str(single_label_bow_config)["model"]
LINEAR_OUTPUT = {
    "@architectures": "spacy-dice.test_linear_output.v1",
}
NO_NO_OUTPUT = {"@architectures": "spacy-dice.test_no_nO_output.v1"}


@spacy.registry.architectures("spacy-dice.test_linear_output.v1")
def _linear_output():
    """A tok2vec followed by a Linear layer: logits, no softmax."""
    from thinc.api import Linear, chain, with_array

    tok2vec = spacy.registry.resolve({"t": SMALL_TOK2VEC})["t"]
    return chain(tok2vec, with_array(Linear()))


@spacy.registry.architectures("spacy-dice.test_no_nO_output.v1")
def _no_n_o_output():
    """A tok2vec followed by a layer without an output dimension."""
    from thinc.api import Model, Relu, chain, with_array

    tok2vec = spacy.registry.resolve({"t": SMALL_TOK2VEC})["t"]
    identity = Model("identity_out", lambda model, X, is_train: (X, lambda dY: dY))
    return chain(tok2vec, with_array(Relu(nO=48)), with_array(identity))


def add(factory, model, name="comp"):
    nlp = spacy.blank("en")
    return nlp, nlp.add_pipe(factory, name=name, config={"model": model})


@pytest.mark.parametrize("factory", COMPONENTS)
def test_transition_based_model_is_refused(factory):
    with pytest.raises(ValueError) as err:
        add(factory, TRANSITION_MODEL, name="my_ner")
    text = str(err.value)
    assert "[my_ner]" in text
    assert "TransitionBasedParser.v2" in text
    assert 'spacy.Tagger.v2' in text and "moves" in text


@pytest.mark.parametrize("factory", COMPONENTS)
def test_probability_gradient_output_is_refused(factory):
    with pytest.raises(ValueError, match=r"\[comp\] model: the output layer 'softmax_activation'"):
        add(factory, BOW_MODEL)


@pytest.mark.parametrize("factory", COMPONENTS)
def test_logit_output_is_refused(factory):
    with pytest.raises(ValueError, match=r"\[comp\] model: the output layer 'linear' gives logits.*Softmax_v2"):
        add(factory, LINEAR_OUTPUT)


@pytest.mark.parametrize("factory", COMPONENTS)
def test_output_without_n_o_is_refused(factory):
    with pytest.raises(ValueError, match=r"\[comp\] model: the output layer 'identity_out' has no output width"):
        add(factory, NO_NO_OUTPUT)


def test_fixed_wrong_n_o_is_refused_at_initialize_ner():
    model = dict(SMALL_TAGGER_MODEL, nO=5)  # 3 labels -> 13 BILUO classes
    nlp, _ = add("dice_ner", model)
    examples = ner_examples(nlp, n_docs=5)
    with pytest.raises(ValueError, match=r"\[comp\] model: the output layer 'softmax' has nO = 5, but the component predicts 13"):
        nlp.initialize(lambda: examples)


def test_right_models_are_accepted():
    for factory, model in (("dice_ner", SMALL_TAGGER_MODEL), ("dice_tagger", SMALL_TAGGER_MODEL),
                           ("dice_textcat", SMALL_TEXTCAT_MODEL)):
        add(factory, model)
    # the factories' default models too
    nlp = spacy.blank("en")
    for factory in COMPONENTS:
        nlp.add_pipe(factory)


def _tok2vec_pipeline(listening: bool):
    nlp = spacy.blank("en")
    nlp.add_pipe("tok2vec", config={"model": SMALL_TOK2VEC})
    if listening:
        tok2vec = {"@architectures": "spacy.Tok2VecListener.v1", "width": 48, "upstream": "tok2vec"}
    else:
        tok2vec = SMALL_TOK2VEC
    nlp.add_pipe("dice_ner", name="ner", config={"model": {"@architectures": "spacy.Tagger.v2", "tok2vec": tok2vec}})
    return nlp


def test_unused_tok2vec_warns_at_initialize():
    nlp = _tok2vec_pipeline(listening=False)
    examples = ner_examples(nlp, n_docs=5)
    with pytest.warns(UserWarning, match=r"\[ner\] the pipeline's 'tok2vec' component .* is not used by 'ner'.*Tok2VecListener"):
        nlp.initialize(lambda: examples)


def test_listening_component_does_not_warn():
    nlp = _tok2vec_pipeline(listening=True)
    examples = ner_examples(nlp, n_docs=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        nlp.initialize(lambda: examples)


@pytest.mark.parametrize("factory", ["dice_spancat", "dice_span_finder"])
def test_span_component_with_own_embedding_warns_at_initialize(factory):
    from span_synthetic import SMALL_SPAN_FINDER_MODEL, SMALL_SPANCAT_MODEL, span_examples

    nlp = spacy.blank("en")
    nlp.add_pipe("tok2vec", config={"model": SMALL_TOK2VEC})
    model = SMALL_SPANCAT_MODEL if factory == "dice_spancat" else SMALL_SPAN_FINDER_MODEL
    nlp.add_pipe(factory, name="spans", config={"model": model})
    examples = span_examples(nlp, n_docs=5)
    with pytest.warns(UserWarning, match=r"\[spans\] the pipeline's 'tok2vec' component .* is not used by 'spans'"):
        nlp.initialize(lambda: examples)
