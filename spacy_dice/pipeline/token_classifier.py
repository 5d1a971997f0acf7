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

from .base import DiceComponent, TrainingBatch
from .model_checks import check_output_width, check_softmax_output, warn_unused_tok2vec

class TokenClassifier(DiceComponent, TrainablePipe):
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
        scorer: Optional[Callable],
        settings: Optional[Dict[str, Any]] = None,
        **shared: Any,
    ) -> None:
        """``settings``: the subclass's own settings, kept in ``self.cfg``; ``shared``: the settings
        every dice component takes (:meth:`.base.DiceComponent.setup_dice`)."""
        self.vocab = vocab
        self.model = model
        self.name = name
        self._rehearsal_model = None
        self.cfg: Dict[str, Any] = {"labels": [], **(settings or {})}
        self.scorer = scorer
        self.setup_dice(loss, **shared)
        check_softmax_output(name, model)

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

    @property
    def loss_labels(self) -> List[str]:
        return self.class_names

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

    def training_batch(self, examples: List[Example]) -> Optional[TrainingBatch]:
        """Every example's predicted doc; nothing to learn when no doc has a token."""
        if not any(len(eg.predicted) for eg in examples):
            return None
        return TrainingBatch(examples, [eg.predicted for eg in examples])

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
        self.initialize_loss({names[i]: int(c) for i, c in counts.items()})
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
