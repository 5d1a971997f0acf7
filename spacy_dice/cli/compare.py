"""``python -m spacy_dice compare`` and ``sweep``: one config trained once per loss / per value.

Each run is ``spacy train`` (spaCy prints its own table) through
:func:`spacy_dice.experiments.runner.run_training`, with the same seed and step budget; the
results go to ``<output>.md`` (a Markdown table), ``<output>.json`` (every run's result) and
PNG plots next to them.
"""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import typer
from wasabi import msg

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


def _progress(done: int, total: int, start: float, label: str) -> None:
    """One progress line over the runs (tqdm's meter: bar, count, elapsed and ETA)."""
    from tqdm import tqdm

    meter = tqdm.format_meter(done, total, time.perf_counter() - start, unit="run", ncols=80)
    msg.divider(f"{label} {meter}", char="=")


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


def _table(
    rows: Sequence[Tuple[str, Summary, Any]], first_col: str
) -> Tuple[List[str], List[str]]:
    """Markdown lines of the results table, and the label order used."""
    labels: List[str] = []
    for _, summary, _ in rows:
        labels.extend(label for label in summary.per_label if label not in labels)
    metric_names = [name for name, _ in rows[0][1].metrics] if rows else []
    header = [first_col, *metric_names, *[f"F1 {label}" for label in labels],
              "best dev", "best step", "train words/s"]
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for name, summary, result in rows:
        metrics = dict(summary.metrics)
        cells = [name, *[_pct(metrics.get(m)) for m in metric_names]]
        cells += [_pct(summary.per_label.get(label, {}).get("f")) for label in labels]
        cells.append(_pct(result.best_dev_score))
        cells.append("–" if result.best_step is None else str(result.best_step))
        wps = result.train_words_per_s
        cells.append("–" if wps is None else f"{wps:,.0f}")
        lines.append("| " + " | ".join(cells) + " |")
    return lines, labels


def _write_outputs(
    output: Path,
    title: str,
    notes: List[str],
    table: List[str],
    results: List[Any],
    extra: Optional[Dict[str, Any]] = None,
) -> Path:
    output.parent.mkdir(parents=True, exist_ok=True)
    md = output.with_suffix(".md")
    md.write_text("\n".join([f"# {title}", "", *notes, "", *table]) + "\n", encoding="utf8")
    payload = {"title": title, "notes": notes, **(extra or {}),
               "runs": [r.to_dict() for r in results]}
    output.with_suffix(".json").write_text(json.dumps(payload, indent=2, default=str), encoding="utf8")
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


def _run_all(
    jobs: Sequence[Tuple[str, Any]],
    *,
    label: str,
    train: Path,
    dev: Path,
    test: Optional[Path],
    runs_dir: Path,
    component: str,
    seed: int,
    max_steps: Optional[int],
    eval_frequency: Optional[int],
    gpu_id: int,
    quiet: bool,
) -> List[Tuple[str, Summary, Any]]:
    from ..experiments.runner import run_training

    rows = []
    start = time.perf_counter()
    for i, (name, config) in enumerate(jobs):
        _progress(i, len(jobs), start, f"{label} {name}")
        result = run_training(
            config, runs_dir / name.replace("=", "_"), train_path=train, dev_path=dev,
            test_path=test, gpu_id=gpu_id, seed=seed, max_steps=max_steps,
            eval_frequency=eval_frequency, name=name, component=component,
            measure_speed=False, quiet=quiet,
        )
        summary = _summary_of(result, test or dev, gpu_id)
        rows.append((name, summary, result))
        main_name, main_value = summary.main
        msg.good(f"{name}: {main_name} {_pct(main_value)} (dev curve: {len(result.dev_curve)} points)")
    _progress(len(jobs), len(jobs), start, f"{label} done")
    return rows


def _per_label_for_plot(rows) -> Dict[str, Dict[str, Optional[float]]]:
    data: Dict[str, Dict[str, Optional[float]]] = {}
    for name, summary, _ in rows:
        main_name, main_value = summary.main
        values: Dict[str, Optional[float]] = {f"all ({main_name})": main_value}
        values.update({label: prf.get("f") for label, prf in summary.per_label.items()})
        data[name] = values
    return data


COMMON = dict(
    train=typer.Option(..., "--train", exists=True, dir_okay=False, help="Training .spacy file."),
    dev=typer.Option(..., "--dev", exists=True, dir_okay=False, help="Dev .spacy file (model selection, dev curve)."),
    test=typer.Option(None, "--test", exists=True, dir_okay=False, help="Evaluation .spacy file (default: the best dev scores)."),
)


@app.command("compare")
def compare(
    config_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="Training config (its loss block is replaced)."),
    train: Path = COMMON["train"],
    dev: Path = COMMON["dev"],
    test: Optional[Path] = COMMON["test"],
    losses: str = typer.Option(DEFAULT_LOSSES, "--losses", help="Comma-separated loss presets."),
    component: Optional[str] = typer.Option(None, "--component", help="Component whose loss changes (default: the one with a loss block)."),
    seed: int = typer.Option(0, "--seed"),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", min=0, help="Training steps per run (default: the config's)."),
    eval_frequency: Optional[int] = typer.Option(None, "--eval-frequency", min=1),
    gpu_id: int = typer.Option(-1, "--gpu-id", help="GPU for training and evaluation (-1: CPU)."),
    runs_dir: Path = typer.Option(Path("training/compare"), "--runs-dir", help="One sub-folder per loss."),
    output: Path = typer.Option(Path("metrics/compare"), "--output", "-o", help="Prefix: OUTPUT.md, OUTPUT.json, OUTPUT_*.png."),
    quiet: bool = typer.Option(False, "--quiet", help="Do not echo spaCy's training output."),
) -> None:
    """Train and evaluate one config once per loss preset (same seed, same step budget)."""
    from ..experiments.plots import PlotsUnavailable, plot_dev_curves, plot_per_label_f1
    from ..experiments.presets import PRESETS, with_loss

    names = _split_list(losses)
    unknown = [n for n in names if n not in PRESETS]
    if not names or unknown:
        raise typer.BadParameter(
            f"unknown loss preset(s) {', '.join(unknown) or '(none given)'}: expected some of {', '.join(PRESETS)}",
            param_hint="--losses",
        )
    config = _load_config(config_path)
    comp = _component(config, component)
    try:  # each preset in the form of the component's factory (softmax or sigmoid)
        jobs = [(name, with_loss(config, comp, name)) for name in names]
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--losses") from None
    rows = _run_all(
        jobs, label="compare", train=train, dev=dev, test=test, runs_dir=runs_dir,
        component=comp, seed=seed, max_steps=max_steps, eval_frequency=eval_frequency,
        gpu_id=gpu_id, quiet=quiet,
    )
    table, _ = _table(rows, "loss")
    eval_set = str(test) if test else f"{dev} (best dev scores)"
    notes = [
        f"Config `{config_path}`, component `{comp}`; trained on `{train}`, model selection on `{dev}`,"
        f" evaluated on `{eval_set}`; seed {seed}, max_steps {max_steps if max_steps is not None else 'from config'},"
        f" gpu_id {gpu_id}; {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.",
        "Scores in %; `best dev` is the best dev score during training (at `best step`); train words/s"
        " excludes evaluation time.",
    ]
    note = _support_note(test or dev, rows[0][1])
    if note:
        notes.append(note)
    md = _write_outputs(output, "Loss comparison", notes, table, [r for _, _, r in rows],
                        {"losses": names, "component": comp})
    main_name = rows[0][1].main[0]
    try:
        pngs = [plot_per_label_f1(
            _per_label_for_plot(rows), f"{output}_per_label_f1.png",
            title=f"F1 by label and loss ({Path(eval_set.split(' ')[0]).name})",
        ), plot_dev_curves(
            {name: result.dev_curve for name, _, result in rows}, f"{output}_dev_curve.png",
            title="Dev score against training step", ylabel=f"dev {main_name} (%)",
        )]
    except PlotsUnavailable as err:
        pngs = []
        msg.warn(f"Skipped the PNG plots: {err}")
    print("\n".join(table))
    msg.good(f"Wrote {', '.join(map(str, [md, md.with_suffix('.json'), *pngs]))}")


def _sweep_params(loss: str, param: str, value: float, tie: bool) -> Tuple[str, Dict[str, float]]:
    params = {param: value}
    name = f"{param}={value:g}"
    if tie and loss == "tversky" and param in ("alpha", "beta"):
        other = "beta" if param == "alpha" else "alpha"
        params[other] = round(1.0 - value, 6)
        name += f",{other}={params[other]:g}"
    return name, params


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
    seed: int = typer.Option(0, "--seed"),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", min=0),
    eval_frequency: Optional[int] = typer.Option(None, "--eval-frequency", min=1),
    gpu_id: int = typer.Option(-1, "--gpu-id"),
    runs_dir: Path = typer.Option(Path("training/sweep"), "--runs-dir"),
    output: Path = typer.Option(Path("metrics/sweep"), "--output", "-o", help="Prefix: OUTPUT.md, OUTPUT.json, OUTPUT.png, OUTPUT_dev_curve.png."),
    quiet: bool = typer.Option(False, "--quiet"),
) -> None:
    """Train one config once per value of a loss parameter (e.g. Tversky alpha, beta = 1 - alpha)."""
    from ..experiments.plots import PlotsUnavailable, plot_dev_curves, plot_sweep
    from ..experiments.presets import component_activation, loss_block, with_loss

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
    jobs = []
    for value in numbers:
        name, params = _sweep_params(loss, param, value, tie)
        jobs.append((name, with_loss(config, comp, loss, **params)))
    rows = _run_all(
        jobs, label=f"sweep {loss}.{param}", train=train, dev=dev, test=test, runs_dir=runs_dir,
        component=comp, seed=seed, max_steps=max_steps, eval_frequency=eval_frequency,
        gpu_id=gpu_id, quiet=quiet,
    )
    table, labels = _table(rows, f"{loss} {param}")
    eval_set = str(test) if test else f"{dev} (best dev scores)"
    tied = " (beta = 1 - alpha)" if tie and loss == "tversky" and param in ("alpha", "beta") else ""
    notes = [
        f"Sweep of `{loss}` `{param}`{tied} over {', '.join(f'{v:g}' for v in numbers)}. Config `{config_path}`,"
        f" component `{comp}`; trained on `{train}`, model selection on `{dev}`, evaluated on `{eval_set}`;"
        f" seed {seed}, max_steps {max_steps if max_steps is not None else 'from config'}, gpu_id {gpu_id};"
        f" {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.",
        "Scores in %; train words/s excludes evaluation time.",
    ]
    note = _support_note(test or dev, rows[0][1])
    if note:
        notes.append(note)
    md = _write_outputs(output, f"Sweep: {loss} {param}", notes, table, [r for _, _, r in rows],
                        {"loss": loss, "param": param, "values": numbers, "tie": tie, "component": comp})
    series: Dict[str, List[Optional[float]]] = {}
    metric_names = [name for name, _ in rows[0][1].metrics]
    main_name = rows[0][1].main[0]
    first = [m for m in metric_names if m == main_name or m.startswith(main_name)][:1]
    metric_names = first + [m for m in metric_names if m not in first]  # main score first (thick)
    for metric in metric_names:
        series[metric] = [dict(s.metrics).get(metric) for _, s, _ in rows]
    for label in labels:
        series[f"F1 {label}"] = [s.per_label.get(label, {}).get("f") for _, s, _ in rows]
    if len(labels) > 8:  # many tags (POS): keep the plot readable with the 8 most frequent
        keep = set(list(labels)[:8])
        series = {k: v for k, v in series.items() if not k.startswith("F1 ") or k[3:] in keep}
    xlabel = f"{loss} {param}" + (f" ({'beta' if param == 'alpha' else 'alpha'} = 1 - {param})" if tied else "")
    try:
        pngs = [plot_sweep(numbers, series, f"{output}.png", xlabel=xlabel,
                           title=f"{loss} {param} sweep ({Path(eval_set.split(' ')[0]).name})",
                           dashed=[k for k in series if k.startswith("F1 ")]), plot_dev_curves(
            {name: result.dev_curve for name, _, result in rows}, f"{output}_dev_curve.png",
            title=f"Dev score against training step ({loss} {param})", legend_title=param,
        )]
    except PlotsUnavailable as err:
        pngs = []
        msg.warn(f"Skipped the PNG plots: {err}")
    print("\n".join(table))
    msg.good(f"Wrote {', '.join(map(str, [md, md.with_suffix('.json'), *pngs]))}")
