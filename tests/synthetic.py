"""Small imbalanced synthetic tasks for the component tests (deterministic, no files needed)."""
import random
from typing import Dict, List, Tuple

from spacy.language import Language
from spacy.training import Example

FILLER = "the a of and to in is was for on with as by at from it that this be are".split()
PEOPLE = ["Alice", "Bob", "Carol", "Dmitri", "Eve"]
PLACES = ["Paris", "Lima", "Oslo", "Quito"]
ORGS = ["Acme", "Globex", "Initech"]
POSITIVE_WORDS = ["excellent", "superb", "wonderful"]

# A small CNN, so that each component trains in a second or two.
SMALL_TOK2VEC = {
    "@architectures": "spacy.HashEmbedCNN.v2",
    "pretrained_vectors": None,
    "width": 48,
    "depth": 2,
    "embed_size": 800,
    "window_size": 1,
    "maxout_pieces": 2,
    "subword_features": True,
}
SMALL_TAGGER_MODEL = {"@architectures": "spacy.Tagger.v2", "tok2vec": SMALL_TOK2VEC}
SMALL_TEXTCAT_MODEL = {
    "@architectures": "spacy.TextCatReduce.v1",
    "exclusive_classes": True,
    "use_reduce_first": False,
    "use_reduce_last": False,
    "use_reduce_max": True,
    "use_reduce_mean": True,
    "tok2vec": SMALL_TOK2VEC,
}


def ner_examples(nlp: Language, n_docs: int = 30, seed: int = 0) -> List[Example]:
    """Sentences of filler words with a few PER/LOC/ORG names; about 85% of tokens are O.

    ORG names are always two tokens ("Acme Corp") so that B/L tags occur as well as U.
    """
    rng = random.Random(seed)
    examples = []
    for _ in range(n_docs):
        segments: List[Tuple[List[str], str]] = [([rng.choice(FILLER)], "O") for _ in range(rng.randint(6, 10))]
        for label, names in (("PER", PEOPLE), ("LOC", PLACES), ("ORG", ORGS)):
            if rng.random() < 0.5:
                name = [rng.choice(names)] + (["Corp"] if label == "ORG" else [])
                segments.insert(rng.randint(0, len(segments)), (name, label))
        words: List[str] = []
        tags: List[str] = []
        for segment, label in segments:
            words.extend(segment)
            if label == "O":
                tags.append("O")
            elif len(segment) == 1:
                tags.append(f"U-{label}")
            else:
                tags.extend([f"B-{label}"] + [f"I-{label}"] * (len(segment) - 2) + [f"L-{label}"])
        doc = nlp.make_doc(" ".join(words))
        examples.append(Example.from_dict(doc, {"entities": tags}))
    return examples


def tagger_examples(nlp: Language, attr: str = "tag", n_docs: int = 30, seed: int = 0) -> List[Example]:
    """Each word's tag is a function of the word; the NOUN-like majority tag covers ~80% of tokens."""
    rng = random.Random(seed)
    rare = {"Alice": "PROPN", "Paris": "PROPN", "quickly": "ADV", "green": "ADJ", "ran": "VERB"}
    vocab = list(rare) + ["box", "cup", "tree", "road", "lamp", "door", "wall", "rock"]
    weights = [1] * len(rare) + [4] * (len(vocab) - len(rare))
    examples = []
    key = "tags" if attr == "tag" else "pos"
    for _ in range(n_docs):
        words = rng.choices(vocab, weights=weights, k=rng.randint(4, 9))
        tags = [rare.get(w, "NOUN") for w in words]
        examples.append(Example.from_dict(nlp.make_doc(" ".join(words)), {key: tags}))
    return examples


def textcat_examples(nlp: Language, n_docs: int = 40, seed: int = 0) -> List[Example]:
    """Binary, imbalanced (~25% POS): a doc is POS when it contains one of three cue words."""
    rng = random.Random(seed)
    examples = []
    for i in range(n_docs):
        words = [rng.choice(FILLER) for _ in range(rng.randint(4, 8))]
        positive = i % 4 == 0
        if positive:
            words.insert(rng.randint(0, len(words)), rng.choice(POSITIVE_WORDS))
        cats: Dict[str, float] = {"POS": float(positive), "NEG": float(not positive)}
        examples.append(Example.from_dict(nlp.make_doc(" ".join(words)), {"cats": cats}))
    return examples
