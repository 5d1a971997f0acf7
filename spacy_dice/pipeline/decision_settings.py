"""Decision settings: per-label thresholds and label biases, their checks and how they apply.

A component's model gives scores; its *decision rule* turns them into annotations. The rule's
settings are saved with the model (in the component's ``cfg`` and in ``config.cfg``), default to
spaCy's behaviour exactly, and can be changed after training without touching the weights:
``predict(docs)`` returns decision-free scores and ``set_annotations(docs, scores)`` applies the
CURRENT settings, so a calibration can predict once and try many settings.

Two kinds of setting, one per component (its class attribute ``decision_setting``):

* ``thresholds`` (``dice_spancat``, ``dice_span_finder``): label -> probability in ``[0, 1]``.
  A candidate gets label ``c`` when ``P_c >= thresholds[c]``; labels not listed use the
  component's ``threshold``. The span finder's keys are its columns, ``"start"`` and ``"end"``.
* ``label_bias`` (``dice_ner``, ``dice_textcat``, ``dice_spancat_singlelabel``, ``dice_tagger``):
  label -> finite number ``b_c`` added to that label's log-probability before the decision::

      log p'_c = log p_c + b_c                      (b_c = 0 for labels not listed)

  ``dice_tagger``: ``argmax_c log p'_c``. ``dice_textcat``: ``doc.cats = softmax(log p + b)``, the
  bias changes the decision (the argmax) and the stored probabilities consistently.
  ``dice_spancat_singlelabel``: the span labels' columns get ``b_c``, the ``__negative__`` column
  none (a uniform bias ``b`` on every label is the same as ``-b`` on ``__negative__``, as the
  softmax is shift invariant, so ``__negative__`` is not a key); the candidates' probabilities
  become ``softmax(log p + b)`` before spaCy's argmax, and ``attrs["scores"]`` holds them.
  ``dice_ner``: ``b_X`` is added to the ``B-X``, ``I-X``, ``L-X`` and ``U-X`` columns, so every
  token of an entity of type ``X`` gains ``b_X``; the constrained Viterbi decoder then maximises
  ``sum_t lp'[t, y_t]`` over valid BILUO sequences, exactly.

An empty dict (the default) leaves the output bit-identical to the component without the setting:
no arithmetic is done on the scores.

:func:`check_decision_values` checks the values (at construction and in ``set_decisions``);
:func:`check_decision_labels` the keys against the labels a component knows (at ``initialize``,
after ``from_disk`` / ``from_bytes``, in ``set_decisions``). :func:`set_pipeline_decisions` sets
a component's decisions and the pipeline's config together, so ``config.cfg`` and the component's
``cfg`` file agree when the pipeline is saved.
"""
import math
from typing import Any, Dict, Iterable, Mapping, Optional, Sequence

THRESHOLDS = "thresholds"
LABEL_BIAS = "label_bias"
DECISION_SETTINGS = (THRESHOLDS, LABEL_BIAS)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_decision_values(component: str, setting: str, values: Any) -> Dict[str, float]:
    """``values`` as a ``{label: float}`` dict, or a ``ValueError`` naming what is wrong.

    ``thresholds``: every value a number in ``[0, 1]``; ``label_bias``: every value a finite
    number. ``None`` counts as ``{}``. Labels are not checked here (:func:`check_decision_labels`).
    """
    if setting not in DECISION_SETTINGS:
        raise ValueError(f"[{component}] unknown decision setting {setting!r}; use one of {DECISION_SETTINGS}")
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise ValueError(
            f"[{component}] {setting}={values!r} is not allowed; use a dict label -> "
            + ("probability in [0, 1]" if setting == THRESHOLDS else "finite number (log-probability bias)")
            + ", e.g. {}" + " (empty: the default decision)"
        )
    checked: Dict[str, float] = {}
    for label, value in values.items():
        if not isinstance(label, str) or not label:
            raise ValueError(f"[{component}] {setting}: the key {label!r} is not a label name (a non-empty string)")
        if setting == THRESHOLDS:
            if not _is_number(value) or not (0.0 <= float(value) <= 1.0):
                raise ValueError(
                    f"[{component}] {setting}[{label!r}]={value!r} is not allowed; a threshold is"
                    " a probability in [0, 1] (a label is predicted when its probability is >="
                    " its threshold)"
                )
        elif not _is_number(value) or not math.isfinite(float(value)):
            raise ValueError(
                f"[{component}] {setting}[{label!r}]={value!r} is not allowed; a label bias is a"
                " finite number added to the label's log-probabilities (0: no change; > 0: the"
                " label is predicted more often)"
            )
        checked[label] = float(value)
    return checked


def check_decision_labels(
    component: str, setting: str, values: Mapping[str, float], known: Sequence[str]
) -> None:
    """Refuse a key of ``values`` that is not one of ``known``, naming the labels known."""
    known_set = set(known)
    unknown = [label for label in values if label not in known_set]
    if unknown:
        shown = ", ".join(repr(label) for label in known) if known else "none: initialize or load the pipeline first"
        raise ValueError(
            f"[{component}] {setting} names the label {unknown[0]!r}, which the component does not"
            f" know; its labels: {shown}"
            + (f" (unknown: {unknown!r})" if len(unknown) > 1 else "")
        )


def bias_vector(label_bias: Mapping[str, float], columns: Sequence[str], column_label: Any = None) -> Optional[list]:
    """The bias of each output column (``None`` when no column gets a non-zero bias).

    ``column_label(name)`` maps a column name to the label it belongs to (default: itself), e.g.
    ``"B-PER" -> "PER"`` for ``dice_ner`` and ``"O" -> None``.
    """
    if not label_bias:
        return None
    to_label = column_label or (lambda name: name)
    vector = [float(label_bias.get(to_label(name), 0.0)) if to_label(name) is not None else 0.0 for name in columns]
    return vector if any(v != 0.0 for v in vector) else None


def threshold_vector(thresholds: Mapping[str, float], columns: Sequence[str], default: Any) -> list:
    """The threshold of each output column: ``thresholds[c]``, else the component's ``threshold``."""
    return [thresholds.get(name, default) for name in columns]


def set_pipeline_decisions(nlp: Any, name: str, values: Mapping[str, float]) -> None:
    """``nlp.get_pipe(name).set_decisions(values)``, and the same values in ``nlp.config``.

    spaCy writes ``config.cfg`` from the factory settings the component was created with; this
    keeps them in step with the component's ``cfg`` (which wins at load time anyway), so a saved
    pipeline's ``config.cfg`` shows the decisions it applies.
    """
    pipe = nlp.get_pipe(name)
    setting = getattr(pipe, "decision_setting", None)
    if setting is None:
        having = [n for n, p in nlp.pipeline if getattr(p, "decision_setting", None)]
        raise ValueError(
            f"[{name}] has no decision setting to calibrate; components that have one: "
            + (", ".join(having) or "none")
        )
    pipe.set_decisions(values)
    pipe_config = nlp._pipe_configs.get(name)  # what nlp.config and config.cfg are built from
    if pipe_config is not None:
        pipe_config[setting] = dict(pipe.cfg[setting])


def calibratable_components(nlp: Any) -> Iterable[Any]:
    """``(name, component)`` of every pipeline component that has a decision setting."""
    return [(n, p) for n, p in nlp.pipeline if getattr(p, "decision_setting", None)]
