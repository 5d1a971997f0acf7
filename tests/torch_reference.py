"""An independent PyTorch autograd implementation of the spacy-dice loss family.

Written from the specification of the losses (issue "losses" and ``shared/PAPER.md``), not from
``spacy_dice.losses``: the tests compare our hand-written numpy gradients against autograd here.

Everything is a function of the PRE-ACTIVATION LOGITS ``Z`` (one ``(N, C)`` tensor: the batch's docs
concatenated), so ``Z.grad`` after ``backward()`` is what our losses return as ``d_guesses``.

Notation (all rows of the batch): ``P`` probabilities, ``Y`` one-hot / 0-1 gold, ``M`` the ``(N, C)``
labelled-cell mask (softmax: the row's mask on every column), ``n`` the number of rows with at least
one labelled cell. Missing rows / cells count nowhere. ``n = 0`` gives a loss of exactly 0.

A loss is described by a *spec*: ``(kind, params)`` with ``kind`` one of ``"ce"``, ``"focal"``,
``"dice"``, ``"logdice"``, ``"tversky"``, or ``("combined", [(weight, spec), ...])``; the test glue also knows
``("scheduled", {"parts": [(weight or ("ramp", start, stop, begin, end), spec)], "step": t})``, whose
reference is the combined spec with every ramp evaluated at ``t`` by :func:`ramp_value`. ``params`` are the registered
functions' keyword arguments (``class_weights`` only as a list in class order here; resolve names and
frequencies with :func:`resolve_weights` first).
"""
import math
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy
import torch

Spec = Tuple[str, Any]


# ----------------------------------------------------------------------------------------------
# gold encoding
# ----------------------------------------------------------------------------------------------
def encode_gold(truths: numpy.ndarray, n_classes: int, activation: str, dtype=torch.float64):
    """Return ``(Y, M, gold)`` as tensors: 0/1 gold, labelled-cell mask, class ids (softmax) or None."""
    if activation == "softmax":
        gold = torch.as_tensor(numpy.asarray(truths, dtype="int64"))
        labelled = gold >= 0
        Y = torch.zeros((gold.shape[0], n_classes), dtype=dtype)
        if labelled.any():
            Y[torch.nonzero(labelled).flatten(), gold[labelled]] = 1.0
        M = labelled.to(dtype)[:, None].expand(-1, n_classes)
        return Y, M, gold
    T = torch.as_tensor(numpy.asarray(truths, dtype="float64")).to(dtype)
    M = (T >= 0).to(dtype)
    Y = T.clamp(min=0.0) * M
    return Y, M, None


def activate(Z: torch.Tensor, activation: str) -> torch.Tensor:
    return torch.softmax(Z, dim=1) if activation == "softmax" else torch.sigmoid(Z)


def probs_torch(Z: numpy.ndarray, activation: str = "softmax") -> numpy.ndarray:
    """The float64 probabilities exactly as :func:`reference` computes them from ``Z``."""
    return activate(torch.as_tensor(numpy.asarray(Z, dtype="float64")), activation).numpy()


def _n_rows(M: torch.Tensor) -> torch.Tensor:
    return (M.sum(dim=1) > 0).to(M.dtype).sum()


def _agg(values_per_class: torch.Tensor, class_reduction: str) -> torch.Tensor:
    """Aggregate over the last (class) axis: mean or sum."""
    if class_reduction == "mean":
        return values_per_class.mean(dim=-1)
    if class_reduction == "sum":
        return values_per_class.sum(dim=-1)
    raise ValueError(class_reduction)


# ----------------------------------------------------------------------------------------------
# the losses, from the probabilities
# ----------------------------------------------------------------------------------------------
def dice_from_probs(
    P, Y, M, *, smooth=1.0, alpha=0.0, square_denominator=True, level="instance",
    class_reduction="mean",
):
    """Dice / self-adjusting dice (DSC) with ``Q = (1-P)^alpha P`` and ``k = 2`` if squared."""
    n = _n_rows(M)
    if float(n) == 0.0:
        return (P * 0.0).sum()
    Q = (1.0 - P) ** alpha * P if alpha else P
    k = 2 if square_denominator else 1
    if level == "instance":
        den = torch.where(M > 0, Q**k + Y**k + smooth, torch.ones_like(Q))
        D = (2.0 * Q * Y + smooth) / den
        # per cell 1 - D, masked; aggregated over classes, summed over rows, divided by n
        per_row = _agg(M * (1.0 - D), class_reduction)
        return per_row.sum() / n
    num = 2.0 * (M * Q * Y).sum(dim=0) + smooth
    den = (M * Q**k).sum(dim=0) + (M * Y**k).sum(dim=0) + smooth
    return _agg(1.0 - num / den, class_reduction)


def logdice_from_probs(
    P, Y, M, *, smooth=0.01, alpha=0.0, square_denominator=True, level="set", class_reduction="mean"
):
    """``-log`` of the dice coefficient of :func:`dice_from_probs` (per cell or per class)."""
    n = _n_rows(M)
    if float(n) == 0.0:
        return (P * 0.0).sum()
    Q = (1.0 - P) ** alpha * P if alpha else P
    k = 2 if square_denominator else 1
    if level == "instance":
        D = (2.0 * Q * Y + smooth) / (Q**k + Y**k + smooth)
        return _agg(M * -torch.log(D), class_reduction).sum() / n
    num = 2.0 * (M * Q * Y).sum(dim=0) + smooth
    den = (M * Q**k).sum(dim=0) + (M * Y**k).sum(dim=0) + smooth
    return _agg(-torch.log(num / den), class_reduction)


def tversky_from_probs(
    P, Y, M, *, alpha=0.5, beta=0.5, smooth=1.0, level="instance", class_reduction="mean"
):
    """Tversky: ``1 - (TP + s) / (TP + alpha FP + beta FN + s)``, one-vs-rest per class."""
    n = _n_rows(M)
    if float(n) == 0.0:
        return (P * 0.0).sum()
    TP = M * P * Y
    FP = M * P * (1.0 - Y)
    FN = M * (1.0 - P) * Y
    if level == "instance":
        den = TP + alpha * FP + beta * FN + smooth
        # missing cells count nowhere (with smooth 0 they would be 0/0 here: keep them out of the
        # graph, or their nan would reach the gradient through the mask's 0)
        den = torch.where(M > 0, den, torch.ones_like(den))
        T = (TP + smooth) / den
        return _agg(M * (1.0 - T), class_reduction).sum() / n
    tp, fp, fn = TP.sum(dim=0), FP.sum(dim=0), FN.sum(dim=0)
    return _agg(1.0 - (tp + smooth) / (tp + alpha * fp + beta * fn + smooth), class_reduction)


def focal_from_probs(P, Y, M, gold, activation, *, gamma=2.0, class_weights=None):
    """Focal loss (CE for ``gamma = 0``), optionally weighted by the gold class (softmax) or the
    column (sigmoid)."""
    n = _n_rows(M)
    if float(n) == 0.0:
        return (P * 0.0).sum()
    C = P.shape[1]
    w = None if class_weights is None else torch.as_tensor(class_weights, dtype=P.dtype)
    if activation == "softmax":
        m = M[:, 0]
        safe = gold.clamp(min=0)
        p = P.gather(1, safe[:, None])[:, 0]
        term = (1.0 - p) ** gamma * (-torch.log(p)) if gamma else -torch.log(p)
        if w is not None:
            term = term * w[safe]
        return (m * term).sum() / n
    p_t = torch.where(Y > 0, P, 1.0 - P)
    term = (1.0 - p_t) ** gamma * (-torch.log(p_t)) if gamma else -torch.log(p_t)
    if w is not None:
        term = term * w[None, :]
    return (M * term).sum() / (n * C)


def ce_from_probs(P, Y, M, gold, activation, *, class_weights=None, label_smoothing=0.0):
    """Cross-entropy with label smoothing ``T = (1 - eps) Y + eps / C`` (softmax).

    The spec defines smoothing for softmax only; in sigmoid mode each column is a two-class problem,
    so the target used here is ``(1 - eps) Y + eps / 2`` (what the CrossEntropy docstring promises).
    """
    if not label_smoothing:
        return focal_from_probs(P, Y, M, gold, activation, gamma=0.0, class_weights=class_weights)
    n = _n_rows(M)
    if float(n) == 0.0:
        return (P * 0.0).sum()
    eps = label_smoothing
    C = P.shape[1]
    w = None if class_weights is None else torch.as_tensor(class_weights, dtype=P.dtype)
    if activation == "softmax":
        m = M[:, 0]
        T = (1.0 - eps) * Y + eps / C
        row = -(T * torch.log(P)).sum(dim=1)
        if w is not None:
            row = row * w[gold.clamp(min=0)]
        return (m * row).sum() / n
    T = (1.0 - eps) * Y + eps / 2.0
    cell = -(T * torch.log(P) + (1.0 - T) * torch.log(1.0 - P))
    if w is not None:
        cell = cell * w[None, :]
    return (M * cell).sum() / (n * C)


def loss_from_probs(spec: Spec, P, Y, M, gold, activation: str):
    kind, params = spec
    params = dict(params or {})
    params.pop("activation", None)
    if kind == "combined":
        total = (P * 0.0).sum()
        for weight, sub in params["parts"]:
            total = total + weight * loss_from_probs(sub, P, Y, M, gold, activation)
        return total
    if kind == "dice":
        return dice_from_probs(P, Y, M, **params)
    if kind == "logdice":
        return logdice_from_probs(P, Y, M, **params)
    if kind == "tversky":
        return tversky_from_probs(P, Y, M, **params)
    if kind == "focal":
        return focal_from_probs(P, Y, M, gold, activation, **params)
    if kind == "ce":
        return ce_from_probs(P, Y, M, gold, activation, **params)
    raise ValueError(kind)


# ----------------------------------------------------------------------------------------------
# entry points for the tests and the benchmark
# ----------------------------------------------------------------------------------------------
def loss_from_logits(spec: Spec, Z: torch.Tensor, truths: Any, activation: str = "softmax"):
    """The loss as a differentiable function of the logits ``Z`` (one ``(N, C)`` tensor)."""
    Y, M, gold = encode_gold(truths, Z.shape[1], activation, dtype=Z.dtype)
    return loss_from_probs(spec, activate(Z, activation), Y, M, gold, activation)


def reference(
    spec: Spec,
    logits: Union[numpy.ndarray, Sequence[numpy.ndarray]],
    truths: Union[numpy.ndarray, Sequence[numpy.ndarray]],
    activation: str = "softmax",
) -> Tuple[float, Union[numpy.ndarray, List[numpy.ndarray]]]:
    """``(loss, dL/dZ)`` in float64 for one logits array or a list of them (one per doc).

    The gradient has the structure of ``logits`` (a list of per-doc arrays for a list).
    """
    is_list = isinstance(logits, (list, tuple))
    docs = list(logits) if is_list else [logits]
    golds = list(truths) if is_list else [truths]
    if not docs:
        return 0.0, []
    lengths = [int(d.shape[0]) for d in docs]
    Z_np = numpy.concatenate([numpy.asarray(d, dtype="float64") for d in docs], axis=0)
    if activation == "softmax":
        gold_np = numpy.concatenate([numpy.asarray(g, dtype="int64").reshape(-1) for g in golds])
    else:
        gold_np = numpy.concatenate(
            [numpy.asarray(g, dtype="float64").reshape(-1, Z_np.shape[1]) for g in golds], axis=0
        )
    Z = torch.tensor(Z_np, dtype=torch.float64, requires_grad=True)
    loss = loss_from_logits(spec, Z, gold_np, activation)
    if loss.requires_grad:
        loss.backward()
        grad = Z.grad.detach().numpy().copy()
    else:
        grad = numpy.zeros_like(Z_np)
    if not is_list:
        return float(loss.detach()), grad
    out, start = [], 0
    for length in lengths:
        out.append(grad[start : start + length])
        start += length
    return float(loss.detach()), out


def resolve_weights(
    spec: Any, labels: Sequence[str], label_counts: Optional[Dict[str, int]] = None
) -> Optional[List[float]]:
    """Class weights in class order, from the spec's definitions.

    dict by label (missing labels weigh 1), list as is, ``"inverse_frequency"``:
    ``w_c = N / (C * max(count_c, 1))`` with ``N`` the total count, ``"inverse_sqrt_frequency"``: its
    square root.
    """
    if spec is None:
        return None
    if isinstance(spec, dict):
        return [float(spec.get(label, 1.0)) for label in labels]
    if isinstance(spec, str):
        counts = [int((label_counts or {}).get(label, 0)) for label in labels]
        N, C = float(sum(counts)), len(labels)
        weights = [N / (C * max(c, 1)) for c in counts]
        if spec == "inverse_sqrt_frequency":
            weights = [math.sqrt(w) for w in weights]
        elif spec != "inverse_frequency":
            raise ValueError(spec)
        return weights
    return [float(w) for w in spec]


# ----------------------------------------------------------------------------------------------
# test glue (not part of the reference): the same spec as a spacy_dice loss, and shared cases
# ----------------------------------------------------------------------------------------------
LABELS = ("O", "B-PER", "I-PER", "B-LOC")
LABEL_COUNTS = {"O": 70, "B-PER": 20, "I-PER": 7, "B-LOC": 3}


def ramp_value(start: float, stop: float, begin: int, end: int, step: int) -> float:
    """A linear ramp's value at ``step``, from its definition: ``start`` up to ``begin``, ``stop``
    from ``end`` on (``stop`` after ``begin`` when ``begin == end``), linear in between."""
    if step <= begin:
        return float(start)
    if step >= end:
        return float(stop)
    return start + (stop - start) * (step - begin) / (end - begin)


def build_ours(spec: Spec, activation: str = "softmax", labels=LABELS, label_counts=LABEL_COUNTS):
    """The spacy_dice loss for ``spec``, built through the registered functions and initialized."""
    from thinc.api import registry

    import spacy_dice.losses  # noqa: F401  (registers the losses)

    def registered(name: str):
        return registry.losses.get(f"spacy-dice.{name}.v1")

    kind, params = spec
    params = dict(params or {})
    if kind == "scheduled":
        from spacy_dice.losses.schedules import linear_ramp_v1

        losses = {f"part{i}": build_ours(sub, activation, labels, label_counts)
                  for i, (_, sub) in enumerate(params["parts"])}
        weights = {}
        for i, (w, _) in enumerate(params["parts"]):
            weights[f"part{i}"] = linear_ramp_v1(*w[1:]) if isinstance(w, tuple) else w
        loss = registered("ScheduledCombinedLoss")(losses, weights)
        loss.set_step(params["step"])
        if labels is not None:
            loss.initialize(list(labels), label_counts)
        return loss
    if kind == "combined":
        losses = {f"part{i}": build_ours(sub, activation, labels, label_counts)
                  for i, (_, sub) in enumerate(params["parts"])}
        weights = {f"part{i}": w for i, (w, _) in enumerate(params["parts"])}
        loss = registered("CombinedLoss")(losses, weights)
    else:
        name = {"ce": "CrossEntropy", "focal": "FocalLoss", "dice": "DiceLoss",
                "logdice": "LogDiceLoss", "tversky": "TverskyLoss"}[kind]
        loss = registered(name)(activation=activation, **params)
    if labels is not None:
        loss.initialize(list(labels), label_counts)
    return loss


def reference_spec(spec: Spec, labels=LABELS, label_counts=LABEL_COUNTS) -> Spec:
    """``spec`` with class weights resolved to a list in class order (for the reference)."""
    kind, params = spec
    params = dict(params or {})
    if kind == "scheduled":
        parts = [(ramp_value(*w[1:], params["step"]) if isinstance(w, tuple) else w, sub)
                 for w, sub in params["parts"]]
        return reference_spec(("combined", {"parts": parts}), labels, label_counts)
    if kind == "combined":
        params["parts"] = [(w, reference_spec(s, labels, label_counts)) for w, s in params["parts"]]
    elif params.get("class_weights") is not None:
        params["class_weights"] = resolve_weights(params["class_weights"], labels, label_counts)
    return (kind, params)


def loss_cases(n_classes: int = len(LABELS)) -> List[Tuple[str, Spec]]:
    """``(id, spec)`` for every loss x level x class_reduction x alpha x square x weights."""
    weights_list = [1.0 + 0.5 * i for i in range(n_classes)]
    cases: List[Tuple[str, Spec]] = [
        ("ce", ("ce", {})),
        ("wce-list", ("ce", {"class_weights": weights_list})),
        ("wce-dict", ("ce", {"class_weights": {"B-PER": 3.0, "I-PER": 0.25}})),
        ("wce-invfreq", ("ce", {"class_weights": "inverse_frequency"})),
        ("ce-ls", ("ce", {"label_smoothing": 0.1})),
        ("wce-ls", ("ce", {"label_smoothing": 0.2, "class_weights": "inverse_sqrt_frequency"})),
        ("focal-g0", ("focal", {"gamma": 0.0})),
        ("focal-g0.5", ("focal", {"gamma": 0.5})),
        ("focal-g2", ("focal", {"gamma": 2.0})),
        ("focal-g2-w", ("focal", {"gamma": 2.0, "class_weights": "inverse_sqrt_frequency"})),
    ]
    for level in ("instance", "set"):
        for red in ("mean", "sum"):
            for square in (True, False):
                for alpha in (0.0, 0.01, 0.3):
                    cases.append((
                        f"dice-{level}-{red}-{'sq' if square else 'lin'}-a{alpha}",
                        ("dice", {"smooth": 1.0, "alpha": alpha, "square_denominator": square,
                                  "level": level, "class_reduction": red}),
                    ))
            for a, b in ((0.5, 0.5), (0.3, 0.7), (0.0, 1.0)):
                cases.append((
                    f"tversky-{level}-{red}-a{a}-b{b}",
                    ("tversky", {"alpha": a, "beta": b, "smooth": 1.0, "level": level,
                                 "class_reduction": red}),
                ))
    cases += [
        ("dice-instance-s0", ("dice", {"smooth": 0.0, "level": "instance"})),
        ("dice-set-s0-a0.1", ("dice", {"smooth": 0.0, "alpha": 0.1, "level": "set"})),
        ("dice-set-s0.5", ("dice", {"smooth": 0.5, "level": "set", "square_denominator": False})),
        ("dice-instance-lin-s0-a0.2", ("dice", {"smooth": 0.0, "alpha": 0.2, "square_denominator": False})),
        ("dice-instance-s1e-4", ("dice", {"smooth": 1e-4, "class_reduction": "sum"})),
        ("tversky-set-s0", ("tversky", {"alpha": 0.7, "beta": 0.3, "smooth": 0.0, "level": "set"})),
        ("tversky-instance-s0", ("tversky", {"alpha": 0.7, "beta": 0.3, "smooth": 0.0})),
        ("tversky-instance-a1-b0", ("tversky", {"alpha": 1.0, "beta": 0.0, "smooth": 0.5})),
        ("combined-ce-dsc", ("combined", {"parts": [
            (0.5, ("ce", {})), (1.0, ("dice", {"alpha": 0.01}))]})),
        ("combined-focal-tversky-set", ("combined", {"parts": [
            (1.0, ("focal", {"gamma": 1.0, "class_weights": "inverse_frequency"})),
            (2.0, ("tversky", {"alpha": 0.3, "beta": 0.7, "level": "set"}))]})),
        ("combined-three", ("combined", {"parts": [
            (0.3, ("ce", {"label_smoothing": 0.1})),
            (0.0, ("dice", {"level": "set", "class_reduction": "sum"})),
            (1.5, ("tversky", {}))]})),
    ]
    for level in ("instance", "set"):
        for red in ("mean", "sum"):
            for square in (True, False):
                for alpha, smooth in ((0.0, 0.01), (0.3, 1.0)):
                    cases.append((
                        f"logdice-{level}-{red}-{'sq' if square else 'lin'}-a{alpha}-s{smooth}",
                        ("logdice", {"smooth": smooth, "alpha": alpha, "square_denominator": square,
                                     "level": level, "class_reduction": red}),
                    ))
    # CE first, dice later: before, inside and after the ramps; one weight constant
    for step in (0, 7, 30):
        cases.append((f"scheduled-ce-dsc-step{step}", ("scheduled", {"step": step, "parts": [
            (("ramp", 1.0, 0.25, 5, 20), ("ce", {})),
            (("ramp", 0.0, 3.0, 5, 20), ("dice", {"alpha": 0.01})),
            (0.5, ("tversky", {"alpha": 0.3, "beta": 0.7, "level": "set"}))]})))
    return cases


def softmax_np(Z: numpy.ndarray) -> numpy.ndarray:
    Z = Z - Z.max(axis=1, keepdims=True)
    E = numpy.exp(Z)
    return E / E.sum(axis=1, keepdims=True)


def sigmoid_np(Z: numpy.ndarray) -> numpy.ndarray:
    # stable for |Z| up to 1e4 in float64
    out = numpy.empty_like(Z)
    pos = Z >= 0
    out[pos] = 1.0 / (1.0 + numpy.exp(-Z[pos]))
    E = numpy.exp(Z[~pos])
    out[~pos] = E / (1.0 + E)
    return out


def activate_np(Z: numpy.ndarray, activation: str) -> numpy.ndarray:
    return softmax_np(Z) if activation == "softmax" else sigmoid_np(Z)


def random_gold(rng, n_rows: int, n_classes: int, activation: str, p_missing: float = 0.2):
    """Random gold with some missing labels: class ids (softmax) or a 1/0/-1 matrix (sigmoid)."""
    if activation == "softmax":
        gold = rng.integers(0, n_classes, size=n_rows)
        gold[rng.random(n_rows) < p_missing] = -1
        return gold.astype("int64")
    gold = (rng.random((n_rows, n_classes)) < 0.3).astype("float64")
    gold[rng.random((n_rows, n_classes)) < p_missing] = -1.0
    return gold
