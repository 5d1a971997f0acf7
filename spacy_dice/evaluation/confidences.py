"""What each component is confident of, and whether it is right: the input of the calibration error.

:func:`collect_confidences` runs a pipeline over gold examples (the predicted docs get the
pipeline's annotations, as ``nlp.pipe`` would give them) and, for every component it knows, keeps
one confidence per decision and whether that decision is correct:

* **top-label** (one class per item): the probability of the predicted class, correct when it is
  the gold class; with a ``label_bias`` (a decision setting of ``calibrate``) the probabilities
  are ``softmax(log p + b)``, the distribution the biased decision is the argmax of. ``dice_tagger`` / ``tagger`` (per token), ``dice_ner`` (per token, the BILUO
  softmax), ``dice_textcat`` / ``textcat`` (per document), ``dice_spancat_singlelabel`` /
  ``spancat_singlelabel`` (per candidate span, the "no span" class included);
* **binary** (independent yes/no columns): each column's probability, correct when its gold is 1
  (a reliability curve of "how often is it a positive at this probability").
  ``dice_spancat`` / ``spancat`` (every suggested candidate x label, not only the kept spans),
  ``dice_span_finder`` / ``span_finder`` (every token x start/end), ``textcat_multilabel``
  (document x label);
* **entities**: when ``dice_ner`` writes entity confidences (a span group, default ``"ents"``,
  whose ``attrs["scores"]`` hold one value per entity), each predicted entity's confidence,
  correct when an entity of the same label has exactly its characters in the gold;
* **words**: ``dice_seg_tagger`` likewise, per character (its BILU-POS softmax, top-label) and per
  predicted word (``doc.spans[scores_key]``, default ``"words"``), correct when a gold word
  (``doc.spans[words_key]``) has exactly its characters and its POS.

Which of these a component gives is its description's ``confidences``
(:class:`spacy_dice.pipeline.descriptions.ComponentDescription`), collected by its task. A
component whose description says it has none (spaCy's transition-based ``ner``: no
probabilities) is listed in ``skipped`` with the description's reason, and so is a component whose
factory has no description (with how to declare one). Gold that is missing (unannotated docs,
tokens the tokenizations do not share) counts nowhere. Everything is returned as host (numpy)
arrays.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy

from ..pipeline import descriptions as d
from ..pipeline.decision_settings import LABEL_BIAS
from ..pipeline.descriptions import BINARY, TOP_LABEL, ComponentDescription, UndescribedComponentError, describe


@dataclass
class ConfidenceSet:
    """The decisions of one component at one level, with their confidences and correctness."""

    component: str  # the pipe name
    factory: str
    what: str  # what one decision is, e.g. "token (BILUO tag)", "candidate span x label"
    kind: str  # TOP_LABEL or BINARY
    confidences: List[Any] = field(default_factory=list)  # host arrays, concatenated by .arrays()
    correct: List[Any] = field(default_factory=list)

    def add(self, confidences: Any, correct: Any) -> None:
        self.confidences.append(numpy.asarray(confidences, dtype="float64").reshape(-1))
        self.correct.append(numpy.asarray(correct, dtype=bool).reshape(-1))

    def arrays(self) -> Tuple[numpy.ndarray, numpy.ndarray]:
        if not self.confidences:
            return numpy.zeros((0,), "float64"), numpy.zeros((0,), bool)
        return numpy.concatenate(self.confidences), numpy.concatenate(self.correct)

    @property
    def name(self) -> str:
        """``component (what)``: the key of a row of the calibration table."""
        return f"{self.component} ({self.what})"


def _host(array: Any) -> numpy.ndarray:
    if hasattr(array, "get"):  # cupy
        array = array.get()
    return numpy.asarray(array)


def _top_label(probs: numpy.ndarray, gold: numpy.ndarray) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """Confidence of the argmax class and whether it is the gold class; rows with gold < 0 dropped."""
    keep = gold >= 0
    probs, gold = probs[keep], gold[keep]
    if not len(gold):
        return numpy.zeros((0,)), numpy.zeros((0,), bool)
    best = probs.argmax(axis=1)
    return probs[numpy.arange(len(best)), best], best == gold


def _binary(probs: numpy.ndarray, gold: numpy.ndarray) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """Every cell's probability and whether its gold is 1; cells with gold < 0 dropped."""
    probs, gold = probs.reshape(-1), gold.reshape(-1)
    keep = gold >= 0
    return probs[keep], gold[keep] == 1


def _probs(pipe: Any, scores: Any) -> numpy.ndarray:
    """Softmax probabilities of a score array the model returned (logits become probabilities)."""
    from ..layers.outputs import output_normalizes, probabilities

    return _host(probabilities(scores, output_normalizes(pipe.model))).astype("float64")


def _softmax(log_scores: numpy.ndarray) -> numpy.ndarray:
    """Row-wise softmax of (possibly unnormalised) log-probabilities."""
    if not log_scores.size:
        return numpy.exp(log_scores)
    shifted = log_scores - log_scores.max(axis=-1, keepdims=True)
    exp = numpy.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def _tag_bias(pipe: Any) -> Optional[numpy.ndarray]:
    """A tagger's ``label_bias`` (tag -> number in ``cfg``) as one value per column, if any."""
    bias = (getattr(pipe, "cfg", {}) or {}).get("label_bias") or {}
    if not bias:
        return None
    vector = numpy.asarray([float(bias.get(label, 0.0)) for label in pipe.labels])
    return vector if vector.any() else None


def _biased(probs: numpy.ndarray, bias: Optional[numpy.ndarray]) -> numpy.ndarray:
    """``softmax(log p + b)``: the distribution whose argmax a label_bias decides by."""
    if bias is None or not probs.size:
        return probs
    return _softmax(numpy.log(numpy.maximum(probs, numpy.finfo("float64").tiny)) + bias)


def _candidates(pipe: Any, spans: Any) -> List[numpy.ndarray]:
    """The ``(n_i, 2)`` (start, end) candidates of each doc from the suggester's Ragged."""
    ops = pipe.model.ops
    lengths = _host(ops.to_numpy(spans.lengths)).astype("int64")
    data = _host(ops.to_numpy(spans.dataXd)).reshape((-1, 2)) if int(lengths.sum()) else None
    out, start = [], 0
    for length in lengths.tolist():
        out.append(data[start: start + length] if data is not None else numpy.zeros((0, 2), "i"))
        start += length
    return out


def _token_gold(examples: Sequence[Any], labels: Sequence[str], attr: str) -> List[numpy.ndarray]:
    index = {label: i for i, label in enumerate(labels)}
    out = []
    for eg in examples:
        aligned = eg.get_aligned(attr, as_string=True)
        out.append(numpy.asarray([index.get(g, -1) if g else -1 for g in aligned], dtype="int64"))
    return out


def _scores_key(pipe: Any) -> Optional[str]:
    """The span group where ``dice_ner`` writes entity confidences (None when turned off)."""
    for source in (getattr(pipe, "scores_key", "unset"), getattr(pipe, "cfg", {}).get("scores_key", "unset")):
        if source != "unset":
            return source
    return "ents"


class _Collector:
    def __init__(self, name: str, pipe: Any, description: ComponentDescription) -> None:
        self.name, self.pipe, self.factory = name, pipe, description.factory
        self.description = description
        self.label_bias = description.decision == LABEL_BIAS  # its scores are biased by its cfg
        self.sets: List[ConfidenceSet] = []

    def new(self, what: str, kind: str) -> ConfidenceSet:
        found = ConfidenceSet(self.name, self.factory, what, kind)
        self.sets.append(found)
        return found


class _TokenClassifierCollector(_Collector):
    """Token tags (dice_tagger / tagger), entities as BILUO tags (dice_ner) and words as BILU-POS
    tags (dice_seg_tagger): top-label per token; entities and words also per predicted span."""

    def __init__(self, name: str, pipe: Any, description: ComponentDescription) -> None:
        super().__init__(name, pipe, description)
        self.biluo = description.task in (d.ENTITIES, d.WORDS)
        self.words = description.task == d.WORDS
        if self.words:
            self.tokens = self.new("character (BILU-POS tag)", TOP_LABEL)
            self.entities = self.new("word", TOP_LABEL)
        elif self.biluo:
            self.tokens = self.new("token (BILUO tag)", TOP_LABEL)
            self.entities = self.new("entity", TOP_LABEL)
        else:
            attr = description.attr_of(getattr(pipe, "cfg", {}) or {})
            self.attr = attr.upper()
            self.tokens = self.new(f"token ({attr})", TOP_LABEL)

    def collect(self, docs: List[Any], examples: Sequence[Any]) -> None:
        pipe = self.pipe
        if self.biluo:
            scores = pipe.predict(docs)
            probs = self._ner_probs(docs, scores)
            index = {tag: i for i, tag in enumerate(pipe.class_names)}
            golds = [numpy.asarray(pipe.gold_ids(eg, index)) for eg in examples]
        else:
            scores = pipe.predict(docs)
            probs = [_biased(_probs(pipe, s), _tag_bias(pipe)) for s in scores]
            golds = _token_gold(examples, pipe.labels, self.attr)
        for p, g in zip(probs, golds):
            if len(g) and p.shape[0] == len(g):
                self.tokens.add(*_top_label(p, g))
        pipe.set_annotations(docs, scores)
        if self.biluo:
            self._collect_entities(docs, examples)

    def _ner_probs(self, docs: List[Any], scores: Any) -> List[numpy.ndarray]:
        """Per doc ``(len(doc), n_tags)`` probabilities: from ``predict`` when it returns
        log-probabilities (float matrices), else from the model's own outputs."""
        pipe = self.pipe
        first = next((s for s, d in zip(scores, docs) if len(d)), None)
        if first is not None and getattr(first, "ndim", 0) == 2 and numpy.issubdtype(_host(first).dtype, numpy.floating):
            # log-probabilities; with a label_bias, the decoder's distribution softmax(log p + b)
            if self.label_bias:
                scores = pipe.biased_log_probs(scores)
            return [_softmax(_host(s).astype("float64")) for s in scores]
        if not any(len(d) for d in docs):
            return [numpy.zeros((0, len(pipe.class_names))) for _ in docs]
        raw = pipe.model.predict(docs)
        if hasattr(pipe, "log_probs"):
            return [numpy.exp(_host(lp).astype("float64")) for lp in pipe.log_probs(docs, raw)]
        return [_probs(pipe, s) for s in raw]

    def _collect_entities(self, docs: List[Any], examples: Sequence[Any]) -> None:
        key = _scores_key(self.pipe)
        if not key:
            return
        for doc, eg in zip(docs, examples):
            group = doc.spans[key] if key in doc.spans else None
            if group is None:
                continue
            scores = group.attrs.get("scores")
            if scores is None or len(scores) != len(group):
                continue
            reference = eg.reference
            if self.words:
                words_key = self.pipe.cfg["words_key"]
                if words_key not in reference.spans:
                    continue
                gold = {(w.start_char, w.end_char, w.label_) for w in reference.spans[words_key]}
            else:
                gold = {(e.start_char, e.end_char, e.label_) for e in reference.ents}
            hits = [(s.start_char, s.end_char, s.label_) in gold for s in group]
            self.entities.add(numpy.clip(numpy.asarray(_host(numpy.asarray(scores)), "float64"), 0.0, 1.0), hits)


class _TextcatCollector(_Collector):
    def __init__(self, name: str, pipe: Any, description: ComponentDescription) -> None:
        super().__init__(name, pipe, description)
        self.exclusive = description.task == d.EXCLUSIVE_CATS
        self.docs = self.new("document" if self.exclusive else "document x label",
                             TOP_LABEL if self.exclusive else BINARY)

    def collect(self, docs: List[Any], examples: Sequence[Any]) -> None:
        pipe = self.pipe
        scores = pipe.predict(docs)
        # with a label_bias, the probabilities doc.cats gets (softmax(log p + b))
        biased = pipe.biased_scores(scores) if self.label_bias else scores
        probs = _host(biased).astype("float64")
        labels = list(pipe.labels)
        if self.exclusive:
            gold = numpy.full((len(docs),), -1, dtype="int64")
            for i, eg in enumerate(examples):
                cats = eg.reference.cats
                positive = [k for k, label in enumerate(labels) if cats.get(label, 0.0) >= 1.0]
                if len(positive) == 1:
                    gold[i] = positive[0]
            self.docs.add(*_top_label(probs, gold))
        else:
            gold = numpy.full(probs.shape, -1.0)
            for i, eg in enumerate(examples):
                cats = eg.reference.cats
                for k, label in enumerate(labels):
                    if label in cats:
                        gold[i, k] = 1.0 if cats[label] >= 0.5 else 0.0
            self.docs.add(*_binary(probs, gold))
        pipe.set_annotations(docs, scores)


class _SpancatCollector(_Collector):
    def __init__(self, name: str, pipe: Any, description: ComponentDescription) -> None:
        super().__init__(name, pipe, description)
        self.single = description.task == d.SINGLELABEL_SPANS
        self.cands = self.new("candidate span" if self.single else "candidate span x label",
                              TOP_LABEL if self.single else BINARY)

    def collect(self, docs: List[Any], examples: Sequence[Any]) -> None:
        from ..pipeline.span_gold import candidate_gold_sigmoid, candidate_gold_softmax

        pipe = self.pipe
        indices, scores = pipe.predict(docs)
        if int(_host(pipe.model.ops.to_numpy(indices.lengths)).sum()):
            candidates = _candidates(pipe, indices)
            probs = _host(scores).astype("float64")
            if self.single:
                gold = candidate_gold_softmax(examples, candidates, pipe.labels, pipe.key)
                self.cands.add(*_top_label(probs, numpy.asarray(gold, "int64")))
            else:
                gold = candidate_gold_sigmoid(examples, candidates, pipe.labels, pipe.key)
                self.cands.add(*_binary(probs, gold))
        pipe.set_annotations(docs, (indices, scores))


class _SpanFinderCollector(_Collector):
    def __init__(self, name: str, pipe: Any, description: ComponentDescription) -> None:
        super().__init__(name, pipe, description)
        self.tokens = self.new("token x start/end", BINARY)

    def collect(self, docs: List[Any], examples: Sequence[Any]) -> None:
        from ..pipeline.span_gold import boundary_gold

        pipe = self.pipe
        scores = pipe.predict(docs)
        probs = _host(scores).astype("float64")
        filled = [eg for eg, doc in zip(examples, docs) if len(doc)]
        if filled and probs.size:
            gold = boundary_gold(filled, pipe.cfg["spans_key"], self.name)
            if gold.shape == probs.shape:
                self.tokens.add(*_binary(probs, gold))
        pipe.set_annotations(docs, scores)


_COLLECTORS = {
    d.TOKEN_TAGS: _TokenClassifierCollector, d.ENTITIES: _TokenClassifierCollector,
    d.WORDS: _TokenClassifierCollector,
    d.EXCLUSIVE_CATS: _TextcatCollector, d.MULTILABEL_CATS: _TextcatCollector,
    d.MULTILABEL_SPANS: _SpancatCollector, d.SINGLELABEL_SPANS: _SpancatCollector,
    d.SPAN_CANDIDATES: _SpanFinderCollector,
}
"""The collector of each task whose components can give confidences."""


def _collector(name: str, pipe: Any, description: ComponentDescription) -> Optional[_Collector]:
    """The collector of the component's task; ``None`` when its description gives no confidences."""
    if description.confidences is None:
        return None
    return _COLLECTORS[description.task](name, pipe, description)


@dataclass
class CollectedConfidences:
    sets: List[ConfidenceSet]
    skipped: Dict[str, str]  # pipe name -> why no confidences


def collect_confidences(nlp: Any, examples: Sequence[Any], batch_size: int = 64) -> CollectedConfidences:
    """Run ``nlp`` over the examples' predicted docs (annotating them in place, component by
    component, batch by batch) and collect the confidences of each component whose description
    gives some.

    Returns the sets and, in ``skipped``, the components without confidences by name with the
    reason: their description's ``confidences_note``, or how to describe a factory that has no
    description (components that predict nothing, such as ``tok2vec``, are passed by). Sets that
    got no decision (e.g. ``dice_ner`` writes no entity confidences) are dropped.
    """
    collectors: Dict[str, _Collector] = {}
    skipped: Dict[str, str] = {}
    for name in nlp.pipe_names:
        try:
            description = describe(nlp.get_pipe_meta(name).factory)
        except UndescribedComponentError as err:
            skipped[name] = err.reason
            continue
        found = _collector(name, nlp.get_pipe(name), description)
        if found is not None:
            collectors[name] = found
        elif description.confidences_note:
            skipped[name] = description.confidences_note
    examples = list(examples)
    for start in range(0, len(examples), batch_size):
        batch = examples[start: start + batch_size]
        docs = [eg.predicted for eg in batch]
        for name, proc in nlp.pipeline:
            if name in collectors:
                collectors[name].collect(docs, batch)
            elif hasattr(proc, "pipe"):
                docs = list(proc.pipe(docs, batch_size=batch_size))
            else:
                docs = [proc(doc) for doc in docs]
        for eg, doc in zip(batch, docs):
            eg.predicted = doc
    sets: List[ConfidenceSet] = []
    for c in collectors.values():
        for s in c.sets:
            if sum(len(x) for x in s.confidences):
                sets.append(s)
            elif s.what in ("entity", "word"):
                skipped.setdefault(f"{s.component} ({s.what})", f"no {s.what} confidences in doc.spans"
                                   f"[{_scores_key(c.pipe)!r}] (scores_key)")
    return CollectedConfidences(sets, skipped)
