"""What ``init-config`` knows about each component: one small table entry per pipeline name.

An entry names the factory and what differs from the factory's own defaults. Everything else is
read from the factory at run time (``Language.get_factory_meta``): the settings and their
defaults, the model block (whose ``tok2vec`` is replaced by a listener of the shared backbone),
the default loss and the score weights. So a new component is one entry here, and a changed
factory default shows up in the generated configs without an edit.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple


@dataclass(frozen=True)
class ComponentEntry:
    """One ``--pipeline`` name.

    Attributes:
        name: the ``--pipeline`` name, also the component's name in ``[components]``.
        factory: the spacy-dice factory.
        predicts: what it predicts (for the config's comment and ``--help``).
        gold: what the training ``.spacy`` docs must hold (for the config's comment).
        settings: factory settings that differ from the factory's defaults.
        score_weights: ``[training.score_weights]`` entries replacing the factory's defaults.
    """

    name: str
    factory: str
    predicts: str
    gold: str
    settings: Dict[str, Any] = field(default_factory=dict)
    score_weights: Optional[Dict[str, Optional[float]]] = None


COMPONENTS: Dict[str, ComponentEntry] = {
    entry.name: entry
    for entry in (
        ComponentEntry(
            "ner", "dice_ner", "doc.ents (per-token BILUO softmax, constrained Viterbi decoder)",
            "doc.ents (e.g. from `python -m spacy_dice convert iob`)",
        ),
        ComponentEntry(
            "tagger", "dice_tagger", "token.tag_ (fine-grained tags, e.g. XPOS)", "token.tag_",
            settings={"attr": "tag"}, score_weights={"tag_acc": 1.0, "pos_acc": None},
        ),
        ComponentEntry(
            "pos", "dice_tagger", "token.pos_ (UPOS)", "token.pos_",
            settings={"attr": "pos"}, score_weights={"pos_acc": 1.0, "tag_acc": None},
        ),
        ComponentEntry(
            "textcat", "dice_textcat", "doc.cats, exclusive classes (softmax)",
            "doc.cats with exactly one label at 1.0 per doc",
        ),
        ComponentEntry(
            "spancat", "dice_spancat", "doc.spans[spans_key], multi-label (sigmoid) over suggested n-grams",
            "doc.spans[\"sc\"]",
        ),
        ComponentEntry(
            "spancat_singlelabel", "dice_spancat_singlelabel",
            "doc.spans[spans_key], one label or none per suggested n-gram (softmax)", "doc.spans[\"sc\"]",
        ),
        ComponentEntry(
            "span_finder", "dice_span_finder",
            "candidate spans in doc.spans[spans_key] (token start/end sigmoid)", "doc.spans[\"sc\"]",
        ),
    )
}
"""The components ``init-config`` can write, by ``--pipeline`` name. Entries whose factory is not
registered when it runs (an older install) are left out of ``--help`` and refused with a message."""


def available() -> Tuple[str, ...]:
    """The entries whose factory is registered now."""
    from spacy.language import Language

    import spacy_dice.pipeline  # noqa: F401  (registers the factories)

    return tuple(name for name, entry in COMPONENTS.items() if Language.has_factory(entry.factory))


def get_entry(name: str) -> ComponentEntry:
    """The entry called ``name``; ``ValueError`` listing the available ones otherwise."""
    names = available()
    if name not in names:
        known = f" (its factory {COMPONENTS[name].factory!r} is not registered)" if name in COMPONENTS else ""
        raise ValueError(
            f"unknown --pipeline component {name!r}{known}: expected one of {', '.join(names)}"
        )
    return COMPONENTS[name]
