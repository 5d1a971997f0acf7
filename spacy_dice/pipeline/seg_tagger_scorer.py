"""The scorer of ``dice_seg_tagger``: joint word segmentation + POS tagging over characters.

A word is its character span in ``doc.text`` (``start_char``, ``end_char``) and its POS. The gold
words are the spans of ``reference.spans[words_key]`` (one labelled span per word, as ``convert
conllu --chars`` writes them); the predicted words are the predicted doc's tokens, whitespace
tokens left out (``dice_seg_tagger`` merges each predicted word into one token), with their
``token.pos_`` (``attr = "pos"``) or ``token.tag_`` (``attr = "tag"``). Both docs of an
``Example`` have the same text, so character offsets compare directly, whatever the tokenization.

Scores (spaCy's ``PRFScore``, micro-averaged over the words of every annotated doc):

* ``pos_p``, ``pos_r``, ``pos_f``: (word span, POS) pairs, the joint measure of segmentation and
  tagging (a word counts when its span and its POS are right), the paper's metric;
* ``seg_p``, ``seg_r``, ``seg_f``: word spans alone (segmentation);
* ``pos_per_type``: per POS label, ``{"p", "r", "f"}`` of its (span, POS) pairs.

Docs whose reference has no ``doc.spans[words_key]`` count nowhere (missing annotation, as spaCy's
scorers skip them); with no annotated doc every score is ``None``.

spaCy's own counterpart, its ``tagger`` trained on the BILU-POS ``token.tag_`` of the same
character docs, is scored the same way by ``spacy-dice.bilu_tag_words_scorer.v1``
(:func:`bilu_tag_words_score`): its words are read off its tags as they come
(:func:`bilu_tag_words`), a character in no well-formed ``U-X`` / ``B-X I-X* L-X`` run being in
no predicted word (its gold word counts as missed).
"""
from typing import Any, Callable, Dict, Iterable, Optional, Set, Tuple

from spacy.scorer import PRFScore
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import registry

from .biluo import BEGIN, IN, LAST, OUT, UNIT, split_biluo_tag

DEFAULT_WORDS_KEY = "words"
"""The ``doc.spans`` key of the gold words (``convert conllu --chars``) and of the predicted ones."""
SEG_TAGGER_ATTRS = ("pos", "tag")

Word = Tuple[int, int, str]


def gold_words(doc: Doc, words_key: str = DEFAULT_WORDS_KEY) -> Optional[Set[Word]]:
    """The gold words of ``doc`` as ``(start_char, end_char, label)`` triples, or ``None`` when it
    has no ``doc.spans[words_key]`` (no annotation)."""
    if words_key not in doc.spans:
        return None
    return {(span.start_char, span.end_char, span.label_) for span in doc.spans[words_key]}


def predicted_words(doc: Doc, attr: str = "pos") -> Set[Word]:
    """The words of a predicted ``doc``: every non-whitespace token as ``(start_char, end_char,
    token.pos_ or token.tag_)`` (``attr``)."""
    field = f"{attr}_"
    return {
        (token.idx, token.idx + len(token.text), getattr(token, field))
        for token in doc if not token.is_space
    }


def _check_attr(attr: Any) -> str:
    if attr not in SEG_TAGGER_ATTRS:
        raise ValueError(
            f"seg_tagger_score: attr={attr!r} is not allowed; use 'pos' (token.pos_, UPOS) or 'tag'"
            " (token.tag_, XPOS): the token attribute the predicted words' labels are read from"
        )
    return attr


def seg_tagger_score(
    examples: Iterable[Example],
    *,
    attr: str = "pos",
    words_key: str = DEFAULT_WORDS_KEY,
    **kwargs: Any,
) -> Dict[str, Any]:
    """``pos_p/r/f`` (joint: word span and POS), ``seg_p/r/f`` (word spans) and ``pos_per_type``
    (per POS label ``{"p", "r", "f"}``) of ``examples`` (see the module docstring); every value
    ``None`` when no reference doc has ``doc.spans[words_key]``. Other keywords (the component's
    settings, which spaCy passes on) are ignored."""
    attr = _check_attr(attr)
    return score_words(examples, lambda doc: predicted_words(doc, attr), words_key)


def score_words(
    examples: Iterable[Example], read_words: Callable[[Doc], Set[Word]], words_key: str = DEFAULT_WORDS_KEY
) -> Dict[str, Any]:
    """The scores of :func:`seg_tagger_score` with the predicted words of each ``predicted`` doc
    read by ``read_words`` (``(start_char, end_char, label)`` triples)."""
    joint, seg = PRFScore(), PRFScore()
    per_type: Dict[str, PRFScore] = {}
    annotated = False
    for example in examples:
        gold = gold_words(example.reference, words_key)
        if gold is None:
            continue
        annotated = True
        guess = read_words(example.predicted)
        joint.score_set(guess, gold)
        seg.score_set({(s, e) for s, e, _ in guess}, {(s, e) for s, e, _ in gold})
        by_label: Dict[str, Tuple[Set[Word], Set[Word]]] = {}
        for which, words in ((0, guess), (1, gold)):
            for word in words:
                by_label.setdefault(word[2], (set(), set()))[which].add(word)
        for label, (guessed, true) in by_label.items():
            per_type.setdefault(label, PRFScore()).score_set(guessed, true)
    if not annotated:
        return {key: None for key in ("pos_p", "pos_r", "pos_f", "seg_p", "seg_r", "seg_f", "pos_per_type")}
    return {
        "pos_p": joint.precision, "pos_r": joint.recall, "pos_f": joint.fscore,
        "seg_p": seg.precision, "seg_r": seg.recall, "seg_f": seg.fscore,
        "pos_per_type": {label: score.to_dict() for label, score in sorted(per_type.items())},
    }


@registry.scorers("spacy-dice.seg_tagger_scorer.v1")
def make_seg_tagger_scorer() -> Callable:
    """The scorer of ``dice_seg_tagger`` (:func:`seg_tagger_score`)."""
    return seg_tagger_score


def bilu_tag_words(doc: Doc) -> Set[Word]:
    """The words of ``doc``'s BILU-POS tags (``token.tag_``, e.g. spaCy's ``tagger`` trained on
    the tags ``convert conllu --chars`` writes) taken as they come, with no repair: a word is a
    ``U-X`` token or a run ``B-X I-X ... L-X`` of one label ``X``, as ``(start_char, end_char,
    X)``. A token in no such run (an ``I-X`` or ``L-X`` without its ``B-X``, a run that changes
    label, stops before its ``L-X`` or crosses whitespace, an ``O``, an empty or non-BILU tag) is
    in no word, so its gold word is missed; whitespace tokens are in no word."""
    words: Set[Word] = set()
    run: Optional[Tuple[int, str]] = None  # (start_char, label) of the open B-X ... run
    for token in doc:
        if token.is_space:
            run = None
            continue
        try:
            prefix, label = split_biluo_tag(token.tag_)
        except ValueError:
            prefix, label = OUT, ""
        end = token.idx + len(token.text)
        if prefix == UNIT:
            words.add((token.idx, end, label))
            run = None
        elif prefix == BEGIN:
            run = (token.idx, label)
        elif prefix == IN and run is not None and run[1] == label:
            pass
        elif prefix == LAST and run is not None and run[1] == label:
            words.add((run[0], end, label))
            run = None
        else:  # O, a non-BILU tag, or an I / L that continues no run of its label
            run = None
        if run is not None and token.whitespace_:
            run = None  # a word does not cross whitespace
    return words


def bilu_tag_words_score(
    examples: Iterable[Example], *, words_key: str = DEFAULT_WORDS_KEY, **kwargs: Any
) -> Dict[str, Any]:
    """:func:`seg_tagger_score`'s ``pos_p/r/f``, ``seg_p/r/f`` and ``pos_per_type`` for a tagger
    of BILU-POS tags over characters, its words read by :func:`bilu_tag_words` (ill-formed runs
    count as no word). Other keywords (the tagger's settings, which spaCy passes on) are ignored."""
    return score_words(examples, bilu_tag_words, words_key)


@registry.scorers("spacy-dice.bilu_tag_words_scorer.v1")
def make_bilu_tag_words_scorer(words_key: str = DEFAULT_WORDS_KEY) -> Callable:
    """The scorer of spaCy's ``tagger`` trained on the BILU-POS tags of character docs (the
    baseline of ``dice_seg_tagger``): :func:`bilu_tag_words_score` on the gold words of
    ``doc.spans[words_key]``."""

    def score(examples: Iterable[Example], **kwargs: Any) -> Dict[str, Any]:
        kwargs.pop("words_key", None)
        return bilu_tag_words_score(examples, words_key=words_key, **kwargs)

    return score
