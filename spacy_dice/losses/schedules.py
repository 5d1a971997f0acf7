"""Schedules for loss weights (thinc's ``schedules`` registry).

thinc 8's schedules are generators: the ``t``-th value is the value at step ``t``.
"""
import math
from typing import Iterator

from thinc.api import registry


def _number(param: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"LinearRamp: {param}={value!r} is not allowed; use a finite number")
    return float(value)


def _steps(param: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"LinearRamp: {param}={value!r} is not allowed; use an integer >= 0")
    return value


def _ramp(start: float, stop: float, begin: int, end: int) -> Iterator[float]:
    step = 0
    span = end - begin
    while True:
        if step <= begin:
            yield start
        elif step >= end:
            yield stop
        else:
            yield start + (stop - start) * (step - begin) / span
        step += 1


@registry.schedules("spacy-dice.LinearRamp.v1")
def linear_ramp_v1(start: float, stop: float, begin_step: int, end_step: int) -> Iterator[float]:
    """``start`` until ``begin_step``, then linear to ``stop`` at ``end_step``, then ``stop``.

    ``w(t) = start + (stop - start) * clip((t - begin_step) / (end_step - begin_step), 0, 1)``;
    ``begin_step == end_step`` switches from ``start`` to ``stop`` right after that step.
    """
    start, stop = _number("start", start), _number("stop", stop)
    begin, end = _steps("begin_step", begin_step), _steps("end_step", end_step)
    if end < begin:
        raise ValueError(
            f"LinearRamp: end_step={end_step!r} is before begin_step={begin_step!r}; use"
            " end_step >= begin_step"
        )
    return _ramp(start, stop, begin, end)
