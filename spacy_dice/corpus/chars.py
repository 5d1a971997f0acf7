"""Character corpora (Chinese): one token per character, the gold words as spans over them.

Chinese is written without spaces between words, so word segmentation is part of the task: the
model sees characters and predicts the words (joint word segmentation + POS) or the entities over
them (Chinese NER). ``convert conllu --chars`` and ``convert uner --chars`` build such docs from
word-segmented corpora (UD Chinese-GSD, UNER Chinese-GSD), one doc per sentence:

* the tokens are the characters of the sentence's word forms, concatenated, with any whitespace
  inside a form dropped: ``Doc(vocab, words=list(chars), spaces=[False] * n)``. ``doc.text`` is then
  exactly what ``spacy.blank("zh")``'s default character segmenter splits into the same tokens, so
  a pipeline trained on these docs sees the same tokens at prediction time. Latin letters and
  digits are characters like any other ("iPhone 12" is the 8 tokens ``i P h o n e 1 2``);
* ``doc.spans[WORDS_KEY]`` (``conllu`` only) holds the gold words, one span per word over its
  characters, labelled with the word's POS (its UPOS, or XPOS with ``pos="xpos"``);
* ``token.tag_`` (``conllu`` only) is each character's position in its word times the word's POS,
  BILU style: ``B-NOUN`` (first character of a longer word), ``I-NOUN`` (inside), ``L-NOUN`` (last),
  ``U-NOUN`` (a one-character word). This is the paper's BMES scheme (B=B, M=I, E=L, S=U: BILUO
  without O, every character being in a word), so spaCy's own ``tagger`` trains on the same docs as
  a baseline; ``token.pos_`` stays unset;
* ``doc.ents`` (``uner`` only): each entity over the characters of its words (an IOB2 ``B-`` on a
  word starts the entity at the word's first character); every other character is ``O``.

The ``uner`` docs carry no span group: NER needs only the entities (the same words, labelled,
come from ``conllu --chars``), and a span group makes spaCy's ``DocBin`` slow to write and read
(srsly builds a msgpack packer per group, and each looks up the installed entry points: about
3 ms a doc in an environment with many packages, seconds per pass over a training set). How many
words the docs were made of is counted by the reader instead (:class:`CharDocs`).

A word whose form is empty or only whitespace has no character to stand on: the readers refuse
it with ``file:line`` rather than drop it (see :func:`word_characters`).
"""
from __future__ import annotations

from typing import Callable, Iterator, List, Optional, Sequence, Tuple

from spacy.tokens import Doc, Span
from spacy.training import offsets_to_biluo_tags
from spacy.vocab import Vocab

from ._lines import preview, take
from .errors import CorpusFormatError, PathLike
from .tags import EntitySpan

WORDS_KEY = "words"
"""The ``doc.spans`` key of the gold words in a character doc."""
POS_COLUMNS: Tuple[str, ...] = ("upos", "xpos")
"""The CoNLL-U columns a character doc can label its words with (``pos=``)."""
DEFAULT_POS_COLUMN = "upos"
"""The column that labels the words when ``pos`` is not given."""
MULTIWORD_JOIN = "+"
"""Joins the POS of the parts of a CoNLL-U multiword token that becomes one word (``ADP+DET``)."""


class CharDocs:
    """The character docs of one file, read lazily (each iteration reads the file again).

    After (or while) iterating, :attr:`words` is how many words the docs yielded so far were made
    of (a doc's tokens are characters, so the words are not otherwise countable for ``uner``).
    """

    def __init__(self, read: Callable[[], Iterator[Tuple[Doc, int]]], limit: Optional[int] = None) -> None:
        self._read = read  # yields (doc, number of words) per sentence
        self.limit = limit
        self.words = 0

    def __iter__(self) -> Iterator[Doc]:
        self.words = 0
        for doc, n_words in take(self._read(), self.limit):
            self.words += n_words
            yield doc


def word_characters(form: str) -> str:
    """``form`` without its whitespace (spaces, tabs, ideographic spaces, ...): the characters the
    word contributes to a character doc. An empty result means the word has no character."""
    return "".join(char for char in form if not char.isspace())


def text_mismatch(text: str, chars: str) -> Optional[str]:
    """Why a sentence's ``# text`` does not match its words, or ``None`` when it does.

    ``text`` matches when it is ``chars`` (the words' characters, concatenated) once its whitespace
    is dropped. The reason names the first character where they differ, with a little context.
    """
    stripped = word_characters(text)
    if stripped == chars:
        return None
    at = next((i for i, (a, b) in enumerate(zip(stripped, chars)) if a != b), min(len(stripped), len(chars)))
    found_text = stripped[at:at + 1] or "the end"
    found_words = chars[at:at + 1] or "the end"
    context = max(at - 5, 0)
    return (
        f"the text without whitespace ({len(stripped)} characters) differs from the word forms"
        f" concatenated ({len(chars)} characters) at character {at + 1}: {found_text!r} in the"
        f" text, {found_words!r} in the words (text {stripped[context:at + 6]!r}, words"
        f" {chars[context:at + 6]!r})"
    )


def char_doc(
    vocab: Vocab,
    words: Sequence[str],
    *,
    labels: Optional[Sequence[str]] = None,
    entities: Optional[Sequence[EntitySpan]] = None,
) -> Doc:
    """A character doc (see the module doc) of one sentence's ``words``.

    Args:
        vocab: the vocab of the doc.
        words: the words' characters (:func:`word_characters` of each form), none empty.
        labels: each word's POS: the label of its span in ``doc.spans[WORDS_KEY]`` and, BILU
            style, the ``tag_`` of its characters. ``None``: no word spans, no tags.
        entities: ``(first_word, end_word, label)`` spans over ``words``; ``None``: no NER
            annotation. With a list (even empty) every character outside them is ``O``.

    Returns:
        The doc, one token per character; with ``labels``, ``doc.spans[WORDS_KEY]`` one span per
        word.

    Raises:
        ValueError: an empty word, or ``labels`` / ``entities`` that do not fit ``words``.
    """
    starts: List[int] = []
    position = 0
    for index, word in enumerate(words):
        if not word:
            raise ValueError(f"word {index + 1} has no character (empty after dropping whitespace)")
        starts.append(position)
        position += len(word)
    starts.append(position)
    chars = "".join(words)
    doc = Doc(vocab, words=list(chars), spaces=[False] * len(chars))
    if labels is not None and len(labels) != len(words):
        raise ValueError(f"expected one label per word ({len(words)}), found {len(labels)}")
    if labels is not None:
        spans = [Span(doc, starts[i], starts[i + 1], label=labels[i]) for i in range(len(words))]
        doc.spans[WORDS_KEY] = spans
        offsets = [(span.start, span.end, span.label_) for span in spans]  # token i is character i
        for token, tag in zip(doc, offsets_to_biluo_tags(doc, offsets)):
            token.tag_ = tag
    if entities is not None:
        for first, end, _label in entities:
            if not 0 <= first < end <= len(words):
                raise ValueError(f"entity over words {first}..{end} is outside the {len(words)} words")
        doc.ents = [Span(doc, starts[first], starts[end], label=label) for first, end, label in entities]
    return doc


def sentence_without_lines(path: PathLike, text_line: int, text: str, lines: str, found: str) -> CorpusFormatError:
    """The error for a ``# text`` comment (at ``text_line``) that no ``lines`` ("word lines",
    "token lines") follow before ``found`` ("a blank line (line 12)", "the end of the file")."""
    return CorpusFormatError(
        path, text_line, f"expected the {lines} of the sentence whose # text is {preview(text)}, found {found}"
    )
