"""Grids of training runs: one config trained once per loss preset (:func:`compare`) or per value
of a loss parameter (:func:`sweep`), and per seed.

Each run (a *trial*) is ``spacy train`` through :func:`spacy_dice.training.runner.run_training`,
with the same step budget; the trials run on :class:`spacy_dice.training.executor.TrialExecutor`
(one after another by default, spaCy's table shown; ``workers`` at once, or on Ray). Only this
process writes the results: ``<output>.md`` (a Markdown table, mean ± std over seeds),
``<output>.json`` (every run's result, the rows' statistics, failed trials with their errors),
both rewritten atomically after each trial, and PNG plots next to them. ``sweep(early_stop=True)``
runs the trials under Ray Tune's ASHA (:mod:`spacy_dice.training.early_stop`).

The functions print the trials' progress as they finish (as ``spacy train`` does) and return a
:class:`GridResult` (the rows, the table, the files written); the command line
(``python -m spacy_dice compare`` / ``sweep``, :mod:`spacy_dice.cli.compare`) prints the table
and the failures. Bad arguments raise :class:`GridError`, which names the parameter.

>>> result = compare("configs/ner_cnn.cfg", train="corpus/train.spacy", dev="corpus/dev.spacy",
...                  losses="ce,dsc", seeds="0,1", max_steps=200, output="metrics/compare")
>>> print("\\n".join(result.table))
"""
from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from wasabi import msg

from ..evaluation.scores import (
    MISSING,
    Summary,
    gold_support,
    predict_examples,
    summarize_scores,
    tagger_attr,
    token_attr_prf,
)
from ..files import write_atomic
from ..formatting import percent
from .executor import RayUnavailable, TrialExecutor, TrialOutcome, TrialSpec, parse_seeds

PathLike = Union[str, Path]
DEFAULT_LOSSES = "ce,wce,focal,dl,dsc,tversky,combined"
DEFAULT_VALUES = (0.1, 0.3, 0.5, 0.7, 0.9)


class GridError(ValueError):
    """A grid that cannot run as asked: ``param`` is the parameter at fault (``None`` when the
    executor's settings as a whole are), ``problem`` what was wrong and what is allowed."""

    def __init__(self, param: Optional[str], problem: str) -> None:
        self.param = param
        self.problem = problem
        super().__init__(f"{param}: {problem}" if param else problem)


class GridInterrupted(KeyboardInterrupt):
    """Ctrl-C during a grid: ``finished`` of ``total`` trials were done, and their results are in
    ``results`` (``"complete": false``); rerunning with ``resume=True`` skips them."""

    def __init__(self, finished: int, total: int, results: Path) -> None:
        self.finished, self.total, self.results = finished, total, results
        super().__init__(f"interrupted: {finished} of {total} trials finished")


def _split_list(text: Union[str, Iterable[Any]]) -> List[str]:
    if isinstance(text, str):
        return [item.strip() for item in text.split(",") if item.strip()]
    return [str(item).strip() for item in text if str(item).strip()]


def _load_config(path: PathLike) -> Any:
    from thinc.api import Config

    return Config().from_disk(path, interpolate=False)


def _component(config: Any, component: Optional[str]) -> str:
    if component:
        if component not in config["components"]:
            raise GridError("component", f"no [components.{component}] in the config: it has"
                            f" {', '.join(config['components']) or 'none'}")
        return component
    with_loss = [name for name, section in config["components"].items() if "loss" in section]
    if len(with_loss) != 1:
        raise GridError(
            "component", f"cannot tell which component to train ({', '.join(with_loss) or 'none'} has a"
            " loss block): pass component=NAME",
        )
    return with_loss[0]


def _summary_of(result: Any, eval_path: Optional[Path], gpu_id: int) -> Summary:
    """Headline and per-label scores of a run; a tagger's per-label scores are computed here."""
    metrics = result.metrics or {}
    per_label = None
    if ("pos_acc" in metrics or "tag_acc" in metrics) and eval_path is not None:
        import spacy

        nlp = spacy.load(result.paths["model_best"])
        attr = tagger_attr(nlp) or ("pos" if "pos_acc" in metrics else "tag")
        per_label, support = token_attr_prf(predict_examples(nlp, eval_path), attr)
        summary = summarize_scores(metrics, per_label)
        summary.support = support
        return summary
    return summarize_scores(metrics, per_label)


def _pct(value: Optional[float]) -> str:
    return percent(value, missing=MISSING)


def mean_std(values: Sequence[Optional[float]]) -> Tuple[Optional[float], Optional[float]]:
    """(mean, sample standard deviation) of the known values; std is None for fewer than 2."""
    known = [v for v in values if v is not None]
    if not known:
        return None, None
    mean = statistics.fmean(known)
    return mean, statistics.stdev(known) if len(known) > 1 else None


def _cell(values: Sequence[Optional[float]]) -> str:
    """A score cell: the value (one seed) or ``mean ± std`` (several), in %."""
    mean, std = mean_std(values)
    if mean is None or std is None:
        return _pct(mean)
    return f"{_pct(mean)} ± {_pct(std)}"


@dataclass
class Row:
    """One loss (compare) or value (sweep): its finished, failed and stopped trials by seed."""

    name: str
    seeds: List[int]
    summaries: List[Summary] = field(default_factory=list)
    results: List[Any] = field(default_factory=list)
    done_seeds: List[int] = field(default_factory=list)
    failures: List[TrialOutcome] = field(default_factory=list)
    stopped: List[TrialOutcome] = field(default_factory=list)

    def metric(self, name: str) -> List[Optional[float]]:
        """The metric ``name`` of each finished seed."""
        return [dict(s.metrics).get(name) for s in self.summaries]

    def label_f(self, label: str) -> List[Optional[float]]:
        """The F1 of ``label`` of each finished seed."""
        return [s.per_label.get(label, {}).get("f") for s in self.summaries]

    def main(self) -> List[Optional[float]]:
        """The headline score of each finished seed."""
        return [s.main[1] for s in self.summaries]

    def best_dev(self) -> List[Optional[float]]:
        """The best dev score during training of each finished seed."""
        return [r.best_dev_score for r in self.results]

    def to_dict(self, metric_names: Sequence[str], labels: Sequence[str]) -> Dict[str, Any]:
        """JSON-ready: the mean, std and values of each metric, label F1 and best dev score."""
        def stats(values: Sequence[Optional[float]]) -> Dict[str, Any]:
            mean, std = mean_std(values)
            return {"mean": mean, "std": std, "values": list(values)}

        main_name = self.summaries[0].main[0] if self.summaries else None
        return {
            "name": self.name, "seeds": self.done_seeds, "n": len(self.summaries),
            "main": {"name": main_name, **stats(self.main())},
            "metrics": {m: stats(self.metric(m)) for m in metric_names},
            "per_label_f1": {label: stats(self.label_f(label)) for label in labels},
            "best_dev": stats(self.best_dev()),
            "failed_seeds": [o.seed for o in self.failures],
            "stopped": [{"seed": o.seed, "step": o.extra.get("steps"),
                         "best_dev": max((p[1] for p in o.extra.get("dev_curve") or []), default=None)}
                        for o in self.stopped],
        }


def _first_summary(rows: Sequence[Row]) -> Optional[Summary]:
    return next((row.summaries[0] for row in rows if row.summaries), None)


def results_table(rows: Sequence[Row], first_col: str) -> Tuple[List[str], List[str]]:
    """Markdown lines of the results table, and the label order used. One seed per row: the
    numbers as they are; several: ``mean ± std`` over seeds and a ``seeds`` column."""
    labels: List[str] = []
    for row in rows:
        for summary in row.summaries:
            labels.extend(label for label in summary.per_label if label not in labels)
    first = _first_summary(rows)
    metric_names = [name for name, _ in first.metrics] if first else []
    multi = any(len(row.seeds) > 1 for row in rows)
    header = [first_col, *(["seeds"] if multi else []), *metric_names,
              *[f"F1 {label}" for label in labels], "best dev", "best step", "train words/s"]
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for row in rows:
        cells = [row.name]
        if multi:
            seeds = ",".join(map(str, row.done_seeds)) or MISSING
            if row.failures:
                seeds += f" ({len(row.failures)} failed)"
            if row.stopped:
                seeds += f" ({len(row.stopped)} stopped)"
            cells.append(seeds)
        if not row.summaries:
            if row.stopped:
                steps = ", ".join(str(o.extra.get("steps")) for o in row.stopped)
                dev = max((p[1] for o in row.stopped for p in o.extra.get("dev_curve") or []), default=None)
                note = f"stopped early (step {steps}, best dev {_pct(dev)})"
            else:
                note = "failed: " + ((row.failures[0].error or "?").splitlines()[0][:80]
                                     if row.failures else "no result")
            lines.append("| " + " | ".join(cells + [note] + [MISSING] * (len(header) - len(cells) - 1)) + " |")
            continue
        cells += [_cell(row.metric(m)) for m in metric_names]
        cells += [_cell(row.label_f(label)) for label in labels]
        cells.append(_cell(row.best_dev()))
        steps = [str(r.best_step) for r in row.results if r.best_step is not None]
        cells.append(", ".join(steps) or MISSING)
        wps, _ = mean_std([r.train_words_per_s for r in row.results])
        cells.append(MISSING if wps is None else f"{wps:,.0f}")
        lines.append("| " + " | ".join(cells) + " |")
    return lines, labels


def write_results(
    output: Path,
    title: str,
    notes: List[str],
    table: List[str],
    rows: Sequence[Row],
    labels: Sequence[str],
    extra: Optional[Dict[str, Any]] = None,
    complete: bool = True,
) -> Path:
    """OUTPUT.md and OUTPUT.json, each written atomically (temporary file + rename); returns
    the Markdown's path."""
    md = output.with_suffix(".md")
    write_atomic(md, "\n".join([f"# {title}", "", *notes, "", *table]) + "\n")
    first = _first_summary(rows)
    metric_names = [name for name, _ in first.metrics] if first else []
    runs = []
    for row in rows:
        for result, summary, seed in zip(row.results, row.summaries, row.done_seeds):
            run = result.to_dict()
            run["trial"] = {"key": getattr(result, "_trial_key", None),
                            "fingerprint": getattr(result, "_fingerprint", None),
                            "summary": asdict(summary)}
            runs.append(run)
    payload = {"title": title, "notes": notes, **(extra or {}), "complete": complete,
               "rows": [row.to_dict(metric_names, labels) for row in rows],
               "runs": runs,
               "failures": [{"name": o.name, "seed": o.seed, "key": o.key, "error": o.error}
                            for row in rows for o in row.failures],
               "stopped": [{"name": o.name, "seed": o.seed, "key": o.key, **o.extra}
                           for row in rows for o in row.stopped]}
    write_atomic(output.with_suffix(".json"), json.dumps(payload, indent=2, default=str))
    return md


def support_note(eval_path: Optional[Path], summary: Summary) -> Optional[str]:
    """The gold support per label of the evaluation set, as a sentence for the notes."""
    if eval_path is None:
        return None
    support = summary.support
    if not support:
        attr = None
        if summary.task == "tagger":
            attr = "pos" if summary.metrics and summary.metrics[0][0].startswith("POS") else "tag"
        support = gold_support(eval_path, summary.task, attr)
    if not support:
        return None
    ordered = sorted(support.items(), key=lambda kv: -kv[1])
    return "Gold support in the evaluation set: " + ", ".join(f"{k} {v:,}" for k, v in ordered) + "."


def trial_summary(result: Any, spec: TrialSpec) -> Dict[str, Any]:
    """Runs in the trial's process (it may need the trained model): the run's :class:`Summary`."""
    eval_path = Path(spec.test_path or spec.dev_path)
    return {"summary": asdict(_summary_of(result, eval_path, spec.gpu_id))}


@dataclass
class GridOptions:
    """The executor options shared by :func:`compare` and :func:`sweep`."""

    engine: str
    workers: int
    ray_address: str
    cpus_per_trial: float
    gpus_per_trial: float
    resume: bool
    output: Path


def _executor(opts: GridOptions) -> TrialExecutor:
    """The executor; :class:`RayUnavailable` passes through, bad settings are a :class:`GridError`."""
    try:
        return TrialExecutor(opts.engine, opts.workers, opts.ray_address, opts.cpus_per_trial,
                             opts.gpus_per_trial)
    except RayUnavailable:
        raise
    except ValueError as err:
        raise GridError(None, str(err)) from None


def _seeds(seeds: Union[str, int, Iterable[int]]) -> List[int]:
    try:
        return parse_seeds(seeds)
    except ValueError as err:
        raise GridError("seeds", str(err)) from None


def trial_specs(
    jobs: Sequence[Tuple[str, Any]],
    seeds: Sequence[int],
    *,
    train: Path,
    dev: Path,
    test: Optional[Path],
    runs_dir: Path,
    component: str,
    max_steps: Optional[int],
    eval_frequency: Optional[int],
    gpu_id: int,
    quiet: bool,
    threads: int,
) -> List[TrialSpec]:
    """One trial per ``(name, config)`` job and seed, loss-major (every seed of the first loss
    first). With one seed, the run folder is RUNS_DIR/NAME; with several, RUNS_DIR/NAME-seedS."""
    specs = []
    for name, config in jobs:
        for seed in seeds:
            folder = name.replace("=", "_") + (f"-seed{seed}" if len(seeds) > 1 else "")
            specs.append(TrialSpec(
                key=name if len(seeds) == 1 else f"{name} seed {seed}", name=name, seed=seed,
                config=config.to_str(), run_dir=str((runs_dir / folder).resolve()),
                train_path=str(train.resolve()), dev_path=str(dev.resolve()),
                test_path=str(test.resolve()) if test else None, component=component,
                max_steps=max_steps, eval_frequency=eval_frequency, gpu_id=gpu_id,
                measure_speed=False, quiet=quiet, threads=threads,
                post=f"{__name__}:trial_summary",
            ))
    return specs


def previous_outcomes(output: Path) -> Dict[str, TrialOutcome]:
    """Finished trials of an earlier run with the same OUTPUT (by fingerprint), for ``resume``."""
    path = output.with_suffix(".json")
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf8"))
    except json.JSONDecodeError:
        msg.warn(f"--resume: {path} is not valid JSON; running every trial")
        return {}
    found = {}
    for run in data.get("runs", []):
        trial = run.pop("trial", None) or {}
        if trial.get("fingerprint") and trial.get("summary"):
            found[trial["fingerprint"]] = TrialOutcome(
                key=trial.get("key") or run["name"], name=run["name"], seed=run["seed"], ok=True,
                result=run, fingerprint=trial["fingerprint"], extra={"summary": trial["summary"]},
                resumed=True)
    return found


def rows_of(names: Sequence[str], seeds: Sequence[int], outcomes: Sequence[TrialOutcome]) -> List[Row]:
    """The outcomes gathered into one :class:`Row` per name (in ``names`` order)."""
    from .runner import RunResult

    rows = {name: Row(name, list(seeds)) for name in names}
    for outcome in outcomes:
        row = rows[outcome.name]
        if outcome.ok and outcome.result is not None:
            fields = RunResult.__dataclass_fields__
            result = RunResult(**{k: v for k, v in outcome.result.items() if k in fields})
            result.dev_curve = [tuple(p) for p in result.dev_curve]  # type: ignore[misc]
            result._trial_key = outcome.key  # type: ignore[attr-defined]
            result._fingerprint = outcome.fingerprint  # type: ignore[attr-defined]
            row.results.append(result)
            row.summaries.append(Summary.from_dict(outcome.extra["summary"]))
            row.done_seeds.append(outcome.seed)
        elif outcome.stopped:
            row.stopped.append(outcome)
        else:
            row.failures.append(outcome)
    return list(rows.values())


def run_grid(
    specs: Sequence[TrialSpec],
    names: Sequence[str],
    seeds: Sequence[int],
    opts: GridOptions,
    *,
    label: str,
    write: Callable[[List[Row], bool], Any],
) -> List[Row]:
    """Run the trials (skipping finished ones with ``resume``), calling ``write(rows, False)``
    after each; Ctrl-C raises :class:`GridInterrupted` with the outputs of the trials finished
    so far written. Returns the rows."""
    executor = _executor(opts)
    if executor.parallel:
        specs = [replace(spec, quiet=True) for spec in specs]
        msg.info(f"{label}: {executor.describe()}; spaCy's tables go to each run's train.log")
    previous = previous_outcomes(opts.output) if opts.resume else {}
    done: Dict[str, TrialOutcome] = {}
    todo = []
    for spec in specs:
        old = previous.get(spec.fingerprint())
        if old is not None:
            done[spec.key] = replace(old, key=spec.key)
        else:
            todo.append(spec)
    if done:
        msg.info(f"--resume: {len(done)} of {len(specs)} trials already finished: "
                 + ", ".join(done))

    def current() -> List[Row]:
        return rows_of(names, seeds, [done[s.key] for s in specs if s.key in done])

    def on_result(outcome: TrialOutcome) -> None:
        done[outcome.key] = outcome
        if outcome.ok:
            main = outcome.extra["summary"]["main"]
            msg.good(f"{outcome.key}: {main[0]} {_pct(main[1])} (dev curve:"
                     f" {len(outcome.result.get('dev_curve') or [])} points)")  # type: ignore[union-attr]
        write(current(), False)

    try:
        executor.run(todo, on_result, label=label, done_before=len(done))
    except KeyboardInterrupt:
        finished = sum(1 for s in specs if s.key in done)
        raise GridInterrupted(finished, len(specs), opts.output.with_suffix(".json")) from None
    return current()


def per_label_for_plot(rows: Sequence[Row]) -> Tuple[Dict[str, Dict[str, Optional[float]]],
                                                     Dict[str, Dict[str, Optional[float]]]]:
    """(mean, std) per run and label (the headline score first) for the bar plot."""
    means: Dict[str, Dict[str, Optional[float]]] = {}
    stds: Dict[str, Dict[str, Optional[float]]] = {}
    for row in rows:
        if not row.summaries:
            continue
        main_name = row.summaries[0].main[0]
        labels: List[str] = []
        for summary in row.summaries:
            labels.extend(label for label in summary.per_label if label not in labels)
        pairs = {f"all ({main_name})": mean_std(row.main())}
        pairs.update({label: mean_std(row.label_f(label)) for label in labels})
        means[row.name] = {k: v[0] for k, v in pairs.items()}
        stds[row.name] = {k: v[1] for k, v in pairs.items()}
    return means, stds


def mean_curves(rows: Sequence[Row]) -> Dict[str, List[Tuple[int, float]]]:
    """The dev curve of each row, averaged over its seeds at the steps they share."""
    curves: Dict[str, List[Tuple[int, float]]] = {}
    for row in rows:
        by_step: Dict[int, List[float]] = {}
        for result in row.results:
            for step, score in result.dev_curve:
                by_step.setdefault(int(step), []).append(float(score))
        n = len(row.results)
        curves[row.name] = [(st, statistics.fmean(v)) for st, v in sorted(by_step.items()) if len(v) == n]
    return curves


def sweep_series(rows: Sequence[Row], labels: Sequence[str]) -> Tuple[Dict[str, List[Optional[float]]],
                                                                      Dict[str, List[Optional[float]]]]:
    """The lines of the sweep plot (mean and std per row): the headline metric first, the other
    metrics, then ``F1 LABEL`` (the 8 most frequent labels when there are more)."""
    series: Dict[str, List[Optional[float]]] = {}
    errors: Dict[str, List[Optional[float]]] = {}
    first = _first_summary(rows)
    if first is None:
        return series, errors
    metric_names = [name for name, _ in first.metrics]
    main_name = first.main[0]
    head = [m for m in metric_names if m == main_name or m.startswith(main_name)][:1]
    metric_names = head + [m for m in metric_names if m not in head]  # main score first (thick)
    for metric in metric_names:
        stats = [mean_std(row.metric(metric)) for row in rows]
        series[metric], errors[metric] = [m for m, _ in stats], [e for _, e in stats]
    for label_name in labels:
        stats = [mean_std(row.label_f(label_name)) for row in rows]
        series[f"F1 {label_name}"], errors[f"F1 {label_name}"] = [m for m, _ in stats], [e for _, e in stats]
    if len(labels) > 8:  # many tags (POS): keep the plot readable with the 8 most frequent
        keep = set(list(labels)[:8])
        series = {k: v for k, v in series.items() if not k.startswith("F1 ") or k[3:] in keep}
    return series, errors


def _notes_common(seeds: Sequence[int], max_steps: Optional[int], gpu_id: int, executor_line: str) -> str:
    seed_text = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {', '.join(map(str, seeds))} (mean ± std over seeds)"
    return (f"{seed_text}, max_steps {max_steps if max_steps is not None else 'from config'},"
            f" gpu_id {gpu_id}; trials: {executor_line}; {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.")


@dataclass
class GridResult:
    """What :func:`compare` / :func:`sweep` did: one :class:`Row` per loss or value, the
    Markdown table (as printed), the files written, and ``plot_warning`` (why the PNG plots were
    skipped, e.g. no matplotlib; ``None`` when written or when no trial finished)."""

    rows: List[Row]
    table: List[str]
    labels: List[str]
    notes: List[str]
    markdown: Path
    json: Path
    plots: List[Path] = field(default_factory=list)
    plot_warning: Optional[str] = None

    @property
    def failures(self) -> List[TrialOutcome]:
        """The trials that failed (their errors are in the JSON too)."""
        return [o for row in self.rows for o in row.failures]


def _grid_options(output: PathLike, engine: str, workers: int, ray_address: str,
                  cpus_per_trial: float, gpus_per_trial: float, resume: bool) -> GridOptions:
    return GridOptions(engine, workers, ray_address, cpus_per_trial, gpus_per_trial, resume, Path(output))


def compare(
    config_path: PathLike,
    *,
    train: PathLike,
    dev: PathLike,
    test: Optional[PathLike] = None,
    losses: Union[str, Sequence[str]] = DEFAULT_LOSSES,
    component: Optional[str] = None,
    seeds: Union[str, int, Iterable[int]] = 0,
    max_steps: Optional[int] = None,
    eval_frequency: Optional[int] = None,
    gpu_id: int = -1,
    runs_dir: PathLike = "training/compare",
    output: PathLike = "metrics/compare",
    quiet: bool = False,
    engine: str = "local",
    workers: int = 1,
    ray_address: str = "",
    cpus_per_trial: float = 1.0,
    gpus_per_trial: float = 0.0,
    resume: bool = False,
) -> GridResult:
    """Train and evaluate the config at ``config_path`` once per loss preset of ``losses`` (names
    or a comma-separated string) and seed, with the same step budget, replacing the loss block of
    ``component`` (default: the one component with a loss block). Trains on ``train``, selects on
    ``dev``, evaluates on ``test`` (default: the best dev scores). Writes OUTPUT.md, OUTPUT.json
    and the plots OUTPUT_per_label_f1.png, OUTPUT_dev_curve.png; one run folder per loss (and
    seed) under ``runs_dir``. ``engine``, ``workers``, ``ray_address``, ``cpus_per_trial``,
    ``gpus_per_trial``: where the trials run (:class:`~.executor.TrialExecutor`); ``resume``:
    skip the trials already finished in OUTPUT.json.

    Returns a :class:`GridResult`. Raises :class:`GridError` for bad arguments,
    :class:`~.executor.RayUnavailable` for ``engine="ray"`` without Ray, and
    :class:`GridInterrupted` on Ctrl-C. A failing trial does not raise: it is in
    :attr:`GridResult.failures`.
    """
    from .config_rewrites import PRESETS, with_loss

    names = _split_list(losses)
    unknown = [n for n in names if n not in PRESETS]
    if not names or unknown:
        raise GridError(
            "losses", f"unknown loss preset(s) {', '.join(unknown) or '(none given)'}: expected some of"
            f" {', '.join(PRESETS)}",
        )
    seed_list = _seeds(seeds)
    opts = _grid_options(output, engine, workers, ray_address, cpus_per_trial, gpus_per_trial, resume)
    output = opts.output
    train, dev, runs_dir = Path(train), Path(dev), Path(runs_dir)
    test = Path(test) if test is not None else None
    executor = _executor(opts)
    config = _load_config(config_path)
    comp = _component(config, component)
    try:  # each preset in the form of the component's factory (softmax or sigmoid)
        jobs = [(name, with_loss(config, comp, name)) for name in names]
    except ValueError as err:
        raise GridError("losses", str(err)) from None
    specs = trial_specs(jobs, seed_list, train=train, dev=dev, test=test, runs_dir=runs_dir,
                        component=comp, max_steps=max_steps, eval_frequency=eval_frequency,
                        gpu_id=gpu_id, quiet=quiet, threads=executor.threads)
    eval_set = str(test) if test else f"{dev} (best dev scores)"
    notes = [
        f"Config `{config_path}`, component `{comp}`; trained on `{train}`, model selection on `{dev}`,"
        f" evaluated on `{eval_set}`; " + _notes_common(seed_list, max_steps, gpu_id, executor.describe()),
        "Scores in %; `best dev` is the best dev score during training (at `best step`); train words/s"
        " excludes evaluation time.",
    ]
    extra = {"losses": names, "component": comp, "seeds": seed_list, "engine": executor.describe()}

    def write(rows: List[Row], complete: bool) -> Path:
        table, labels = results_table(rows, "loss")
        done = sum(len(r.summaries) for r in rows)
        state = [] if complete else [f"Partial: {done} of {len(specs)} trials finished so far."]
        return write_results(output, "Loss comparison", notes + state, table, rows, labels, extra, complete)

    rows = run_grid(specs, names, seed_list, opts, label="compare", write=write)
    first = _first_summary(rows)
    if first is not None:
        note = support_note(test or dev, first)
        if note:
            notes.append(note)
    md = write(rows, True)
    table, labels = results_table(rows, "loss")
    result = GridResult(rows, table, labels, notes, md, md.with_suffix(".json"))
    if first is not None:
        from ..evaluation.plots import PlotsUnavailable, plot_dev_curves, plot_per_label_f1

        main_name = first.main[0]
        means, stds = per_label_for_plot(rows)
        try:
            result.plots = [Path(plot_per_label_f1(
                means, f"{output}_per_label_f1.png",
                title=f"F1 by label and loss ({Path(eval_set.split(' ')[0]).name})",
                errors=stds if len(seed_list) > 1 else None,
            )), Path(plot_dev_curves(
                mean_curves(rows), f"{output}_dev_curve.png",
                title="Dev score against training step"
                + (f" (mean of {len(seed_list)} seeds)" if len(seed_list) > 1 else ""),
                ylabel=f"dev {main_name} (%)",
            ))]
        except PlotsUnavailable as err:
            result.plot_warning = f"Skipped the PNG plots: {err}"
    return result


def sweep_params(loss: str, param: str, value: float, tie: bool) -> Tuple[str, Dict[str, float]]:
    """The row name and the preset overrides of one swept value: ``("alpha=0.3,beta=0.7",
    {"alpha": 0.3, "beta": 0.7})`` for Tversky with ``tie`` (beta = 1 - alpha)."""
    params = {param: value}
    name = f"{param}={value:g}"
    if tie and loss == "tversky" and param in ("alpha", "beta"):
        other = "beta" if param == "alpha" else "alpha"
        params[other] = round(1.0 - value, 6)
        name += f",{other}={params[other]:g}"
    return name, params


def _asha_rows(specs: Sequence[TrialSpec], names: Sequence[str], seeds: Sequence[int],
               opts: GridOptions, *, max_steps: Optional[int], grace_steps: Optional[int],
               reduction_factor: float, runs_dir: Path, label: str) -> Tuple[List[Row], Dict[str, Any]]:
    """``sweep(early_stop=True)``: the trials under Ray Tune's ASHA; rows and the compute saved."""
    from .early_stop import compute_saved, run_asha

    if opts.resume:
        raise GridError("resume", "resume=True does not combine with early_stop=True (ASHA's"
                        " decisions depend on every trial of the run): rerun the sweep")
    if not max_steps:
        raise GridError("max_steps", "early_stop=True needs max_steps=N (the budget ASHA's rungs divide)")
    eval_frequency = specs[0].eval_frequency
    grace = grace_steps or max(max_steps // 6, eval_frequency or 1)
    try:
        outcomes = run_asha(
            [replace(spec, quiet=True) for spec in specs], max_steps=max_steps, grace_steps=grace,
            reduction_factor=reduction_factor, ray_address=opts.ray_address, workers=opts.workers,
            cpus_per_trial=opts.cpus_per_trial, gpus_per_trial=opts.gpus_per_trial,
            storage_dir=runs_dir / "tune", label=label,
        )
    except RayUnavailable:
        raise
    except ValueError as err:
        raise GridError(None, str(err)) from None
    saved = compute_saved(outcomes, max_steps)
    saved.update(grace_steps=grace, reduction_factor=reduction_factor, max_steps=max_steps)
    return rows_of(names, seeds, outcomes), saved


def _numbers(values: Union[str, float, Iterable[float]]) -> List[float]:
    if isinstance(values, (int, float)):
        numbers = [float(values)]
    else:
        try:
            numbers = [float(v) for v in _split_list(values)]
        except ValueError:
            raise GridError("values", f"expected comma-separated numbers, found {values!r}") from None
    if not numbers:
        raise GridError("values", "no values given")
    return numbers


def sweep(
    config_path: PathLike,
    *,
    train: PathLike,
    dev: PathLike,
    test: Optional[PathLike] = None,
    loss: str = "tversky",
    param: str = "alpha",
    values: Union[str, float, Iterable[float]] = DEFAULT_VALUES,
    tie: bool = True,
    component: Optional[str] = None,
    seeds: Union[str, int, Iterable[int]] = 0,
    max_steps: Optional[int] = None,
    eval_frequency: Optional[int] = None,
    gpu_id: int = -1,
    runs_dir: PathLike = "training/sweep",
    output: PathLike = "metrics/sweep",
    quiet: bool = False,
    engine: str = "local",
    workers: int = 1,
    ray_address: str = "",
    cpus_per_trial: float = 1.0,
    gpus_per_trial: float = 0.0,
    resume: bool = False,
    early_stop: bool = False,
    grace_steps: Optional[int] = None,
    reduction_factor: float = 3.0,
) -> GridResult:
    """Train the config at ``config_path`` once per value of the loss preset ``loss``'s key
    ``param`` (``values``: numbers or a comma-separated string) and seed; with ``tie``, a Tversky
    alpha (beta) sweep sets the other to 1 - value. Writes OUTPUT.md, OUTPUT.json and the plots
    OUTPUT.png, OUTPUT_dev_curve.png. ``early_stop``: stop hopeless values early with Ray Tune's
    ASHA (needs Ray and ``max_steps``; every trial trains ``grace_steps`` first, default
    max_steps / 6; ASHA keeps the top 1 / ``reduction_factor`` at each rung). The other
    arguments are :func:`compare`'s.

    Returns a :class:`GridResult`; raises :class:`GridError`, :class:`~.executor.RayUnavailable`
    and :class:`GridInterrupted` as :func:`compare` does.
    """
    from .config_rewrites import component_activation, loss_block, with_loss

    config = _load_config(config_path)
    comp = _component(config, component)
    activation = component_activation(config, comp)
    try:  # the preset in the form of the component's factory (softmax or sigmoid)
        block = loss_block(loss, activation)
    except ValueError as err:
        raise GridError("loss", str(err)) from None
    if param not in block:
        raise GridError(
            "param", f"the {loss} preset ({activation} form) has no {param!r}: it has"
            f" {', '.join(k for k in block if not k.startswith('@'))}",
        )
    numbers = _numbers(values)
    seed_list = _seeds(seeds)
    if early_stop and engine != "ray":
        engine = "ray"  # ASHA runs on Ray Tune; workers / ray_address say where
    opts = _grid_options(output, engine, workers, ray_address, cpus_per_trial, gpus_per_trial, resume)
    output = opts.output
    train, dev, runs_dir = Path(train), Path(dev), Path(runs_dir)
    test = Path(test) if test is not None else None
    executor = _executor(opts)
    jobs = []
    for value in numbers:
        name, params = sweep_params(loss, param, value, tie)
        jobs.append((name, with_loss(config, comp, loss, **params)))
    names = [name for name, _ in jobs]
    specs = trial_specs(jobs, seed_list, train=train, dev=dev, test=test, runs_dir=runs_dir,
                        component=comp, max_steps=max_steps, eval_frequency=eval_frequency,
                        gpu_id=gpu_id, quiet=quiet, threads=executor.threads)
    eval_set = str(test) if test else f"{dev} (best dev scores)"
    tied = " (beta = 1 - alpha)" if tie and loss == "tversky" and param in ("alpha", "beta") else ""
    describe = executor.describe() + (", ASHA early stopping" if early_stop else "")
    notes = [
        f"Sweep of `{loss}` `{param}`{tied} over {', '.join(f'{v:g}' for v in numbers)}. Config `{config_path}`,"
        f" component `{comp}`; trained on `{train}`, model selection on `{dev}`, evaluated on `{eval_set}`; "
        + _notes_common(seed_list, max_steps, gpu_id, describe),
        "Scores in %; train words/s excludes evaluation time.",
    ]
    extra: Dict[str, Any] = {"loss": loss, "param": param, "values": numbers, "tie": tie,
                             "component": comp, "seeds": seed_list, "engine": describe}
    label = f"sweep {loss}.{param}"

    def write(rows: List[Row], complete: bool) -> Path:
        table, labels = results_table(rows, f"{loss} {param}")
        done = sum(len(r.summaries) for r in rows)
        state = [] if complete else [f"Partial: {done} of {len(specs)} trials finished so far."]
        return write_results(output, f"Sweep: {loss} {param}", notes + state, table, rows, labels,
                             extra, complete)

    if early_stop:
        rows, saved = _asha_rows(specs, names, seed_list, opts, max_steps=max_steps,
                                 grace_steps=grace_steps, reduction_factor=reduction_factor,
                                 runs_dir=runs_dir, label=label)
        finished = [row for row in rows if row.summaries]
        picked = max(finished, key=lambda r: mean_std(r.best_dev())[0] or 0.0).name if finished else None
        saved["picked"] = picked
        extra["early_stop"] = saved
        notes.append(
            f"ASHA early stopping (grace {saved['grace_steps']} steps, reduction factor"
            f" {reduction_factor:g}): {len(saved['stopped'])} of {len(specs)} trials stopped early;"
            f" {saved['steps_run']:,} of {saved['steps_full']:,} training steps run"
            f" ({percent(saved['saved_fraction'], 0)}% saved); best on dev: {picked}.")
    else:
        rows = run_grid(specs, names, seed_list, opts, label=label, write=write)
    first = _first_summary(rows)
    if first is not None:
        note = support_note(test or dev, first)
        if note:
            notes.append(note)
    md = write(rows, True)
    table, labels = results_table(rows, f"{loss} {param}")
    result = GridResult(rows, table, labels, notes, md, md.with_suffix(".json"))
    if first is not None:
        from ..evaluation.plots import PlotsUnavailable, plot_dev_curves, plot_sweep

        series, errors = sweep_series(rows, labels)
        xlabel = f"{loss} {param}" + (f" ({'beta' if param == 'alpha' else 'alpha'} = 1 - {param})" if tied else "")
        try:
            result.plots = [Path(plot_sweep(
                numbers, series, f"{output}.png", xlabel=xlabel,
                title=f"{loss} {param} sweep ({Path(eval_set.split(' ')[0]).name})",
                dashed=[k for k in series if k.startswith("F1 ")],
                errors=errors if len(seed_list) > 1 else None,
            )), Path(plot_dev_curves(
                mean_curves(rows), f"{output}_dev_curve.png",
                title=f"Dev score against training step ({loss} {param})", legend_title=param,
            ))]
        except PlotsUnavailable as err:
            result.plot_warning = f"Skipped the PNG plots: {err}"
    return result
