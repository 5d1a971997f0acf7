"""``dice_span_finder``: spaCy's ``span_finder`` (start / end pointers per token) with a configurable loss.

Every token gets two independent sigmoid scores, ``P_t0`` (a span starts here) and ``P_t1`` (a span
ends here); prediction pairs every start with every end at or after it whose length is within
``[min_length, max_length]`` and writes them to ``doc.spans[spans_key]``, where a downstream
``dice_spancat`` with ``spacy.preset_spans_suggester.v1`` labels them. This is the pointer
setting of the paper's MRC-NER experiments (binary start / end classifiers trained with the
set-level DSC, negatives outnumbering positives by 50-170 to one).

spaCy's ``span_finder`` trains with the masked squared error ``sum m (P - Y)^2`` on probabilities
through ``Logistic`` (logit gradient ``(P - Y) P (1 - P)``); here any spacy-dice loss in
``activation = "sigmoid"`` mode over the ``(tokens, 2)`` matrix, columns named ``"start"`` and
``"end"`` (class weights by name), with the loss's logit gradient reaching the logits unchanged
(:mod:`spacy_dice.layers.logits`). Unannotated docs and misaligned boundaries are masked (:mod:`.span_gold`).

Decision setting (:mod:`.decisions`): ``thresholds = {"start": p, "end": q}`` gives each column
its own threshold (a token starts a span when ``P_t0 >= p``); columns not listed use ``threshold``.
"""
import copy
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

import numpy
from spacy.language import Language
from spacy.pipeline.span_finder import DEFAULT_SPAN_FINDER_MODEL, SpanFinder
from spacy.pipeline.spancat import DEFAULT_SPANS_KEY
from spacy.training import Example, validate_get_examples
from thinc.api import Model
from thinc.types import Floats2d

from .base import DiceComponent, TrainingBatch, dice_factory
from .decision_settings import THRESHOLDS, threshold_vector
from .default_losses import SPAN_FINDER_DEFAULT_LOSS
from .descriptions import SPAN_CANDIDATES, ComponentDescription
from .model_checks import check_span_scorer, warn_unused_tok2vec
from .span_gold import boundary_gold, reference_spans
from .spancat import check_component_spans_key

BOUNDARY_LABELS = ("start", "end")
DICE_SPAN_FINDER_MODEL = copy.deepcopy(dict(DEFAULT_SPAN_FINDER_MODEL))
DICE_SPAN_FINDER_MODEL["scorer"] = {"@layers": "spacy-dice.LinearLogits.v1", "nO": 2, "nI": None}


class DiceSpanFinder(DiceComponent, SpanFinder):
    """spaCy's ``SpanFinder`` whose loss is the configured sigmoid-mode spacy-dice loss.

    ``thresholds`` (keys ``"start"`` / ``"end"``): each column's own threshold (:mod:`.decisions`).
    """

    decision_setting = THRESHOLDS

    def __init__(
        self,
        nlp: Language,
        model: Model[Iterable[Any], Floats2d],
        name: str = "dice_span_finder",
        *,
        loss: Any,
        spans_key: str = DEFAULT_SPANS_KEY,
        threshold: float = 0.5,
        max_length: Optional[int] = None,
        min_length: Optional[int] = None,
        thresholds: Optional[Dict[str, float]] = None,
        scorer: Optional[Callable],
        **shared: Any,
    ) -> None:
        """``shared``: ``grad_scale``, ``head_learn_rate_scale`` (:mod:`.settings`)."""
        check_component_spans_key(name, spans_key)
        for key, value in (("min_length", min_length), ("max_length", max_length)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ValueError(
                    f"[{name}] {key}={value!r} is not allowed; use an integer >= 1 (a span"
                    " length in tokens) or null for no limit"
                )
        if min_length is not None and max_length is not None and min_length > max_length:
            raise ValueError(
                f"[{name}] min_length={min_length} is larger than max_length={max_length}, so no"
                " span could be suggested; use min_length <= max_length"
            )
        super().__init__(
            nlp, model, name, spans_key=spans_key, threshold=threshold,
            max_length=max_length, min_length=min_length, scorer=scorer,
        )
        self.setup_dice(
            loss, activation="sigmoid", predicts="an independent start and end score per token",
            **shared,
        )
        self.adapted_layers = check_span_scorer(name, model, "sigmoid")
        self.setup_decisions(thresholds)
        self.check_decisions()  # the columns are known from the start

    @property
    def decision_labels(self) -> Tuple[str, ...]:
        """The keys of ``thresholds``: :data:`BOUNDARY_LABELS` (``"start"``, ``"end"``)."""
        return BOUNDARY_LABELS

    def set_annotations(self, docs: Iterable[Any], scores: Floats2d) -> None:
        """spaCy's span finder annotation, each column against its own threshold; spaCy's own
        code when ``thresholds`` is empty. Pairs every start with every end at or after it
        within ``[min_length, max_length]`` tokens, into ``doc.spans[spans_key]``."""
        thresholds = self.cfg.get(THRESHOLDS) or {}
        if not thresholds:
            super().set_annotations(docs, scores)
            return
        start_threshold, end_threshold = threshold_vector(thresholds, BOUNDARY_LABELS, self.cfg["threshold"])
        scores = self.model.ops.to_numpy(scores)
        min_length, max_length = self.cfg["min_length"], self.cfg["max_length"]
        key = self.cfg["spans_key"]
        offset = 0
        for doc in docs:
            doc_scores = scores[offset : offset + len(doc)]
            offset += len(doc)
            starts = numpy.flatnonzero(doc_scores[:, 0] >= start_threshold).tolist() if len(doc) else []
            ends = numpy.flatnonzero(doc_scores[:, 1] >= end_threshold).tolist() if len(doc) else []
            spans = []
            for start in starts:
                for end in ends:
                    length = end + 1 - start
                    if length < 1:
                        continue
                    if (min_length is None or min_length <= length) and (max_length is None or length <= max_length):
                        spans.append(doc[start : end + 1])
            doc.spans[key] = spans

    @property
    def loss_labels(self) -> Tuple[str, ...]:
        return BOUNDARY_LABELS

    @property
    def labels(self) -> Tuple[str, ...]:
        """The span finder predicts no labels; the loss's columns are :data:`BOUNDARY_LABELS`."""
        return tuple()

    def training_batch(self, examples: List[Example]) -> Optional[TrainingBatch]:
        """The examples whose docs have tokens (the others teach nothing)."""
        examples = [eg for eg in examples if len(eg.predicted)]
        if not examples:
            return None
        return TrainingBatch(examples, [eg.predicted for eg in examples])

    def get_loss(self, examples: Iterable[Example], scores: Floats2d) -> Tuple[float, Floats2d]:
        """The configured loss over the ``(tokens, 2)`` start / end probabilities."""
        examples = list(examples)
        gold = boundary_gold(examples, self.cfg["spans_key"], self.name)
        n_labelled = int((gold >= 0).any(axis=1).sum()) if gold.size else 0
        return self.apply_loss(scores, self.model.ops.asarray2f(gold), n_labelled)

    def predict(self, docs: Iterable[Any]) -> Floats2d:
        """``(tokens, 2)`` probabilities; docs without tokens are left out of the model's batch."""
        docs = list(docs)
        filled = [doc for doc in docs if len(doc)]
        if not filled:
            return self.model.ops.alloc2f(0, 2)
        return self.model.predict(filled)

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
    ) -> None:
        """spaCy's span finder initialisation; the loss gets the start / end counts."""
        validate_get_examples(get_examples, "DiceSpanFinder.initialize")
        subbatch: List[Example] = []
        starts = 0
        for example in get_examples():
            if len(subbatch) < 10 and len(example.predicted):
                subbatch.append(example)
            group = reference_spans(example, self.cfg["spans_key"])
            if group is not None:
                starts += sum(1 for span in group if len(span))
        if subbatch:
            docs = [eg.reference for eg in subbatch]
            Y = self.model.ops.asarray2f(boundary_gold(subbatch, self.cfg["spans_key"], self.name))
            self.model.initialize(X=docs, Y=Y)
        else:
            self.model.initialize()
        self.initialize_loss({"start": starts, "end": starts})
        warn_unused_tok2vec(self.name, self.model, nlp)


@dice_factory(
    "dice_span_finder",
    assigns=["doc.spans"],
    default_loss=SPAN_FINDER_DEFAULT_LOSS,
    default_config={
        "threshold": 0.5,
        "model": DICE_SPAN_FINDER_MODEL,
        "spans_key": DEFAULT_SPANS_KEY,
        "max_length": 25,
        "min_length": None,
        "thresholds": {},
        "scorer": {"@scorers": "spacy.span_finder_scorer.v1"},
    },
    default_score_weights={
        f"spans_{DEFAULT_SPANS_KEY}_f": 1.0,
        f"spans_{DEFAULT_SPANS_KEY}_p": 0.0,
        f"spans_{DEFAULT_SPANS_KEY}_r": 0.0,
    },
    description=ComponentDescription(
        SPAN_CANDIDATES, decision=THRESHOLDS, decision_note="one threshold for start and end",
        spacy_counterpart="span_finder",
        predicts="candidate spans in doc.spans[spans_key] (token start/end sigmoid)",
        gold="doc.spans[\"sc\"]",
    ),
)
def make_dice_span_finder(
    nlp: Language,
    name: str,
    model: Model[Iterable[Any], Floats2d],
    spans_key: str,
    threshold: float,
    max_length: Optional[int],
    min_length: Optional[int],
    thresholds: Dict[str, float],
    scorer: Optional[Callable],
    **shared: Any,
) -> DiceSpanFinder:
    """Span boundary finder (spaCy's ``span_finder`` settings) trained with a sigmoid-mode ``loss``.

    ``model``: ``spacy.SpanFinder.v1`` with ``scorer = spacy-dice.LinearLogits.v1`` (``nO = 2``;
    spaCy's ``spacy.LinearLogistic.v1`` is adapted). ``shared``: ``loss``, ``grad_scale`` and
    ``head_learn_rate_scale``, the settings of every dice component
    (:mod:`spacy_dice.pipeline.settings`). ``thresholds``: ``{"start": p, "end": q}``, each
    column's own threshold; columns not listed use ``threshold``
    (:mod:`spacy_dice.pipeline.decision_settings`).
    """
    return DiceSpanFinder(
        nlp, model, name, spans_key=spans_key, threshold=threshold, max_length=max_length,
        min_length=min_length, thresholds=thresholds, scorer=scorer, **shared,
    )
