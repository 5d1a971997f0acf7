"""Test tiers and the small training helpers the test files share.

Tiers, as in spaCy's and thinc's ``conftest.py``:

* ``python -m pytest``: the fast tier. Tests marked ``slow`` (training runs beyond a few steps,
  subprocesses, Ray, ``spacy project run``) are skipped with the reason "slow: run with --slow".
* ``python -m pytest --slow``: the full suite. The property (hypothesis) tests draw their full
  number of examples only here; the fast tier draws a fifth (``examples(n)``).

Tests marked ``realdata`` need the corpora of docs/PROJECT.md ("Data sets") in
``$SPACY_DICE_DATA`` or ``../shared/data`` (tests/realdata.py); without them they are skipped
with a reason that says how to get them. A ``realdata`` test that trains or reads a whole training
split is also marked ``slow``.

The helpers (``examples``, ``blank_nlp``, ``train``, ``train_until``, ``run_workflow_in_process``)
are plain functions: a test module imports them with ``from conftest import train`` (tests/ is on
``sys.path``, as for ``synthetic``).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, List, Optional, Tuple, Union

import pytest

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.training import Example

SLOW_REASON = "slow: run with --slow"
_SLOW_RUN = False  # set by pytest_configure: whether --slow was given


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--slow", action="store_true", default=False,
        help="also run the tests marked slow (training runs, subprocesses, Ray, spacy project runs)"
             " and every property test with its full number of examples",
    )


def pytest_configure(config: pytest.Config) -> None:
    global _SLOW_RUN
    _SLOW_RUN = bool(config.getoption("--slow"))


def examples(n: int) -> int:
    """``max_examples`` for a hypothesis test that draws ``n`` examples in the full suite: ``n``
    under ``--slow``, a fifth of it (at least 10, at most ``n``) in the fast tier. Test modules
    call it when they are collected, after ``pytest_configure``."""
    return n if _SLOW_RUN else min(n, max(10, n // 5))


def pytest_collection_modifyitems(config: pytest.Config, items: List[pytest.Item]) -> None:
    """Skip ``slow`` tests unless ``--slow`` is given, and ``realdata`` tests when the corpora are
    absent (each with its reason)."""
    from realdata import DATA, skip_reason

    run_slow = config.getoption("--slow")
    skip_slow = pytest.mark.skip(reason=SLOW_REASON)
    skip_data = None if DATA.is_dir() else pytest.mark.skip(reason=skip_reason(DATA))
    for item in items:
        if not run_slow and "slow" in item.keywords:
            item.add_marker(skip_slow)
        elif skip_data is not None and "realdata" in item.keywords:
            item.add_marker(skip_data)


# --- shared helpers --------------------------------------------------------------------------------
def blank_nlp(factory: str, name: Optional[str] = None, lang: str = "en", **config: Any) -> "Language":
    """A blank ``lang`` pipeline with one component ``factory`` (named ``name``, by default the
    factory's name) built with ``config``; returns the ``Language``."""
    import spacy

    nlp = spacy.blank(lang)
    nlp.add_pipe(factory, name=name, config=config)
    return nlp


def train(nlp: "Language", examples: List["Example"], steps: int, *, learn_rate: float = 0.01,
          seed: Optional[int] = 0, annotates: Iterable[str] = (), drop: float = 0.0) -> "Language":
    """Initialize ``nlp`` on ``examples`` and make ``steps`` full-batch updates with
    ``Adam(learn_rate)``, after ``fix_random_seed(seed)`` (no seeding when ``seed`` is None: the
    caller seeded before building the pipeline). Returns ``nlp``."""
    from thinc.api import Adam, fix_random_seed

    if seed is not None:
        fix_random_seed(seed)
    nlp.initialize(lambda: examples)
    optimizer = Adam(learn_rate)
    for _ in range(steps):
        nlp.update(examples, sgd=optimizer, annotates=list(annotates), drop=drop)
    return nlp


def train_until(nlp: "Language", examples: List["Example"], steps: int, *, key: Optional[str] = None,
                target: Optional[float] = None, learn_rate: float = 0.01, every: int = 10,
                annotates: Iterable[str] = (), drop: float = 0.0) -> float:
    """Initialize ``nlp`` on ``examples`` after ``fix_random_seed(0)`` and make up to ``steps``
    full-batch updates with ``Adam(learn_rate)``, asserting that every loss is finite; every
    ``every`` steps the training score ``key`` is computed and training stops once it reaches
    ``target``. Returns the last score computed (0.0 when ``target`` is None: no scoring)."""
    from thinc.api import Adam, fix_random_seed

    fix_random_seed(0)
    nlp.initialize(lambda: examples)
    optimizer = Adam(learn_rate)
    score = 0.0
    for step in range(1, steps + 1):
        losses = nlp.update(examples, sgd=optimizer, annotates=list(annotates), drop=drop)
        assert all(math.isfinite(v) for v in losses.values()), (step, losses)
        if target is not None and step % every == 0:
            score = nlp.evaluate(examples)[key]
            if score >= target:
                break
    return score


def run_workflow_in_process(project: Union[str, Path], workflow: str, **variables: Any) -> List[str]:
    """Run each script line of ``workflow`` in ``project``'s project.yml, with ``variables``
    (``task="spans"`` for ``--vars.task spans``) substituted by weasel as ``spacy project run``
    does, in this process: every line must be a ``python -m spacy`` or ``python -m spacy_dice``
    command, run by that app through typer's ``CliRunner`` with ``project`` as the working
    directory. Asserts that each command exits with 0; returns the command lines run.

    ``spacy project run`` starts one interpreter per line; the one real run of the workflow is
    tests/test_project.py's. Weasel's dependency and output checks are not made here."""
    import os
    import shlex

    from spacy.cli import app as spacy_app
    from typer.testing import CliRunner
    from weasel.util import load_project_config

    from spacy_dice.cli import app as dice_app

    config = load_project_config(project, overrides={f"vars.{k}": v for k, v in variables.items()})
    commands = {command["name"]: command for command in config["commands"]}
    ran = []
    cwd = os.getcwd()
    os.chdir(project)
    try:
        for step in config["workflows"][workflow]:
            for line in commands[step]["script"]:
                argv = shlex.split(line)
                apps = {("python", "-m", "spacy"): spacy_app, ("python", "-m", "spacy_dice"): dice_app}
                app = apps.get(tuple(argv[:3]))
                assert app is not None, f"{step}: {line!r} is not a python -m spacy / spacy_dice command"
                result = CliRunner().invoke(app, argv[3:])
                assert result.exit_code == 0, (step, line, result.output[-4000:], result.exception)
                ran.append(line)
    finally:
        os.chdir(cwd)
    return ran


def numeric_gradients(node: Any, name: str, top: int, loss_of: Callable[[], float]) -> List[Tuple[float, float]]:
    """``(analytic, numeric)`` gradient pairs for the ``top`` entries of parameter ``name`` of the
    thinc ``node`` with the largest analytic gradient (the one backprop left in ``node``): the
    numeric value by central differences, ``(loss(p + h) - loss(p - h)) / 2h`` with
    ``h = 1e-3 * max(1, |p|)``, ``loss_of()`` computing the loss of the model as it is. The
    parameter is restored afterwards."""
    import numpy

    param = node.get_param(name)
    grad = node.get_grad(name).ravel()
    pairs = []
    for index in numpy.argsort(-numpy.abs(grad))[:top]:
        original = float(param.ravel()[index])
        h = 1e-3 * max(1.0, abs(original))
        values = []
        for sign in (1, -1):
            changed = param.copy()
            changed.ravel()[index] = original + sign * h
            node.set_param(name, changed)
            values.append(loss_of())
        node.set_param(name, param)
        pairs.append((float(grad[index]), (values[0] - values[1]) / (2 * h)))
    return pairs
