"""One entry point for all formats: read a corpus file, count it, write a ``.spacy`` file.

Used by the ``python -m spacy_dice convert`` command and the ``spacy project`` commands.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, Optional, Tuple

from spacy.tokens import Doc

from . import mrpc, sst2
from .chars import DEFAULT_POS_COLUMN, WORDS_KEY, CharDocs
from .conll2003 import read_conll2003
from .conllu import read_conllu
from .iob import read_iob
from .docbin import write_docbin
from .errors import PathLike
from .mrpc import read_mrpc
from .sst2 import read_sst2
from .uner import read_uner


@dataclass(frozen=True)
class CorpusFormat:
    """What a format name stands for."""

    name: str
    task: str  # "ner", "pos" or "textcat"
    reader: Callable[..., Iterator[Doc]]
    description: str
    positive_label: Optional[str] = None  # textcat: the label whose share is reported
    labels: Tuple[str, ...] = ()
    options: Tuple[str, ...] = ()  # reader keyword options besides ``limit`` (e.g. ``scheme``)


FORMATS: Dict[str, CorpusFormat] = {
    "conll2003": CorpusFormat(
        "conll2003", "ner", read_conll2003,
        "CoNLL-2003 NER (word POS chunk NER, space separated, IOB1)",
    ),
    "conllu": CorpusFormat(
        "conllu", "pos", read_conllu,
        "CoNLL-U (UPOS -> pos_, XPOS -> tag_; chars: one token per character, the words as"
        " spans labelled with their UPOS or XPOS, BILU x POS in tag_)",
        options=("chars", "pos"),
    ),
    "uner": CorpusFormat(
        "uner", "ner", read_uner,
        "Universal NER .iob2 (tab separated, IOB2; chars: the entities over characters)",
        options=("chars",),
    ),
    "iob": CorpusFormat(
        "iob", "ner", read_iob,
        "NER columns: token ... tag, tab or space separated, IOB1/IOB2/BILUO (auto-detected)",
        options=("scheme", "comments"),
    ),
    "mrpc": CorpusFormat(
        "mrpc", "textcat", read_mrpc, "MRPC paraphrase pairs (TSV)",
        mrpc.POSITIVE_LABEL, mrpc.LABELS,
    ),
    "sst2": CorpusFormat(
        "sst2", "textcat", read_sst2, "SST-2 sentiment (TSV label<TAB>sentence)",
        sst2.POSITIVE_LABEL, sst2.LABELS,
    ),
}
"""The formats :func:`read_corpus` and :func:`convert_file` understand, by name."""


def get_format(name: str) -> CorpusFormat:
    """The :class:`CorpusFormat` called ``name``; ``ValueError`` listing the known ones otherwise."""
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(
            f"unknown corpus format {name!r}: expected one of {', '.join(FORMATS)}"
        ) from None


def read_corpus(
    format: str,
    path: PathLike,
    *,
    n_sents: int = 1,
    limit: Optional[int] = None,
    **options: Any,
) -> Iterable[Doc]:
    """Read ``path`` in the named format (see :data:`FORMATS`) into docs, lazily.

    ``n_sents`` (sentences per doc) is only supported for ``conll2003``; ``limit``
    keeps the first sentences (or pairs, or rows); ``options`` are the format's own reader
    options (:attr:`CorpusFormat.options`, e.g. ``scheme`` and ``comments`` for ``iob``;
    ``chars`` for ``conllu`` and ``uner``, with ``pos`` for ``conllu``: character docs, see
    :mod:`spacy_dice.corpus.chars`).

    Raises:
        CorpusFormatError: malformed input (while iterating).
        ValueError: unknown format, ``n_sents`` other than 1 for another format, or an
            option the format does not have.
    """
    fmt = get_format(format)
    unknown = sorted(set(options) - set(fmt.options))
    if unknown:
        allowed = ", ".join(fmt.options) or "none"
        having = ", ".join(name for name, other in FORMATS.items() if unknown[0] in other.options)
        elsewhere = f"; formats with {unknown[0]}: {having}" if having else ""
        raise ValueError(
            f"format {fmt.name} has no option {unknown[0]!r} (its options: {allowed}){elsewhere}"
        )
    if fmt.name == "conll2003":
        return read_conll2003(path, n_sents=n_sents, limit=limit)
    if n_sents != 1:
        raise ValueError(f"n_sents is only supported for conll2003, not for {fmt.name}")
    return fmt.reader(path, limit=limit, **options)


@dataclass
class CorpusStats:
    """Counts over docs, to compare a conversion with the published corpus counts.

    The gold words of character docs (``doc.spans[WORDS_KEY]``, :mod:`spacy_dice.corpus.chars`)
    are counted per label in ``word_labels`` (words per POS); their ``tokens`` are characters.
    """

    documents: int = 0
    sentences: int = 0
    tokens: int = 0
    word_labels: Counter = field(default_factory=Counter)
    entities: Counter = field(default_factory=Counter)
    pos: Counter = field(default_factory=Counter)
    tag: Counter = field(default_factory=Counter)
    cats: Counter = field(default_factory=Counter)

    def add(self, doc: Doc) -> None:
        """Count one doc (a doc without sentence starts counts as one sentence)."""
        self.documents += 1
        self.tokens += len(doc)
        if len(doc) and doc.has_annotation("SENT_START"):
            self.sentences += sum(1 for token in doc if token.is_sent_start)
        else:
            self.sentences += 1
        self.entities.update(ent.label_ for ent in doc.ents)
        self.pos.update(token.pos_ for token in doc if token.pos_)
        self.tag.update(token.tag_ for token in doc if token.tag_)
        self.cats.update(label for label, value in doc.cats.items() if value >= 0.5)
        if WORDS_KEY in doc.spans:
            self.word_labels.update(span.label_ for span in doc.spans[WORDS_KEY])

    def counting(self, docs: Iterable[Doc]) -> Iterator[Doc]:
        """Yield ``docs`` unchanged, counting each."""
        for doc in docs:
            self.add(doc)
            yield doc

    def to_dict(self) -> Dict[str, Any]:
        """Plain counts; label dicts are sorted by decreasing count."""
        return {
            "documents": self.documents,
            "sentences": self.sentences,
            "tokens": self.tokens,
            "word_labels": dict(self.word_labels.most_common()),
            "entities": dict(self.entities.most_common()),
            "pos": dict(self.pos.most_common()),
            "tag": dict(self.tag.most_common()),
            "cats": dict(self.cats.most_common()),
        }


def convert_file(
    format: str,
    input: PathLike,
    output: PathLike,
    *,
    n_sents: int = 1,
    limit: Optional[int] = None,
    spans_key: Optional[str] = None,
    sources: bool = True,
    **options: Any,
) -> Dict[str, Any]:
    """Convert ``input`` (in the named format) to the ``.spacy`` file ``output``.

    ``spans_key`` (NER formats only): also write each doc's entities to ``doc.spans[spans_key]``
    for span categorization (``dice_spancat``; see :mod:`spacy_dice.corpus.spans`).
    ``sources``: keep each doc's source document id (``doc.user_data``, what ``calibrate`` folds
    dev by); ``False`` for a training file, which is read on every epoch and never calibrated on.
    ``options`` are the format's reader options (see :func:`read_corpus`), e.g.
    ``convert_file("conllu", "zh-ud-train.conllu", "train.spacy", chars=True, pos="upos")`` for
    the character docs of joint word segmentation + POS (:mod:`spacy_dice.corpus.chars`).

    The output is written atomically (see :func:`write_docbin`): after a
    :class:`CorpusFormatError` there is no new output and no temporary file.

    Returns:
        A stats dict: ``format``, ``task``, ``input``, ``output``, ``documents``,
        ``sentences``, ``tokens``, ``word_labels`` (words of character docs per label),
        ``entities`` (label -> count), ``pos`` (UPOS ->
        count), ``tag`` (fine-grained tag -> count), ``cats`` (label -> number of docs
        where it is 1) and, for text classification, ``positive_label`` and
        ``positive_share``; for ``iob``, ``scheme`` (the tag scheme found or given); with
        ``spans_key``, ``spans_key`` (the entities counted in ``entities`` are also its spans);
        with ``chars=True``, ``chars`` (True), ``words`` (how many words the characters came
        from), ``characters`` (= ``tokens``) and, for ``conllu``, ``words_key`` (the
        ``doc.spans`` key of the words) and ``pos_column`` (``upos`` or ``xpos``: what labels the
        words and makes the BILU tags counted in ``tag``).

    Raises:
        CorpusFormatError: malformed input.
        ValueError: unknown format or unsupported option.
    """
    fmt = get_format(format)
    stats = CorpusStats()
    reader = read_corpus(fmt.name, input, n_sents=n_sents, limit=limit, **options)
    docs: Iterable[Doc] = reader
    if spans_key is not None:
        if fmt.task != "ner":
            raise ValueError(
                f"spans_key={spans_key!r}: only NER formats have entities to write as spans;"
                f" {fmt.name} is a {fmt.task} format"
            )
        from .spans import ents_as_spans

        docs = ents_as_spans(docs, spans_key)
    write_docbin(stats.counting(docs), output, keep_user_data=sources)
    result: Dict[str, Any] = {
        "format": fmt.name,
        "task": fmt.task,
        "input": str(input),
        "output": str(Path(output)),
        **stats.to_dict(),
    }
    if getattr(reader, "scheme", None) is not None:
        result["scheme"] = reader.scheme  # what the reader found (iob), also under --spans-key
    if spans_key is not None:
        result["spans_key"] = spans_key  # doc.spans[spans_key] = the entities of each doc
    if isinstance(reader, CharDocs):
        result.update(chars=True, words=reader.words, characters=stats.tokens)
        if "pos" in fmt.options:
            result["words_key"] = WORDS_KEY
            result["pos_column"] = options.get("pos") or DEFAULT_POS_COLUMN
    if fmt.positive_label is not None:
        positives = stats.cats.get(fmt.positive_label, 0)
        result["positive_label"] = fmt.positive_label
        result["positive_share"] = positives / stats.documents if stats.documents else 0.0
    return result
