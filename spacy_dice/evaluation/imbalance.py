"""How imbalanced is the data, as each component of a pipeline sees it (``python -m spacy_dice debug-data``).

The dice losses address one thing: negatives outnumbering positives (the paper's Table 1 gives the
ratio per data set: CoNLL-2003 4.98 negatives per positive for NER tags, 55.9-169 for the MRC
start / end pointers). What counts as a negative depends on the component:

* ``dice_ner`` / ``ner``: tokens; positives are tokens inside an entity, negatives ``O`` tokens
  (the paper's figure for CoNLL-2003);
* ``dice_spancat`` / ``spancat`` (and the single-label forms): the suggester's candidate spans;
  positives are candidates that are a gold span, negatives the others (``__negative__``); counted
  with the component's own suggester from the config (a sample of the docs when there are many);
* ``dice_span_finder`` / ``span_finder``: tokens per column; positives are tokens where a gold
  span starts (ends), negatives all other tokens;
* ``dice_textcat`` / ``textcat``: documents; positives are the ``positive_label``'s (else the
  rarest class's) documents; ``textcat_multilabel``: per label;
* ``dice_tagger`` / ``tagger``: tokens per tag; the majority tag against the rarest.

:func:`component_stats` takes a pipeline (not initialized: only its components' settings and
suggesters are read) and the gold examples of train and dev.
"""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

NER = ("dice_ner", "ner", "beam_ner")
SPANCAT = ("dice_spancat", "spancat", "dice_spancat_singlelabel", "spancat_singlelabel")
SPAN_FINDER = ("dice_span_finder", "span_finder")
TEXTCAT = ("dice_textcat", "textcat", "textcat_multilabel")
TAGGER = ("dice_tagger", "tagger", "morphologizer")
KNOWN = NER + SPANCAT + SPAN_FINDER + TEXTCAT + TAGGER

WHICH_LOSS = {
    "ner": "entities: cross-entropy (the dice_ner default); `ce_then_dsc` for a dice term",
    "spans": "spans: BCE (the dice_spancat default); with a span finder, set-level DSC (`dsc_set`) led",
    "span_finder": "span finder: BCE, or set-level DSC (`dsc_set`), which led in the finder pipeline",
    "textcat": "texts: DSC (the dice_textcat default) or set-level DSC for the positive class's F1;"
               " CE for accuracy",
    "tagger": "token tags: cross-entropy (the dice_tagger default)",
}
WHICH_LOSS_WHERE = 'README.md, "Which loss to pick"; the runs behind it: docs/LOSSES.md'
RAREST = 3
MAX_SPAN_DOCS = 2000


@dataclass
class ComponentStats:
    """The label statistics of one component on train and dev."""

    component: str
    factory: str
    task: str  # "ner", "spans", "span_finder", "textcat", "tagger"
    unit: str  # what the label counts count: "entities", "spans", "documents", "tokens"
    train_counts: Dict[str, int]
    dev_counts: Dict[str, int]
    positives: Optional[int] = None  # train positives of the negative-per-positive figure
    negatives: Optional[int] = None
    positive_name: str = ""  # e.g. "entity tokens"
    negative_name: str = ""  # e.g. "O tokens"
    per_label_ratio: Dict[str, float] = field(default_factory=dict)  # label -> negatives per positive
    notes: List[str] = field(default_factory=list)

    @property
    def negative_share(self) -> Optional[float]:
        if self.positives is None or self.negatives is None or not self.positives + self.negatives:
            return None
        return self.negatives / (self.positives + self.negatives)

    @property
    def negatives_per_positive(self) -> Optional[float]:
        if self.positives is None or self.negatives is None:
            return None
        return self.negatives / self.positives if self.positives else float("inf")

    @property
    def rarest(self) -> List[Tuple[str, int]]:
        """The train labels with the fewest occurrences (labels only in dev count 0)."""
        counts = dict(self.train_counts)
        for label in self.dev_counts:
            counts.setdefault(label, 0)
        return sorted(counts.items(), key=lambda kv: (kv[1], kv[0]))[:RAREST]

    @property
    def dev_only(self) -> List[str]:
        """Labels seen in dev but never in train: the model cannot predict them."""
        return sorted(label for label, n in self.dev_counts.items() if n and not self.train_counts.get(label))

    @property
    def train_only(self) -> List[str]:
        return sorted(label for label, n in self.train_counts.items() if n and not self.dev_counts.get(label))

    @property
    def which_loss(self) -> str:
        return WHICH_LOSS.get(self.task, "")

    def to_dict(self) -> Dict[str, Any]:
        ratio = self.negatives_per_positive
        return {
            "component": self.component, "factory": self.factory, "task": self.task,
            "unit": self.unit, "train_counts": dict(self.train_counts),
            "dev_counts": dict(self.dev_counts), "positives": self.positives,
            "negatives": self.negatives, "positive_name": self.positive_name,
            "negative_name": self.negative_name, "negative_share": self.negative_share,
            "negatives_per_positive": None if ratio is None or ratio == float("inf") else ratio,
            "per_label_negatives_per_positive": dict(self.per_label_ratio),
            "rarest": [list(r) for r in self.rarest], "dev_only": self.dev_only,
            "train_only": self.train_only, "notes": list(self.notes),
            "which_loss": self.which_loss, "which_loss_where": WHICH_LOSS_WHERE,
        }


def _sorted_counts(counts: Counter) -> Dict[str, int]:
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


# --- entities --------------------------------------------------------------------------------------
def _ner_counts(examples: Sequence[Any]) -> Tuple[Counter, Counter, int, int]:
    """(entities per label, entity tokens per label, O tokens, unannotated tokens)."""
    ents: Counter = Counter()
    tokens: Counter = Counter()
    outside = missing = 0
    for eg in examples:
        doc = eg.reference
        for ent in doc.ents:
            ents[ent.label_] += 1
            tokens[ent.label_] += len(ent)
        for token in doc:
            if token.ent_iob_ == "O":
                outside += 1
            elif not token.ent_iob_:
                missing += 1
    return ents, tokens, outside, missing


def ner_stats(name: str, factory: str, train: Sequence[Any], dev: Sequence[Any]) -> ComponentStats:
    ents, tokens, outside, missing = _ner_counts(train)
    dev_ents = _ner_counts(dev)[0]
    inside = sum(tokens.values())
    stats = ComponentStats(name, factory, "ner", "entities", _sorted_counts(ents), _sorted_counts(dev_ents),
                           positives=inside, negatives=outside, positive_name="entity tokens",
                           negative_name="O tokens")
    annotated = inside + outside
    stats.per_label_ratio = {label: (annotated - n) / n for label, n in tokens.items() if n}
    if missing:
        stats.notes.append(f"{missing:,} train tokens have no entity annotation (missing, not O): they count nowhere")
    return stats


# --- spans -----------------------------------------------------------------------------------------
def _span_counts(examples: Sequence[Any], key: str) -> Tuple[Counter, int]:
    counts: Counter = Counter()
    unannotated = 0
    for eg in examples:
        if key not in eg.reference.spans:
            unannotated += 1
            continue
        counts.update(span.label_ for span in eg.reference.spans[key])
    return counts, unannotated


def _sample(examples: Sequence[Any], max_docs: int) -> Tuple[List[Any], bool]:
    if len(examples) <= max_docs:
        return list(examples), False
    rng = random.Random(0)
    return [examples[i] for i in sorted(rng.sample(range(len(examples)), max_docs))], True


def _candidate_arrays(spans: Any) -> List[Any]:
    import numpy

    lengths = numpy.asarray(spans.lengths.get() if hasattr(spans.lengths, "get") else spans.lengths).astype("int64")
    data = spans.dataXd
    data = numpy.asarray(data.get() if hasattr(data, "get") else data).reshape((-1, 2))
    out, start = [], 0
    for length in lengths.tolist():
        out.append(data[start: start + length])
        start += length
    return out


def spancat_stats(name: str, factory: str, pipe: Any, train: Sequence[Any], dev: Sequence[Any],
                  max_docs: int = MAX_SPAN_DOCS) -> ComponentStats:
    import numpy

    from ..pipeline.span_gold import align_spans, candidate_gold_sigmoid, reference_spans

    key = pipe.key
    counts, unannotated = _span_counts(train, key)
    dev_counts, _ = _span_counts(dev, key)
    stats = ComponentStats(name, factory, "spans", f"spans (doc.spans[{key!r}])", _sorted_counts(counts),
                           _sorted_counts(dev_counts), positive_name="candidates that are a gold span",
                           negative_name="other candidates (__negative__)")
    if unannotated:
        stats.notes.append(f"{unannotated:,} train docs have no doc.spans[{key!r}] (unannotated): they count nowhere")
    annotated = [eg for eg in train if key in eg.reference.spans]
    sample, sampled = _sample(annotated, max_docs)
    if not sample:
        return stats
    labels = sorted(counts)
    cells_pos: Counter = Counter()
    positives = negatives = n_cells = 0
    covered = total_gold = 0
    for start in range(0, len(sample), 64):
        batch = sample[start: start + 64]
        try:
            spans = pipe.suggester([eg.predicted for eg in batch], ops=pipe.model.ops)
        except KeyError as err:
            stats.notes.append(
                f"the suggester reads doc.spans[{err.args[0]!r}], written by an upstream component (a span"
                " finder) at prediction: its candidates are not known before training; see the span"
                " finder's figures for the boundary imbalance"
            )
            return stats
        candidates = _candidate_arrays(spans)
        gold = candidate_gold_sigmoid(batch, candidates, labels, key)
        rows = gold >= 0
        known = rows.all(axis=1) if gold.size else numpy.zeros((0,), bool)
        is_pos = (gold == 1).any(axis=1) if gold.size else numpy.zeros((0,), bool)
        positives += int((is_pos & known).sum())
        negatives += int((~is_pos & known).sum())
        n_cells += int(known.sum())
        for k, label in enumerate(labels):
            cells_pos[label] += int(((gold[:, k] == 1) & known).sum()) if gold.size else 0
        for eg, cand in zip(batch, candidates):
            group = reference_spans(eg, key)
            if group is None:
                continue
            aligned, misaligned = align_spans(eg, group)
            offered = {(int(s), int(e)) for s, e in cand.tolist()}
            total_gold += len(aligned) + len(misaligned)
            covered += sum(1 for s, e, _ in aligned if (s, e) in offered)
    stats.positives, stats.negatives = positives, negatives
    stats.per_label_ratio = {label: (n_cells - n) / n for label, n in cells_pos.items() if n}
    where = f"{len(sample):,} of {len(annotated):,} train docs (a random sample)" if sampled else "the train docs"
    stats.notes.append(f"candidates: the component's suggester on {where}")
    if total_gold:
        stats.notes.append(
            f"the suggester proposes {covered:,} of {total_gold:,} gold spans ({100 * covered / total_gold:.1f} %):"
            " the recall ceiling of this component"
        )
    return stats


# --- span boundaries ------------------------------------------------------------------------------
def span_finder_stats(name: str, factory: str, pipe: Any, train: Sequence[Any], dev: Sequence[Any]) -> ComponentStats:
    key = pipe.cfg["spans_key"]
    counts, unannotated = _span_counts(train, key)
    dev_counts, _ = _span_counts(dev, key)
    starts: set = set()
    ends: set = set()
    n_tokens = 0
    for i, eg in enumerate(train):
        if key not in eg.reference.spans:
            continue
        n_tokens += len(eg.reference)
        for span in eg.reference.spans[key]:
            if len(span):
                starts.add((i, span.start))
                ends.add((i, span.end - 1))
    stats = ComponentStats(name, factory, "span_finder", f"spans (doc.spans[{key!r}])", _sorted_counts(counts),
                           _sorted_counts(dev_counts), positives=len(starts), negatives=n_tokens - len(starts),
                           positive_name="span-start tokens", negative_name="other tokens (non-boundary)")
    if len(starts):
        stats.per_label_ratio["start"] = (n_tokens - len(starts)) / len(starts)
    if len(ends):
        stats.per_label_ratio["end"] = (n_tokens - len(ends)) / len(ends)
    stats.notes.append("labels are not predicted by the span finder; their counts are its spans' labels")
    if unannotated:
        stats.notes.append(f"{unannotated:,} train docs have no doc.spans[{key!r}] (unannotated): they count nowhere")
    return stats


# --- texts ---------------------------------------------------------------------------------------
def _cat_counts(examples: Sequence[Any]) -> Tuple[Counter, int, int]:
    """(documents per positive label, documents with cats, documents without)."""
    counts: Counter = Counter()
    with_cats = without = 0
    for eg in examples:
        cats = eg.reference.cats
        if not cats:
            without += 1
            continue
        with_cats += 1
        counts.update(label for label, value in cats.items() if value >= 0.5)
    return counts, with_cats, without


def textcat_stats(name: str, factory: str, pipe: Any, train: Sequence[Any], dev: Sequence[Any]) -> ComponentStats:
    counts, n_docs, without = _cat_counts(train)
    dev_counts = _cat_counts(dev)[0]
    labels = set(counts)
    for eg in train:
        labels.update(eg.reference.cats)
    for label in labels:
        counts.setdefault(label, 0)
    stats = ComponentStats(name, factory, "textcat", "documents", _sorted_counts(counts),
                           _sorted_counts(dev_counts))
    stats.per_label_ratio = {label: (n_docs - n) / n for label, n in counts.items() if n}
    if counts and n_docs:
        major, n_major = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
        stats.notes.append(f"majority class {major!r}: {100 * n_major / n_docs:.1f} % of the train documents"
                           " (the accuracy of always answering it)")
        positive = (getattr(pipe, "cfg", {}) or {}).get("positive_label")
        if factory == "textcat_multilabel" or not positive or positive not in counts:
            positive = min(counts.items(), key=lambda kv: (kv[1], kv[0]))[0]
            how = "the rarest class"
        else:
            how = "positive_label"
        stats.positives = counts[positive]
        stats.negatives = n_docs - counts[positive]
        stats.positive_name = f"{positive!r} documents ({how})"
        stats.negative_name = "other documents"
    if without:
        stats.notes.append(f"{without:,} train documents have no cats: they count nowhere")
    return stats


# --- token tags ----------------------------------------------------------------------------------
def tagger_stats(name: str, factory: str, pipe: Any, train: Sequence[Any], dev: Sequence[Any]) -> ComponentStats:
    attr = "tag"
    if factory == "dice_tagger":
        attr = (getattr(pipe, "cfg", {}) or {}).get("attr") or "tag"
    elif factory == "morphologizer":
        attr = "pos"

    def count(examples: Sequence[Any]) -> Counter:
        found: Counter = Counter()
        for eg in examples:
            found.update(v for v in (getattr(t, f"{attr}_") for t in eg.reference) if v)
        return found

    counts, dev_counts = count(train), count(dev)
    total = sum(counts.values())
    stats = ComponentStats(name, factory, "tagger", f"tokens (token.{attr}_)", _sorted_counts(counts),
                           _sorted_counts(dev_counts))
    stats.per_label_ratio = {label: (total - n) / n for label, n in counts.items() if n}
    if counts:
        major, n_major = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
        rare, n_rare = min(counts.items(), key=lambda kv: (kv[1], kv[0]))
        stats.positives, stats.negatives = n_rare, total - n_rare
        stats.positive_name, stats.negative_name = f"{rare!r} tokens (the rarest tag)", "other tagged tokens"
        stats.notes.append(f"majority tag {major!r}: {100 * n_major / total:.1f} % of the tagged train tokens")
    return stats


def component_stats(nlp: Any, train: Sequence[Any], dev: Sequence[Any],
                    max_span_docs: int = MAX_SPAN_DOCS) -> Tuple[List[ComponentStats], List[str]]:
    """The statistics of every component of ``nlp`` this module knows; and the names of those it
    does not (e.g. ``tok2vec``, ``parser``)."""
    out: List[ComponentStats] = []
    other: List[str] = []
    for name in nlp.pipe_names:
        factory = nlp.get_pipe_meta(name).factory
        pipe = nlp.get_pipe(name)
        if factory in NER:
            out.append(ner_stats(name, factory, train, dev))
        elif factory in SPANCAT:
            out.append(spancat_stats(name, factory, pipe, train, dev, max_span_docs))
        elif factory in SPAN_FINDER:
            out.append(span_finder_stats(name, factory, pipe, train, dev))
        elif factory in TEXTCAT:
            out.append(textcat_stats(name, factory, pipe, train, dev))
        elif factory in TAGGER:
            out.append(tagger_stats(name, factory, pipe, train, dev))
        else:
            other.append(name)
    return out, other
