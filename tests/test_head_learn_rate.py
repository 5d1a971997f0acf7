"""``head_learn_rate_scale``: the component's own layers learn at scale x the optimizer's rate.

Adam's first step moves every weight with a non-zero gradient by exactly ``learn_rate * lr_scale``
(``m / sqrt(v) = sign(g)`` after bias correction), so one update shows which rate each parameter got.
"""
import math

import numpy
import pytest
import spacy
from spacy.util import fix_random_seed
from thinc.api import Adam, Linear, Relu, chain

from spacy_dice.pipeline.head_learn_rate import body_node_ids, finish_update_with_head_scale
from spacy_dice.pipeline.settings import check_head_learn_rate_scale
from synthetic import SMALL_TAGGER_MODEL, SMALL_TEXTCAT_MODEL, SMALL_TOK2VEC, tagger_examples, textcat_examples

LR = 1e-4
SCALE = 50.0


def adam() -> Adam:
    # no weight decay, no clipping: the first step is exactly learn_rate * lr_scale * sign(grad)
    return Adam(LR, L2=0.0, grad_clip=0.0, use_averages=False)


def snapshot(model):
    return {(node.id, name): numpy.array(node.get_param(name), copy=True)
            for node in model.walk() for name in node.param_names if node.has_param(name)}


def max_moves(model, before, node_ids):
    """Largest |change| of each parameter of the given nodes (parameters that moved only)."""
    moves = {}
    for node in model.walk():
        if node.id not in node_ids:
            continue
        for name in node.param_names:
            if (node.id, name) in before:
                delta = numpy.abs(numpy.asarray(node.get_param(name)) - before[(node.id, name)]).max()
                if delta > 0:
                    moves[(node.name, name)] = float(delta)
    return moves


def randomize_output_layer(model):
    """The softmax starts from zeros, which would send no gradient to the tok2vec on step 1."""
    rng = numpy.random.default_rng(0)
    for node in model.walk():
        if "softmax_normalize" in node.attrs:
            W = node.get_param("W")
            node.set_param("W", model.ops.asarray(rng.normal(0, 0.1, W.shape).astype("f")))


def one_tagger_update(model_cfg, scale, pipeline_tok2vec=False):
    fix_random_seed(0)
    nlp = spacy.blank("en")
    if pipeline_tok2vec:
        nlp.add_pipe("tok2vec", config={"model": SMALL_TOK2VEC})
    nlp.add_pipe("dice_tagger", config={"model": model_cfg, "head_learn_rate_scale": scale})
    examples = tagger_examples(nlp)
    nlp.initialize(lambda: examples)
    randomize_output_layer(nlp.get_pipe("dice_tagger").model)
    before = {name: snapshot(proc.model) for name, proc in nlp.pipeline}
    # spaCy applies a tok2vec's update before its listeners have sent their gradients (it moves a
    # step later); collecting all gradients first makes this Adam's first step for every parameter.
    nlp.update(examples, sgd=False, drop=0.0)  # False: no update (None: spaCy's default optimizer)
    optimizer = adam()
    for _, proc in nlp.pipeline:
        proc.finish_update(optimizer)
    return nlp, before


def test_embedded_tok2vec_at_optimizer_rate_head_scaled():
    nlp, before = one_tagger_update(SMALL_TAGGER_MODEL, SCALE)
    model = nlp.get_pipe("dice_tagger").model
    body = body_node_ids(model)
    head = {node.id for node in model.walk()} - body
    assert body and head
    body_moves = max_moves(model, before["dice_tagger"], body)
    head_moves = max_moves(model, before["dice_tagger"], head)
    assert body_moves and head_moves
    for key, move in body_moves.items():
        assert move == pytest.approx(LR, rel=1e-3), key
    for key, move in head_moves.items():
        assert move == pytest.approx(LR * SCALE, rel=1e-3), key


def test_listened_tok2vec_is_never_scaled():
    listener = {"@architectures": "spacy.Tok2VecListener.v1", "width": SMALL_TOK2VEC["width"],
                "upstream": "*"}
    nlp, before = one_tagger_update(dict(SMALL_TAGGER_MODEL, tok2vec=listener), SCALE, pipeline_tok2vec=True)
    tok2vec = nlp.get_pipe("tok2vec").model
    moves = max_moves(tok2vec, before["tok2vec"], {n.id for n in tok2vec.walk()})
    assert moves and all(m == pytest.approx(LR, rel=1e-3) for m in moves.values()), moves
    tagger = nlp.get_pipe("dice_tagger").model
    head_moves = max_moves(tagger, before["dice_tagger"], {n.id for n in tagger.walk()})
    assert head_moves and all(m == pytest.approx(LR * SCALE, rel=1e-3) for m in head_moves.values())


def test_textcat_head_scaled():
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("dice_textcat", config={"model": SMALL_TEXTCAT_MODEL, "head_learn_rate_scale": SCALE})
    examples = textcat_examples(nlp)
    nlp.initialize(lambda: examples)
    model = nlp.get_pipe("dice_textcat").model
    randomize_output_layer(model)
    before = snapshot(model)
    nlp.update(examples, sgd=adam(), drop=0.0)
    body = body_node_ids(model)
    head = {n.id for n in model.walk()} - body
    body_moves = max_moves(model, before, body)
    assert body_moves and all(m == pytest.approx(LR, rel=1e-3) for m in body_moves.values())
    head_moves = max_moves(model, before, head)
    assert head_moves and all(m == pytest.approx(LR * SCALE, rel=1e-3) for m in head_moves.values())


def test_model_without_tok2vec_ref_is_all_head():
    model = chain(Relu(4, 3), Linear(2, 4))
    model.initialize(X=numpy.ones((5, 3), dtype="f"))
    assert body_node_ids(model) == set()
    before = snapshot(model)
    _, backprop = model.begin_update(numpy.ones((5, 3), dtype="f"))
    backprop(numpy.ones((5, 2), dtype="f"))
    finish_update_with_head_scale(model, adam(), SCALE)
    moves = max_moves(model, before, {n.id for n in model.walk()})
    assert moves and all(m == pytest.approx(LR * SCALE, rel=1e-3) for m in moves.values())


def test_scale_one_is_plain_finish_update():
    """scale 1 through the scaled loop (forced) equals thinc's own finish_update, Adam state included."""
    results = []
    for path in ("plain", "loop"):
        fix_random_seed(0)
        model = chain(Relu(4, 3), Linear(2, 4))
        model.initialize(X=numpy.ones((5, 3), dtype="f"))
        opt = Adam(LR)
        for step in range(3):
            _, backprop = model.begin_update(numpy.full((5, 3), 1.0 + step, dtype="f"))
            backprop(numpy.ones((5, 2), dtype="f"))
            if path == "plain":
                model.finish_update(opt)
            else:
                finish_update_with_head_scale(model, opt, 1.0 + 1e-12)
        # node ids differ between the two models: compare in walk order
        results.append((list(snapshot(model).values()), [(k[1], n) for k, n in opt.nr_update.items()]))
    (a, na), (b, nb) = results
    assert na == nb and len(na) == 4
    for x, y in zip(a, b):
        numpy.testing.assert_allclose(x, y, rtol=1e-6)


@pytest.mark.parametrize("bad", [0, 0.0, -1.0, math.nan, math.inf, True, "200", None])
def test_bad_scale_is_refused_naming_component(bad):
    with pytest.raises(ValueError, match=r"\[dice_ner\] head_learn_rate_scale=.*number > 0"):
        check_head_learn_rate_scale("dice_ner", bad)


@pytest.mark.parametrize("factory", ["dice_ner", "dice_tagger", "dice_textcat"])
@pytest.mark.parametrize("bad", [0.0, -5.0])  # NaN is refused by spaCy itself (E961)
def test_bad_scale_in_config_is_refused(factory, bad):
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match=rf"\[{factory}\] head_learn_rate_scale"):
        nlp.add_pipe(factory, config={"head_learn_rate_scale": bad})


def test_scale_survives_saving_and_keeps_working(tmp_path):
    nlp, _ = one_tagger_update(SMALL_TAGGER_MODEL, SCALE)
    nlp.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model")
    tagger = loaded.get_pipe("dice_tagger")
    assert tagger.cfg["head_learn_rate_scale"] == SCALE
    assert loaded.config["components"]["dice_tagger"]["head_learn_rate_scale"] == SCALE
    model = tagger.model
    before = snapshot(model)
    loaded.update(tagger_examples(loaded), sgd=adam(), drop=0.0)
    head = {n.id for n in model.walk()} - body_node_ids(model)
    head_moves = max_moves(model, before, head)
    assert head_moves and all(m == pytest.approx(LR * SCALE, rel=1e-3) for m in head_moves.values())
