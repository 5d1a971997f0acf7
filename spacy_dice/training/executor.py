"""The trial executor: a grid of ``spacy train`` runs on this machine's cores or on a Ray cluster.

A *trial* is one :func:`spacy_dice.training.runner.run_training` call (one ``spacy train``
subprocess, then the evaluation) described by a :class:`TrialSpec`, a plain picklable record.
Whichever engine runs it, a trial is the same process with the same config, seed, data and
thread settings, so its scores do not depend on the engine:

* ``local`` (default): ``workers = 1`` runs the trials one after another in this process, in
  order, echoing spaCy's table (today's ``compare`` / ``sweep``); ``workers = N`` runs N at a
  time in a pool of worker processes (spaCy's tables go to each run's ``train.log``). On Linux
  the workers and their ``spacy train`` die with the driver, however it is stopped.
* ``ray``: one Ray task per trial. ``ray_address = ""`` starts Ray on this machine with
  ``workers`` CPUs; ``"auto"`` or ``"ray://HOST:PORT"`` (or a GCS ``HOST:PORT``) joins a running
  cluster, whose resources then decide how many trials run at once. Needs the ``distributed``
  extra (``pip install "spacy-dice[distributed]"``).

Each trial reserves ``cpus_per_trial`` CPUs (its ``spacy train`` runs with that many BLAS /
OpenMP threads, at least 1) and ``gpus_per_trial`` GPUs (Ray only). The trial function returns a
:class:`TrialOutcome` and never raises: a failing trial is an outcome with its error, and the
others go on. Only the driver (the caller of :meth:`TrialExecutor.run`) writes results files;
:func:`spacy_dice.files.write_atomic` is how (a temporary file, then ``os.replace``).

>>> executor = TrialExecutor(engine="local", workers=2)
>>> outcomes = executor.run(specs, on_result=lambda o: print(o.key, o.ok), label="compare")
"""
from __future__ import annotations

import hashlib
import importlib
import json
import os
import re
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Optional, Sequence, Union

from wasabi import msg

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

ENGINES = ("local", "ray")
DISTRIBUTED_INSTALL = 'pip install "spacy-dice[distributed]"'
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
_ADDRESS = re.compile(r"^(auto|ray://[^\s/:]+:\d+|[^\s/:]+:\d+)$")


class RayUnavailable(ImportError):
    """``--engine ray`` or ``--early-stop`` without Ray installed."""

    def __init__(self, what: str = "--engine ray", error: Optional[BaseException] = None) -> None:
        detail = f" ({error})" if error else ""
        super().__init__(f"{what} needs Ray, which is not installed{detail}; install it with:"
                         f" {DISTRIBUTED_INSTALL}")


def import_ray(what: str = "--engine ray") -> Any:
    """The ``ray`` module, or :class:`RayUnavailable` saying how to install it."""
    try:
        import ray
    except ImportError as err:
        raise RayUnavailable(what, err) from None
    return ray


@dataclass
class TrialSpec:
    """Everything one trial needs, as plain data (it travels to another process or node).

    ``config`` is the training config as text (``Config.to_str()``, not interpolated); paths
    should be absolute and, on a cluster, visible from every node. ``post``: optional
    ``"module:function"`` called in the trial's process as ``function(result, spec)`` after the
    training, returning JSON-able data kept as :attr:`TrialOutcome.extra` (e.g. a summary that
    needs the trained model).
    """

    key: str
    name: str
    seed: int
    config: str
    run_dir: str
    train_path: str
    dev_path: str
    test_path: Optional[str] = None
    component: Optional[str] = None
    max_steps: Optional[int] = None
    eval_frequency: Optional[int] = None
    gpu_id: int = -1
    extra_overrides: Dict[str, Any] = field(default_factory=dict)
    measure_speed: bool = False
    quiet: bool = True
    threads: int = 1
    post: Optional[str] = None
    meta: Dict[str, Any] = field(default_factory=dict)

    def fingerprint(self) -> str:
        """What decides the trial's numbers (config, data, seed, budget, overrides, threads):
        ``--resume`` reuses a finished trial only when this matches."""
        parts = [self.config, self.train_path, self.dev_path, self.test_path, self.component,
                 self.seed, self.max_steps, self.eval_frequency, self.gpu_id >= 0,
                 sorted(self.extra_overrides.items()), self.threads, self.name]
        return hashlib.sha1(json.dumps(parts, default=str).encode()).hexdigest()[:16]


@dataclass
class TrialOutcome:
    """What came back from one trial: ``result`` (``RunResult.to_dict()``) or ``error``;
    ``stopped``: ended early on purpose (``sweep --early-stop``), neither done nor failed."""

    key: str
    name: str
    seed: int
    ok: bool
    result: Optional[Dict[str, Any]] = None
    error: Optional[str] = None
    stopped: bool = False
    seconds: float = 0.0
    fingerprint: str = ""
    extra: Dict[str, Any] = field(default_factory=dict)
    resumed: bool = False

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def failed(cls, spec: "TrialSpec", error: Union[str, BaseException]) -> "TrialOutcome":
        """The outcome of a trial that did not come back (its process or worker died)."""
        if isinstance(error, BaseException):
            error = f"{type(error).__name__}: {error}"
        return cls(spec.key, spec.name, spec.seed, ok=False, error=error,
                   fingerprint=spec.fingerprint())

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "TrialOutcome":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def thread_env(threads: int) -> Dict[str, str]:
    """BLAS / OpenMP thread variables for a trial's ``spacy train`` (the same on every engine)."""
    return {name: str(max(1, int(threads))) for name in THREAD_VARS}


def _call(path: str, *args: Any) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)(*args)


def run_trial(spec: TrialSpec, on_record: Optional[Callable[[Dict[str, Any]], Any]] = None) -> TrialOutcome:
    """Run one trial (``spacy train`` + evaluation); never raises for a failing training: the
    outcome then has ``ok = False`` and the error (with the tail of spaCy's output)."""
    from thinc.api import Config

    from .runner import run_training

    start = time.perf_counter()
    outcome = TrialOutcome(key=spec.key, name=spec.name, seed=spec.seed, ok=False,
                           fingerprint=spec.fingerprint())
    try:
        config = Config().from_str(spec.config, interpolate=False)
        result = run_training(
            config, spec.run_dir, train_path=spec.train_path, dev_path=spec.dev_path,
            test_path=spec.test_path, gpu_id=spec.gpu_id, seed=spec.seed,
            max_steps=spec.max_steps, eval_frequency=spec.eval_frequency,
            extra_overrides=dict(spec.extra_overrides), name=spec.name, component=spec.component,
            measure_speed=spec.measure_speed, quiet=spec.quiet, env=thread_env(spec.threads),
            on_record=on_record,
        )
        outcome.result = json.loads(json.dumps(result.to_dict(), default=str))
        if spec.post:
            outcome.extra = _call(spec.post, result, spec)
        outcome.ok = True
    except Exception as err:  # noqa: BLE001 - recorded, the grid goes on
        outcome.error = f"{type(err).__name__}: {err}"
        if not isinstance(err, RuntimeError):
            outcome.error += "\n" + "".join(traceback.format_exc(limit=6))
    outcome.seconds = time.perf_counter() - start
    return outcome


def progress_line(done: int, total: int, start: float, label: str, initial: int = 0) -> None:
    """One progress line over the trials (tqdm's meter: bar, count, elapsed and ETA; the
    ``initial`` trials, finished before ``start``, do not count towards the rate)."""
    from tqdm import tqdm

    meter = tqdm.format_meter(done, total, time.perf_counter() - start, unit="trial", ncols=80,
                              initial=initial)
    msg.divider(f"{label} {meter}", char="=")


def parse_seeds(text: Union[str, int, Iterable[int]]) -> List[int]:
    """``"0,1,2"`` -> ``[0, 1, 2]``; an error names what was wrong and what is allowed."""
    if isinstance(text, int):
        return [text]
    if not isinstance(text, str):
        return [int(s) for s in text]
    items = [item.strip() for item in text.split(",") if item.strip()]
    try:
        seeds = [int(item) for item in items]
    except ValueError:
        raise ValueError(f"seeds must be comma-separated integers such as 0,1,2; got {text!r}") from None
    if not seeds:
        raise ValueError("no seed given: pass comma-separated integers such as 0,1,2")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seed listed twice in {text!r}: each seed once")
    return seeds


class TrialExecutor:
    """Runs :class:`TrialSpec` s with the chosen engine; see the module docstring."""

    def __init__(
        self,
        engine: str = "local",
        workers: int = 1,
        ray_address: str = "",
        cpus_per_trial: float = 1.0,
        gpus_per_trial: float = 0.0,
    ) -> None:
        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r}: expected one of {', '.join(ENGINES)}")
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        if cpus_per_trial <= 0:
            raise ValueError(f"cpus_per_trial must be positive, got {cpus_per_trial}")
        if gpus_per_trial < 0:
            raise ValueError(f"gpus_per_trial must be 0 or more, got {gpus_per_trial}")
        ray_address = (ray_address or "").strip()
        if ray_address and engine != "ray":
            raise ValueError(f"ray_address {ray_address!r} needs engine 'ray' (engine is {engine!r})")
        if ray_address and not _ADDRESS.match(ray_address):
            raise ValueError(f"ray_address {ray_address!r}: expected '' (start Ray here), 'auto'"
                             " (the cluster this machine belongs to), 'ray://HOST:PORT' or 'HOST:PORT'")
        if gpus_per_trial and engine != "ray":
            raise ValueError("gpus_per_trial needs engine 'ray' (the local pool does not share out"
                             " GPUs; use --gpu-id with one worker instead)")
        self.engine = engine
        self.workers = workers
        self.ray_address = ray_address
        self.cpus_per_trial = cpus_per_trial
        self.gpus_per_trial = gpus_per_trial
        if engine == "ray":
            import_ray()

    @property
    def threads(self) -> int:
        """BLAS / OpenMP threads of each trial's ``spacy train``."""
        return max(1, int(self.cpus_per_trial))

    @property
    def parallel(self) -> bool:
        """More than one trial may run at once (spaCy's tables are then not echoed)."""
        return self.engine == "ray" or self.workers > 1

    def describe(self) -> str:
        if self.engine == "local":
            return f"local, {self.workers} worker{'s' if self.workers > 1 else ''}"
        where = self.ray_address or f"started here with {self.workers} CPUs"
        return (f"ray ({where}), {self.cpus_per_trial:g} CPU"
                + (f" + {self.gpus_per_trial:g} GPU" if self.gpus_per_trial else "") + " per trial")

    def run(
        self,
        specs: Sequence[TrialSpec],
        on_result: Optional[Callable[[TrialOutcome], None]] = None,
        *,
        label: str = "trials",
        done_before: int = 0,
    ) -> List[TrialOutcome]:
        """Run ``specs``; ``on_result`` is called in this process as each one finishes (in
        completion order; in ``specs`` order with one local worker). Returns the outcomes in
        ``specs`` order. ``done_before``: trials already finished (``--resume``), for the
        progress line. Ctrl-C stops the running trials and raises ``KeyboardInterrupt``."""
        specs = list(specs)
        total = len(specs) + done_before
        start = time.perf_counter()
        outcomes: Dict[str, TrialOutcome] = {}

        sequential = self.engine == "local" and self.workers == 1

        def finished(outcome: TrialOutcome) -> None:
            outcomes[outcome.key] = outcome
            if on_result is not None:
                on_result(outcome)
            if not outcome.ok:
                msg.fail(f"{label}: {outcome.key} failed: {(outcome.error or '').splitlines()[0]}")
            if not sequential:
                state = "done" if outcome.ok else "FAILED"
                progress_line(done_before + len(outcomes), total, start,
                              f"{label} {outcome.key} {state}", done_before)

        if not specs:
            return []
        if sequential:
            for i, spec in enumerate(specs):
                progress_line(done_before + i, total, start, f"{label} {spec.key}", done_before)
                finished(run_trial(spec))
            progress_line(total, total, start, f"{label} done", done_before)
        else:
            progress_line(done_before, total, start, f"{label} ({self.describe()})", done_before)
            if self.engine == "local":
                self._run_pool(specs, finished)
            else:
                self._run_ray(specs, finished)
        return [outcomes[spec.key] for spec in specs]

    def _run_pool(self, specs: Sequence[TrialSpec], finished: Callable[[TrialOutcome], None]) -> None:
        from concurrent.futures import FIRST_COMPLETED, wait

        pool = process_pool(min(self.workers, len(specs)))
        futures = {pool.submit(run_trial, spec): spec for spec in specs}
        try:
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: specs.index(futures[f])):
                    spec = futures[future]
                    try:
                        outcome = future.result()
                    except Exception as err:  # noqa: BLE001 - a worker died
                        outcome = TrialOutcome.failed(spec, err)
                    finished(outcome)
        except BaseException:
            for future in futures:
                future.cancel()
            for proc in list(getattr(pool, "_processes", {}).values()):
                if proc.is_alive():
                    proc.terminate()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)

    def _run_ray(self, specs: Sequence[TrialSpec], finished: Callable[[TrialOutcome], None]) -> None:
        ray = import_ray()
        started = init_ray(self.ray_address, self.workers)
        remote = ray.remote(num_cpus=self.cpus_per_trial, num_gpus=self.gpus_per_trial,
                            max_retries=0)(run_trial)
        refs = {remote.remote(spec): spec for spec in specs}
        pending = list(refs)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                spec = refs[done[0]]
                try:
                    outcome = ray.get(done[0])
                except Exception as err:  # noqa: BLE001 - the task or its worker died
                    outcome = TrialOutcome.failed(spec, err)
                finished(outcome)
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
        finally:
            if started:
                ray.shutdown()


def process_pool(workers: int) -> "ProcessPoolExecutor":
    """The local engine's pool: ``workers`` fresh (spawned) processes that die with this one."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=die_with_driver, initargs=(os.getpid(),))


def die_with_driver(driver_pid: int) -> None:
    """Pool worker initializer (Linux): the worker is killed when the driver process that
    started it dies, however it dies (``kill``, ``SIGTERM``, out of memory), instead of going on
    with the trials already queued to it. Its ``spacy train`` dies with it in turn."""
    if sys.platform != "linux":
        return
    from .runner import die_with_parent

    die_with_parent()
    if os.getppid() != driver_pid:  # the driver died before the line above
        os._exit(1)


def init_ray(address: str, workers: int) -> bool:
    """Connect to Ray: join ``address`` or start Ray here with ``workers`` CPUs. Returns whether
    this call started the connection (then the caller shuts it down); an already initialised
    Ray (e.g. a test's) is reused as it is."""
    ray = import_ray()
    if ray.is_initialized():
        return False
    kwargs: Dict[str, Any] = dict(include_dashboard=False, log_to_driver=False,
                                  logging_level="warning")
    if address:
        ray.init(address=address, **kwargs)
    else:
        # Ray runs its workers at niceness 15 by default; a trial here runs at this process's
        # priority, as in the local pool
        ray.init(num_cpus=workers, _system_config={"worker_niceness": 0}, **kwargs)
    return True
