"""``python -m spacy_dice compare`` and ``sweep``: one config trained once per loss / per value
and seed.

The grids are :func:`spacy_dice.training.compare.compare` and
:func:`~spacy_dice.training.compare.sweep` (trials on
:class:`spacy_dice.training.executor.TrialExecutor`: one after another by default, spaCy's table
shown; ``--workers N`` at once, or on Ray; ``sweep --early-stop`` under Ray Tune's ASHA). They write
``<output>.md`` (a Markdown table, mean ± std over seeds), ``<output>.json`` (every run's result,
the rows' statistics, failed trials with their errors), both rewritten atomically after each
trial, and PNG plots next to them. This module parses the options, calls them and prints the
table, the files and the failures.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

import typer
from wasabi import msg

from ..training.compare import DEFAULT_LOSSES, DEFAULT_VALUES
from .app import app
from .flags import flag_message

FLAGS = {
    "losses": "--losses", "component": "--component", "seeds": "--seeds", "loss": "--loss",
    "param": "--param", "values": "--values", "resume": "--resume", "early_stop": "--early-stop",
    "max_steps": "--max-steps", "grace_steps": "--grace-steps", "reduction_factor": "--reduction-factor",
}

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


def _run(grid: Callable[..., Any], **kwargs: Any) -> None:
    """Call the library's ``compare`` or ``sweep`` and print what it did; its errors become the
    command's: bad arguments (naming the flag), no Ray (exit 1), Ctrl-C (exit 130), failed
    trials (exit 1, after the table)."""
    from ..training.compare import GridError, GridInterrupted
    from ..training.executor import RayUnavailable

    try:
        result = grid(**kwargs)
    except GridError as err:
        raise typer.BadParameter(flag_message(err.problem, FLAGS), param_hint=FLAGS.get(err.param or "")) from None
    except RayUnavailable as err:
        msg.fail(str(err), exits=1)
        raise  # not reached
    except GridInterrupted as err:
        msg.warn(f"Interrupted: {err.finished} of {err.total} trials finished"
                 + (f"; their results are in {err.results} (\"complete\": false)" if err.finished else "")
                 + "; rerun with --resume to skip them")
        raise typer.Exit(130) from None
    if result.plot_warning:
        msg.warn(result.plot_warning)
    print("\n".join(result.table))
    msg.good(f"Wrote {', '.join(map(str, [result.markdown, result.json, *result.plots]))}")
    failures = result.failures
    if failures:
        msg.fail(f"{len(failures)} trial(s) failed (errors recorded in the JSON output): "
                 + "; ".join(f"{o.key}: {(o.error or '?').splitlines()[0][:200]}" for o in failures),
                 exits=1)


@app.command("compare")
def compare_command(
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
    from ..training.compare import compare

    _run(compare, config_path=config_path, train=train, dev=dev, test=test, losses=losses,
         component=component, seeds=seeds, max_steps=max_steps, eval_frequency=eval_frequency,
         gpu_id=gpu_id, runs_dir=runs_dir, output=output, quiet=quiet, engine=engine,
         workers=workers, ray_address=ray_address, cpus_per_trial=cpus_per_trial,
         gpus_per_trial=gpus_per_trial, resume=resume)


@app.command("sweep")
def sweep_command(
    config_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="Training config (its loss block is replaced)."),
    train: Path = COMMON["train"],
    dev: Path = COMMON["dev"],
    test: Optional[Path] = COMMON["test"],
    loss: str = typer.Option("tversky", "--loss", help="Loss preset whose parameter is swept (tversky, dsc, ...)."),
    param: str = typer.Option("alpha", "--param", help="The preset key to vary (tversky: alpha; dsc: alpha)."),
    values: str = typer.Option(",".join(f"{v:g}" for v in DEFAULT_VALUES), "--values", help="Comma-separated values."),
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
    from ..training.compare import sweep

    _run(sweep, config_path=config_path, train=train, dev=dev, test=test, loss=loss, param=param,
         values=values, tie=tie, component=component, seeds=seeds, max_steps=max_steps,
         eval_frequency=eval_frequency, gpu_id=gpu_id, runs_dir=runs_dir, output=output,
         quiet=quiet, engine=engine, workers=workers, ray_address=ray_address,
         cpus_per_trial=cpus_per_trial, gpus_per_trial=gpus_per_trial, resume=resume,
         early_stop=early_stop, grace_steps=grace_steps, reduction_factor=reduction_factor)
