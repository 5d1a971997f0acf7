"""What a dice component refuses, and says why: losses of the wrong mode, models it cannot train.

Every check raises ``ValueError`` naming the component, what was given and the block to use. The
knowledge of what each thinc output layer emits is in :mod:`spacy_dice.layers.outputs`; here it is
turned into the components' rules:

* softmax components (``dice_tagger``, ``dice_ner``, ``dice_textcat``): the model ends in a layer
  whose backprop takes logit gradients and whose ``nO`` the component sets
  (:func:`check_softmax_output`, :func:`check_output_width`);
* span components: the model's ``"scorer"`` ends in such a layer, or in spaCy's ``Logistic``, which
  is adapted (:func:`check_span_scorer`);
* never spaCy's transition-based model (:func:`check_not_transition_model`);
* the loss's ``activation`` is the component's (:func:`check_loss`);
* at ``initialize``, a warning when the pipeline's ``tok2vec`` / ``transformer`` is not listened to
  (:func:`warn_unused_tok2vec`).
"""
import warnings
from typing import Any, List, Optional

from thinc.api import Model

from ..layers.outputs import (
    LOGIT_OUTPUT_LAYERS,
    PROBABILITY_GRADIENT_LAYERS,
    TRANSITION_MODEL_NAMES,
    adapt_sigmoid_output,
    last_leaf,
    output_layer,
)

LISTENER_NAMES = ("tok2vec-listener", "transformer-listener")
EMBEDDING_FACTORIES = ("tok2vec", "transformer", "curated_transformer")
SOFTMAX = "softmax"  # thinc's Softmax and Softmax_v2: backprop takes logit gradients
SOFTMAX_MODELS = (
    '@architectures = "spacy.Tagger.v2" (nO = null) for tokens, spacy.TextCatEnsemble.v2 or'
    " spacy.TextCatReduce.v1 for texts"
)


def describe_loss(loss: Any) -> str:
    """A short description of a loss object for error messages: class and main settings."""
    settings = []
    for key in ("gamma", "alpha", "beta", "smooth", "square_denominator", "level", "class_reduction"):
        if hasattr(loss, key):
            settings.append(f"{key}={getattr(loss, key)!r}")
    if getattr(loss, "class_weights_spec", None) is not None:
        settings.append(f"class_weights={loss.class_weights_spec!r}")
    if hasattr(loss, "losses") and isinstance(loss.losses, dict):
        settings.append("losses={" + ", ".join(
            f"{k}: {describe_loss(v)} x{loss.weights.get(k, 1.0)}" for k, v in loss.losses.items()
        ) + "}")
    return f"{type(loss).__name__}({', '.join(settings)})"


def check_loss(component: str, loss: Any, activation: str, what: str = "exclusive classes") -> Any:
    """The ``loss`` setting must be a loss whose ``activation`` is ``activation``; return it.

    ``what``: what the component predicts, for the message.
    """
    if not callable(loss):
        raise ValueError(
            f"[{component}] loss: {loss!r} is not a loss. Use an @losses block, e.g."
            f' [components.{component}.loss] @losses = "spacy-dice.DiceLoss.v1"'
        )
    found = getattr(loss, "activation", "softmax")
    if found != activation:
        default = " (or leave it out)" if activation == "softmax" else ""
        raise ValueError(
            f"[{component}] loss: {describe_loss(loss)} is configured with activation={found!r},"
            f" but this component predicts {what} through a {activation}; set"
            f" activation = \"{activation}\" in the [components.{component}.loss] block{default}"
        )
    return loss


def check_not_transition_model(component: str, model: Model) -> None:
    """Refuse spaCy's transition-based model (``spacy.TransitionBasedParser.v2``).

    It scores parser actions for spaCy's ``ner``/``parser`` state machine, not one class per token,
    so a spacy-dice component cannot train it. This is what a config from ``spacy init config -p
    ner`` has after only ``factory = "dice_ner"`` was changed.
    """
    for node in model.walk():
        if node.name in TRANSITION_MODEL_NAMES:
            raise ValueError(
                f"[{component}] model: got spaCy's transition-based model"
                " (spacy.TransitionBasedParser.v2, for the 'ner'/'parser' state machines), which"
                " scores parser actions, not one class per token. Replace the"
                " [components.NAME.model] block with @architectures = \"spacy.Tagger.v2\""
                " (nO = null) and keep its [components.NAME.model.tok2vec] block; remove the"
                " parser-only settings (moves, update_with_oracle_cut_size,"
                " incorrect_spans_key) from [components.NAME]. Or write a complete config with"
                " `python -m spacy_dice init-config`."
            )


def check_softmax_output(component: str, model: Model) -> None:
    """Refuse a softmax component's model whose last layer the losses cannot train.

    spacy-dice losses return gradients with respect to the logits, thinc's ``Softmax``/``Softmax_v2``
    convention (their backprop is the identity on the output). A final ``softmax_activation``
    (``spacy.TextCatBOW.v3``) or ``Logistic`` would apply the softmax Jacobian a second time; a
    final ``Linear`` gives logits the losses would read as probabilities.
    """
    check_not_transition_model(component, model)
    node = output_layer(model)
    if node.name in PROBABILITY_GRADIENT_LAYERS:
        raise ValueError(
            f"[{component}] model: the output layer '{node.name}' back-propagates gradients"
            " with respect to probabilities, but spacy-dice losses return gradients with"
            " respect to the logits (thinc's Softmax/Softmax_v2 convention). Use an"
            " architecture ending in Softmax or Softmax_v2: spacy.Tagger.v2 for tokens,"
            " spacy.TextCatEnsemble.v2 or spacy.TextCatReduce.v1 for texts."
        )
    if node.name in LOGIT_OUTPUT_LAYERS:
        raise ValueError(
            f"[{component}] model: the output layer '{node.name}' gives logits, but spacy-dice"
            " losses take probabilities from a Softmax/Softmax_v2 output layer (and return"
            " gradients with respect to its logits). End the model in Softmax_v2, e.g."
            f" [components.NAME.model] {SOFTMAX_MODELS}."
        )
    if node.has_dim("nO") is False:
        raise ValueError(
            f"[{component}] model: the output layer '{node.name}' has no output width (nO)"
            " that the component can set from its labels. End the model in a Softmax_v2"
            f" layer with nO = null, e.g. [components.NAME.model] {SOFTMAX_MODELS}."
        )


def check_span_scorer(component: str, model: Model, activation: str) -> List[str]:
    """Make sure the gradient a loss returns reaches a span model's logits unchanged; adapt or refuse.

    ``model`` must have a ``"scorer"`` reference (``spacy.SpanCategorizer.v1``,
    ``spacy.SpanFinder.v1``). Its last layer must, for ``activation="sigmoid"``, be
    ``SigmoidLogits`` (accepted) or thinc's ``Logistic`` / ``sigmoid_activation`` inside a chain
    (replaced in place, :func:`spacy_dice.layers.outputs.adapt_sigmoid_output`); for
    ``activation="softmax"``, thinc's ``Softmax`` or ``Softmax_v2``. Returns the adaptations made,
    e.g. ``["logistic -> sigmoid_logits"]``.
    """
    use = (
        "spacy-dice.LinearLogits.v1 (or spaCy's spacy.LinearLogistic.v1, which the component"
        " adapts)" if activation == "sigmoid" else "thinc's Softmax.v2 (spaCy's default)"
    )
    if not model.has_ref("scorer"):
        raise ValueError(
            f"[{component}] model: {model.name!r} has no 'scorer' layer; use spaCy's"
            " spacy.SpanCategorizer.v1 (span categorizers) or spacy.SpanFinder.v1 (span finder)"
            f" with scorer = {use}"
        )
    scorer = model.get_ref("scorer")
    leaf = last_leaf(scorer)[1]
    try:
        if activation == "sigmoid":
            return adapt_sigmoid_output(scorer)
        if leaf.name == SOFTMAX:
            return []
    except ValueError:
        pass
    raise ValueError(
        f"[{component}] model: the scorer's output layer {leaf.name!r} does not pass gradients"
        f" with respect to the logits to the layers below it, which spacy-dice losses need"
        f" ({activation} mode). Use scorer = {use}."
    )


def check_output_width(component: str, model: Model, n_classes: int) -> None:
    """At ``initialize``: an output width fixed in the config must equal the number of classes."""
    node = output_layer(model)
    if node.has_dim("nO") and node.get_dim("nO") != n_classes:
        raise ValueError(
            f"[{component}] model: the output layer '{node.name}' has nO = {node.get_dim('nO')},"
            f" but the component predicts {n_classes} classes from its labels. Set nO = null in"
            " the [components.NAME.model] block: the component sets it."
        )


def warn_unused_tok2vec(component: str, model: Model, nlp: Optional[Any]) -> None:
    """Warn (at ``initialize``) when the pipeline has a shared embedding component that
    ``component`` does not listen to: its model embeds the tokens itself, so the shared
    ``tok2vec``/``transformer`` gets no gradient from it and is not used by it.
    """
    if nlp is None:
        return
    if any(node.name in LISTENER_NAMES for node in model.walk()):
        return
    for name in nlp.pipe_names:
        factory = nlp.get_pipe_meta(name).factory
        if factory not in EMBEDDING_FACTORIES or name == component:
            continue
        listener = (
            '@architectures = "spacy.Tok2VecListener.v1", width = the tok2vec width'
            if factory == "tok2vec"
            else '@architectures = "spacy-transformers.TransformerListener.v1", grad_factor = 1.0'
        )
        warnings.warn(
            f"[{component}] the pipeline's '{name}' component (factory '{factory}') is not used"
            f" by '{component}': its model embeds the tokens itself (no listener). To share"
            f" '{name}', set [components.{component}.model.tok2vec] {listener},"
            f' upstream = "{name}"; otherwise remove \'{name}\' from the pipeline if no other'
            " component listens to it.",
            UserWarning,
            stacklevel=2,
        )
