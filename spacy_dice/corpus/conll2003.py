"""CoNLL-2003 NER: ``word POS chunk NER`` columns, space separated, IOB1 tags.

``-DOCSTART-`` lines separate documents and are never tokens; a blank line ends a
sentence. Entities become ``doc.ents`` (every other token is ``O``) and the POS
column is stored in ``token.tag_``. The N-th ``-DOCSTART-`` of the file starts the source document
``"docstart-N"``, in ``doc.user_data[SOURCE_DOC]`` of its docs (no key before the first).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, List, Optional, Tuple

from spacy.tokens import Doc
from spacy.vocab import Vocab

from ._docs import build_doc, default_vocab, sentence_starts, set_source_doc
from ._lines import SourceDocuments, check_limit, is_blank, iter_lines, split_columns
from .errors import CorpusFormatError, PathLike
from .tags import EntitySpan, SpanBuilder

COLUMNS = ["word", "POS", "chunk", "NER"]
DOCSTART = "-DOCSTART-"


@dataclass
class Conll2003Sentence:
    """One sentence: its words, POS tags, entity spans, first line number and source document
    (``"docstart-N"`` after the N-th ``-DOCSTART-`` line, ``None`` before the first)."""

    words: List[str] = field(default_factory=list)
    tags: List[str] = field(default_factory=list)
    entities: List[EntitySpan] = field(default_factory=list)
    line: int = 0
    source_doc: Optional[str] = None


def iter_conll2003_sentences(path: PathLike) -> Iterator[Tuple[bool, Conll2003Sentence]]:
    """Yield ``(starts_document, sentence)`` for each non-empty sentence of the file.

    ``starts_document`` is true for the first sentence of the file and for the first
    sentence after each ``-DOCSTART-`` line.

    Raises:
        CorpusFormatError: a malformed line (columns, separator, tag, encoding).
    """
    new_document = True
    sentence = Conll2003Sentence()
    builder = SpanBuilder("iob1")
    documents = SourceDocuments("docstart")

    def finish() -> Iterator[Tuple[bool, Conll2003Sentence]]:
        nonlocal new_document, sentence, builder
        if sentence.words:
            sentence.entities = builder.finish()
            yield new_document, sentence
            new_document = False
        sentence = Conll2003Sentence()
        builder = SpanBuilder("iob1")

    for lineno, line in iter_lines(path):
        if is_blank(line):
            yield from finish()
            continue
        if line.split(" ", 1)[0] == DOCSTART:
            yield from finish()
            new_document = True
            documents.start()
            continue
        word, pos, _chunk, ner = split_columns(
            line, sep=" ", names=COLUMNS, path=path, lineno=lineno
        )
        try:
            builder.add(ner)
        except ValueError as err:
            raise CorpusFormatError(path, lineno, str(err)) from None
        if not sentence.words:
            sentence.line = lineno
            sentence.source_doc = documents.current
        sentence.words.append(word)
        sentence.tags.append(pos)
    yield from finish()


def _merge(vocab: Vocab, sentences: List[Conll2003Sentence], mark_sentences: bool) -> Doc:
    words: List[str] = []
    tags: List[Optional[str]] = []
    entities: List[EntitySpan] = []
    for sentence in sentences:
        offset = len(words)
        entities.extend((start + offset, end + offset, label) for start, end, label in sentence.entities)
        words.extend(sentence.words)
        tags.extend(sentence.tags)
    spaces = [True] * len(words)
    spaces[-1] = False
    starts = sentence_starts([len(s.words) for s in sentences]) if mark_sentences else None
    doc = build_doc(vocab, words, spaces, tags=tags, entities=entities, sent_starts=starts)
    return set_source_doc(doc, sentences[0].source_doc)  # a doc never spans a -DOCSTART-


def read_conll2003(
    path: PathLike,
    *,
    n_sents: int = 1,
    limit: Optional[int] = None,
    vocab: Optional[Vocab] = None,
) -> Iterator[Doc]:
    """Read a CoNLL-2003 file into ``Doc`` objects, lazily.

    Args:
        path: the ``eng.train``-style file.
        n_sents: sentences per doc; a doc never spans a ``-DOCSTART-`` boundary. With
            ``n_sents > 1`` the sentence starts of every doc are set.
        limit: keep only the first ``limit`` sentences (``None``: all).
        vocab: the vocab of the docs (default: that of ``spacy.blank("en")``).

    Raises:
        CorpusFormatError: malformed input (raised while iterating).
        ValueError: ``n_sents`` below 1 or a negative ``limit``.
    """
    if n_sents < 1:
        raise ValueError(f"n_sents must be at least 1, got {n_sents}")
    check_limit(limit)
    return _read(path, n_sents, limit, default_vocab(vocab))


def _read(path: PathLike, n_sents: int, limit: Optional[int], vocab: Vocab) -> Iterator[Doc]:
    group: List[Conll2003Sentence] = []
    n_read = 0
    if limit == 0:
        return
    for new_document, sentence in iter_conll2003_sentences(path):
        if group and (new_document or len(group) >= n_sents):
            yield _merge(vocab, group, n_sents > 1)
            group = []
        group.append(sentence)
        n_read += 1
        if limit is not None and n_read >= limit:
            break
    if group:
        yield _merge(vocab, group, n_sents > 1)
