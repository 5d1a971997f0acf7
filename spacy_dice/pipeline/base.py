"""The base of every trainable dice component, and the factory decorator that goes with it.

spaCy's own trainable components are the model (``update`` -> ``get_loss`` -> loss, in one place);
:class:`DiceComponent` is mixed in before spaCy's class (``TrainablePipe``, ``TextCategorizer``,
``SpanCategorizer``, ``SpanFinder``) and owns what every dice component shares:

* **the loss and its classes.** :attr:`DiceComponent.loss_labels` names the loss's classes in the
  order of the model's output columns (BILUO tags for ``dice_ner``, labels plus ``__negative__``
  for the single-label span categorizer, ``start`` / ``end`` for the span finder). ``initialize``,
  ``from_disk`` and ``from_bytes`` all hand the loss those names and the training counts, so class
  weights by name or ``"inverse_frequency"`` are the same after a reload as before it;
* **the shared settings** (:mod:`.settings`): ``grad_scale``, ``head_learn_rate_scale``, and in
  ``cfg`` (saved with the component) ``label_counts`` and ``update_step``, the count of this
  component's optimizer steps, which tells a loss that changes over training (``set_step``, e.g.
  scheduled weights) where it is, so a resumed training continues its schedule;
* **the update**: :meth:`DiceComponent.update` asks the component for its
  :class:`TrainingBatch`, runs the model, ``get_loss``, backprop and the optimizer step
  (:mod:`.head_learn_rate`); :meth:`DiceComponent.apply_loss` calls the loss with gold on the
  model's device, scales the gradient by ``grad_scale`` and stops with spaCy's E910 error when the
  loss is not finite, before any weight moves;
* **the decision settings** (:mod:`.decisions`): a component with a ``decision_setting``
  (``"thresholds"`` or ``"label_bias"``) keeps it in ``cfg``, checks its values at construction
  and its labels (``decision_labels``) at ``initialize`` and after ``from_disk`` / ``from_bytes``,
  and takes new ones with :meth:`DiceComponent.set_decisions`.

A component supplies ``loss_labels``, ``training_batch`` and ``get_loss`` (its gold); its factory,
decorated with :func:`dice_factory`, declares only its own settings and the component's
:class:`.descriptions.ComponentDescription` (what calibrate, debug-data, evaluate-table,
init-config and the spaCy baselines read). What a component refuses is in :mod:`.model_checks`.
"""
import inspect
import math
from dataclasses import replace
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple, Union

from spacy.errors import Errors
from spacy.language import Language
from spacy.training import Example, validate_examples
from thinc.api import Optimizer, set_dropout_rate

from .decision_settings import check_decision_labels, check_decision_values
from .descriptions import ComponentDescription, register_description
from .head_learn_rate import finish_update_with_head_scale
from .model_checks import check_loss, describe_loss
from .settings import GRAD_SCALE_LABELLED, SHARED_DEFAULTS, check_grad_scale, check_head_learn_rate_scale


class TrainingBatch(NamedTuple):
    """What one update trains on: the examples the loss sees, the model's input, and how the
    model's output becomes ``get_loss``'s scores (``None``: unchanged)."""

    examples: List[Example]
    model_input: Any
    loss_input: Optional[Callable[[Any], Any]] = None


class DiceComponent:
    """Mixin (before spaCy's pipe class) for components whose loss is a config block."""

    loss: Any
    cfg: Dict[str, Any]
    name: str
    model: Any
    #: ``"thresholds"`` or ``"label_bias"`` (:mod:`.decisions`); ``None``: nothing to calibrate.
    decision_setting: Optional[str] = None

    def setup_dice(
        self,
        loss: Any,
        *,
        activation: str = "softmax",
        predicts: str = "exclusive classes",
        grad_scale: Any = SHARED_DEFAULTS["grad_scale"],
        head_learn_rate_scale: Any = SHARED_DEFAULTS["head_learn_rate_scale"],
    ) -> None:
        """Check and keep the shared settings (call at the end of ``__init__``).

        ``activation``: the loss mode the component trains (``softmax`` or ``sigmoid``);
        ``predicts``: what it predicts, for the refusal of a loss of the other mode.
        """
        self.loss = check_loss(self.name, loss, activation, predicts)
        self.cfg["label_counts"] = None
        self.cfg["update_step"] = 0
        self.cfg["grad_scale"] = check_grad_scale(self.name, grad_scale)
        self.cfg["head_learn_rate_scale"] = check_head_learn_rate_scale(self.name, head_learn_rate_scale)

    # --- decision settings (:mod:`.decisions`) ---------------------------------------------------
    def setup_decisions(self, values: Any) -> None:
        """Check the values of the component's decision setting and keep them in ``cfg``
        (labels are checked once known: :meth:`check_decisions`)."""
        assert self.decision_setting is not None
        self.cfg[self.decision_setting] = check_decision_values(self.name, self.decision_setting, values)

    @property
    def decision_labels(self) -> Sequence[str]:
        """The keys the decision setting allows (the component's labels, once known)."""
        return tuple(self.labels)  # type: ignore[attr-defined]

    def set_decisions(self, values: Dict[str, float]) -> None:
        """Replace the decision setting (``cfg[decision_setting]``) by ``values``, checked first.

        Refuses (``ValueError`` naming the component and what is allowed) a label the component
        does not know, a threshold outside ``[0, 1]`` and a bias that is not a finite number.
        The next ``set_annotations`` applies them; the model is untouched.
        """
        if self.decision_setting is None:
            raise ValueError(f"[{self.name}] has no decision setting (thresholds or label_bias) to set")
        checked = check_decision_values(self.name, self.decision_setting, values)
        check_decision_labels(self.name, self.decision_setting, checked, list(self.decision_labels))
        self.cfg[self.decision_setting] = checked

    def check_decisions(self) -> None:
        """Check the saved or configured decision setting against the labels the component knows
        (at ``initialize`` and after loading; ``cfg`` read from disk wins over ``config.cfg``)."""
        if self.decision_setting is None:
            return
        values = check_decision_values(self.name, self.decision_setting, self.cfg.get(self.decision_setting))
        check_decision_labels(self.name, self.decision_setting, values, list(self.decision_labels))
        self.cfg[self.decision_setting] = values

    # --- the loss's classes ----------------------------------------------------------------------
    @property
    def loss_labels(self) -> Sequence[str]:
        """The loss's classes, in the order of the model's output columns."""
        raise NotImplementedError

    def initialize_loss(self, label_counts: Optional[Dict[str, int]]) -> None:
        """At the end of ``initialize`` (labels known): keep the training counts of the loss's
        classes, set the loss up, and check the decision setting's labels."""
        self.cfg["label_counts"] = dict(label_counts) if label_counts is not None else None
        self._set_up_loss()
        self.check_decisions()

    def _set_up_loss(self) -> None:
        """Hand the loss its classes and counts, and (a scheduled loss) the step it is at."""
        if hasattr(self.loss, "initialize"):
            self.loss.initialize(list(self.loss_labels), self.cfg.get("label_counts"))
        self._set_loss_step()

    def _set_loss_step(self) -> None:
        set_step = getattr(self.loss, "set_step", None)
        if callable(set_step):
            set_step(int(self.cfg.get("update_step", 0)))

    def from_disk(self, path: Any, *, exclude: Any = tuple()) -> Any:
        super().from_disk(path, exclude=exclude)  # type: ignore[misc]
        self._set_up_loss()
        self.check_decisions()
        return self

    def from_bytes(self, bytes_data: bytes, *, exclude: Any = tuple()) -> Any:
        super().from_bytes(bytes_data, exclude=exclude)  # type: ignore[misc]
        self._set_up_loss()
        self.check_decisions()
        return self

    # --- training --------------------------------------------------------------------------------
    def training_batch(self, examples: List[Example]) -> Optional[TrainingBatch]:
        """What ``examples`` train, or ``None`` when they teach nothing (e.g. no tokens)."""
        raise NotImplementedError

    def get_loss(self, examples: Iterable[Example], scores: Any) -> Tuple[float, Any]:
        raise NotImplementedError

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Optimizer] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        """One training step: forward, ``get_loss``, backprop, and the weight update when ``sgd``
        is an optimizer (spaCy passes ``None`` when it updates later itself)."""
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        examples = list(examples)
        validate_examples(examples, f"{type(self).__name__}.update")
        batch = self.training_batch(examples)
        if batch is None:
            return losses
        set_dropout_rate(self.model, drop)
        scores, backprop = self.model.begin_update(batch.model_input)
        if batch.loss_input is not None:
            scores = batch.loss_input(scores)
        loss, d_scores = self.get_loss(batch.examples, scores)
        backprop(d_scores)
        if sgd not in (None, False):
            self.finish_update(sgd)  # type: ignore[arg-type]
        losses[self.name] += loss
        return losses

    def apply_loss(self, scores: Any, truths: Any, n_labelled: int) -> Tuple[float, Any]:
        """``(loss_value, d_scores)`` from the configured loss, with a finiteness check.

        ``d_scores`` is the loss's gradient times ``cfg["grad_scale"]`` (``"labelled"``:
        ``n_labelled``, the number of rows with gold in the batch); see
        :func:`.settings.check_grad_scale`.
        """
        self._set_loss_step()
        d_scores, value = self.loss(scores, truths)
        value = float(value)
        scale = self.cfg.get("grad_scale", GRAD_SCALE_LABELLED)
        scale = float(n_labelled) if scale == GRAD_SCALE_LABELLED else scale
        if scale != 1.0:
            for grad in d_scores if isinstance(d_scores, (list, tuple)) else [d_scores]:
                grad *= scale
        # NaN weights make every score NaN and so the loss value: one scalar check suffices.
        if not math.isfinite(value):
            raise ValueError(
                Errors.E910.format(name=self.name)
                + f" The loss was {describe_loss(self.loss)} and gave {value!r}; check the loss"
                " settings and lower the learn rate."
            )
        return value, d_scores

    def finish_update(self, sgd: Optimizer) -> None:
        """Update the weights (head layers at ``head_learn_rate_scale`` times the rate); count the step."""
        scale = float(self.cfg.get("head_learn_rate_scale", 1.0))
        finish_update_with_head_scale(self.model, sgd, scale)
        self.cfg["update_step"] = int(self.cfg.get("update_step", 0)) + 1
        self._set_loss_step()


_SHARED_PARAMETERS = [
    inspect.Parameter("loss", inspect.Parameter.KEYWORD_ONLY, annotation=Any),
    inspect.Parameter("grad_scale", inspect.Parameter.KEYWORD_ONLY, annotation=Union[str, float]),
    inspect.Parameter("head_learn_rate_scale", inspect.Parameter.KEYWORD_ONLY, annotation=float),
]


def dice_factory(
    name: str,
    *,
    default_loss: Dict[str, Any],
    default_config: Dict[str, Any],
    description: ComponentDescription,
    assigns: Sequence[str] = (),
    default_score_weights: Optional[Dict[str, Optional[float]]] = None,
) -> Callable[[Callable], Callable]:
    """``@Language.factory(name, ...)`` for a dice component.

    The decorated function declares only the component's own settings and takes the shared ones
    as ``**shared`` (``loss``, ``grad_scale``, ``head_learn_rate_scale``), which it passes on to
    the component. The registered factory's signature (what spaCy's config validation reads)
    and default config get the shared settings added: ``loss = default_loss`` and
    :data:`.settings.SHARED_DEFAULTS`. ``description`` is registered as the factory's
    :class:`.descriptions.ComponentDescription` (with ``dice = True``).
    """

    def register(make: Callable) -> Callable:
        signature = inspect.signature(make)
        own = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]

        def factory(*args: Any, **kwargs: Any) -> Any:
            return make(*args, **kwargs)

        factory.__name__ = make.__name__
        factory.__qualname__ = make.__qualname__
        factory.__module__ = make.__module__
        factory.__doc__ = make.__doc__
        factory.__signature__ = signature.replace(parameters=own + _SHARED_PARAMETERS)  # type: ignore[attr-defined]
        factory.__annotations__ = {
            **{k: v for k, v in make.__annotations__.items() if k != "shared"},
            **{p.name: p.annotation for p in _SHARED_PARAMETERS},
        }
        registered = Language.factory(
            name,
            assigns=list(assigns),
            default_config={**default_config, "loss": default_loss, **SHARED_DEFAULTS},
            default_score_weights=default_score_weights or {},
        )(factory)
        register_description(name, replace(description, dice=True))
        return registered

    return register
