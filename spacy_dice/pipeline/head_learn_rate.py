"""The optimizer step of a dice component: its own output layers (its "head") at a multiple of the rate.

spaCy gives one optimizer, and so one learning rate, to the whole pipeline. A transformer wants a
small rate (5e-5), while a classification head that starts from zero weights needs to move by much
more than that per step: thinc's Adam moves every weight by about ``learn_rate * lr_scale`` per
update, so after 200 updates at 5e-5 a zero-initialised softmax cannot leave the majority-class prior.
``head_learn_rate_scale`` multiplies the rate (thinc's ``lr_scale``) of the component's parameters
that are NOT in its ``tok2vec`` sub-model. thinc's Adam step for a parameter ``w`` with gradient ``g``
is then::

    w <- w - lr_scale * learn_rate * m_hat / (sqrt(v_hat) + eps)     (|step| <= ~ lr_scale * learn_rate)

with ``m_hat``, ``v_hat`` the bias-corrected moment estimates (on the first step ``m_hat /
sqrt(v_hat) = sign(g)``, which the tests use). What is scaled:

* with a listener (``spacy.Tok2VecListener.v1``, ``spacy-transformers.TransformerListener.v1``) the
  shared tok2vec / transformer is another component and is never scaled: the scale touches the
  component's own layers only (softmax, span reducer and scorer, attention, BOW part of an ensemble);
* with an embedded tok2vec or transformer (no listener; the model's ``"tok2vec"`` reference) that
  sub-model keeps the optimizer's rate and everything after it is scaled;
* a model without a ``"tok2vec"`` reference is all head: every parameter is scaled.

PyTorch shims (an embedded transformer) are always updated at the optimizer's own rate.
"""
from typing import Set

from thinc.api import Model, Optimizer


def body_node_ids(model: Model) -> Set[int]:
    """Ids of the nodes of ``model``'s ``"tok2vec"`` sub-model (empty when it has none)."""
    if not model.has_ref("tok2vec"):
        return set()
    return {node.id for node in model.get_ref("tok2vec").walk()}


def finish_update_with_head_scale(model: Model, optimizer: Optimizer, scale: float) -> None:
    """``model.finish_update(optimizer)`` with ``lr_scale=scale`` for the head's parameters.

    Same order and keys as :meth:`thinc.model.Model.finish_update`, so the optimizer's state (Adam
    moments, step counts) is the one a plain ``finish_update`` would build.
    """
    if scale == 1.0:
        model.finish_update(optimizer)
        return
    body = body_node_ids(model)
    for node in model.walk():
        for shim in node.shims:
            shim.finish_update(optimizer)
    for node in model.walk():
        lr_scale = 1.0 if node.id in body else scale
        for name in node.param_names:
            if node.has_grad(name):
                param, _ = optimizer(
                    (node.id, name), node.get_param(name), node.get_grad(name), lr_scale=lr_scale
                )
                node.set_param(name, param)
