"""``dice_ner``: named entities as per-token BILUO classification with a configurable loss.

Why BILUO rather than BIO: spaCy's own gold (``Example.get_aligned_ner``) is BILUO, single-token
entities (``U-``) and entity ends (``L-``) are then explicit classes, which gives the decoder's
constraints more to work with, and the dice losses a class per boundary kind. A softmax over
``O`` + 4 tags per label sits on any tok2vec (``spacy.Tagger.v2``).

``predict`` returns the per-doc log-probabilities (decision-free); ``set_annotations`` adds the
``label_bias`` (:mod:`.decisions`: ``b_X`` on the ``B-X, I-X, L-X, U-X`` columns), runs the
constrained Viterbi decoder (:mod:`.decoder`), which can only emit valid BILUO sequences, and
writes ``doc.ents``. So the same scores can be annotated again under other biases.

Confidences (``scores_key``, default ``"ents"``): ``doc.spans[scores_key]`` holds the same spans
as ``doc.ents``, with ``attrs["scores"]`` the marginal probability of each entity under the
constrained BILUO lattice (:mod:`.marginals`: forward-backward over the biased
log-probabilities), one float per entity, in the order of ``doc.ents``. ``scores_key = null``
writes nothing and computes nothing.
"""
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

import numpy
from spacy.language import Language
from spacy.tokens import Doc, Span, SpanGroup
from spacy.training import Example
from spacy.vocab import Vocab
from thinc.api import Model

from ..layers.outputs import log_probs, output_normalizes
from .base import dice_factory
from .biluo import OUT, biluo_tags_for_example, make_tag_names, split_biluo_tag, spans_from_tags
from .decision_settings import LABEL_BIAS, bias_vector
from .decoder import NEG_FLOOR, decode_log_probs_batch
from .default_losses import NER_DEFAULT_LOSS
from .descriptions import ENTITIES, ComponentDescription
from .marginals import entity_marginals
from .tagger import DEFAULT_TAGGER_MODEL
from .token_classifier import TokenClassifier


DEFAULT_SCORES_KEY = "ents"


def check_scores_key(component: str, scores_key: Any) -> Optional[str]:
    """``scores_key``: a non-empty string (a ``doc.spans`` key) or ``None`` (no confidences)."""
    if scores_key is None or (isinstance(scores_key, str) and scores_key):
        return scores_key
    raise ValueError(
        f"[{component}] scores_key={scores_key!r} is not allowed; use a non-empty string, the key"
        f" of doc.spans that receives the entities with their marginal probabilities in"
        f" attrs[\"scores\"] (default \"{DEFAULT_SCORES_KEY}\"), or null for none (no extra cost)"
    )


class DiceEntityRecognizer(TokenClassifier):
    """Entity recognizer over BILUO tags, trained with the configured loss.

    Tokens whose gold entity annotation is missing, misaligned with the predicted tokenization, or
    of a label not seen at ``initialize`` are masked (class id -1).

    ``label_bias`` (entity label -> number, :mod:`.decisions`) is added to the label's ``B``,
    ``I``, ``L`` and ``U`` log-probabilities before decoding. ``scores_key``: where the
    entities' marginal probabilities go (``doc.spans[scores_key].attrs["scores"]``; ``None``: off).
    """

    decision_setting = LABEL_BIAS

    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str = "dice_ner",
        *,
        loss: Any,
        label_bias: Optional[Dict[str, float]] = None,
        scores_key: Optional[str] = DEFAULT_SCORES_KEY,
        scorer: Optional[Callable],
        **shared: Any,
    ) -> None:
        """``shared``: ``grad_scale``, ``head_learn_rate_scale`` (:mod:`.settings`)."""
        self._tag_names: Optional[List[str]] = None
        super().__init__(
            vocab, model, name, loss=loss, scorer=scorer,
            settings={"scores_key": check_scores_key(name, scores_key)}, **shared,
        )
        self.setup_decisions(label_bias)

    @property
    def class_names(self) -> List[str]:
        if self._tag_names is None or len(self._tag_names) != 1 + 4 * len(self.labels):
            self._tag_names = make_tag_names(self.labels)
        return self._tag_names

    def labels_from_examples(self, examples: Iterable[Example]) -> List[str]:
        found = set()
        for example in examples:
            for ent in example.reference.ents:
                found.add(ent.label_)
        return sorted(found)

    def gold_ids(self, example: Example, class_index: Dict[str, int]) -> numpy.ndarray:
        return biluo_tags_for_example(example, class_index)

    def predict(self, docs: Iterable[Doc]) -> List[Any]:
        """Per doc, the ``(len(doc), n_tags)`` log-probabilities the decoder maximises (on the
        model's device), before any decision setting: see :meth:`log_probs`.

        ``set_annotations`` decodes them; :meth:`decode` gives the tag ids.
        """
        docs = list(docs)
        return self.log_probs(docs, super().predict(docs))

    def log_probs(self, docs: Sequence[Doc], scores: Sequence[Any]) -> List[Any]:
        """Per doc, the ``(len(doc), n_tags)`` log-probabilities of the model's outputs ``scores``.

        The outputs become log-probabilities (:func:`spacy_dice.layers.outputs.log_probs`:
        log-softmax of logits, as ``spacy.Tagger.v2`` with ``normalize = false`` returns; the log
        of probabilities otherwise; the output layer says which). Whitespace tokens are always
        ``O``, as in spaCy's own ``ner`` (an entity never starts, ends or consists of a whitespace
        token): their rows become log-probability 0 for ``O`` and ``NEG_FLOOR`` for every other tag.
        """
        normalized = output_normalizes(self.model)
        out_index = self.class_names.index("O")
        result = []
        for doc, doc_scores in zip(docs, scores):
            lp = log_probs(doc_scores, normalized)
            spaces = numpy.flatnonzero(doc.to_array("IS_SPACE")) if len(doc) else ()
            if len(spaces):
                rows = self.model.ops.xp.asarray(spaces)
                lp[rows, :] = NEG_FLOOR
                lp[rows, out_index] = 0.0
            result.append(lp)
        return result

    def bias_vector(self) -> Optional[List[float]]:
        """The current ``label_bias`` per tag column (``None``: no non-zero bias)."""
        return bias_vector(
            self.cfg.get(LABEL_BIAS) or {}, self.class_names,
            lambda tag: None if tag == OUT else split_biluo_tag(tag)[1],
        )

    def biased_log_probs(self, scores: Sequence[Any]) -> List[Any]:
        """``lp + b`` per doc (new arrays; ``scores`` themselves when there is no bias)."""
        bias = self.bias_vector()
        if bias is None:
            return list(scores)
        xp = self.model.ops.xp
        return [lp + xp.asarray(bias, dtype=lp.dtype) for lp in scores]

    def decode(self, scores: Sequence[Any]) -> List[numpy.ndarray]:
        """The best valid BILUO tag ids of each doc under the current ``label_bias``
        (constrained Viterbi on ``predict``'s log-probabilities plus the bias)."""
        return decode_log_probs_batch(self.biased_log_probs(scores), self.class_names)

    def set_annotations(self, docs: Iterable[Doc], scores: List[Any]) -> None:
        """Replace ``doc.ents`` with the entities decoded from ``predict``'s log-probabilities
        under the current ``label_bias``; other tokens become ``O``. With ``scores_key``, also
        ``doc.spans[scores_key]``: the same entities, ``attrs["scores"]`` their marginal
        probabilities (:func:`.marginals.entity_marginals`). ``scores`` are unchanged."""
        docs = list(docs)
        names = self.class_names
        biased = self.biased_log_probs(scores)
        entities = [spans_from_tags(ids, names) for ids in decode_log_probs_batch(biased, names)]
        spans = []
        for doc, ents in zip(docs, entities):
            spans.append([Span(doc, start, end, label=label) for start, end, label in ents])
            doc.set_ents(spans[-1], default="outside")
        key = self.cfg.get("scores_key")
        if key is None:
            return
        for doc, doc_spans, marginals in zip(docs, spans, entity_marginals(biased, entities, names)):
            group = SpanGroup(doc, name=key, spans=doc_spans)
            group.attrs["scores"] = marginals
            doc.spans[key] = group


@dice_factory(
    "dice_ner",
    assigns=["doc.ents", "token.ent_iob", "token.ent_type", "doc.spans"],
    default_loss=NER_DEFAULT_LOSS,
    default_config={
        "model": DEFAULT_TAGGER_MODEL,
        "label_bias": {},
        "scores_key": DEFAULT_SCORES_KEY,
        "scorer": {"@scorers": "spacy.ner_scorer.v1"},
    },
    default_score_weights={"ents_f": 1.0, "ents_p": 0.0, "ents_r": 0.0, "ents_per_type": None},
    description=ComponentDescription(
        ENTITIES, decision=LABEL_BIAS, spacy_counterpart="ner",
        predicts="doc.ents (per-token BILUO softmax, constrained Viterbi decoder)",
        gold="doc.ents (e.g. from `python -m spacy_dice convert iob`)",
    ),
)
def make_dice_ner(
    nlp: Language,
    name: str,
    model: Model,
    label_bias: Dict[str, float],
    scores_key: Optional[str],
    scorer: Optional[Callable],
    **shared: Any,
) -> DiceEntityRecognizer:
    """Named entities by per-token BILUO classification, trained with ``loss``, decoded validly.

    ``label_bias``: entity label -> number added to the log-probabilities of its ``B``, ``I``,
    ``L``, ``U`` tags before decoding (> 0: more entities of that type; ``{}``: the plain
    decoder; :mod:`spacy_dice.pipeline.decision_settings`). ``scores_key``: ``doc.spans[scores_key]``
    gets the entities with their marginal probabilities in ``attrs["scores"]``
    (:mod:`spacy_dice.pipeline.marginals`); ``null``: no confidences, no cost.

    ``shared``: ``loss``, ``grad_scale`` and ``head_learn_rate_scale``, the settings of every dice
    component (:mod:`spacy_dice.pipeline.settings`).
    """
    return DiceEntityRecognizer(
        nlp.vocab, model, name, label_bias=label_bias, scores_key=scores_key, scorer=scorer, **shared
    )
