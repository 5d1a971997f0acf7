"""Synthetic span data with NESTED and OVERLAPPING spans (no nested corpus ships with the project).

Every doc is filler words with a few inserted phrases; gold spans go to ``doc.spans["sc"]``:

* ``PER``: one-token names;
* ``ORG``: "Acme Corp" (two tokens);
* ``LOC``: a one-token place; in multi-label data the same span is also ``GPE`` (two labels on one
  span);
* ``BRANCH``: "Acme Corp in Paris" (four tokens) holding an ``ORG`` and a ``LOC`` span (nesting).
"""
import random
from typing import List, Tuple

from spacy.language import Language
from spacy.tokens import Span
from spacy.training import Example

from synthetic import FILLER, ORGS, PEOPLE, PLACES, SMALL_TOK2VEC

KEY = "sc"
SIG = {"activation": "sigmoid"}
BCE = {"@losses": "spacy-dice.CrossEntropy.v1", **SIG}
"""Sigmoid cross-entropy (BCE), the span components' default loss."""
DSC_SET = {"@losses": "spacy-dice.DiceLoss.v1", "alpha": 0.01, "level": "set", **SIG}
"""The paper's set-level self-adjusting dice loss on sigmoid outputs."""
SIZES = [1, 2, 3, 4]

SMALL_SPANCAT_MODEL = {
    "@architectures": "spacy.SpanCategorizer.v1",
    "tok2vec": SMALL_TOK2VEC,
    "reducer": {"@layers": "spacy.mean_max_reducer.v1", "hidden_size": 32},
    "scorer": {"@layers": "spacy-dice.LinearLogits.v1"},
}
SPACY_SPANCAT_MODEL = dict(SMALL_SPANCAT_MODEL, scorer={"@layers": "spacy.LinearLogistic.v1"})
SMALL_SINGLELABEL_MODEL = dict(SMALL_SPANCAT_MODEL, scorer={"@layers": "Softmax.v2"})
SMALL_SPAN_FINDER_MODEL = {
    "@architectures": "spacy.SpanFinder.v1",
    "tok2vec": SMALL_TOK2VEC,
    "scorer": {"@layers": "spacy-dice.LinearLogits.v1", "nO": 2},
}


def span_examples(
    nlp: Language, n_docs: int = 30, seed: int = 0, multilabel: bool = True
) -> List[Example]:
    """Examples whose reference has ``doc.spans["sc"]`` with nested (and, if ``multilabel``,
    same-span two-label) gold spans."""
    rng = random.Random(seed)
    examples = []
    for _ in range(n_docs):
        words: List[str] = [rng.choice(FILLER) for _ in range(rng.randint(5, 9))]
        spans: List[Tuple[int, int, str]] = []

        def insert(phrase: List[str]) -> int:
            at = rng.randint(0, len(words))
            # keep earlier spans valid: insert only after the last span
            at = max(at, max((end for _, end, _ in spans), default=0))
            words[at:at] = phrase
            return at

        if rng.random() < 0.6:
            at = insert([rng.choice(PEOPLE)])
            spans.append((at, at + 1, "PER"))
        if rng.random() < 0.6:
            org, place = rng.choice(ORGS), rng.choice(PLACES)
            at = insert([org, "Corp", "in", place])
            spans += [(at, at + 4, "BRANCH"), (at, at + 2, "ORG"), (at + 3, at + 4, "LOC")]
            if multilabel:
                spans.append((at + 3, at + 4, "GPE"))
        if rng.random() < 0.4:
            at = insert([rng.choice(PLACES)])
            spans.append((at, at + 1, "LOC"))
            if multilabel:
                spans.append((at, at + 1, "GPE"))
        doc = nlp.make_doc(" ".join(words))
        ref = doc.copy()
        ref.spans[KEY] = [Span(ref, s, e, label=label) for s, e, label in spans]
        examples.append(Example(doc, ref))
    return examples
