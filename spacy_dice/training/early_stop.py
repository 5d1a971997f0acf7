"""Early stopping of bad settings: a grid of trials under Ray Tune's ASHA scheduler.

Each trial is the same ``spacy train`` process as with :class:`~.executor.TrialExecutor`,
started by a Tune function trainable. spaCy's dev evaluations reach Tune through the JSONL log
(``spacy-dice.JsonlLogger.v1``): :func:`~.runner.run_training` tails it and calls
``tune.report({"step", "score"})`` once per evaluation. ASHA (asynchronous successive halving)
compares the trials at its rungs (``grace_steps``, ``grace_steps * reduction_factor``, ...
training steps) and stops those below the top ``1 / reduction_factor``; Tune then ends the
trainable, and the ``spacy train`` process with it. A trial that reaches its last step is
evaluated as usual and its :class:`~.executor.TrialOutcome` travels back in the last report.

The compute a sweep saves is counted in training steps: the steps up to each trial's last
evaluation, against ``len(trials) * max_steps``.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from wasabi import msg

from .executor import TrialOutcome, TrialSpec, import_ray, init_ray, progress_line, run_trial


def _tune_report() -> Callable[[Dict[str, Any]], None]:
    """``ray.tune.report`` (Ray >= 2.41) or, before, ``ray.train.report`` (both take a dict)."""
    try:
        from ray.tune import report

        return report
    except ImportError:  # pragma: no cover - older Ray
        from ray.train import report as train_report

        return train_report


def asha_trainable(config: Dict[str, Any], specs: Sequence[Dict[str, Any]]) -> None:
    """The Tune function trainable: one trial, one report per dev evaluation, then the outcome."""
    spec = TrialSpec(**specs[config["index"]])
    report = _tune_report()
    curve: List[List[float]] = []

    def on_record(record: Dict[str, Any]) -> None:
        step, score = int(record["step"]), float(record["score"])
        curve.append([step, score])
        if spec.max_steps is None or step < spec.max_steps:
            # the last evaluation is reported with the outcome below, once the test set is scored
            report({"step": step, "score": score})

    outcome = run_trial(spec, on_record=on_record)
    last = curve[-1] if curve else [0, 0.0]
    report({"step": int(last[0]), "score": max((s for _, s in curve), default=0.0),
            "outcome": json.dumps(outcome.to_dict(), default=str)})


def run_asha(
    specs: Sequence[TrialSpec],
    *,
    max_steps: int,
    grace_steps: int,
    reduction_factor: float = 3.0,
    ray_address: str = "",
    workers: int = 1,
    cpus_per_trial: float = 1.0,
    gpus_per_trial: float = 0.0,
    storage_dir: Path,
    label: str = "sweep",
    on_result: Optional[Callable[[TrialOutcome], None]] = None,
) -> List[TrialOutcome]:
    """Run ``specs`` under ASHA; returns their outcomes in ``specs`` order. A stopped trial has
    ``stopped = True`` and ``extra["dev_curve"]`` (no test scores); every outcome has
    ``extra["steps"]``, the training steps up to its last evaluation."""
    if max_steps <= 0:
        raise ValueError(f"--early-stop needs a step budget: --max-steps must be positive, got {max_steps}")
    if not 0 < grace_steps < max_steps:
        raise ValueError(f"--grace-steps must be between 1 and --max-steps - 1 ({max_steps - 1}),"
                         f" got {grace_steps}")
    if reduction_factor <= 1:
        raise ValueError(f"--reduction-factor must be above 1, got {reduction_factor:g}")
    ray = import_ray("--early-stop")
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    try:
        from ray.tune import RunConfig
    except ImportError:  # pragma: no cover - older Ray
        from ray.train import RunConfig

    specs = list(specs)
    start_time = time.perf_counter()
    outcomes: Dict[int, TrialOutcome] = {}

    finished: List[int] = []

    class Progress(tune.Callback):
        def on_trial_complete(self, iteration: int, trials: List[Any], trial: Any, **info: Any) -> None:
            finished.append(trial.config["index"])
            progress_line(len(finished), len(specs),
                          start_time, f"{label} {specs[trial.config['index']].key}"
                          f" ({'stopped' if 'outcome' not in (trial.last_result or {}) else 'done'}"
                          f" at step {(trial.last_result or {}).get('step')})")

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # verbose=0: no Tune status tables
    started = init_ray(ray_address, workers)
    try:
        trainable = tune.with_resources(
            tune.with_parameters(asha_trainable, specs=[asdict(s) for s in specs]),
            {"cpu": cpus_per_trial, "gpu": gpus_per_trial},
        )
        scheduler = ASHAScheduler(time_attr="step", metric="score", mode="max",
                                  max_t=max_steps, grace_period=grace_steps,
                                  reduction_factor=reduction_factor)
        progress_line(0, len(specs), start_time, f"{label} (ASHA, {workers} at a time)")
        tuner = tune.Tuner(
            trainable,
            param_space={"index": tune.grid_search(list(range(len(specs))))},
            tune_config=tune.TuneConfig(scheduler=scheduler, reuse_actors=False,
                                        max_concurrent_trials=None if ray_address else workers),
            run_config=RunConfig(name="asha", storage_path=str(Path(storage_dir).resolve()),
                                 verbose=0, callbacks=[Progress()]),
        )
        grid = tuner.fit()
        for result in grid:
            index = result.config["index"]
            spec = specs[index]
            metrics = result.metrics or {}
            history = result.metrics_dataframe
            curve = []
            if history is not None and "step" in history:
                curve = [[int(st), float(sc)] for st, sc in zip(history["step"], history["score"])
                         if sc == sc]
            if "outcome" in metrics:
                outcome = TrialOutcome.from_dict(json.loads(metrics["outcome"]))
                if outcome.result:
                    curve = [list(p) for p in outcome.result.get("dev_curve") or curve]
            elif result.error is not None:
                outcome = TrialOutcome.failed(spec, result.error)
            else:
                outcome = TrialOutcome(spec.key, spec.name, spec.seed, ok=False, stopped=True,
                                       fingerprint=spec.fingerprint())
            outcome.extra = {**outcome.extra, "dev_curve": curve,
                             "steps": max((int(p[0]) for p in curve), default=0)}
            outcomes[index] = outcome
            if on_result is not None:
                on_result(outcome)
    finally:
        if started:
            ray.shutdown()
    missing = [spec.key for i, spec in enumerate(specs) if i not in outcomes]
    if missing:
        msg.warn(f"{label}: Tune returned no result for {', '.join(missing)}")
    return [outcomes[i] if i in outcomes else TrialOutcome.failed(s, "no result from Tune")
            for i, s in enumerate(specs)]


def compute_saved(outcomes: Sequence[TrialOutcome], max_steps: int) -> Dict[str, Any]:
    """Training steps run (up to each trial's last evaluation) against the full grid."""
    full = len(outcomes) * max_steps
    run = sum(int(o.extra.get("steps") or 0) for o in outcomes)
    return {"steps_run": run, "steps_full": full, "saved_fraction": 1 - run / full if full else 0.0,
            "stopped": [o.key for o in outcomes if o.stopped],
            "completed": [o.key for o in outcomes if o.ok]}
