"""``dice_spancat`` and ``dice_spancat_singlelabel``: spaCy's span categorizers with a configurable loss.

Both keep spaCy's ``SpanCategorizer`` (suggester, model, ``doc.spans[spans_key]`` output, scorer,
thresholds) and replace its hard-coded loss:

* ``dice_spancat`` (multi-label, overlapping and nested spans): spaCy's ``spancat`` back-propagates
  ``P - Y`` through ``Logistic``, i.e. the squared error ``(1/2) sum_{i,c} (P_ic - Y_ic)^2`` on
  probabilities. Here the loss is any spacy-dice loss in ``activation = "sigmoid"`` mode over the
  ``(candidates, labels)`` matrix ``P = sigmoid(Z)`` with gold ``Y_ic = 1`` when candidate ``i`` is
  a gold span of label ``c``; e.g. BCE ``-(1/nC) sum_{i,c} [Y log P + (1-Y) log(1-P)]`` or the
  set-level DSC of the paper (eq. 12 with the batch as one set, as the authors train MRC-NER), one
  column per label;
* ``dice_spancat_singlelabel`` (exclusive labels): softmax over the labels plus a negative label
  ("not a span", named :data:`NEGATIVE_LABEL` for class weights), any loss in the default softmax
  mode.

The gradient that reaches the logits is exactly the loss's logit gradient ``dL/dZ``
(:mod:`spacy_dice.layers.logits`): spaCy's ``spacy.LinearLogistic.v1`` is adapted, models
that cannot pass logit gradients are refused. Missing gold is masked (:mod:`.span_gold`).

Decision settings (:mod:`.decisions`): ``dice_spancat`` takes ``thresholds`` (label -> probability;
a candidate gets label ``c`` when ``P_c >= thresholds.get(c, threshold)``),
``dice_spancat_singlelabel`` takes ``label_bias`` (label -> number; the candidates' probabilities
become ``softmax(log p + b)`` with no bias on ``__negative__``, then spaCy's argmax decides).
"""
import copy
import warnings
from collections import Counter
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy
from spacy.language import Language
from spacy.pipeline.spancat import (
    DEFAULT_SPANCAT_MODEL,
    DEFAULT_SPANCAT_SINGLELABEL_MODEL,
    DEFAULT_SPANS_KEY,
    SpanCategorizer,
    Suggester,
)
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.vocab import Vocab
from thinc.api import Model
from thinc.types import Floats2d, Ragged

from ..layers.outputs import log_probs, log_softmax, output_normalizes
from .base import DiceComponent, TrainingBatch, dice_factory
from .decision_settings import LABEL_BIAS, THRESHOLDS, bias_vector, threshold_vector
from .default_losses import SPANCAT_DEFAULT_LOSS, SPANCAT_SINGLELABEL_DEFAULT_LOSS
from .descriptions import MULTILABEL_SPANS, SINGLELABEL_SPANS, ComponentDescription
from .model_checks import check_span_scorer, warn_unused_tok2vec
from .span_gold import candidate_gold_sigmoid, candidate_gold_softmax, reference_spans

NEGATIVE_LABEL = "__negative__"
"""Name of ``dice_spancat_singlelabel``'s "not a span" class in the loss (class weights by name,
e.g. ``class_weights = {"__negative__": 0.2}``, replace spaCy's ``negative_weight``)."""

DICE_SPANCAT_MODEL = copy.deepcopy(dict(DEFAULT_SPANCAT_MODEL))
DICE_SPANCAT_MODEL["scorer"] = {"@layers": "spacy-dice.LinearLogits.v1", "nO": None, "nI": None}
SPANCAT_SCORE_WEIGHTS = {"spans_sc_f": 1.0, "spans_sc_p": 0.0, "spans_sc_r": 0.0}
NGRAM_SUGGESTER = {"@misc": "spacy.ngram_suggester.v1", "sizes": [1, 2, 3]}


def check_component_spans_key(component: str, spans_key: Any) -> str:
    """``spans_key`` must be a non-empty string (the key of ``doc.spans``)."""
    if not isinstance(spans_key, str) or not spans_key:
        raise ValueError(
            f"[{component}] spans_key={spans_key!r} is not allowed; use a non-empty string, the"
            f" key of doc.spans that holds the gold spans and receives the predictions (spaCy's"
            f" default: \"{DEFAULT_SPANS_KEY}\")"
        )
    return spans_key


class DiceSpanCategorizer(DiceComponent, SpanCategorizer):
    """spaCy's ``SpanCategorizer`` whose loss is the configured spacy-dice loss.

    ``add_negative_label=False``: multi-label, sigmoid-mode loss over ``(candidates, labels)``;
    ``True``: single-label, softmax-mode loss over ``labels + [NEGATIVE_LABEL]``.

    Decision setting: ``thresholds`` (multi-label) or ``label_bias`` (single-label), see
    :attr:`decision_setting` and :mod:`.decisions`.
    """

    def __init__(
        self,
        vocab: Vocab,
        model: Model[Tuple[List[Any], Ragged], Floats2d],
        suggester: Suggester,
        name: str = "dice_spancat",
        *,
        loss: Any,
        add_negative_label: bool = False,
        spans_key: str = DEFAULT_SPANS_KEY,
        allow_overlap: bool = True,
        max_positive: Optional[int] = None,
        threshold: Optional[float] = 0.5,
        thresholds: Optional[Dict[str, float]] = None,
        label_bias: Optional[Dict[str, float]] = None,
        scorer: Optional[Callable],
        **shared: Any,
    ) -> None:
        """``shared``: ``grad_scale``, ``head_learn_rate_scale`` (:mod:`.settings`).
        ``thresholds``: multi-label only; ``label_bias``: single-label only."""
        check_component_spans_key(name, spans_key)
        unused = ("thresholds", thresholds) if add_negative_label else ("label_bias", label_bias)
        if unused[1]:
            raise ValueError(
                f"[{name}] {unused[0]}={unused[1]!r} is not a setting of this component; the"
                + (" single-label span categorizer takes label_bias (label -> number added to"
                   " its log-probability)" if add_negative_label else
                   " multi-label span categorizer takes thresholds (label -> probability in [0, 1])")
            )
        if not callable(suggester):
            raise ValueError(
                f"[{name}] suggester: {suggester!r} is not a suggester; use a @misc block such"
                " as spacy.ngram_suggester.v1 (sizes = [1, 2, 3]) or"
                " spacy.preset_spans_suggester.v1 (after a span finder)"
            )
        super().__init__(
            vocab, model, suggester, name, add_negative_label=add_negative_label,
            spans_key=spans_key, negative_weight=1.0, allow_overlap=allow_overlap,
            max_positive=max_positive, threshold=threshold, scorer=scorer,
        )
        activation = "softmax" if add_negative_label else "sigmoid"
        what = (
            "one exclusive label (or none) per candidate span" if add_negative_label
            else "independent labels per candidate span (multi-label)"
        )
        self.setup_dice(loss, activation=activation, predicts=what, **shared)
        self.adapted_layers = check_span_scorer(name, model, activation)
        self._warned_no_candidates = False
        self.setup_decisions(label_bias if add_negative_label else thresholds)

    @property
    def decision_setting(self) -> str:  # type: ignore[override]
        """``"label_bias"`` for the single-label categorizer, ``"thresholds"`` for the multi-label one."""
        return LABEL_BIAS if self.add_negative_label else THRESHOLDS

    @property
    def decision_labels(self) -> Tuple[str, ...]:
        """The span labels (not ``__negative__``: a uniform bias on all labels is its opposite)."""
        return tuple(self.labels)

    def set_annotations(self, docs: Iterable[Any], indices_scores: Tuple[Ragged, Floats2d]) -> None:
        """spaCy's ``doc.spans[spans_key]`` from ``predict``'s output, after the decision setting
        (``indices_scores`` is left unchanged)."""
        indices, scores = indices_scores
        if self.add_negative_label:
            bias = bias_vector(
                self.cfg.get(LABEL_BIAS) or {}, self.loss_labels,
                lambda column: None if column == NEGATIVE_LABEL else column,
            )
            if bias is not None and scores.size:
                xp = self.model.ops.xp
                logp = log_probs(scores, output_normalizes(self.model)).astype("float64")
                biased = xp.exp(log_softmax(logp + xp.asarray(bias, dtype="float64")))
                scores = biased.astype(scores.dtype)
        super().set_annotations(docs, (indices, scores))

    def _make_span_group_multilabel(self, doc: Any, indices: Any, scores: Floats2d) -> Any:
        """spaCy's multi-label span group, each label against its own threshold
        (``thresholds.get(label, threshold)``); spaCy's own code when ``thresholds`` is empty."""
        thresholds = self.cfg.get(THRESHOLDS) or {}
        if not thresholds:
            return super()._make_span_group_multilabel(doc, indices, scores)
        from spacy.tokens import Span, SpanGroup

        spans = SpanGroup(doc, name=self.key)
        if scores.size == 0:
            return spans
        scores = self.model.ops.to_numpy(scores)
        indices = self.model.ops.to_numpy(indices)
        keeps = scores >= numpy.asarray(threshold_vector(thresholds, self.labels, self.cfg["threshold"]))
        max_positive = self.cfg["max_positive"]
        if max_positive is not None:
            ranked = (scores * -1).argsort()
            for i, row in enumerate(ranked[:, max_positive:]):
                keeps[i, row] = False
        attrs_scores = []
        for i, j in zip(*numpy.nonzero(keeps)):
            spans.append(Span(doc, int(indices[i, 0]), int(indices[i, 1]), label=self.labels[j]))
            attrs_scores.append(scores[i, j])
        spans.attrs["scores"] = numpy.array(attrs_scores)
        return spans

    @property
    def loss_labels(self) -> Tuple[str, ...]:
        """The loss's classes: the labels, plus :data:`NEGATIVE_LABEL` for single-label."""
        labels = tuple(self.labels)
        return labels + (NEGATIVE_LABEL,) if self.add_negative_label else labels

    def training_batch(self, examples: List[Example]) -> Optional[TrainingBatch]:
        """The suggester's candidates of the predicted docs; warns once when it finds none in a
        batch that has tokens (nothing can be learned from it)."""
        if not any(len(eg.predicted) if eg.predicted else 0 for eg in examples):
            return None
        docs = [eg.predicted for eg in examples]
        spans = self.suggest(docs)
        if spans.lengths.sum() == 0:
            self._warn_no_candidates(docs)
            return None
        return TrainingBatch(examples, (docs, spans), lambda scores: (spans, scores))

    def suggest(self, docs: Sequence[Any]) -> Ragged:
        """The suggester's candidates; a clear error when a preset suggester's key is missing.

        spaCy's ``spacy.preset_spans_suggester.v1`` raises a bare ``KeyError`` on a doc without
        the span group it reads (the upstream component did not run on it).
        """
        try:
            return self.suggester(docs, ops=self.model.ops)
        except KeyError as err:
            raise ValueError(
                f"[{self.name}] the suggester looked for doc.spans[{err.args[0]!r}], which a doc"
                " does not have: the component that writes it (e.g. a span finder) must run"
                " before this one; in training list it, and the tok2vec or transformer it"
                " listens to, in [training] annotating_components (e.g. [\"tok2vec\","
                " \"span_finder\"])"
            ) from None

    def predict(self, docs: Iterable[Any]) -> Tuple[Ragged, Floats2d]:
        """spaCy's spancat prediction (candidates, probabilities) through :meth:`suggest`."""
        docs = list(docs)
        indices = self.suggest(docs)
        if indices.lengths.sum() == 0:
            return indices, self.model.ops.alloc2f(0, 0)
        return indices, self.model.predict((docs, indices))

    def _warn_no_candidates(self, docs: Sequence[Any]) -> None:
        """Warn once that a training batch had no candidate, and say why.

        With a preset suggester (``spacy.preset_spans_suggester.v1``) the span group it reads is
        there (a missing one is an error, :meth:`suggest`), so the upstream component ran and
        proposed nothing: a span finder that has not learned to propose spans yet, which passes
        as it trains. Other suggesters (n-grams) found no span of their sizes in the docs.
        """
        if self._warned_no_candidates:
            return
        self._warned_no_candidates = True
        key = getattr(self.suggester, "keywords", {}).get("spans_key")
        if key is not None and all(key in doc.spans for doc in docs):
            why = (
                f" The suggester reads doc.spans[{key!r}], which the upstream component (e.g. a"
                " span finder) wrote empty for every doc of the batch: the pipeline is wired"
                " right, and the upstream component has not learned to propose spans yet. This"
                " passes as it trains; if it lasts past the first evaluations, lower its"
                " threshold."
            )
        else:
            why = (
                " The suggester found no span in these docs: with spacy.ngram_suggester.v1"
                " check that the sizes fit the docs."
            )
        warnings.warn(
            f"[{self.name}] the suggester proposed no candidate span for a training batch, so"
            f" the batch taught nothing.{why}",
            stacklevel=3,
        )

    def _candidates_per_doc(self, spans: Ragged) -> List[numpy.ndarray]:
        ops = self.model.ops
        lengths = ops.to_numpy(spans.lengths).astype("int64")
        data = ops.to_numpy(spans.dataXd).reshape((-1, 2)) if int(lengths.sum()) else None
        out, start = [], 0
        for length in lengths.tolist():
            out.append(data[start : start + length] if data is not None else numpy.zeros((0, 2), "i"))
            start += length
        return out

    def gold(self, examples: Sequence[Example], spans: Ragged) -> numpy.ndarray:
        """The loss's gold for the candidates ``spans`` (see :mod:`.span_gold`)."""
        candidates = self._candidates_per_doc(spans)
        if self.add_negative_label:
            return candidate_gold_softmax(examples, candidates, self.labels, self.key)
        return candidate_gold_sigmoid(examples, candidates, self.labels, self.key)

    def get_loss(
        self, examples: Iterable[Example], spans_scores: Tuple[Ragged, Floats2d]
    ) -> Tuple[float, Floats2d]:
        """The configured loss over the candidates' probabilities; gradient w.r.t. the logits."""
        examples = list(examples)
        spans, scores = spans_scores
        gold = self.gold(examples, spans)
        ops = self.model.ops
        if self.add_negative_label:
            n_labelled = int((gold >= 0).sum())
            truths = ops.asarray(gold, dtype="int32")
        else:
            n_labelled = int((gold >= 0).any(axis=1).sum()) if gold.size else 0
            truths = ops.asarray2f(gold)
        return self.apply_loss(scores, truths, n_labelled)

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[List[str]] = None,
    ) -> None:
        """spaCy's spancat initialisation, then the loss learns its classes and their counts.

        Counts: gold spans per label in the annotated training docs; single-label also counts
        the negative class (the suggester's candidates that are no gold span).
        """
        validate_get_examples(get_examples, "DiceSpanCategorizer.initialize")
        super().initialize(get_examples, nlp=nlp, labels=labels)
        self.initialize_loss(self._label_counts(get_examples))
        warn_unused_tok2vec(self.name, self.model, nlp)

    def _label_counts(self, get_examples: Callable[[], Iterable[Example]]) -> Dict[str, int]:
        counts: Counter = Counter()
        known = set(self.labels)
        batch: List[Example] = []

        def count_negatives(batch: List[Example]) -> None:
            try:
                spans = self.suggester([eg.predicted for eg in batch], ops=self.model.ops)
            except KeyError:  # a preset suggester before its upstream component ran: no count
                return
            gold = self.gold(batch, spans)
            counts[NEGATIVE_LABEL] += int((gold == len(self.labels)).sum())

        for example in get_examples():
            group = reference_spans(example, self.key)
            if group is None:
                continue
            counts.update(span.label_ for span in group if span.label_ in known)
            if self.add_negative_label:
                batch.append(example)
                if len(batch) == 64:
                    count_negatives(batch)
                    batch = []
        if batch:
            count_negatives(batch)
        return {label: int(counts.get(label, 0)) for label in self.loss_labels}


SPANCAT_DEFAULT_CONFIG = {
    "threshold": 0.5,
    "spans_key": DEFAULT_SPANS_KEY,
    "max_positive": None,
    "thresholds": {},
    "model": DICE_SPANCAT_MODEL,
    "suggester": NGRAM_SUGGESTER,
    "scorer": {"@scorers": "spacy.spancat_scorer.v1"},
}


@dice_factory(
    "dice_spancat",
    assigns=["doc.spans"],
    default_loss=SPANCAT_DEFAULT_LOSS,
    default_config=SPANCAT_DEFAULT_CONFIG,
    default_score_weights=SPANCAT_SCORE_WEIGHTS,
    description=ComponentDescription(
        MULTILABEL_SPANS, decision=THRESHOLDS, spacy_counterpart="spancat",
        predicts="doc.spans[spans_key], multi-label (sigmoid) over suggested n-grams",
        gold="doc.spans[\"sc\"]",
    ),
)
def make_dice_spancat(
    nlp: Language,
    name: str,
    suggester: Suggester,
    model: Model[Tuple[List[Any], Ragged], Floats2d],
    spans_key: str,
    scorer: Optional[Callable],
    threshold: float,
    max_positive: Optional[int],
    thresholds: Dict[str, float],
    **shared: Any,
) -> DiceSpanCategorizer:
    """Multi-label span categorizer (spaCy's ``spancat`` settings) trained with a sigmoid-mode ``loss``.

    ``thresholds``: label -> probability in [0, 1], that label's threshold; labels not listed use
    ``threshold`` (:mod:`spacy_dice.pipeline.decision_settings`).

    ``model``: ``spacy.SpanCategorizer.v1`` with ``scorer = spacy-dice.LinearLogits.v1`` (spaCy's
    ``spacy.LinearLogistic.v1`` is adapted); ``grad_scale``: ``"labelled"`` (times the number of
    labelled candidates) or a number; ``head_learn_rate_scale``: see
    :mod:`spacy_dice.pipeline.head_learn_rate`.
    """
    return DiceSpanCategorizer(
        nlp.vocab, model, suggester, name, add_negative_label=False, spans_key=spans_key,
        allow_overlap=True, max_positive=max_positive, threshold=threshold, thresholds=thresholds,
        scorer=scorer, **shared,
    )


SPANCAT_SINGLELABEL_DEFAULT_CONFIG = {
    "spans_key": DEFAULT_SPANS_KEY,
    "model": copy.deepcopy(dict(DEFAULT_SPANCAT_SINGLELABEL_MODEL)),
    "suggester": NGRAM_SUGGESTER,
    "allow_overlap": True,
    "label_bias": {},
    "scorer": {"@scorers": "spacy.spancat_scorer.v1"},
}


@dice_factory(
    "dice_spancat_singlelabel",
    assigns=["doc.spans"],
    default_loss=SPANCAT_SINGLELABEL_DEFAULT_LOSS,
    default_config=SPANCAT_SINGLELABEL_DEFAULT_CONFIG,
    default_score_weights=SPANCAT_SCORE_WEIGHTS,
    description=ComponentDescription(
        SINGLELABEL_SPANS, decision=LABEL_BIAS, spacy_counterpart="spancat_singlelabel",
        predicts="doc.spans[spans_key], one label or none per suggested n-gram (softmax)",
        gold="doc.spans[\"sc\"]",
    ),
)
def make_dice_spancat_singlelabel(
    nlp: Language,
    name: str,
    suggester: Suggester,
    model: Model[Tuple[List[Any], Ragged], Floats2d],
    spans_key: str,
    allow_overlap: bool,
    label_bias: Dict[str, float],
    scorer: Optional[Callable],
    **shared: Any,
) -> DiceSpanCategorizer:
    """Single-label span categorizer (spaCy's ``spancat_singlelabel``) with a softmax-mode ``loss``.

    ``label_bias``: span label -> number added to its log-probability before the argmax, the
    stored scores are ``softmax(log p + b)`` (``__negative__`` gets none; a uniform bias on every
    label is its opposite) (:mod:`spacy_dice.pipeline.decision_settings`).

    The negative class is :data:`NEGATIVE_LABEL`; spaCy's ``negative_weight`` becomes the loss's
    ``class_weights = {"__negative__": w}`` (any loss that takes class weights).
    """
    return DiceSpanCategorizer(
        nlp.vocab, model, suggester, name, add_negative_label=True, spans_key=spans_key,
        allow_overlap=allow_overlap, max_positive=1, threshold=None, label_bias=label_bias,
        scorer=scorer, **shared,
    )
