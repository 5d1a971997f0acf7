"""Shared machinery of the loss family: batching, gold encoding, masking, activations.

Every loss of this package follows thinc's call convention
``loss(guesses, truths) -> (d_guesses, loss_value)`` where

* ``guesses`` is one ``Floats2d`` or a list of them (one per doc, rows = tokens) holding
  PROBABILITIES: softmax rows as spaCy's ``Softmax_v2`` layer emits them in training
  (``activation="softmax"``) or independent sigmoid columns (``activation="sigmoid"``);
* ``truths`` is, for softmax, one ``Ints1d`` or a list of them with the gold class id of each row and
  ``-1`` for a missing label; for sigmoid, ``Floats2d`` of the guesses' shape holding 1 (positive),
  0 (negative) or -1 (missing) per cell;
* ``d_guesses`` has the structure of ``guesses`` and is the gradient of ``loss_value`` with respect to
  the PRE-ACTIVATION LOGITS ``Z`` (spaCy's softmax backprop is the identity): for softmax
  ``dZ = P * (dP - sum_c(P * dP))``, for sigmoid ``dZ = dP * P * (1 - P)``;
* ``loss_value`` is a Python float.

Notation used by every docstring: ``P`` probabilities, ``Y`` one-hot (or 0/1) gold, ``m_i = 1`` for a
labelled row and 0 for a missing one, ``n = sum_i m_i``. Missing rows count nowhere: not in any sum
and not in ``n`` (the authors' code counts them in the mean, diluting the loss with padding).
A batch with ``n = 0`` gives loss 0.0 and an all-zero gradient.

All array work happens on the array module of the guesses (``thinc.api.get_array_module``): numpy
on CPU, cupy on GPU, one code path. Half-precision guesses are computed in float32 and the gradient
is returned in the guesses' dtype.
"""
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from thinc.api import get_array_module
from thinc.loss import Loss
from thinc.types import Floats2d, Ints1d

from .weights import ClassWeightsSpec, resolve_class_weights, validate_class_weights_spec

Guesses = Union[Floats2d, Sequence[Floats2d]]
Truths = Union[Ints1d, Floats2d, Sequence[Ints1d], Sequence[Floats2d]]

ACTIVATIONS = ("softmax", "sigmoid")
LEVELS = ("instance", "set")
CLASS_REDUCTIONS = ("mean", "sum")


def validate_choice(loss_name: str, param: str, value: Any, allowed: Sequence[str]) -> str:
    """Check that a string parameter is one of ``allowed``; raise a ValueError naming it if not."""
    if value not in allowed:
        raise ValueError(
            f"{loss_name}: {param}={value!r} is not allowed; use one of "
            + ", ".join(repr(a) for a in allowed)
        )
    return value


def validate_non_negative(loss_name: str, param: str, value: Any) -> float:
    """Check that a numeric parameter is a finite number >= 0; raise a ValueError naming it if not."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{loss_name}: {param}={value!r} is not a number; use a finite number >= 0"
        ) from None
    if isinstance(value, bool) or not (number >= 0.0) or number == float("inf"):
        raise ValueError(f"{loss_name}: {param}={value!r} is not allowed; use a finite number >= 0")
    return number


class Batch:
    """One batch flattened to a single ``(N, C)`` probability matrix with its gold and mask.

    ``P`` is in the compute dtype (float32 for half input), ``Y`` the 0/1 gold of the same shape
    (all zero on missing rows or cells), ``row_mask`` the ``(N,)`` labelled-row indicator,
    ``cell_mask`` the ``(N, C)`` labelled-cell indicator (sigmoid mode; ``None`` for softmax where it
    equals ``row_mask`` broadcast), ``gold`` the ``(N,)`` class ids (softmax; -1 missing), ``n`` the
    number of labelled rows.

    Softmax batches also carry ``rows`` (indices of the labelled rows), ``gold_ids`` (their class
    ids), ``gold_flat`` (the gold cells' indices into a C-contiguous ``(N, C)`` array's ravel; ``P``
    is C-contiguous) and ``unlabelled`` (indices of the missing rows), so that losses can work on
    the ``n`` gold cells without the dense one-hot ``Y``, which is only built when first read.
    """

    __slots__ = (
        "xp", "P", "_Y", "row_mask", "cell_mask", "gold", "n", "lengths", "is_list", "dtype",
        "rows", "gold_ids", "unlabelled", "gold_flat",
    )

    def __init__(self, **fields: Any) -> None:
        fields.setdefault("rows", None)
        fields.setdefault("gold_ids", None)
        fields.setdefault("unlabelled", None)
        fields.setdefault("gold_flat", None)
        fields["_Y"] = fields.pop("Y", None)
        for key in self.__slots__:
            setattr(self, key, fields[key])

    @property
    def Y(self) -> Any:
        """The dense 0/1 gold (softmax: one-hot of the labelled rows), built on first use."""
        if self._Y is None:
            Y = self.xp.zeros(self.P.shape, dtype=self.P.dtype)
            Y[self.rows, self.gold_ids] = 1.0
            self._Y = Y
        return self._Y

    def unflatten(self, dZ: Any) -> Union[Floats2d, List[Floats2d]]:
        """Give the gradient the structure and dtype of the guesses."""
        dZ = dZ.astype(self.dtype, copy=False)
        if not self.is_list:
            return dZ
        grads = []
        start = 0
        for length in self.lengths:
            grads.append(dZ[start : start + length])
            start += length
        return grads


class DiceFamilyLoss(Loss):
    """Base class: validates and flattens the batch, then calls ``_compute``.

    Subclasses implement ``_compute(batch, with_grad) -> (dZ or None, loss)`` on a :class:`Batch`.
    ``initialize(labels, label_counts)`` is called by the spacy-dice components at
    ``nlp.initialize`` so that class weights given by label name or as ``"inverse_frequency"`` can be
    turned into a per-class vector.
    """

    name = "DiceFamilyLoss"

    def __init__(
        self,
        *,
        activation: str = "softmax",
        class_weights: ClassWeightsSpec = None,
    ) -> None:
        self.activation = validate_choice(self.name, "activation", activation, ACTIVATIONS)
        self.class_weights_spec = validate_class_weights_spec(self.name, class_weights)
        self.labels: Optional[Tuple[str, ...]] = None
        self._weights_cache: Dict[Any, Any] = {}
        self._weights: Optional[List[float]] = None
        if self.class_weights_spec is not None and not isinstance(
            self.class_weights_spec, (str, dict)
        ):
            self._weights = list(self.class_weights_spec)

    # --- protocol used by the components -------------------------------------------------------
    def initialize(
        self,
        labels: Sequence[str],
        label_counts: Optional[Mapping[str, int]] = None,
    ) -> None:
        """Learn the label names (in class-id order) and, if given, their training counts."""
        self.labels = tuple(labels)
        self._weights_cache = {}
        if self.class_weights_spec is not None:
            self._weights = resolve_class_weights(
                self.name, self.class_weights_spec, self.labels, label_counts
            )

    @property
    def class_weights(self) -> Optional[List[float]]:
        """The per-class weights in class-id order, once known (``None`` means all 1)."""
        return self._weights

    # --- thinc's Loss API ------------------------------------------------------------------------
    def __call__(self, guesses: Guesses, truths: Truths) -> Tuple[Any, float]:
        batch = self.make_batch(guesses, truths)
        dZ, value = self._compute(batch, True)
        return batch.unflatten(dZ), value

    def get_grad(self, guesses: Guesses, truths: Truths) -> Any:
        return self(guesses, truths)[0]

    def get_loss(self, guesses: Guesses, truths: Truths) -> float:
        return self._compute(self.make_batch(guesses, truths), False)[1]

    def _compute(self, batch: Batch, with_grad: bool) -> Tuple[Any, float]:
        raise NotImplementedError

    # --- helpers for subclasses ------------------------------------------------------------------
    def weight_vector(self, batch: Batch) -> Optional[Any]:
        """The class weights as an array on the batch's device, or ``None`` (all 1)."""
        if self.class_weights_spec is not None and self._weights is None:
            raise ValueError(
                f"{self.name}: class_weights={self.class_weights_spec!r} needs the label names"
                " (and counts); call loss.initialize(labels=..., label_counts=...) first. The"
                " spacy-dice components do this in nlp.initialize."
            )
        if self._weights is None:
            return None
        n_classes = batch.P.shape[1]
        if len(self._weights) != n_classes:
            raise ValueError(
                f"{self.name}: {len(self._weights)} class weights but the guesses have"
                f" {n_classes} classes (columns)"
            )
        key = (id(batch.xp), batch.P.dtype.str)
        if key not in self._weights_cache:
            self._weights_cache[key] = batch.xp.asarray(self._weights, dtype=batch.P.dtype)
        return self._weights_cache[key]

    def make_batch(self, guesses: Guesses, truths: Truths) -> Batch:
        """Validate ``guesses``/``truths`` and flatten them into one :class:`Batch`."""
        is_list = not hasattr(guesses, "shape")
        if is_list:
            guesses = list(guesses)
            if hasattr(truths, "shape"):
                raise ValueError(
                    f"{self.name}: guesses is a list of {len(guesses)} arrays but truths is one"
                    f" array of shape {tuple(truths.shape)}; pass a list of the same length"
                )
            truths = list(truths)
            if len(guesses) != len(truths):
                raise ValueError(
                    f"{self.name}: guesses has {len(guesses)} docs but truths has {len(truths)}"
                )
        else:
            if not hasattr(truths, "shape") and not isinstance(truths, (list, tuple)):
                raise ValueError(f"{self.name}: truths must be an array, got {type(truths).__name__}")
            if isinstance(truths, (list, tuple)) and truths and hasattr(truths[0], "shape"):
                raise ValueError(
                    f"{self.name}: guesses is one array but truths is a list of"
                    f" {len(truths)} arrays; pass one array"
                )
            guesses, truths = [guesses], [truths]
        if not guesses:
            import numpy

            empty = numpy.zeros((0, 0), dtype="float32")
            return Batch(
                xp=numpy, P=empty, Y=empty, row_mask=numpy.zeros((0,), "float32"),
                cell_mask=None, gold=numpy.zeros((0,), "int64"), n=0, lengths=[],
                is_list=True, dtype=numpy.dtype("float32"),
                rows=numpy.zeros((0,), "int64"), gold_ids=numpy.zeros((0,), "int64"),
                unlabelled=numpy.zeros((0,), "int64"), gold_flat=numpy.zeros((0,), "int64"),
            )
        xp = get_array_module(guesses[0])
        n_classes = None
        for i, (guess, truth) in enumerate(zip(guesses, truths)):
            shape = tuple(getattr(guess, "shape", ()))
            where = f"doc {i}: " if is_list else ""
            if len(shape) != 2:
                raise ValueError(
                    f"{self.name}: {where}guesses must be 2-dimensional (rows, classes), got shape {shape}"
                )
            if n_classes is None:
                n_classes = shape[1]
            elif shape[1] != n_classes:
                raise ValueError(
                    f"{self.name}: {where}guesses have {shape[1]} classes but doc 0 has {n_classes}"
                )
        if n_classes == 0:
            raise ValueError(f"{self.name}: guesses have 0 classes (columns); need at least 1")
        lengths = [int(g.shape[0]) for g in guesses]
        dtype = guesses[0].dtype
        compute_dtype = "float32" if dtype.itemsize < 4 or dtype.kind != "f" else dtype
        P = guesses[0] if len(guesses) == 1 else xp.concatenate(guesses, axis=0)
        P = xp.ascontiguousarray(xp.asarray(P, dtype=compute_dtype))
        if self.activation == "softmax":
            return self._softmax_batch(xp, P, truths, lengths, is_list, dtype)
        return self._sigmoid_batch(xp, P, truths, lengths, is_list, dtype)

    def _softmax_batch(self, xp, P, truths, lengths, is_list, dtype) -> Batch:
        golds = []
        for i, (truth, length) in enumerate(zip(truths, lengths)):
            truth = xp.asarray(truth)
            where = f"doc {i}: " if is_list else ""
            if truth.ndim != 1 or truth.shape[0] != length:
                raise ValueError(
                    f"{self.name}: {where}guesses have shape ({length}, {P.shape[1]}) so truths must be"
                    f" class ids of shape ({length},), got shape {tuple(truth.shape)}"
                    + ("; for 0/1 matrices use activation='sigmoid'" if truth.ndim == 2 else "")
                )
            if truth.dtype.kind not in "iu":
                if truth.size and truth.dtype.kind == "f" and bool(xp.any(truth != xp.floor(truth))):
                    raise ValueError(f"{self.name}: {where}truths must be integer class ids, got {truth.dtype}")
                truth = truth.astype("int64")
            golds.append(truth)
        gold = golds[0] if len(golds) == 1 else xp.concatenate(golds)
        n_rows, n_classes = P.shape
        if gold.size:
            low, high = int(gold.min()), int(gold.max())
            if low < -1 or high >= n_classes:
                bad = low if low < -1 else high
                raise ValueError(
                    f"{self.name}: gold class id {bad} is out of range for {n_classes} classes;"
                    f" allowed are 0..{n_classes - 1} and -1 for a missing label"
                )
        labelled = gold >= 0
        row_mask = labelled.astype(P.dtype)
        rows = xp.nonzero(labelled)[0]
        gold_ids = gold[rows]
        return Batch(
            xp=xp, P=P, Y=None, row_mask=row_mask, cell_mask=None, gold=gold,
            n=int(rows.shape[0]), lengths=lengths, is_list=is_list, dtype=dtype,
            rows=rows, gold_ids=gold_ids, unlabelled=xp.nonzero(~labelled)[0],
            gold_flat=rows * n_classes + gold_ids,
        )

    def _sigmoid_batch(self, xp, P, truths, lengths, is_list, dtype) -> Batch:
        parts = []
        for i, (truth, length) in enumerate(zip(truths, lengths)):
            truth = xp.asarray(truth)
            where = f"doc {i}: " if is_list else ""
            if tuple(truth.shape) != (length, P.shape[1]):
                raise ValueError(
                    f"{self.name}: {where}in sigmoid mode truths must have the guesses' shape"
                    f" ({length}, {P.shape[1]}), got shape {tuple(truth.shape)}"
                )
            parts.append(truth)
        gold = parts[0] if len(parts) == 1 else xp.concatenate(parts, axis=0)
        gold = xp.asarray(gold, dtype=P.dtype)
        valid = (gold == 0) | (gold == 1) | (gold == -1)
        if gold.size and not bool(valid.all()):
            bad = gold[~valid].ravel()[0]
            raise ValueError(
                f"{self.name}: sigmoid-mode gold value {float(bad)!r} is not allowed; use 1"
                " (positive), 0 (negative) or -1 (missing)"
            )
        cell_mask = (gold >= 0).astype(P.dtype)
        Y = gold * cell_mask
        row_mask = (cell_mask.sum(axis=1) > 0).astype(P.dtype)
        return Batch(
            xp=xp, P=P, Y=Y, row_mask=row_mask, cell_mask=cell_mask, gold=None,
            n=int(row_mask.sum()), lengths=lengths, is_list=is_list, dtype=dtype,
        )


class OverlapLoss(DiceFamilyLoss):
    """Base class of the overlap losses (dice, Tversky): one term per class (one-vs-rest), taken
    per row (``level="instance"``) or over the whole batch (``level="set"``), then averaged or
    summed over the classes (``class_reduction``).

    Subclasses call :meth:`_set_level` in their constructor and implement ``_softmax(batch,
    with_grad)`` (one-hot gold) and ``_dense(batch, with_grad)`` (sigmoid: 0/1 gold and a per-cell
    mask); a batch with no labelled row gives loss 0 and a zero gradient.
    """

    name = "OverlapLoss"

    def _set_level(self, level: str, class_reduction: str) -> None:
        """Check and keep ``level`` (one of :data:`LEVELS`) and ``class_reduction`` (one of
        :data:`CLASS_REDUCTIONS`); raise a ValueError naming the parameter otherwise."""
        self.level = validate_choice(self.name, "level", level, LEVELS)
        self.class_reduction = validate_choice(
            self.name, "class_reduction", class_reduction, CLASS_REDUCTIONS
        )

    def per_class(self, n_classes: int) -> float:
        """The factor of each class's term: ``1 / n_classes`` (mean) or 1 (sum)."""
        return 1.0 / n_classes if self.class_reduction == "mean" else 1.0

    def _compute(self, batch: Batch, with_grad: bool) -> Tuple[Any, float]:
        if batch.n == 0:
            return batch.xp.zeros_like(batch.P), 0.0
        if batch.cell_mask is None:
            return self._softmax(batch, with_grad)
        return self._dense(batch, with_grad)

    def _softmax(self, batch: Batch, with_grad: bool) -> Tuple[Any, float]:
        raise NotImplementedError

    def _dense(self, batch: Batch, with_grad: bool) -> Tuple[Any, float]:
        raise NotImplementedError


def tiny_for(P: Any) -> float:
    """A positive floor for denominators and logs in P's dtype (the smallest normal number)."""
    import numpy

    return float(numpy.finfo(numpy.dtype(P.dtype.str)).tiny)


def eps_for(P: Any) -> float:
    """Machine epsilon of P's dtype: the floor for ``1 - P`` under a negative power."""
    import numpy

    return float(numpy.finfo(numpy.dtype(P.dtype.str)).eps)


def logits_grad(batch: Batch, dP: Any) -> Any:
    """Chain a gradient w.r.t. probabilities through the activation to the logits.

    softmax: ``dZ = P * (dP - sum_c(P * dP))``; sigmoid: ``dZ = dP * P * (1 - P)``.
    ``dP`` must be a fresh array owned by the caller: it is overwritten and returned as ``dZ``.
    """
    xp, P = batch.xp, batch.P
    if batch.cell_mask is None:
        PdP = xp.einsum("ij,ij->i", P, dP)
        dP -= PdP[:, None]
        dP *= P
        return dP
    dP *= P
    dP *= 1.0 - P
    return dP


def gold_cells(batch: Batch, values: Any) -> Any:
    """The gold cells ``values[rows, gold_ids]`` of a C-contiguous ``(N, C)`` array (softmax)."""
    return values.ravel()[batch.gold_flat]


def masked_column_sum(batch: Batch, values: Any, squared: bool = False) -> Any:
    """``sum_i m_i values[i, c]`` (or of ``values[i, c]^2``) for a softmax batch (einsum: one pass,
    faster than ``sum(axis=0)``; missing rows are multiplied by 0, never subtracted)."""
    xp = batch.xp
    if batch.n == values.shape[0]:
        if squared:
            return xp.einsum("ij,ij->j", values, values)
        return xp.einsum("ij->j", values)
    return xp.einsum("i,ij->j", batch.row_mask, values * values if squared else values)


def masked_dot(batch: Batch, left: Any, right: Any) -> float:
    """``sum_i m_i sum_c left[i, c] right[i, c]`` for a softmax batch."""
    xp = batch.xp
    if batch.n == left.shape[0]:
        return float(xp.einsum("ij,ij->", left, right))
    return float((xp.einsum("ij,ij->i", left, right) * batch.row_mask).sum())


def scale_labelled_rows(batch: Batch, values: Any, scale: float) -> Any:
    """``values *= m[:, None] * scale`` in place for a softmax batch (missing rows become 0)."""
    if scale != 1.0:
        values *= scale
    if batch.n < values.shape[0]:
        values[batch.unlabelled] = 0.0
    return values
