"""What ``init-config`` knows about each component: one small table entry per pipeline name.

An entry names the factory and what differs from the factory's own defaults. Everything else is
read from the factory at run time (``Language.get_factory_meta``): the settings and their
defaults, the model block (whose ``tok2vec`` is replaced by a listener of the shared backbone),
the default loss and the score weights; and from the component's description
(:mod:`spacy_dice.pipeline.descriptions`): what it predicts, its gold, the score key of a tagger's
attribute. So a new component is one entry here, and a changed factory default shows up in the
generated configs without an edit.
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
        settings: factory settings that differ from the factory's defaults.
        predicts_text: what it predicts, where the entry says more than the factory's
            description (``predicts``): the tagger entries name their attribute.
        gold_text: what the training docs must hold, likewise (``gold``).
    """

    name: str
    factory: str
    settings: Dict[str, Any] = field(default_factory=dict)
    predicts_text: str = ""
    gold_text: str = ""

    @property
    def predicts(self) -> str:
        """What it predicts (for the config's comment and ``--help``)."""
        return self.predicts_text or _description(self.factory).predicts

    @property
    def gold(self) -> str:
        """What the training ``.spacy`` docs must hold (for the config's comment)."""
        return self.gold_text or _description(self.factory).gold

    @property
    def score_weights(self) -> Optional[Dict[str, Optional[float]]]:
        """``[training.score_weights]`` entries replacing the factory's defaults: for a factory
        whose scored attribute is a setting (``dice_tagger``'s ``attr``), its own score key only
        (the others of the factory's defaults become ``null``); ``None``: the factory's defaults."""
        description = _description(self.factory)
        if not description.attr_setting:
            return None
        return {description.score_key_of(self.settings): 1.0}


def _description(factory: str) -> Any:
    from ..pipeline.descriptions import describe

    return describe(factory)


COMPONENTS: Dict[str, ComponentEntry] = {
    entry.name: entry
    for entry in (
        ComponentEntry("ner", "dice_ner"),
        ComponentEntry(
            "tagger", "dice_tagger", settings={"attr": "tag"},
            predicts_text="token.tag_ (fine-grained tags, e.g. XPOS)", gold_text="token.tag_",
        ),
        ComponentEntry(
            "pos", "dice_tagger", settings={"attr": "pos"},
            predicts_text="token.pos_ (UPOS)", gold_text="token.pos_",
        ),
        ComponentEntry("seg_tagger", "dice_seg_tagger"),  # Chinese: --lang zh (character tokens)
        ComponentEntry("textcat", "dice_textcat"),
        ComponentEntry("spancat", "dice_spancat"),
        ComponentEntry("spancat_singlelabel", "dice_spancat_singlelabel"),
        ComponentEntry("span_finder", "dice_span_finder"),
    )
}
"""The components ``init-config`` can write under a short ``--pipeline`` name. Entries whose factory
is not registered when it runs (an older install) are left out of ``--help`` and refused with a
message. Every other dice component (its description registered by ``dice_factory``) is available
under its factory name (:func:`entries`)."""


def entries() -> Dict[str, ComponentEntry]:
    """:data:`COMPONENTS`, and an entry named by its factory for every dice component that none
    of them names (a new component needs no entry here)."""
    from ..pipeline.descriptions import descriptions  # (the package import registers ours)

    found = dict(COMPONENTS)
    named = {entry.factory for entry in COMPONENTS.values()}
    for factory, description in descriptions().items():
        if description.dice and factory not in named and factory not in found:
            found[factory] = ComponentEntry(factory, factory)
    return found


def available() -> Tuple[str, ...]:
    """The entries (:func:`entries`) whose factory is registered now."""
    from spacy.language import Language

    return tuple(name for name, entry in entries().items() if Language.has_factory(entry.factory))


def get_entry(name: str) -> ComponentEntry:
    """The entry called ``name``; ``ValueError`` listing the available ones otherwise."""
    names = available()
    if name not in names:
        known = f" (its factory {COMPONENTS[name].factory!r} is not registered)" if name in COMPONENTS else ""
        raise ValueError(
            f"unknown --pipeline component {name!r}{known}: expected one of {', '.join(names)}"
        )
    return entries()[name]
