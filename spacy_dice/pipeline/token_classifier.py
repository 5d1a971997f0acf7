"""A trainable component that classifies every token with a softmax and a configurable loss.

The shared base of ``dice_tagger`` and ``dice_ner``: the model maps docs to one ``(n_tokens,
n_classes)`` probability matrix per doc (``spacy.Tagger.v2`` or any model ending in thinc's
``Softmax_v2``, whose backprop takes logit gradients), the subclass says what the classes are and
how to read the gold (``gold_ids``) and how to write predictions (``set_annotations``).
"""
from collections import Counter
from itertools import islice
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy
from spacy.errors import Errors
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.vocab import Vocab
from thinc.api import Model

from .head_learn_rate import check_head_learn_rate_scale
from .loss_support import (
    ConfigurableLoss,
    check_grad_scale,
    check_loss,
    check_output_layer,
    check_output_width,
    warn_unused_tok2vec,
)


class TokenClassifier(ConfigurableLoss, TrainablePipe):
    """Per-token softmax classification trained with ``loss``.

    Subclasses define ``class_names`` (the model's output columns), ``gold_ids(example)`` and
    ``set_annotations``; labels live in ``cfg["labels"]``.
    """

    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str,
        *,
        loss: Any,
        grad_scale: Any,
        scorer: Optional[Callable],
        head_learn_rate_scale: float = 1.0,
        **cfg: Any,
    ) -> None:
        self.vocab = vocab
        self.model = model
        self.name = name
        self._rehearsal_model = None
        self.loss = check_loss(name, loss)
        check_output_layer(name, model)
        self.cfg: Dict[str, Any] = {
            "labels": [], "label_counts": None, "grad_scale": check_grad_scale(name, grad_scale),
            "head_learn_rate_scale": check_head_learn_rate_scale(name, head_learn_rate_scale), **cfg
        }
        self.scorer = scorer

    # --- labels ----------------------------------------------------------------------------------
    @property
    def labels(self) -> Tuple[str, ...]:
        return tuple(self.cfg["labels"])

    @property
    def label_data(self) -> Tuple[str, ...]:
        return self.labels

    @property
    def class_names(self) -> List[str]:
        """The names of the model's output columns, in order."""
        return list(self.labels)

    def add_label(self, label: str) -> int:
        if not isinstance(label, str):
            raise ValueError(Errors.E187)
        if label in self.labels:
            return 0
        self._allow_extra_label()
        self.cfg["labels"].append(label)
        self.vocab.strings.add(label)
        return 1

    # --- gold ------------------------------------------------------------------------------------
    def gold_ids(self, example: Example, class_index: Dict[str, int]) -> numpy.ndarray:
        """The gold class id of each predicted token of ``example``; -1 where missing."""
        raise NotImplementedError

    def labels_from_examples(self, examples: Iterable[Example]) -> List[str]:
        raise NotImplementedError

    def _class_index(self) -> Dict[str, int]:
        return {name: i for i, name in enumerate(self.class_names)}

    def _truths(self, examples: Sequence[Example]) -> Tuple[List[Any], int]:
        """The gold ids of each example on the model's device, and the number of labelled tokens."""
        index = self._class_index()
        ops = self.model.ops
        golds = [self.gold_ids(eg, index) for eg in examples]
        n_labelled = sum(int((gold >= 0).sum()) for gold in golds)
        return [ops.asarray(gold, dtype="int32") for gold in golds], n_labelled

    # --- training --------------------------------------------------------------------------------
    def predict(self, docs: Sequence[Doc]) -> List[Any]:
        """The probability matrix of each doc (``(len(doc), n_classes)``)."""
        n_classes = len(self.class_names)
        if not any(len(doc) for doc in docs):
            return [self.model.ops.alloc2f(0, n_classes) for _ in docs]
        scores = self.model.predict(docs)
        if len(scores) != len(docs):
            raise ValueError(f"[{self.name}] the model gave {len(scores)} outputs for {len(docs)} docs")
        return scores

    def get_loss(self, examples: Iterable[Example], scores: Any) -> Tuple[float, Any]:
        """The configured loss and its gradient w.r.t. the logits, one array per doc."""
        examples = list(examples)
        validate_examples(examples, f"{type(self).__name__}.get_loss")
        truths, n_labelled = self._truths(examples)
        return self.apply_loss(scores, truths, n_labelled)

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Any] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        examples = list(examples)
        validate_examples(examples, f"{type(self).__name__}.update")
        if not any(len(eg.predicted) for eg in examples):
            return losses
        return self.learn_from_batch(
            examples, [eg.predicted for eg in examples], drop=drop, sgd=sgd, losses=losses
        )

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[Sequence[str]] = None,
    ) -> None:
        """Collect the labels (or take ``labels``), count the gold classes, set up loss and model."""
        validate_get_examples(get_examples, f"{type(self).__name__}.initialize")
        for label in labels if labels is not None else self.labels_from_examples(get_examples()):
            self.add_label(label)
        self._require_labels()
        names = self.class_names
        check_output_width(self.name, self.model, len(names))
        warn_unused_tok2vec(self.name, self.model, nlp)
        index = self._class_index()
        counts: Counter = Counter()
        for example in get_examples():
            ids = self.gold_ids(example, index)
            counts.update(ids[ids >= 0].tolist())
        self.initialize_loss(names, {names[i]: int(c) for i, c in counts.items()})
        doc_sample, label_sample = [], []
        for example in islice(get_examples(), 10):
            doc_sample.append(example.x)
            ids = self.gold_ids(example, index)
            gold = numpy.zeros((len(ids), len(names)), dtype="float32")
            gold[numpy.arange(len(ids))[ids >= 0], ids[ids >= 0]] = 1.0
            label_sample.append(self.model.ops.asarray(gold))
        if not doc_sample:
            raise ValueError(Errors.E923.format(name=self.name))
        self.model.initialize(X=doc_sample, Y=label_sample)
