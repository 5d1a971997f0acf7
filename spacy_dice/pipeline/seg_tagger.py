"""``dice_seg_tagger``: joint word segmentation and POS tagging over characters (Chinese).

The input doc's tokens are characters (``spacy.blank("zh")``'s default ``char`` segmenter; the
training docs of ``convert conllu --chars``). Every character is classified into a BILU tag of a
POS label (``B-NOUN``, ``I-NOUN``, ``L-NOUN``, ``U-NOUN``, ...: the paper's BMES scheme, ``S`` being
``U``), with any loss of the family, on ``dice_ner``'s model and lattice: the component IS a
:class:`~.ner.DiceEntityRecognizer` whose entities are words, so the constrained BILUO Viterbi
decoder (:mod:`.decoder`), the ``label_bias`` and the marginals (:mod:`.marginals`) are the same
code. What differs is what the lattice may do and what is written:

* **every character is in exactly one word.** The tag columns are ``dice_ner``'s (``O`` first,
  then ``B/I/L/U`` per label), but ``O`` is only for whitespace: :meth:`DiceSegTagger.log_probs`
  sets the ``O`` column of every non-whitespace token to ``NEG_FLOOR``; whitespace tokens
  (``token.is_space``, what ``spacy.blank("zh")`` gives for a run of spaces) get ``O`` = 0 and
  every other tag ``NEG_FLOOR``, as in ``dice_ner``, so they are never part of a word; and a
  character followed by whitespace (``token.whitespace_``) must end a word (its ``B`` and ``I``
  columns ``NEG_FLOOR``), so no word crosses whitespace. The decoder's best valid path is then a
  segmentation: a word is a ``U-X`` or a ``B-X I-X ... L-X`` run. The gold never has ``O``
  (characters outside every gold word are masked), so the model learns to give it almost nothing.
* **words are written as tokens.** ``set_annotations`` merges the characters of each predicted
  word into one token (``doc.retokenize``) and sets its ``token.pos_`` (``attr = "pos"``: the
  labels must be Universal POS names, checked at ``initialize``) or ``token.tag_`` (``attr =
  "tag"``, e.g. XPOS); whitespace tokens stay as they are, with ``pos_`` ``"SPACE"`` (``attr =
  "pos"``). With ``scores_key`` (default ``"words"``) ``doc.spans[scores_key]`` holds the words
  (one span per word token, labelled with its POS) and ``attrs["scores"]``, each word's marginal
  probability under the constrained lattice (``dice_ner``'s entity confidences).

``predict`` returns the lattice's log-probabilities (decision-free, the constraints above
included), so ``calibrate`` re-decodes them under other biases without predicting again.

Gold: ``reference.spans[words_key]`` (default ``"words"``), one span per word over its
characters, labelled with its POS; the words are aligned to the predicted tokens, and characters
that no aligned gold word covers (no annotation, a word whose boundaries the predicted tokens do
not share, a label not seen at ``initialize``, characters of two overlapping gold words) are masked
(class id -1), as ``dice_ner`` masks tokens.

The scorer (:mod:`.seg_tagger_scorer`): ``pos_f`` (joint F1 of (word span, POS) pairs),
``seg_f`` (word spans), ``pos_per_type``.
"""
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

import numpy
from spacy.attrs import ORTH
from spacy.language import Language
from spacy.parts_of_speech import IDS as POS_IDS
from spacy.tokens import Doc, Span, SpanGroup
from spacy.training import Example, validate_get_examples
from spacy.vocab import Vocab
from thinc.api import Model

from .base import dice_factory
from .biluo import BEGIN, IN, MISSING, OUT, spans_from_tags, split_biluo_tag, tag_ids_from_strings
from .decision_settings import LABEL_BIAS
from .decoder import NEG_FLOOR, decode_log_probs_batch
from .default_losses import CE_LOSS
from .descriptions import WORDS, ComponentDescription
from .marginals import entity_marginals
from .ner import DiceEntityRecognizer
from .seg_tagger_scorer import DEFAULT_WORDS_KEY, SEG_TAGGER_ATTRS
from .tagger import DEFAULT_TAGGER_MODEL

DEFAULT_SCORES_KEY = DEFAULT_WORDS_KEY
"""Where the predicted words and their confidences go: the gold's key, so a prediction has the
shape of its gold."""
SEG_TAGGER_DEFAULT_LOSS = CE_LOSS
"""``dice_ner``'s default (the same lattice over characters); not measured on UD Chinese yet."""
SPACE_POS = "SPACE"
"""The ``token.pos_`` of whitespace tokens (``attr = "pos"``)."""


def _check_key(component: str, setting: str, value: Any, *, nullable: bool, meaning: str) -> Optional[str]:
    """``value`` when it is a non-empty string (or ``None`` where ``nullable``), else a
    ``ValueError`` naming the component, the setting, what is allowed and what it means."""
    if (value is None and nullable) or (isinstance(value, str) and value):
        return value
    allowed = "a non-empty string" + (" or null (none, no cost)" if nullable else "")
    raise ValueError(f"[{component}] {setting}={value!r} is not allowed; use {allowed}: {meaning}")


def same_tokens(example: Example) -> bool:
    """Whether the predicted and the reference doc have the same tokens (training on the
    character docs of ``convert --chars``), so that the gold words' own token offsets need no
    alignment (building spaCy's alignment was a fifth of a CNN update)."""
    predicted, reference = example.predicted, example.reference
    return len(predicted) == len(reference) and predicted.text == reference.text and numpy.array_equal(
        predicted.to_array(ORTH), reference.to_array(ORTH))


class DiceSegTagger(DiceEntityRecognizer):
    """Joint word segmentation and POS tagging: BILU-POS tags per character, decoded into a
    well-formed segmentation, written as word tokens (see the module docstring).

    ``attr``: ``"pos"`` (``token.pos_``, UPOS labels) or ``"tag"`` (``token.tag_``);
    ``words_key``: the ``doc.spans`` key of the gold words; ``label_bias`` (POS label -> number):
    added to the label's ``B``, ``I``, ``L``, ``U`` log-probabilities before decoding (> 0: more
    words of that POS); ``scores_key``: where the words and their marginal probabilities go
    (``None``: nowhere, no cost).
    """

    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str = "dice_seg_tagger",
        *,
        loss: Any,
        attr: str = "pos",
        words_key: str = DEFAULT_WORDS_KEY,
        label_bias: Optional[Dict[str, float]] = None,
        scores_key: Optional[str] = DEFAULT_SCORES_KEY,
        scorer: Optional[Callable],
        **shared: Any,
    ) -> None:
        """``shared``: ``grad_scale``, ``head_learn_rate_scale`` (:mod:`.settings`)."""
        if attr not in SEG_TAGGER_ATTRS:
            raise ValueError(
                f"[{name}] attr={attr!r} is not allowed; use 'pos' (token.pos_, Universal POS labels"
                " such as NOUN) or 'tag' (token.tag_, any labels, e.g. XPOS such as NN)"
            )
        words_key = _check_key(name, "words_key", words_key, nullable=False,
                               meaning=f"the doc.spans key of the gold words (default \"{DEFAULT_WORDS_KEY}\")")
        scores_key = _check_key(
            name, "scores_key", scores_key, nullable=True,
            meaning="the doc.spans key that receives the predicted words with their marginal"
            f" probabilities in attrs[\"scores\"] (default \"{DEFAULT_SCORES_KEY}\")",
        )
        self._columns_cache: Optional[tuple] = None
        super().__init__(
            vocab, model, name, loss=loss, label_bias=label_bias, scores_key=scores_key, scorer=scorer,
            **shared,
        )
        self.cfg["attr"] = attr
        self.cfg["words_key"] = words_key

    @property
    def attr(self) -> str:
        """``"pos"`` or ``"tag"``: the token attribute the words' labels are written to."""
        return self.cfg["attr"]

    @property
    def words_key(self) -> str:
        """The ``doc.spans`` key of the gold words."""
        return self.cfg["words_key"]

    # --- labels and gold -------------------------------------------------------------------------
    def labels_from_examples(self, examples: Iterable[Example]) -> List[str]:
        """The labels of the gold words (``reference.spans[words_key]``), sorted."""
        key = self.words_key
        found = set()
        for example in examples:
            if key in example.reference.spans:
                found.update(span.label_ for span in example.reference.spans[key])
        return sorted(found)

    def check_labels(self, labels: Sequence[str]) -> None:
        """Refuse an empty label and, with ``attr = "pos"``, labels that are not Universal POS
        names (``ValueError`` naming them: such labels go to ``token.tag_`` with ``attr = "tag"``)."""
        if any(not label for label in labels):
            raise ValueError(
                f"[{self.name}] some gold words (doc.spans[{self.words_key!r}]) have no label; every"
                " word needs its POS as its span label"
            )
        if self.attr != "pos":
            return
        bad = sorted({label for label in labels if label not in POS_IDS})
        if bad:
            raise ValueError(
                f"[{self.name}] attr=\"pos\" writes token.pos_, which takes Universal POS names"
                f" ({', '.join(k for k in POS_IDS if k)}), but the gold words"
                f" (doc.spans[{self.words_key!r}]) have the labels {', '.join(map(repr, bad))};"
                " use attr=\"tag\" for other labels (token.tag_, e.g. XPOS), or convert with the"
                " UPOS column (`convert conllu --chars --pos upos`)"
            )

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[Sequence[str]] = None,
    ) -> None:
        """Collect the POS labels of the gold words (or take ``labels``), check them against
        ``attr``, then set up the loss and the model as ``dice_ner`` does."""
        validate_get_examples(get_examples, f"{type(self).__name__}.initialize")
        labels = list(labels) if labels is not None else self.labels_from_examples(get_examples())
        if not labels and not self.labels:
            raise ValueError(
                f"[{self.name}] no training doc has gold words in doc.spans[{self.words_key!r}]"
                " (one span per word over its characters, labelled with its POS, as `python -m"
                " spacy_dice convert conllu --chars` writes them); set words_key to the key that"
                " holds them"
            )
        self.check_labels(list(self.labels) + labels)
        super().initialize(get_examples, nlp=nlp, labels=labels)

    def gold_ids(self, example: Example, class_index: Dict[str, int]) -> numpy.ndarray:
        """The gold BILU tag id of each predicted token of ``example``: the gold words
        (``reference.spans[words_key]``) aligned to the predicted tokens; -1 where no aligned
        word (of a known label) covers the token, or two do."""
        n = len(example.predicted)
        key = self.words_key
        if key not in example.reference.spans or not n:
            return numpy.full(n, MISSING, dtype="int32")
        tags: List[Optional[str]] = [None] * n
        covered = numpy.zeros(n, dtype="int32")
        words = list(example.reference.spans[key])
        if words and not same_tokens(example):
            words = example.get_aligned_spans_y2x(words, allow_overlap=True)
        for word in words:
            start, end, label = word.start, word.end, word.label_
            covered[start:end] += 1
            if end - start == 1:
                tags[start] = f"U-{label}"
            else:
                tags[start] = f"B-{label}"
                tags[start + 1: end - 1] = [f"I-{label}"] * (end - start - 2)
                tags[end - 1] = f"L-{label}"
        ids = tag_ids_from_strings(tags, class_index)
        ids[covered > 1] = MISSING
        return ids

    # --- scores ----------------------------------------------------------------------------------
    def _columns(self) -> tuple:
        """``(O column, the B and I columns)`` of :attr:`class_names`."""
        names = self.class_names
        if self._columns_cache is None or self._columns_cache[0] != tuple(names):
            opening = [i for i, name in enumerate(names) if name != OUT and split_biluo_tag(name)[0] in (BEGIN, IN)]
            self._columns_cache = (tuple(names), names.index(OUT), numpy.asarray(opening, dtype="int64"))
        return self._columns_cache[1], self._columns_cache[2]

    def log_probs(self, docs: Sequence[Doc], scores: Sequence[Any]) -> List[Any]:
        """Per doc, the ``(len(doc), n_tags)`` log-probabilities of the model's outputs ``scores``
        under the segmentation constraints: ``dice_ner``'s (whitespace tokens are ``O``), and
        the ``O`` column of every other token ``NEG_FLOOR`` (each character in a word), and the
        ``B`` and ``I`` columns of a token followed by whitespace ``NEG_FLOOR`` (it ends its word)."""
        result = super().log_probs(docs, scores)
        out, opening = self._columns()
        xp = self.model.ops.xp
        for doc, lp in zip(docs, result):
            if not len(doc):
                continue
            flags = doc.to_array(["IS_SPACE", "SPACY"]).astype(bool).reshape(len(doc), 2)
            space, trailing = flags[:, 0], flags[:, 1]
            chars = numpy.flatnonzero(~space)
            if len(chars):
                lp[xp.asarray(chars), out] = NEG_FLOOR
            ends = numpy.flatnonzero(trailing & ~space)
            if len(ends) and len(opening):
                lp[xp.asarray(ends)[:, None], xp.asarray(opening)[None, :]] = NEG_FLOOR
        return result

    # --- annotations -----------------------------------------------------------------------------
    def set_annotations(self, docs: Iterable[Doc], scores: List[Any]) -> None:
        """Write the words decoded from ``predict``'s log-probabilities under the current
        ``label_bias``: each word becomes one token (its characters merged) with ``token.pos_``
        (``attr = "pos"``; whitespace tokens ``"SPACE"``) or ``token.tag_``; with
        ``scores_key``, ``doc.spans[scores_key]`` holds the words, ``attrs["scores"]`` their
        marginal probabilities (:func:`.marginals.entity_marginals`). ``scores`` are unchanged;
        each doc must be the one they were predicted for (not merged yet)."""
        docs = list(docs)
        names = self.class_names
        biased = self.biased_log_probs(scores)
        for i, (doc, lp) in enumerate(zip(docs, biased)):
            if int(lp.shape[0]) != len(doc):
                raise ValueError(
                    f"[{self.name}] doc {i} has {len(doc)} tokens but its scores have"
                    f" {int(lp.shape[0])} rows: set_annotations takes the docs predict was given"
                    " (a doc whose words are already merged cannot be annotated again)"
                )
        words = [spans_from_tags(ids, names) for ids in decode_log_probs_batch(biased, names)]
        key = self.cfg.get("scores_key")
        marginals = entity_marginals(biased, words, names) if key is not None else [None] * len(docs)
        for doc, doc_words, probs in zip(docs, words, marginals):
            self._write_words(doc, doc_words, probs, key)

    def _label_values(self, labels: Sequence[str]) -> numpy.ndarray:
        if self.attr == "pos":
            return numpy.asarray([POS_IDS[label] for label in labels], dtype="uint64")
        return numpy.asarray([self.vocab.strings.add(label) for label in labels], dtype="uint64")

    def _write_words(self, doc: Doc, words: Sequence[Any], probs: Optional[numpy.ndarray], key: Optional[str]) -> None:
        """Merge each word ``(start, end, label)`` of ``doc`` into one token and label it."""
        if not len(doc):
            if key is not None:
                doc.spans[key] = SpanGroup(doc, name=key, spans=[])
                doc.spans[key].attrs["scores"] = numpy.zeros((0,), dtype="float64")
            return
        with doc.retokenize() as retokenizer:
            for start, end, _ in words:
                if end - start > 1:
                    retokenizer.merge(doc[start:end])
        sizes = numpy.asarray([end - start for start, end, _ in words], dtype="int64")
        starts = numpy.asarray([start for start, _, _ in words], dtype="int64")
        positions = starts - (numpy.cumsum(sizes) - sizes - numpy.arange(len(words)))  # merged token of each word
        field = self.attr.upper()
        values = doc.to_array(field).astype("uint64")
        labels = [label for _, _, label in words]
        if len(words):
            values[positions] = self._label_values(labels)
        if self.attr == "pos":
            values[doc.to_array("IS_SPACE").astype(bool)] = POS_IDS[SPACE_POS]
        doc.from_array([field], values.reshape(-1, 1))
        if key is not None:
            group = SpanGroup(
                doc, name=key,
                spans=[Span(doc, p, p + 1, label=label) for p, label in zip(positions.tolist(), labels)],
            )
            group.attrs["scores"] = probs
            doc.spans[key] = group


@dice_factory(
    "dice_seg_tagger",
    assigns=["token.pos", "token.tag", "doc.spans"],
    default_loss=SEG_TAGGER_DEFAULT_LOSS,
    default_config={
        "model": DEFAULT_TAGGER_MODEL,
        "attr": "pos",
        "words_key": DEFAULT_WORDS_KEY,
        "label_bias": {},
        "scores_key": DEFAULT_SCORES_KEY,
        "scorer": {"@scorers": "spacy-dice.seg_tagger_scorer.v1"},
    },
    default_score_weights={
        "pos_f": 1.0, "pos_p": 0.0, "pos_r": 0.0, "seg_f": 0.0, "seg_p": 0.0, "seg_r": 0.0, "pos_per_type": None,
    },
    description=ComponentDescription(
        WORDS, decision=LABEL_BIAS, attr="pos", attr_setting="attr",
        # spaCy has no joint segmenter + tagger; its nearest is `tagger` over the BILU-POS tags of
        # the characters (token.tag_, which `convert conllu --chars` also writes)
        spacy_counterpart="tagger",
        predicts="words over characters: each word one token with token.pos_ (attr = \"pos\") or"
        " token.tag_ (attr = \"tag\"); per-character BILU-POS softmax, constrained Viterbi decoder",
        gold="doc.spans[\"words\"] over character tokens, one span per word labelled with its POS"
        " (`python -m spacy_dice convert conllu --chars`)",
    ),
)
def make_dice_seg_tagger(
    nlp: Language,
    name: str,
    model: Model,
    attr: str,
    words_key: str,
    label_bias: Dict[str, float],
    scores_key: Optional[str],
    scorer: Optional[Callable],
    **shared: Any,
) -> DiceSegTagger:
    """Joint word segmentation and POS tagging over character tokens, trained with ``loss``.

    ``attr``: ``"pos"`` (``token.pos_``; the labels must be Universal POS names) or ``"tag"``
    (``token.tag_``, e.g. XPOS). ``words_key``: the ``doc.spans`` key of the gold words.
    ``label_bias``: POS label -> number added to the log-probabilities of its ``B``, ``I``,
    ``L``, ``U`` tags before decoding (``{}``: the plain decoder;
    :mod:`spacy_dice.pipeline.decision_settings`). ``scores_key``: ``doc.spans[scores_key]``
    gets the words with their marginal probabilities in ``attrs["scores"]``; ``null``: no
    confidences, no cost.

    ``shared``: ``loss``, ``grad_scale`` and ``head_learn_rate_scale``, the settings of every dice
    component (:mod:`spacy_dice.pipeline.settings`).
    """
    return DiceSegTagger(
        nlp.vocab, model, name, attr=attr, words_key=words_key, label_bias=label_bias,
        scores_key=scores_key, scorer=scorer, **shared,
    )
