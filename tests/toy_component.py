"""Toy components for tests/test_component_recipe.py, each declared as docs/ARCHITECTURE.md's
"Adding a component" says: its class, its factory and its description in its own module (this
one), nothing anywhere else. Importing this module is the analogue of the package import
(``spacy_dice/pipeline/__init__.py``); the test imports it only inside its tests, so no other
test module sees these factories when it is collected.

* ``toy_dice_tagger``: a dice component (a :class:`DiceTagger` by another name) whose description
  has a decision setting, confidences and statistics: every tool handles it;
* ``toy_rule_tagger``: a spaCy-style rule component whose description says it has none of them,
  and why: every tool refuses it by name with that reason;
* ``toy_undescribed``: a component without a description: every tool refuses it by name, saying
  how to describe it.
"""
from typing import Any, Callable, Dict, Iterable, Optional

from spacy.language import Language
from spacy.tokens import Doc
from thinc.api import Model

from spacy_dice.pipeline.base import dice_factory
from spacy_dice.pipeline.decision_settings import LABEL_BIAS
from spacy_dice.pipeline.default_losses import TAGGER_DEFAULT_LOSS
from spacy_dice.pipeline.descriptions import TOKEN_TAGS, ComponentDescription, register_description
from spacy_dice.pipeline.tagger import DEFAULT_TAGGER_MODEL, DiceTagger

TOY = "toy_dice_tagger"
RULE = "toy_rule_tagger"
UNDESCRIBED = "toy_undescribed"

RULE_DECISION_NOTE = "a rule: nothing to calibrate"
RULE_CONFIDENCES_NOTE = "a rule: no probabilities"
RULE_STATISTICS_NOTE = "a rule: it learns no labels"


class ToyTagger(DiceTagger):
    """``token.tag_`` by the loss of the config: a new dice component of a known task."""


@dice_factory(
    TOY,
    assigns=["token.tag"],
    default_loss=TAGGER_DEFAULT_LOSS,
    default_config={
        "model": DEFAULT_TAGGER_MODEL,
        "label_bias": {},
        "scorer": {"@scorers": "spacy-dice.tagger_scorer.v1"},
    },
    default_score_weights={"tag_acc": 1.0},
    description=ComponentDescription(
        TOKEN_TAGS, decision=LABEL_BIAS, attr="tag", predicts="token.tag_ (a toy)", gold="token.tag_",
    ),
)
def make_toy_dice_tagger(
    nlp: Language, name: str, model: Model, label_bias: Dict[str, float], scorer: Optional[Callable], **shared: Any
) -> ToyTagger:
    """A toy tagger of ``token.tag_`` trained with ``loss``."""
    return ToyTagger(nlp.vocab, model, name, attr="tag", label_bias=label_bias, scorer=scorer, **shared)


class RuleTagger:
    """Tags every token ``X`` that has no tag yet."""

    def __call__(self, doc: Doc) -> Doc:
        for token in doc:
            if not token.tag_:
                token.tag_ = "X"
        return doc

    def pipe(self, docs: Iterable[Doc], batch_size: int = 128) -> Iterable[Doc]:
        return (self(doc) for doc in docs)


@Language.factory(RULE, assigns=["token.tag"])
def make_rule_tagger(nlp: Language, name: str) -> RuleTagger:
    return RuleTagger()


register_description(RULE, ComponentDescription(
    TOKEN_TAGS, decision_note=RULE_DECISION_NOTE, confidences=None, confidences_note=RULE_CONFIDENCES_NOTE,
    statistics=None, statistics_note=RULE_STATISTICS_NOTE,
))


@Language.component(UNDESCRIBED)
def undescribed(doc: Doc) -> Doc:
    return doc
