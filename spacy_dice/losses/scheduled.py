"""A weighted sum of losses whose weights follow schedules over training steps.

The remedy for dice's slow start (docs/LOSSES.md): cross-entropy first, the dice term later.
``L(step) = sum_k w_k(step) L_k`` and ``dZ = sum_k w_k(step) dZ_k``, where each weight is a constant
or a thinc schedule evaluated at ``step``, the number of updates the component has made so far.

The spacy-dice components call ``loss.set_step(step)`` before every training call of the loss (the
counter is kept in the component's ``cfg``, so it survives saving and resuming). Called outside a
component, the loss stays at step 0 until ``set_step`` is called.

A weight may be any thinc schedule: thinc 8's generator schedules (``warmup_linear.v1``,
``compounding.v1``, ``constant_then.v1``, ...; the value at step ``t`` is the generator's ``t``-th
value) or a callable taking ``step=`` (thinc 9's ``Schedule``). Every value a schedule gives must be a
finite number >= 0; otherwise ``set_step`` raises a ValueError naming the sub-loss and the step.

Config form::

    [components.ner.loss]
    @losses = "spacy-dice.ScheduledCombinedLoss.v1"

    [components.ner.loss.losses]

    [components.ner.loss.losses.ce]
    @losses = "spacy-dice.CrossEntropy.v1"

    [components.ner.loss.losses.dsc]
    @losses = "spacy-dice.DiceLoss.v1"
    alpha = 0.01

    [components.ner.loss.weights]

    [components.ner.loss.weights.ce]
    @schedules = "spacy-dice.LinearRamp.v1"
    start = 1.0
    stop = 0.25
    begin_step = 200
    end_step = 1000

    [components.ner.loss.weights.dsc]
    @schedules = "spacy-dice.LinearRamp.v1"
    start = 0.0
    stop = 4.0
    begin_step = 200
    end_step = 1000
"""
import math
from typing import Any, Dict, List, Mapping, Optional

from thinc.api import registry

from .combined import CombinedLoss


class _WeightSchedule:
    """One weight's schedule, readable at any step >= 0 (a generator's values are cached)."""

    def __init__(self, owner: str, key: str, schedule: Any) -> None:
        self.owner, self.key = owner, key
        self.schedule = schedule
        self.values: List[float] = []

    def __call__(self, step: int) -> float:
        if hasattr(self.schedule, "__next__"):
            while len(self.values) <= step:
                try:
                    self.values.append(self._check(next(self.schedule), len(self.values)))
                except StopIteration:
                    raise ValueError(
                        f"{self.owner}: the schedule of weights[{self.key!r}] ended after"
                        f" {len(self.values)} steps but step {step} was asked for; use a schedule"
                        " that never ends (thinc's schedules do not)"
                    ) from None
            return self.values[step]
        return self._check(self.schedule(step=step), step)

    def _check(self, value: Any, step: int) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            math.isfinite(value) and value >= 0
        ):
            raise ValueError(
                f"{self.owner}: the schedule of weights[{self.key!r}] gave {value!r} at step"
                f" {step}; a weight must be a finite number >= 0"
            )
        return float(value)


def is_schedule(value: Any) -> bool:
    """A thinc schedule: a generator/iterator (thinc 8) or a callable taking ``step=`` (thinc 9)."""
    return hasattr(value, "__next__") or (callable(value) and not isinstance(value, (int, float)))


@registry.losses("spacy-dice.ScheduledCombinedLoss.v1")
class ScheduledCombinedLoss(CombinedLoss):
    """:class:`CombinedLoss` whose weights may be schedules, evaluated at the component's step.

    ``set_step(step)`` evaluates every schedule at ``step`` and forwards ``set_step`` to the
    sub-losses that have it. Constant weights behave as in :class:`CombinedLoss`.
    """

    name = "ScheduledCombinedLoss"

    def __init__(
        self, losses: Mapping[str, Any], weights: Optional[Mapping[str, Any]] = None
    ) -> None:
        weights = dict(weights or {})
        schedules = {k: w for k, w in weights.items() if is_schedule(w)}
        constants = {k: w for k, w in weights.items() if k not in schedules}
        for key, weight in constants.items():
            if isinstance(weight, bool) or not isinstance(weight, (int, float)):
                raise ValueError(
                    f"{self.name}: weights[{key!r}]={weight!r} is not allowed; use a number >= 0"
                    " or a schedule (a [loss.weights.NAME] block with @schedules = ...)"
                )
        # sub-loss and constant-weight checks of CombinedLoss (the schedules as 0 placeholders)
        super().__init__(losses, dict(constants, **{k: 0.0 for k in schedules}))
        self.constant_weights: Dict[str, float] = {
            k: w for k, w in self.weights.items() if k not in schedules
        }
        self.schedules: Dict[str, _WeightSchedule] = {
            k: _WeightSchedule(self.name, k, s) for k, s in schedules.items()
        }
        self.step = 0
        self.set_step(0)

    def set_step(self, step: int) -> None:
        """Evaluate the weight schedules at ``step`` (updates made so far, 0 before the first)."""
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"{self.name}: step={step!r} is not allowed; use an integer >= 0")
        self.step = step
        for key, schedule in self.schedules.items():
            self.weights[key] = schedule(step)
        for loss in self.losses.values():
            if hasattr(loss, "set_step"):
                loss.set_step(step)

    def _active(self) -> Dict[str, Any]:
        """Sub-losses with a weight > 0 at the current step (a zero weight adds nothing; not
        computing it is what keeps the CE-only phase at CE's speed)."""
        active = {k: loss for k, loss in self.losses.items() if self.weights[k] > 0.0}
        return active or self.losses

    def weights_at(self, step: int) -> Dict[str, float]:
        """The weights at ``step`` (does not change the current step)."""
        return dict(self.constant_weights, **{k: s(step) for k, s in self.schedules.items()})
