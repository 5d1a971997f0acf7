"""Made-up Chinese sentences for ``dice_seg_tagger``, as ``convert conllu --chars`` writes them.

One doc per sentence whose tokens are its characters (``Doc(vocab, words=list(text),
spaces=[False] * n)``, the tokens of ``spacy.blank("zh")``'s char segmenter) with the gold words
in ``doc.spans["words"]``: one span per word over its characters, labelled with its POS (UPOS, or
an XPOS-like tag with ``attr="tag"``). Written for these tests (no corpus text).
"""
import random
from typing import List, Sequence, Tuple

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.training import Example

Sentence = Sequence[Tuple[str, str]]

LEXICON = {
    "PRON": ["我們", "他", "她", "你們"],
    "VERB": ["喜歡", "看", "工作", "學習", "吃"],
    "NOUN": ["書", "電影", "蘋果", "學生", "老師"],
    "PROPN": ["北京", "台北"],
    "ADV": ["很", "也", "都"],
    "ADJ": ["好看", "漂亮", "簡單"],
    "ADP": ["在"],
    "NUM": ["三", "一"],
    "PUNCT": ["。", "，"],
}
XPOS = {"PRON": "PRP", "VERB": "VV", "NOUN": "NN", "PROPN": "NNP", "ADV": "RB", "ADJ": "JJ", "ADP": "IN",
        "NUM": "CD", "PUNCT": "."}
TEMPLATES = [
    ["PRON", "VERB", "NOUN", "PUNCT"],
    ["PRON", "ADV", "VERB", "NOUN", "PUNCT"],
    ["PRON", "ADP", "PROPN", "VERB", "PUNCT"],
    ["NOUN", "ADV", "ADJ", "PUNCT"],
    ["PRON", "VERB", "NUM", "NOUN", "PUNCT", "NOUN", "ADV", "ADJ", "PUNCT"],
]
SENTENCES: List[Sentence] = [
    [("我們", "PRON"), ("喜歡", "VERB"), ("看", "VERB"), ("書", "NOUN"), ("。", "PUNCT")],
    [("他", "PRON"), ("在", "ADP"), ("北京", "PROPN"), ("工作", "VERB"), ("。", "PUNCT")],
    [("電影", "NOUN"), ("很", "ADV"), ("好看", "ADJ"), ("。", "PUNCT")],
    [("她", "PRON"), ("也", "ADV"), ("吃", "VERB"), ("蘋果", "NOUN"), ("。", "PUNCT")],
    [("學生", "NOUN"), ("都", "ADV"), ("學習", "VERB"), ("，", "PUNCT"), ("老師", "NOUN"), ("工作", "VERB"),
     ("。", "PUNCT")],
    [("你們", "PRON"), ("在", "ADP"), ("台北", "PROPN"), ("看", "VERB"), ("三", "NUM"), ("電影", "NOUN"),
     ("。", "PUNCT")],
]
"""Hand-written sentences (every POS of :data:`LEXICON`, one- and two-character words)."""


def char_doc(nlp: Language, text: str) -> Doc:
    """``text`` as a doc of its characters, no spaces."""
    return Doc(nlp.vocab, words=list(text), spaces=[False] * len(text))


def gold_doc(nlp: Language, sentence: Sentence, attr: str = "pos", key: str = "words") -> Doc:
    """The reference doc of ``sentence`` (``(word, UPOS)`` pairs): characters as tokens, the words
    in ``doc.spans[key]`` labelled with the UPOS (``attr="pos"``) or its XPOS-like tag (``"tag"``)."""
    doc = char_doc(nlp, "".join(word for word, _ in sentence))
    spans, start = [], 0
    for word, pos in sentence:
        spans.append(Span(doc, start, start + len(word), label=pos if attr == "pos" else XPOS[pos]))
        start += len(word)
    doc.spans[key] = spans
    return doc


def seg_example(nlp: Language, sentence: Sentence, attr: str = "pos", key: str = "words") -> Example:
    """An example: the predicted doc the sentence's characters, the reference :func:`gold_doc`."""
    reference = gold_doc(nlp, sentence, attr, key)
    return Example(char_doc(nlp, reference.text), reference)


def random_sentences(n: int, seed: int = 0) -> List[Sentence]:
    """``n`` sentences drawn from :data:`TEMPLATES` and :data:`LEXICON` (deterministic)."""
    rng = random.Random(seed)
    return [[(rng.choice(LEXICON[pos]), pos) for pos in rng.choice(TEMPLATES)] for _ in range(n)]


def seg_examples(nlp: Language, n_docs: int = 20, attr: str = "pos", seed: int = 0) -> List[Example]:
    """:data:`SENTENCES` and random ones, ``n_docs`` examples in all."""
    sentences = list(SENTENCES[:n_docs]) + random_sentences(max(0, n_docs - len(SENTENCES)), seed)
    return [seg_example(nlp, sentence, attr) for sentence in sentences]
