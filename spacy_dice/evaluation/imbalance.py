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
* ``dice_tagger`` / ``tagger``: tokens per tag; the majority tag against the rarest;
* ``dice_seg_tagger``: words per POS label (``doc.spans[words_key]``); the model's classes are
  BILU-POS tags of characters, so the imbalance is that of characters: the rarest BILU-POS class
  against all other characters.

Which of these a component gets is its description's ``statistics``
(:class:`spacy_dice.pipeline.descriptions.ComponentDescription`). :func:`component_stats` takes a
pipeline (not initialized: only its components' settings and suggesters are read) and the gold
examples of train and dev.
"""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..pipeline.descriptions import (
    BOUNDARY_STATISTICS, CATS_STATISTICS, ENTITY_STATISTICS, MULTILABEL_CATS, SPAN_STATISTICS, TAG_STATISTICS,
    WORD_STATISTICS, UndescribedComponentError, describe,
)

WHICH_LOSS = {
    ENTITY_STATISTICS: "entities: cross-entropy (the dice_ner default); `ce_then_dsc` for a dice term",
    SPAN_STATISTICS: "spans: BCE (the dice_spancat default); with a span finder, set-level DSC (`dsc_set`) led",
    BOUNDARY_STATISTICS: "span finder: BCE, or set-level DSC (`dsc_set`), which led in the finder pipeline",
    CATS_STATISTICS: "texts: DSC (the dice_textcat default) or set-level DSC for the positive class's F1;"
                     " CE for accuracy",
    TAG_STATISTICS: "token tags: cross-entropy (the dice_tagger default)",
    WORD_STATISTICS: "words over characters: cross-entropy (the dice_seg_tagger default, dice_ner's lattice)",
}
"""The advice of the README's "Which loss to pick", by statistics kind (``ComponentStats.task``)."""
WHICH_LOSS_WHERE = 'README.md, "Which loss to pick"; the runs behind it: docs/LOSSES.md'
RAREST = 3
MAX_SPAN_DOCS = 2000


@dataclass
class ComponentStats:
    """The label statistics of one component on train and dev."""

    component: str
    factory: str
    task: str  # "ner", "spans", "span_finder", "textcat", "tagger", "words"
    unit: str  # what the label counts count: "entities", "spans", "documents", "tokens", "words"
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
        if describe(factory).task == MULTILABEL_CATS or not positive or positive not in counts:
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
    attr = describe(factory).attr_of(getattr(pipe, "cfg", {}) or {})

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


# --- words over characters -------------------------------------------------------------------------
def _word_counts(examples: Sequence[Any], key: str) -> Tuple[Counter, Counter, int, int]:
    """(words per label, characters per BILU-POS class, characters, unannotated docs)."""
    words: Counter = Counter()
    classes: Counter = Counter()
    chars = unannotated = 0
    for eg in examples:
        doc = eg.reference
        if key not in doc.spans:
            unannotated += 1
            continue
        chars += sum(1 for token in doc if not token.is_space)
        for span in doc.spans[key]:
            words[span.label_] += 1
            n = len(span)
            if n == 1:
                classes[f"U-{span.label_}"] += 1
            elif n > 1:
                classes[f"B-{span.label_}"] += 1
                classes[f"L-{span.label_}"] += 1
                if n > 2:
                    classes[f"I-{span.label_}"] += n - 2
    return words, classes, chars, unannotated


def word_stats(name: str, factory: str, pipe: Any, train: Sequence[Any], dev: Sequence[Any]) -> ComponentStats:
    """``dice_seg_tagger``: words per POS label; the imbalance of its per-character BILU-POS
    classes (the rarest class's characters against the other characters)."""
    key = (getattr(pipe, "cfg", {}) or {}).get("words_key") or "words"
    words, classes, chars, unannotated = _word_counts(train, key)
    dev_words = _word_counts(dev, key)[0]
    stats = ComponentStats(name, factory, WORD_STATISTICS, f"words (doc.spans[{key!r}])", _sorted_counts(words),
                           _sorted_counts(dev_words))
    per_label_chars: Counter = Counter()
    for tag, n in classes.items():
        per_label_chars[tag.split("-", 1)[1]] += n
    stats.per_label_ratio = {label: (chars - n) / n for label, n in per_label_chars.items() if n}
    if classes:
        rare, n_rare = min(classes.items(), key=lambda kv: (kv[1], kv[0]))
        major, n_major = max(classes.items(), key=lambda kv: (kv[1], kv[0]))
        stats.positives, stats.negatives = n_rare, chars - n_rare
        stats.positive_name = f"{rare!r} characters (the rarest BILU-POS class)"
        stats.negative_name = "other characters"
        stats.notes.append(
            f"{len(classes)} of the {4 * len(words)} BILU-POS classes occur in train; the largest,"
            f" {major!r}, holds {100 * n_major / chars:.1f} % of the train characters"
        )
    if unannotated:
        stats.notes.append(f"{unannotated:,} train docs have no doc.spans[{key!r}] (unannotated): they count nowhere")
    return stats


def component_stats(nlp: Any, train: Sequence[Any], dev: Sequence[Any],
                    max_span_docs: int = MAX_SPAN_DOCS) -> Tuple[List[ComponentStats], List[str]]:
    """The statistics of every component of ``nlp`` whose description has some (its
    ``statistics``); and the names of the others (e.g. ``tok2vec``, and a factory without a
    description, such as ``parser``): :func:`not_covered_reason` says why."""
    out: List[ComponentStats] = []
    other: List[str] = []
    for name in nlp.pipe_names:
        factory = nlp.get_pipe_meta(name).factory
        pipe = nlp.get_pipe(name)
        try:
            kind = describe(factory).statistics
        except UndescribedComponentError:
            kind = None
        if kind == ENTITY_STATISTICS:
            out.append(ner_stats(name, factory, train, dev))
        elif kind == SPAN_STATISTICS:
            out.append(spancat_stats(name, factory, pipe, train, dev, max_span_docs))
        elif kind == BOUNDARY_STATISTICS:
            out.append(span_finder_stats(name, factory, pipe, train, dev))
        elif kind == CATS_STATISTICS:
            out.append(textcat_stats(name, factory, pipe, train, dev))
        elif kind == TAG_STATISTICS:
            out.append(tagger_stats(name, factory, pipe, train, dev))
        elif kind == WORD_STATISTICS:
            out.append(word_stats(name, factory, pipe, train, dev))
        else:
            other.append(name)
    return out, other


def not_covered_reason(nlp: Any, name: str) -> str:
    """Why :func:`component_stats` has no statistics for the component ``name`` of ``nlp``: its
    description's ``statistics_note``, that it predicts nothing of its own, or (a factory without a
    description) how to describe it; ``""`` for a component that has statistics."""
    factory = nlp.get_pipe_meta(name).factory
    try:
        description = describe(factory)
    except UndescribedComponentError as err:
        return err.reason
    if description.statistics is not None:
        return ""
    return description.statistics_note or f"{factory} predicts no labels of its own"


# ---------------------------------------------------------------------------------------------
# debug_data: a training config's corpora, read as ``spacy train`` reads them


class CorpusError(ValueError):
    """:func:`debug_data` cannot use the ``split`` corpus (``"train"`` or ``"dev"``); ``path`` is
    the config's ``paths.<split>`` after the overrides (None or ``""`` when it names no file)."""

    def __init__(self, message: str, split: str, path: Any) -> None:
        super().__init__(message)
        self.split, self.path = split, path


class NoCorpusPath(CorpusError):
    """The config's ``paths.<split>`` is empty and no file was given for the split."""


class UnreadableCorpus(CorpusError):
    """Reading the split's corpus failed; ``reason`` is the reader's error."""

    def __init__(self, split: str, path: Any, reason: str) -> None:
        super().__init__(f"cannot read the {split} corpus (paths.{split} = {path}): {reason}", split, path)
        self.reason = reason


class EmptyCorpus(CorpusError):
    """The train corpus has no documents."""


@dataclass
class DataReport:
    """What :func:`debug_data` read and found."""

    config_path: str
    train_path: str  # the config's paths.train after the overrides
    dev_path: str
    pipe_names: List[str]
    n_train_docs: int
    n_dev_docs: int
    n_train_tokens: int
    n_dev_tokens: int
    components: List[ComponentStats]  # one per component this module knows, in pipeline order
    not_covered: List[str]  # the other components (tok2vec, parser, ...)

    def to_dict(self) -> Dict[str, Any]:
        """The JSON form (``debug-data --output``): the files, document counts and components."""
        return {
            "config": self.config_path, "train": self.train_path, "dev": self.dev_path,
            "n_train_docs": self.n_train_docs, "n_dev_docs": self.n_dev_docs,
            "components": [s.to_dict() for s in self.components], "not_covered": list(self.not_covered),
        }


def _read_corpus(split: str, corpus: Any, nlp: Any, path: Any) -> List[Any]:
    try:
        return list(corpus(nlp))
    except (FileNotFoundError, ValueError, OSError) as err:
        raise UnreadableCorpus(split, path, str(err)) from err


def debug_data(
    config_path: Any,
    *,
    train_path: Any = None,
    dev_path: Any = None,
    overrides: Optional[Dict[str, Any]] = None,
    max_span_docs: int = MAX_SPAN_DOCS,
) -> DataReport:
    """The label statistics (:func:`component_stats`) of every component of the training config
    ``config_path`` on its train and dev corpora, read as ``spacy train`` reads them.

    ``overrides``: spaCy config overrides by dotted name (``{"paths.train": "train.spacy"}``);
    ``train_path`` / ``dev_path``, when given, set ``paths.train`` / ``paths.dev``.
    ``max_span_docs``: the train docs the span suggesters run on (a random sample when there
    are more). Registered functions the config needs must be imported first.

    Returns:
        A :class:`DataReport`: the files, document and token counts, the statistics per component
        and the components without statistics.

    Raises:
        NoCorpusPath: ``paths.train`` or ``paths.dev`` is empty (give ``train_path`` / ``dev_path``).
        UnreadableCorpus: a corpus cannot be read (a missing or malformed file).
        EmptyCorpus: the train corpus has no documents.
        ConfigValidationError: the config is not valid.
    """
    from spacy import util
    from spacy.schemas import ConfigSchemaTraining
    from spacy.util import registry, resolve_dot_names

    overrides = dict(overrides or {})
    for split, path in (("train", train_path), ("dev", dev_path)):
        if path is not None:
            overrides[f"paths.{split}"] = str(path)
    cfg = util.load_config(config_path, overrides=overrides)
    nlp = util.load_model_from_config(cfg)
    config = nlp.config.interpolate()
    T = registry.resolve(config["training"], schema=ConfigSchemaTraining)
    paths = config.get("paths", {})
    for split in ("train", "dev"):
        if paths.get(split) in (None, ""):
            raise NoCorpusPath(
                f"no {split} data: the config's paths.{split} is empty; give {split}_path (a .spacy"
                f" file) or the override paths.{split}", split, paths.get(split),
            )
    train_corpus, dev_corpus = resolve_dot_names(config, [T["train_corpus"], T["dev_corpus"]])
    train = _read_corpus("train", train_corpus, nlp, paths.get("train"))
    dev = _read_corpus("dev", dev_corpus, nlp, paths.get("dev"))
    if not train:
        raise EmptyCorpus(f"the train corpus has no documents (paths.train = {paths.get('train')})",
                          "train", paths.get("train"))
    found, other = component_stats(nlp, train, dev, max_span_docs=max_span_docs)
    return DataReport(
        config_path=str(config_path), train_path=str(paths.get("train")), dev_path=str(paths.get("dev")),
        pipe_names=list(nlp.pipe_names), n_train_docs=len(train), n_dev_docs=len(dev),
        n_train_tokens=sum(len(eg.reference) for eg in train),
        n_dev_tokens=sum(len(eg.reference) for eg in dev),
        components=found, not_covered=other,
    )
