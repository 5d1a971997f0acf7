"""``dice_textcat``: exclusive-class text classification (softmax) with a configurable loss.

Binary tasks are two classes. With ``positive_label`` set, spaCy's textcat scorer reports
``cats_score`` as the F1 of that class, as the paper reports MRPC/QQP. Sentence pairs (paraphrase
identification) are one doc holding both sentences joined by
:data:`spacy_dice.corpus.pairs.PAIR_SEPARATOR` (use :func:`spacy_dice.corpus.pairs.make_pair_text`).
"""
from collections import Counter
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

import numpy
from spacy.language import Language
from spacy.pipeline.textcat import TextCategorizer, single_label_default_config
from spacy.tokens import Doc
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.vocab import Vocab
from thinc.api import Config, Model

from ..layers.outputs import log_softmax, output_normalizes, probabilities
from .base import DiceComponent, TrainingBatch, dice_factory
from .decision_settings import LABEL_BIAS, bias_vector
from .default_losses import TEXTCAT_DEFAULT_LOSS
from .descriptions import EXCLUSIVE_CATS, ComponentDescription
from .model_checks import check_output_width, check_softmax_output, warn_unused_tok2vec

DEFAULT_TEXTCAT_MODEL = Config().from_str(single_label_default_config)["model"]


class DiceTextCategorizer(DiceComponent, TextCategorizer):
    """spaCy's exclusive-class ``textcat`` whose loss (instead of the mean squared error) is configured.

    The gold class of a doc is the label whose ``cats`` value is 1.0; a doc with no ``cats`` is
    missing (id -1, no gradient).

    ``label_bias`` (label -> number, :mod:`.decisions`): ``doc.cats = softmax(log p + b)``, so the
    bias moves the argmax (the decision spaCy's scorer reads) and the stored probabilities alike.
    """

    decision_setting = LABEL_BIAS

    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str = "dice_textcat",
        *,
        loss: Any,
        positive_label: Optional[str] = None,
        label_bias: Optional[Dict[str, float]] = None,
        scorer: Optional[Callable],
        **shared: Any,
    ) -> None:
        """``shared``: ``grad_scale``, ``head_learn_rate_scale`` (:mod:`.settings`)."""
        super().__init__(vocab, model, name, threshold=0.0, scorer=scorer)
        self.setup_dice(loss, **shared)
        check_softmax_output(name, model)
        self.cfg["positive_label"] = positive_label
        self.setup_decisions(label_bias)

    @property
    def loss_labels(self) -> Tuple[str, ...]:
        return tuple(self.labels)

    def predict(self, docs: Iterable[Doc]) -> Any:
        """``(n_docs, n_labels)`` probabilities; a doc without tokens gets the uniform distribution.

        An output layer that returns logits at prediction (``Softmax_v2`` with
        ``normalize_outputs = false``) gets its softmax here, so ``doc.cats`` are always
        probabilities (:mod:`spacy_dice.layers.outputs` reads the layer). (spaCy's pooling layers refuse empty
        sequences inside a batch, so they are left out.)
        """
        docs = list(docs)
        ops = self.model.ops
        filled = [i for i, doc in enumerate(docs) if len(doc)]
        scores = ops.alloc2f(len(docs), len(self.labels))
        scores += 1.0 / max(len(self.labels), 1)
        if filled:
            predicted = self.model.predict([docs[i] for i in filled])
            scores[ops.asarray(filled, dtype="i")] = probabilities(predicted, output_normalizes(self.model))
        return scores

    def biased_scores(self, scores: Any) -> Any:
        """``softmax(log p + b)`` per row with the current ``label_bias`` (``scores`` unchanged
        when no label has a non-zero bias)."""
        bias = bias_vector(self.cfg.get(LABEL_BIAS) or {}, self.labels)
        if bias is None or not len(scores):
            return scores
        xp = self.model.ops.xp
        logp = xp.log(xp.maximum(xp.asarray(scores, dtype="float64"), xp.finfo("float64").tiny))
        return xp.exp(log_softmax(logp + xp.asarray(bias, dtype="float64"))).astype(scores.dtype)

    def set_annotations(self, docs: Iterable[Doc], scores: Any) -> None:
        """``doc.cats`` from ``predict``'s probabilities after the ``label_bias``."""
        super().set_annotations(docs, self.biased_scores(scores))

    def training_batch(self, examples: List[Example]) -> Optional[TrainingBatch]:
        """spaCy's textcat batch, leaving out docs without tokens (nothing to learn from)."""
        examples = [eg for eg in examples if len(eg.predicted)]
        self._validate_categories(examples)
        if not examples:
            return None
        return TrainingBatch(examples, [eg.predicted for eg in examples])

    def _gold_ids(self, examples: Iterable[Example]) -> numpy.ndarray:
        index = {label: i for i, label in enumerate(self.labels)}
        ids = []
        for example in examples:
            cats = example.reference.cats
            gold = [label for label, value in cats.items() if value == 1.0 and label in index]
            ids.append(index[gold[0]] if gold else -1)
        return numpy.asarray(ids, dtype="int32")

    def get_loss(self, examples: Iterable[Example], scores: Any) -> Tuple[float, Any]:
        """The configured loss over the ``(n_docs, n_labels)`` probabilities, gradient w.r.t. logits."""
        examples = list(examples)
        validate_examples(examples, "DiceTextCategorizer.get_loss")
        self._validate_categories(examples)
        gold = self._gold_ids(examples)
        truths = self.model.ops.asarray(gold, dtype="int32")
        return self.apply_loss(scores, truths, int((gold >= 0).sum()))

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[Iterable[str]] = None,
        positive_label: Optional[str] = None,
    ) -> None:
        """spaCy's textcat initialisation, then the loss learns the labels and their counts.

        ``positive_label`` given here overrides the component setting.
        """
        validate_get_examples(get_examples, "DiceTextCategorizer.initialize")
        positive = positive_label if positive_label is not None else self.cfg.get("positive_label")
        super().initialize(get_examples, nlp=nlp, labels=labels, positive_label=positive)
        check_output_width(self.name, self.model, len(self.labels))
        warn_unused_tok2vec(self.name, self.model, nlp)
        counts = Counter(self._gold_ids(get_examples()).tolist())
        self.initialize_loss({label: int(counts.get(i, 0)) for i, label in enumerate(self.labels)})


@dice_factory(
    "dice_textcat",
    assigns=["doc.cats"],
    default_loss=TEXTCAT_DEFAULT_LOSS,
    default_config={
        "model": DEFAULT_TEXTCAT_MODEL,
        "positive_label": None,
        "label_bias": {},
        "scorer": {"@scorers": "spacy.textcat_scorer.v2"},
    },
    default_score_weights={
        "cats_score": 1.0,
        "cats_score_desc": None,
        "cats_micro_p": None,
        "cats_micro_r": None,
        "cats_micro_f": None,
        "cats_macro_p": None,
        "cats_macro_r": None,
        "cats_macro_f": None,
        "cats_macro_auc": None,
        "cats_f_per_type": None,
    },
    description=ComponentDescription(
        EXCLUSIVE_CATS, decision=LABEL_BIAS, spacy_counterpart="textcat",
        predicts="doc.cats, exclusive classes (softmax)",
        gold="doc.cats with exactly one label at 1.0 per doc",
    ),
)
def make_dice_textcat(
    nlp: Language,
    name: str,
    model: Model,
    positive_label: Optional[str],
    label_bias: Dict[str, float],
    scorer: Optional[Callable],
    **shared: Any,
) -> DiceTextCategorizer:
    """Exclusive-class text classifier trained with ``loss``; ``positive_label`` for binary F1.

    ``label_bias``: label -> number added to its log-probability, ``doc.cats = softmax(log p + b)``
    (:mod:`spacy_dice.pipeline.decision_settings`; ``{}``: the model's probabilities).

    ``shared``: ``loss``, ``grad_scale`` and ``head_learn_rate_scale``, the settings of every dice
    component (:mod:`spacy_dice.pipeline.settings`).
    """
    return DiceTextCategorizer(
        nlp.vocab, model, name, positive_label=positive_label, label_bias=label_bias,
        scorer=scorer, **shared,
    )
