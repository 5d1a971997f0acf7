"""``dice_tagger``: spaCy's tagger with a configurable loss, predicting ``token.tag`` or ``token.pos``."""
from typing import Any, Callable, Dict, Iterable, List, Optional

import numpy
from spacy.language import Language
from spacy.parts_of_speech import IDS as POS_IDS
from spacy.scorer import Scorer
from spacy.training import Example
from spacy.util import registry
from spacy.vocab import Vocab
from thinc.api import Config, Model

from ..layers.outputs import log_probs, output_normalizes
from .base import dice_factory
from .decision_settings import LABEL_BIAS, bias_vector
from .default_losses import TAGGER_DEFAULT_LOSS
from .descriptions import TOKEN_TAGS, ComponentDescription
from .token_classifier import TokenClassifier

TAGGER_ATTRS = ("tag", "pos")

DEFAULT_TAGGER_MODEL = Config().from_str(
    """
[model]
@architectures = "spacy.Tagger.v2"

[model.tok2vec]
@architectures = "spacy.HashEmbedCNN.v2"
pretrained_vectors = null
width = 96
depth = 4
embed_size = 2000
window_size = 1
maxout_pieces = 3
subword_features = true
"""
)["model"]



def tagger_score(examples: Iterable[Example], *, attr: str = "tag", **kwargs: Any) -> Dict[str, Any]:
    """``tag_acc`` or ``pos_acc`` (spaCy's ``Scorer.score_token_attr``), by the tagger's ``attr``."""
    return Scorer.score_token_attr(examples, attr, **kwargs)


@registry.scorers("spacy-dice.tagger_scorer.v1")
def make_tagger_scorer() -> Callable:
    return tagger_score


class DiceTagger(TokenClassifier):
    """Token tagger whose loss comes from the config; ``attr`` picks ``tag`` (XPOS) or ``pos`` (UPOS).

    Gold tokens whose tag is missing (empty string, or not aligned to the predicted tokenization) and
    tags never seen at ``initialize`` are masked (class id -1): they get no gradient.

    ``label_bias`` (tag -> number, :mod:`.decisions`): each token gets ``argmax_c log p_c + b_c``.
    """

    decision_setting = LABEL_BIAS

    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str = "dice_tagger",
        *,
        loss: Any,
        attr: str = "tag",
        overwrite: bool = False,
        label_bias: Optional[Dict[str, float]] = None,
        scorer: Optional[Callable] = tagger_score,
        **shared: Any,
    ) -> None:
        if attr not in TAGGER_ATTRS:
            raise ValueError(
                f"[{name}] attr={attr!r} is not allowed; use 'tag' (token.tag_, fine-grained) or"
                " 'pos' (token.pos_, Universal POS)"
            )
        super().__init__(
            vocab, model, name, loss=loss, scorer=scorer,
            settings={"attr": attr, "overwrite": overwrite}, **shared,
        )
        self.setup_decisions(label_bias)

    @property
    def attr(self) -> str:
        return self.cfg["attr"]

    def labels_from_examples(self, examples: Iterable[Example]) -> List[str]:
        attr = self.attr + "_"
        found = set()
        for example in examples:
            for token in example.reference:
                value = getattr(token, attr)
                if value:
                    found.add(value)
        return sorted(found)

    def gold_ids(self, example: Example, class_index: Dict[str, int]) -> numpy.ndarray:
        tags = example.get_aligned(self.attr.upper(), as_string=True)
        return numpy.fromiter(
            (class_index.get(tag, -1) if tag else -1 for tag in tags), dtype="int32", count=len(tags)
        )

    def set_annotations(self, docs: Iterable[Any], scores: List[Any]) -> None:
        """Write the argmax class of each token to ``token.tag_`` or ``token.pos_``, a doc at a time.

        With ``label_bias`` the argmax is of ``log p + b`` (``scores`` are left unchanged).
        Without ``overwrite`` only tokens whose attribute is still unset get the prediction.
        """
        field = self.attr.upper()
        if field == "POS":
            values = numpy.asarray([POS_IDS[label] for label in self.labels], dtype="uint64")
        else:
            values = numpy.asarray([self.vocab.strings.add(label) for label in self.labels], dtype="uint64")
        overwrite = self.cfg["overwrite"]
        bias = bias_vector(self.cfg.get(LABEL_BIAS) or {}, self.labels)
        normalized = output_normalizes(self.model) if bias is not None else None
        for doc, doc_scores in zip(docs, scores):
            if not len(doc):
                continue
            if bias is not None:
                xp = self.model.ops.xp
                doc_scores = log_probs(doc_scores, normalized) + xp.asarray(bias, dtype=doc_scores.dtype)
            best = doc_scores.argmax(axis=1)
            best = best.get() if hasattr(best, "get") else numpy.asarray(best)
            predicted = values[best]
            if not overwrite:
                current = doc.to_array(field).astype("uint64")
                predicted = numpy.where(current == 0, predicted, current)
            doc.from_array([field], predicted.reshape(-1, 1))


@dice_factory(
    "dice_tagger",
    assigns=["token.tag", "token.pos"],
    default_loss=TAGGER_DEFAULT_LOSS,
    default_config={
        "model": DEFAULT_TAGGER_MODEL,
        "attr": "tag",
        "overwrite": False,
        "label_bias": {},
        "scorer": {"@scorers": "spacy-dice.tagger_scorer.v1"},
    },
    default_score_weights={"tag_acc": 1.0, "pos_acc": 1.0},
    description=ComponentDescription(
        TOKEN_TAGS, decision=LABEL_BIAS, attr="tag", attr_setting="attr",
        spacy_counterpart={"tag": "tagger", "pos": "morphologizer"},
        predicts="token.tag_ (attr = \"tag\") or token.pos_ (attr = \"pos\")",
        gold="token.tag_ or token.pos_ (the one attr names)",
    ),
)
def make_dice_tagger(
    nlp: Language,
    name: str,
    model: Model,
    attr: str,
    overwrite: bool,
    label_bias: Dict[str, float],
    scorer: Optional[Callable],
    **shared: Any,
) -> DiceTagger:
    """A tagger of ``token.tag_`` (``attr="tag"``) or ``token.pos_`` (``attr="pos"``) trained with ``loss``.

    ``label_bias``: tag -> number added to that tag's log-probabilities before the argmax
    (:mod:`spacy_dice.pipeline.decision_settings`; ``{}``: the plain argmax).

    ``shared``: ``loss``, ``grad_scale`` and ``head_learn_rate_scale``, the settings of every dice
    component (:mod:`spacy_dice.pipeline.settings`).
    """
    return DiceTagger(
        nlp.vocab, model, name, attr=attr, overwrite=overwrite, label_bias=label_bias,
        scorer=scorer, **shared,
    )
