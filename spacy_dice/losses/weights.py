"""Class weights for the weighted cross-entropy (WCE) and focal losses.

A weight spec is one of

* ``None``: every class weighs 1;
* a dict ``{label_name: weight}``: labels not named weigh 1 (needs the label names, which the
  components pass to ``loss.initialize``);
* a list of weights in class-id order (for use outside a pipeline);
* ``"inverse_frequency"``: ``w_c = N / (C * max(count_c, 1))`` from the training label counts
  (scikit-learn's "balanced" weights: the weighted count of every class equals ``N / C``);
* ``"inverse_sqrt_frequency"``: ``w_c = sqrt(N / (C * max(count_c, 1)))``, a milder version.

The paper's WCE (Li et al. 2020, section 3.2) is CE with weights from inverse class frequency.
"""
import math
from typing import Dict, List, Mapping, Optional, Sequence, Union

ClassWeightsSpec = Union[None, str, Dict[str, float], Sequence[float]]
FREQUENCY_SPECS = ("inverse_frequency", "inverse_sqrt_frequency")


def _check_weight(loss_name: str, where: str, weight: object) -> float:
    try:
        value = float(weight)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(
            f"{loss_name}: class_weights{where}={weight!r} is not a number; weights must be > 0"
        ) from None
    if isinstance(weight, bool) or not (value > 0.0) or math.isinf(value):
        raise ValueError(
            f"{loss_name}: class_weights{where}={weight!r} is not allowed; weights must be finite and > 0"
        )
    return value


def validate_class_weights_spec(loss_name: str, spec: ClassWeightsSpec) -> ClassWeightsSpec:
    """Check a weight spec when the config resolves; return it in canonical form."""
    if spec is None:
        return None
    if isinstance(spec, str):
        if spec not in FREQUENCY_SPECS:
            raise ValueError(
                f"{loss_name}: class_weights={spec!r} is not allowed; use a dict of"
                " {label: weight}, a list of weights, "
                + " or ".join(repr(s) for s in FREQUENCY_SPECS)
                + ", or leave it out"
            )
        return spec
    if isinstance(spec, Mapping):
        return {str(label): _check_weight(loss_name, f"[{label!r}]", w) for label, w in spec.items()}
    if isinstance(spec, (list, tuple)) or hasattr(spec, "tolist"):
        values = list(spec.tolist() if hasattr(spec, "tolist") else spec)
        if not values:
            raise ValueError(f"{loss_name}: class_weights is an empty list; give one weight per class")
        return [_check_weight(loss_name, f"[{i}]", w) for i, w in enumerate(values)]
    raise ValueError(
        f"{loss_name}: class_weights={spec!r} has type {type(spec).__name__}; use a dict of"
        " {label: weight}, a list, 'inverse_frequency' or 'inverse_sqrt_frequency'"
    )


def resolve_class_weights(
    loss_name: str,
    spec: ClassWeightsSpec,
    labels: Sequence[str],
    label_counts: Optional[Mapping[str, int]],
) -> Optional[List[float]]:
    """Turn a validated spec into one weight per label, in the order of ``labels``."""
    if spec is None:
        return None
    labels = list(labels)
    if isinstance(spec, str):
        if label_counts is None:
            raise ValueError(
                f"{loss_name}: class_weights={spec!r} needs the training label counts, but the"
                " component gave none to loss.initialize (is there any training data?)"
            )
        counts = [max(int(label_counts.get(label, 0)), 1) for label in labels]
        total = float(sum(int(label_counts.get(label, 0)) for label in labels)) or float(len(labels))
        weights = [total / (len(labels) * c) for c in counts]
        if spec == "inverse_sqrt_frequency":
            weights = [math.sqrt(w) for w in weights]
        return weights
    if isinstance(spec, Mapping):
        unknown = sorted(set(spec) - set(labels))
        if unknown:
            raise ValueError(
                f"{loss_name}: class_weights names unknown label(s) {unknown}; the component's"
                f" labels are {labels}"
            )
        return [float(spec.get(label, 1.0)) for label in labels]
    weights = list(spec)
    if len(weights) != len(labels):
        raise ValueError(
            f"{loss_name}: {len(weights)} class weights for {len(labels)} labels {labels}"
        )
    return weights
