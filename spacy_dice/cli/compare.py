"""``python -m spacy_dice compare`` and ``sweep``: one config trained once per loss / per value
and seed.

Each run (a *trial*) is ``spacy train`` through
:func:`spacy_dice.training.runner.run_training`, with the same step budget; the trials run on
:class:`spacy_dice.training.executor.TrialExecutor` (one after another by default, spaCy's
table shown; ``--workers N`` at once, or on Ray). Only this process writes the results:
``<output>.md`` (a Markdown table, mean ± std over seeds), ``<output>.json`` (every run's result,
the rows' statistics, failed trials with their errors), both rewritten atomically after each
trial, and PNG plots next to them. ``sweep --early-stop`` runs the trials under Ray Tune's ASHA
(:mod:`spacy_dice.training.early_stop`).
"""
from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import typer
from wasabi import msg

from ..training.executor import (
    RayUnavailable,
    TrialExecutor,
    TrialOutcome,
    TrialSpec,
    parse_seeds,
    write_atomic,
)
from .app import app
from .evaluate import (
    Summary,
    gold_support,
    predict_examples,
    summarize,
    tagger_attr,
    token_attr_prf,
)

DEFAULT_LOSSES = "ce,wce,focal,dl,dsc,tversky,combined"


def _split_list(text: str) -> List[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _load_config(path: Path):
    from thinc.api import Config

    return Config().from_disk(path, interpolate=False)


def _component(config, component: Optional[str]) -> str:
    if component:
        return component
    with_loss = [name for name, section in config["components"].items() if "loss" in section]
    if len(with_loss) != 1:
        raise typer.BadParameter(
            f"cannot tell which component to train ({', '.join(with_loss) or 'none'} has a loss"
            " block): pass --component", param_hint="--component",
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
        summary = summarize(metrics, per_label)
        summary.support = support
        return summary
    return summarize(metrics, per_label)


def _pct(value: Optional[float]) -> str:
    return "–" if value is None else f"{100 * value:.2f}"


def _mean_std(values: Sequence[Optional[float]]) -> Tuple[Optional[float], Optional[float]]:
    """(mean, sample standard deviation) of the known values; std is None for fewer than 2."""
    known = [v for v in values if v is not None]
    if not known:
        return None, None
    mean = statistics.fmean(known)
    return mean, statistics.stdev(known) if len(known) > 1 else None


def _cell(values: Sequence[Optional[float]]) -> str:
    """A score cell: the value (one seed) or ``mean ± std`` (several), in %."""
    mean, std = _mean_std(values)
    if mean is None or std is None:
        return _pct(mean)
    return f"{100 * mean:.2f} ± {100 * std:.2f}"


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
        return [dict(s.metrics).get(name) for s in self.summaries]

    def label_f(self, label: str) -> List[Optional[float]]:
        return [s.per_label.get(label, {}).get("f") for s in self.summaries]

    def main(self) -> List[Optional[float]]:
        return [s.main[1] for s in self.summaries]

    def best_dev(self) -> List[Optional[float]]:
        return [r.best_dev_score for r in self.results]

    def to_dict(self, metric_names: Sequence[str], labels: Sequence[str]) -> Dict[str, Any]:
        def stats(values: Sequence[Optional[float]]) -> Dict[str, Any]:
            mean, std = _mean_std(values)
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


def _table(rows: Sequence[Row], first_col: str) -> Tuple[List[str], List[str]]:
    """Markdown lines of the results table, and the label order used. One seed per row: the
    numbers as they are; several: ``mean ± std`` over seeds and a ``seeds`` column."""
    labels: List[str] = []
    for row in rows:
        for summary in row.summaries:
            labels.extend(label for label in summary.per_label if label not in labels)
    first = next((row.summaries[0] for row in rows if row.summaries), None)
    metric_names = [name for name, _ in first.metrics] if first else []
    multi = any(len(row.seeds) > 1 for row in rows)
    header = [first_col, *(["seeds"] if multi else []), *metric_names,
              *[f"F1 {label}" for label in labels], "best dev", "best step", "train words/s"]
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for row in rows:
        cells = [row.name]
        if multi:
            seeds = ",".join(map(str, row.done_seeds)) or "–"
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
            lines.append("| " + " | ".join(cells + [note] + ["–"] * (len(header) - len(cells) - 1)) + " |")
            continue
        cells += [_cell(row.metric(m)) for m in metric_names]
        cells += [_cell(row.label_f(label)) for label in labels]
        cells.append(_cell(row.best_dev()))
        steps = [str(r.best_step) for r in row.results if r.best_step is not None]
        cells.append(", ".join(steps) or "–")
        wps, _ = _mean_std([r.train_words_per_s for r in row.results])
        cells.append("–" if wps is None else f"{wps:,.0f}")
        lines.append("| " + " | ".join(cells) + " |")
    return lines, labels


def _write_outputs(
    output: Path,
    title: str,
    notes: List[str],
    table: List[str],
    rows: Sequence[Row],
    labels: Sequence[str],
    extra: Optional[Dict[str, Any]] = None,
    complete: bool = True,
) -> Path:
    """OUTPUT.md and OUTPUT.json, each written atomically (temporary file + rename)."""
    md = output.with_suffix(".md")
    write_atomic(md, "\n".join([f"# {title}", "", *notes, "", *table]) + "\n")
    first = next((row.summaries[0] for row in rows if row.summaries), None)
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


def _support_note(eval_path: Optional[Path], summary: Summary) -> Optional[str]:
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


def _summary_from(data: Dict[str, Any]) -> Summary:
    return Summary(task=data["task"], metrics=[tuple(m) for m in data["metrics"]],  # type: ignore[misc]
                   main=tuple(data["main"]), per_label=data["per_label"],  # type: ignore[arg-type]
                   support=data.get("support") or {})


@dataclass
class GridOptions:
    """The executor options shared by ``compare`` and ``sweep``."""

    engine: str
    workers: int
    ray_address: str
    cpus_per_trial: float
    gpus_per_trial: float
    resume: bool
    output: Path


def _executor(opts: GridOptions) -> TrialExecutor:
    try:
        return TrialExecutor(opts.engine, opts.workers, opts.ray_address, opts.cpus_per_trial,
                             opts.gpus_per_trial)
    except RayUnavailable as err:
        msg.fail(str(err), exits=1)
        raise  # not reached
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None


def _seeds(text: str) -> List[int]:
    try:
        return parse_seeds(text)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--seeds") from None


def _specs(
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
    """One trial per job and seed, loss-major (every seed of the first loss first). With one
    seed, the run folder is RUNS_DIR/NAME as before; with several, RUNS_DIR/NAME-seedS."""
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
                post="spacy_dice.cli.compare:trial_summary",
            ))
    return specs


def _previous_outcomes(output: Path) -> Dict[str, TrialOutcome]:
    """Finished trials of an earlier run with the same OUTPUT (by fingerprint), for --resume."""
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


def _rows(names: Sequence[str], seeds: Sequence[int], outcomes: Sequence[TrialOutcome]) -> List[Row]:
    from ..training.runner import RunResult

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
            row.summaries.append(_summary_from(outcome.extra["summary"]))
            row.done_seeds.append(outcome.seed)
        elif outcome.stopped:
            row.stopped.append(outcome)
        else:
            row.failures.append(outcome)
    return list(rows.values())


def _run_grid(
    specs: Sequence[TrialSpec],
    names: Sequence[str],
    seeds: Sequence[int],
    opts: GridOptions,
    *,
    label: str,
    write: Callable[[List[Row], bool], None],
) -> List[Row]:
    """Run the trials (skipping finished ones with --resume), rewriting the outputs (atomically)
    after each; Ctrl-C leaves the outputs of the trials finished so far."""
    executor = _executor(opts)
    if executor.parallel:
        specs = [replace(spec, quiet=True) for spec in specs]
        msg.info(f"{label}: {executor.describe()}; spaCy's tables go to each run's train.log")
    previous = _previous_outcomes(opts.output) if opts.resume else {}
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
        return _rows(names, seeds, [done[s.key] for s in specs if s.key in done])

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
        out = opts.output.with_suffix(".json")
        msg.warn(f"Interrupted: {finished} of {len(specs)} trials finished"
                 + (f"; their results are in {out} (\"complete\": false)" if finished else "")
                 + "; rerun with --resume to skip them")
        raise typer.Exit(130) from None
    return current()


def _report_failures(rows: Sequence[Row]) -> None:
    failures = [o for row in rows for o in row.failures]
    if failures:
        msg.fail(f"{len(failures)} trial(s) failed (errors recorded in the JSON output): "
                 + "; ".join(f"{o.key}: {(o.error or '?').splitlines()[0][:200]}" for o in failures),
                 exits=1)


def _per_label_for_plot(rows: Sequence[Row]) -> Tuple[Dict[str, Dict[str, Optional[float]]],
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
        pairs = {f"all ({main_name})": _mean_std(row.main())}
        pairs.update({label: _mean_std(row.label_f(label)) for label in labels})
        means[row.name] = {k: v[0] for k, v in pairs.items()}
        stds[row.name] = {k: v[1] for k, v in pairs.items()}
    return means, stds


def _mean_curves(rows: Sequence[Row]) -> Dict[str, List[Tuple[int, float]]]:
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


COMMON = dict(
    train=typer.Option(..., "--train", exists=True, dir_okay=False, help="Training .spacy file."),
    dev=typer.Option(..., "--dev", exists=True, dir_okay=False, help="Dev .spacy file (model selection, dev curve)."),
    test=typer.Option(None, "--test", exists=True, dir_okay=False, help="Evaluation .spacy file (default: the best dev scores)."),
    seeds=typer.Option("0", "--seeds", "--seed", help="Comma-separated seeds: every loss / value is trained once per seed; several seeds give mean ± std per row."),
    engine=typer.Option("local", "--engine", help="Where the trials run: local (this machine, --workers processes) or ray (needs spacy-dice[distributed])."),
    workers=typer.Option(1, "--workers", min=1, help="Trials at once (local: processes; ray without --ray-address: CPUs of the Ray started here). 1: one after another, as before."),
    ray_address=typer.Option("", "--ray-address", help="--engine ray: empty = start Ray on this machine; 'auto' or 'ray://HOST:PORT' = join a running cluster."),
    cpus_per_trial=typer.Option(1.0, "--cpus-per-trial", min=0.01, help="CPUs reserved per trial; its spacy train runs with that many BLAS/OpenMP threads (at least 1)."),
    gpus_per_trial=typer.Option(0.0, "--gpus-per-trial", min=0.0, help="--engine ray: GPUs per trial (use with --gpu-id 0)."),
    resume=typer.Option(False, "--resume", help="Skip trials whose finished results (same config, data, seed, budget) are already in OUTPUT.json."),
)


def _notes_common(seeds: Sequence[int], max_steps: Optional[int], gpu_id: int, executor_line: str) -> str:
    seed_text = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {', '.join(map(str, seeds))} (mean ± std over seeds)"
    return (f"{seed_text}, max_steps {max_steps if max_steps is not None else 'from config'},"
            f" gpu_id {gpu_id}; trials: {executor_line}; {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.")


@app.command("compare")
def compare(
    config_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="Training config (its loss block is replaced)."),
    train: Path = COMMON["train"],
    dev: Path = COMMON["dev"],
    test: Optional[Path] = COMMON["test"],
    losses: str = typer.Option(DEFAULT_LOSSES, "--losses", help="Comma-separated loss presets."),
    component: Optional[str] = typer.Option(None, "--component", help="Component whose loss changes (default: the one with a loss block)."),
    seeds: str = COMMON["seeds"],
    max_steps: Optional[int] = typer.Option(None, "--max-steps", min=0, help="Training steps per run (default: the config's)."),
    eval_frequency: Optional[int] = typer.Option(None, "--eval-frequency", min=1),
    gpu_id: int = typer.Option(-1, "--gpu-id", help="GPU for training and evaluation (-1: CPU)."),
    runs_dir: Path = typer.Option(Path("training/compare"), "--runs-dir", help="One sub-folder per loss (and seed)."),
    output: Path = typer.Option(Path("metrics/compare"), "--output", "-o", help="Prefix: OUTPUT.md, OUTPUT.json, OUTPUT_*.png."),
    quiet: bool = typer.Option(False, "--quiet", help="Do not echo spaCy's training output."),
    engine: str = COMMON["engine"],
    workers: int = COMMON["workers"],
    ray_address: str = COMMON["ray_address"],
    cpus_per_trial: float = COMMON["cpus_per_trial"],
    gpus_per_trial: float = COMMON["gpus_per_trial"],
    resume: bool = COMMON["resume"],
) -> None:
    """Train and evaluate one config once per loss preset and seed (same step budget)."""
    from ..evaluation.plots import PlotsUnavailable, plot_dev_curves, plot_per_label_f1
    from ..training.config_rewrites import PRESETS, with_loss

    names = _split_list(losses)
    unknown = [n for n in names if n not in PRESETS]
    if not names or unknown:
        raise typer.BadParameter(
            f"unknown loss preset(s) {', '.join(unknown) or '(none given)'}: expected some of {', '.join(PRESETS)}",
            param_hint="--losses",
        )
    seed_list = _seeds(seeds)
    opts = GridOptions(engine, workers, ray_address, cpus_per_trial, gpus_per_trial, resume, output)
    executor = _executor(opts)
    config = _load_config(config_path)
    comp = _component(config, component)
    try:  # each preset in the form of the component's factory (softmax or sigmoid)
        jobs = [(name, with_loss(config, comp, name)) for name in names]
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--losses") from None
    specs = _specs(jobs, seed_list, train=train, dev=dev, test=test, runs_dir=runs_dir,
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
        table, labels = _table(rows, "loss")
        done = sum(len(r.summaries) for r in rows)
        state = [] if complete else [f"Partial: {done} of {len(specs)} trials finished so far."]
        return _write_outputs(output, "Loss comparison", notes + state, table, rows, labels, extra, complete)

    rows = _run_grid(specs, names, seed_list, opts, label="compare", write=write)
    first = next((row.summaries[0] for row in rows if row.summaries), None)
    if first is not None:
        note = _support_note(test or dev, first)
        if note:
            notes.append(note)
    md = write(rows, True)
    table, _ = _table(rows, "loss")
    pngs = []
    if first is not None:
        main_name = first.main[0]
        means, stds = _per_label_for_plot(rows)
        try:
            pngs = [plot_per_label_f1(
                means, f"{output}_per_label_f1.png",
                title=f"F1 by label and loss ({Path(eval_set.split(' ')[0]).name})",
                errors=stds if len(seed_list) > 1 else None,
            ), plot_dev_curves(
                _mean_curves(rows), f"{output}_dev_curve.png",
                title="Dev score against training step"
                + (f" (mean of {len(seed_list)} seeds)" if len(seed_list) > 1 else ""),
                ylabel=f"dev {main_name} (%)",
            )]
        except PlotsUnavailable as err:
            msg.warn(f"Skipped the PNG plots: {err}")
    print("\n".join(table))
    msg.good(f"Wrote {', '.join(map(str, [md, md.with_suffix('.json'), *pngs]))}")
    _report_failures(rows)


def _sweep_params(loss: str, param: str, value: float, tie: bool) -> Tuple[str, Dict[str, float]]:
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
    """``sweep --early-stop``: the trials under Ray Tune's ASHA; rows and the compute saved."""
    from ..training.early_stop import compute_saved, run_asha
    from ..training.executor import RayUnavailable as _RayUnavailable

    if opts.resume:
        raise typer.BadParameter("--resume does not combine with --early-stop (ASHA's decisions"
                                 " depend on every trial of the run): rerun the sweep", param_hint="--resume")
    if not max_steps:
        raise typer.BadParameter("--early-stop needs --max-steps (the budget ASHA's rungs divide)",
                                 param_hint="--max-steps")
    eval_frequency = specs[0].eval_frequency
    grace = grace_steps or max(max_steps // 6, eval_frequency or 1)
    try:
        outcomes = run_asha(
            [replace(spec, quiet=True) for spec in specs], max_steps=max_steps, grace_steps=grace,
            reduction_factor=reduction_factor, ray_address=opts.ray_address, workers=opts.workers,
            cpus_per_trial=opts.cpus_per_trial, gpus_per_trial=opts.gpus_per_trial,
            storage_dir=runs_dir / "tune", label=label,
        )
    except _RayUnavailable as err:
        msg.fail(str(err), exits=1)
        raise
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None
    saved = compute_saved(outcomes, max_steps)
    saved.update(grace_steps=grace, reduction_factor=reduction_factor, max_steps=max_steps)
    return _rows(names, seeds, outcomes), saved


@app.command("sweep")
def sweep(
    config_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="Training config (its loss block is replaced)."),
    train: Path = COMMON["train"],
    dev: Path = COMMON["dev"],
    test: Optional[Path] = COMMON["test"],
    loss: str = typer.Option("tversky", "--loss", help="Loss preset whose parameter is swept (tversky, dsc, ...)."),
    param: str = typer.Option("alpha", "--param", help="The preset key to vary (tversky: alpha; dsc: alpha)."),
    values: str = typer.Option("0.1,0.3,0.5,0.7,0.9", "--values", help="Comma-separated values."),
    tie: bool = typer.Option(True, "--tie/--no-tie", help="Tversky: set the other of alpha/beta to 1 - value."),
    component: Optional[str] = typer.Option(None, "--component"),
    seeds: str = COMMON["seeds"],
    max_steps: Optional[int] = typer.Option(None, "--max-steps", min=0),
    eval_frequency: Optional[int] = typer.Option(None, "--eval-frequency", min=1),
    gpu_id: int = typer.Option(-1, "--gpu-id"),
    runs_dir: Path = typer.Option(Path("training/sweep"), "--runs-dir"),
    output: Path = typer.Option(Path("metrics/sweep"), "--output", "-o", help="Prefix: OUTPUT.md, OUTPUT.json, OUTPUT.png, OUTPUT_dev_curve.png."),
    quiet: bool = typer.Option(False, "--quiet"),
    engine: str = COMMON["engine"],
    workers: int = COMMON["workers"],
    ray_address: str = COMMON["ray_address"],
    cpus_per_trial: float = COMMON["cpus_per_trial"],
    gpus_per_trial: float = COMMON["gpus_per_trial"],
    resume: bool = COMMON["resume"],
    early_stop: bool = typer.Option(False, "--early-stop", help="Stop hopeless values early: Ray Tune's ASHA on the dev curve (needs spacy-dice[distributed] and --max-steps)."),
    grace_steps: Optional[int] = typer.Option(None, "--grace-steps", min=1, help="--early-stop: steps every trial trains before ASHA may stop it (default: max_steps / 6, at least one evaluation)."),
    reduction_factor: float = typer.Option(3.0, "--reduction-factor", min=1.01, help="--early-stop: ASHA keeps the top 1/F of the trials at each rung (grace, grace*F, ...)."),
) -> None:
    """Train one config once per value of a loss parameter and seed (e.g. Tversky alpha, beta = 1 - alpha)."""
    from ..evaluation.plots import PlotsUnavailable, plot_dev_curves, plot_sweep
    from ..training.config_rewrites import component_activation, loss_block, with_loss

    config = _load_config(config_path)
    comp = _component(config, component)
    activation = component_activation(config, comp)
    try:  # the preset in the form of the component's factory (softmax or sigmoid)
        block = loss_block(loss, activation)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--loss") from None
    if param not in block:
        raise typer.BadParameter(
            f"the {loss} preset ({activation} form) has no {param!r}: it has {', '.join(k for k in block if not k.startswith('@'))}",
            param_hint="--param",
        )
    try:
        numbers = [float(v) for v in _split_list(values)]
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated numbers, found {values!r}", param_hint="--values") from None
    if not numbers:
        raise typer.BadParameter("no values given", param_hint="--values")
    seed_list = _seeds(seeds)
    if early_stop and engine != "ray":
        engine = "ray"  # ASHA runs on Ray Tune; --workers / --ray-address say where
    opts = GridOptions(engine, workers, ray_address, cpus_per_trial, gpus_per_trial, resume, output)
    executor = _executor(opts)
    jobs = []
    for value in numbers:
        name, params = _sweep_params(loss, param, value, tie)
        jobs.append((name, with_loss(config, comp, loss, **params)))
    names = [name for name, _ in jobs]
    specs = _specs(jobs, seed_list, train=train, dev=dev, test=test, runs_dir=runs_dir,
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
        table, labels = _table(rows, f"{loss} {param}")
        done = sum(len(r.summaries) for r in rows)
        state = [] if complete else [f"Partial: {done} of {len(specs)} trials finished so far."]
        return _write_outputs(output, f"Sweep: {loss} {param}", notes + state, table, rows, labels,
                              extra, complete)

    if early_stop:
        rows, saved = _asha_rows(specs, names, seed_list, opts, max_steps=max_steps,
                                 grace_steps=grace_steps, reduction_factor=reduction_factor,
                                 runs_dir=runs_dir, label=label)
        finished = [row for row in rows if row.summaries]
        picked = max(finished, key=lambda r: _mean_std(r.best_dev())[0] or 0.0).name if finished else None
        saved["picked"] = picked
        extra["early_stop"] = saved
        notes.append(
            f"ASHA early stopping (grace {saved['grace_steps']} steps, reduction factor"
            f" {reduction_factor:g}): {len(saved['stopped'])} of {len(specs)} trials stopped early;"
            f" {saved['steps_run']:,} of {saved['steps_full']:,} training steps run"
            f" ({100 * saved['saved_fraction']:.0f}% saved); best on dev: {picked}.")
    else:
        rows = _run_grid(specs, names, seed_list, opts, label=label, write=write)
    first = next((row.summaries[0] for row in rows if row.summaries), None)
    if first is not None:
        note = _support_note(test or dev, first)
        if note:
            notes.append(note)
    md = write(rows, True)
    table, labels = _table(rows, f"{loss} {param}")
    pngs = []
    if first is not None:
        series: Dict[str, List[Optional[float]]] = {}
        errors: Dict[str, List[Optional[float]]] = {}
        metric_names = [name for name, _ in first.metrics]
        main_name = first.main[0]
        head = [m for m in metric_names if m == main_name or m.startswith(main_name)][:1]
        metric_names = head + [m for m in metric_names if m not in head]  # main score first (thick)
        for metric in metric_names:
            stats = [_mean_std(row.metric(metric)) for row in rows]
            series[metric], errors[metric] = [m for m, _ in stats], [e for _, e in stats]
        for label_name in labels:
            stats = [_mean_std(row.label_f(label_name)) for row in rows]
            series[f"F1 {label_name}"], errors[f"F1 {label_name}"] = [m for m, _ in stats], [e for _, e in stats]
        if len(labels) > 8:  # many tags (POS): keep the plot readable with the 8 most frequent
            keep = set(list(labels)[:8])
            series = {k: v for k, v in series.items() if not k.startswith("F1 ") or k[3:] in keep}
        xlabel = f"{loss} {param}" + (f" ({'beta' if param == 'alpha' else 'alpha'} = 1 - {param})" if tied else "")
        try:
            pngs = [plot_sweep(numbers, series, f"{output}.png", xlabel=xlabel,
                               title=f"{loss} {param} sweep ({Path(eval_set.split(' ')[0]).name})",
                               dashed=[k for k in series if k.startswith("F1 ")],
                               errors=errors if len(seed_list) > 1 else None), plot_dev_curves(
                _mean_curves(rows), f"{output}_dev_curve.png",
                title=f"Dev score against training step ({loss} {param})", legend_title=param,
            )]
        except PlotsUnavailable as err:
            msg.warn(f"Skipped the PNG plots: {err}")
    print("\n".join(table))
    msg.good(f"Wrote {', '.join(map(str, [md, md.with_suffix('.json'), *pngs]))}")
    _report_failures(rows)
