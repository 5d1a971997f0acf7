"""What every spacy-dice component does with its configurable ``loss``.

The component owns the loss object built from its ``[components.NAME.loss]`` block and

* checks at construction that the loss suits the component (exclusive classes need a softmax loss);
* hands the loss the label names and training label counts at ``initialize`` (class weights by
  name or ``"inverse_frequency"``), and again after loading from disk, from ``cfg["label_counts"]``;
* calls ``loss(scores, truths)`` with ``truths`` as gold class ids (``-1`` = missing) on the model's
  device, and multiplies the gradient by the component's explicit ``grad_scale`` setting (see
  :func:`check_grad_scale`) and by nothing else;
* stops training with spaCy's E910 error, naming the component and the loss, when the loss value
  is not finite, before any weight is updated with its gradient;
* tells a loss that changes over training (``set_step``, e.g. scheduled weights) which update it is
  in: ``cfg["update_step"]`` counts this component's optimizer steps and is saved with it, so a
  resumed training continues the schedule;
* updates the weights with ``cfg["head_learn_rate_scale"]`` applied to its own layers
  (:mod:`spacy_dice.pipeline.head_learn_rate`).
"""
import math
import warnings
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple

from spacy.errors import Errors
from thinc.api import Model, Optimizer, set_dropout_rate

from .head_learn_rate import finish_update_with_head_scale


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


GRAD_SCALE_LABELLED = "labelled"


def check_grad_scale(component: str, grad_scale: Any) -> Any:
    """Validate the ``grad_scale`` setting: ``"labelled"`` or a number > 0.

    The losses are means over the labelled rows (tokens, or docs for text classification), so their
    gradient per row is ``1/n`` of spaCy's convention: spaCy's own tagger back-propagates the
    unnormalised ``P - Y`` of every token. thinc's Adam (``eps = 1e-8``) then barely moves the hash
    embedding rows, which see few and tiny gradients: on a UNER English-EWT slice, DSC stayed at F1
    0.00 for six epochs with the mean gradient and reached 0.36 with ``"labelled"``; CE went from
    0.32 to 0.34 (``tests/test_realdata_components.py``, docs/BENCHMARKS.md).

    * ``"labelled"`` (default): multiply the gradient by ``n``, the number of labelled rows in the
      batch, i.e. back-propagate the gradient of the SUM over rows, as spaCy does;
    * a number: a constant factor (``1.0`` back-propagates the loss's own gradient unchanged).

    The loss value reported in spaCy's training table is the loss itself, not scaled.
    """
    if grad_scale == GRAD_SCALE_LABELLED:
        return grad_scale
    if isinstance(grad_scale, (int, float)) and not isinstance(grad_scale, bool):
        if math.isfinite(grad_scale) and grad_scale > 0:
            return float(grad_scale)
    raise ValueError(
        f"[{component}] grad_scale={grad_scale!r} is not allowed; use \"{GRAD_SCALE_LABELLED}\""
        " (multiply the gradient by the number of labelled rows in the batch, spaCy's convention)"
        " or a number > 0 (1.0 leaves the loss's gradient unchanged)"
    )


def check_loss(component: str, loss: Any, activation: str = "softmax") -> Any:
    """Validate the ``loss`` setting of ``component``; return it."""
    if not callable(loss):
        raise ValueError(
            f"[{component}] loss: {loss!r} is not a loss. Use an @losses block, e.g."
            ' [components.NAME.loss] @losses = "spacy-dice.DiceLoss.v1"'
        )
    found = getattr(loss, "activation", "softmax")
    if found != activation:
        raise ValueError(
            f"[{component}] loss: {describe_loss(loss)} is configured with activation={found!r},"
            f" but this component predicts exclusive classes through a {activation}; set"
            f" activation = \"{activation}\" in the loss block (or leave it out)"
        )
    return loss


PROBABILITY_GRADIENT_LAYERS = ("softmax_activation", "sigmoid_activation", "logistic")


def check_output_layer(component: str, model: Model) -> None:
    """Refuse a model whose LAST layer back-propagates probability gradients.

    spacy-dice losses return gradients with respect to the logits, thinc's ``Softmax``/``Softmax_v2``
    convention (their backprop is the identity on the output). A final ``softmax_activation``
    (``spacy.TextCatBOW.v3``) or ``Logistic`` would apply the softmax Jacobian a second time.
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
            " [components.NAME.model] @architectures = \"spacy.Tagger.v2\" for tokens,"
            " spacy.TextCatEnsemble.v2 or spacy.TextCatReduce.v1 for texts."
        )
    if node.has_dim("nO") is False:
        raise ValueError(
            f"[{component}] model: the output layer '{node.name}' has no output width (nO)"
            " that the component can set from its labels. End the model in a Softmax_v2"
            " layer with nO = null, e.g. [components.NAME.model] @architectures ="
            " \"spacy.Tagger.v2\" (nO = null) for tokens, spacy.TextCatEnsemble.v2 or"
            " spacy.TextCatReduce.v1 for texts."
        )


LOGIT_OUTPUT_LAYERS = ("linear", "sparse_linear")
"""Output layers that give logits (no softmax): the losses would read logits as probabilities."""

TRANSITION_MODEL_NAMES = ("parser_model",)
"""Model names of spaCy's transition-based parser/ner models (``spacy.TransitionBasedParser.v2``)."""


def output_layer(model: Model) -> Model:
    """The layer that produces ``model``'s output: follow the last sublayer down to a leaf."""
    node = model
    while node.layers:
        node = node.layers[-1]
    return node


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


LISTENER_NAMES = ("tok2vec-listener", "transformer-listener")
EMBEDDING_FACTORIES = ("tok2vec", "transformer", "curated_transformer")


class ConfigurableLoss:
    """Mixin for TrainablePipe subclasses with ``self.loss``, ``self.cfg`` and ``self.model``."""

    loss: Any
    cfg: Dict[str, Any]
    name: str

    def initialize_loss(self, labels: Sequence[str], label_counts: Optional[Mapping[str, int]]) -> None:
        """Give the loss the label names and counts, and remember the counts for reloading."""
        self.cfg["label_counts"] = dict(label_counts) if label_counts is not None else None
        self._initialize_loss_from_cfg(labels)

    def _initialize_loss_from_cfg(self, labels: Sequence[str]) -> None:
        if hasattr(self.loss, "initialize"):
            self.loss.initialize(list(labels), self.cfg.get("label_counts"))

    def apply_loss(self, scores: Any, truths: Any, n_labelled: int) -> Tuple[float, Any]:
        """``(loss_value, d_scores)`` from the configured loss, with a finiteness check.

        ``d_scores`` is the loss's gradient times ``cfg["grad_scale"]`` (``"labelled"``:
        ``n_labelled``, the number of rows with gold in the batch); see :func:`check_grad_scale`.
        """
        set_step = getattr(self.loss, "set_step", None)
        if callable(set_step):
            set_step(int(self.cfg.get("update_step", 0)))
        d_scores, value = self.loss(scores, truths)
        value = float(value)
        scale = self.cfg.get("grad_scale", GRAD_SCALE_LABELLED)
        scale = float(n_labelled) if scale == GRAD_SCALE_LABELLED else scale
        if scale != 1.0:
            if isinstance(d_scores, (list, tuple)):
                for grad in d_scores:
                    grad *= scale
            else:
                d_scores *= scale
        # NaN weights make every score NaN and so the loss value: one scalar check suffices.
        if not math.isfinite(value):
            raise ValueError(
                Errors.E910.format(name=self.name)
                + f" The loss was {describe_loss(self.loss)} and gave {value!r}; check the loss"
                " settings and lower the learn rate."
            )
        return value, d_scores

    def learn_from_batch(
        self,
        examples: Sequence[Any],
        model_input: Any,
        *,
        drop: float,
        sgd: Optional[Optimizer],
        losses: Dict[str, float],
        loss_input: Optional[Callable[[Any], Any]] = None,
    ) -> Dict[str, float]:
        """One training step: forward ``model_input``, ``get_loss``, backprop, and the weight update
        when ``sgd`` is an optimizer (spaCy passes ``None`` when it updates later itself).

        ``loss_input`` maps the model's output to what ``get_loss`` takes (default: unchanged).
        """
        set_dropout_rate(self.model, drop)  # type: ignore[attr-defined]
        scores, backprop = self.model.begin_update(model_input)  # type: ignore[attr-defined]
        loss, d_scores = self.get_loss(  # type: ignore[attr-defined]
            examples, scores if loss_input is None else loss_input(scores)
        )
        backprop(d_scores)
        if sgd not in (None, False):
            self.finish_update(sgd)  # type: ignore[arg-type]
        losses[self.name] += loss
        return losses

    def finish_update(self, sgd: Optimizer) -> None:
        """Update the weights (head layers at ``head_learn_rate_scale`` times the rate); count the step."""
        scale = float(self.cfg.get("head_learn_rate_scale", 1.0))
        finish_update_with_head_scale(self.model, sgd, scale)
        self.cfg["update_step"] = int(self.cfg.get("update_step", 0)) + 1

    def from_disk(self, path: Any, *, exclude: Any = tuple()) -> Any:
        super().from_disk(path, exclude=exclude)  # type: ignore[misc]
        self._initialize_loss_from_cfg(self.labels)  # type: ignore[attr-defined]
        return self

    def from_bytes(self, bytes_data: bytes, *, exclude: Any = tuple()) -> Any:
        super().from_bytes(bytes_data, exclude=exclude)  # type: ignore[misc]
        self._initialize_loss_from_cfg(self.labels)  # type: ignore[attr-defined]
        return self
