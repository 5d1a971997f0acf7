"""Regenerate the number tables of README.md and docs/*.md from ``benchmarks/results/*.json``.

Every block written as::

    <!-- generated:NAME -->
    ...
    <!-- /generated:NAME -->

in ``README.md`` or ``docs/*.md`` is replaced by the output of the generator registered
under NAME, so the numbers in the prose cannot drift from the results files again.

    python benchmarks/make_tables.py            # rewrite every stale block
    python benchmarks/make_tables.py --check    # exit 1 and list the stale blocks

Adding a table: write a function ``(results_dir: Path) -> str`` that returns the block's
Markdown (without the two marker lines), decorate it with ``@generator("NAME")`` below, and
put the two marker lines where the table goes. ``tests/test_docs_numbers.py`` fails while a
block is stale or names a generator that does not exist.
"""
from __future__ import annotations

import argparse
import functools
import json
import re
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from spacy_dice.files import write_atomic
from spacy_dice.formatting import percent

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "benchmarks" / "results"

Generator = Callable[[Path], str]
GENERATORS: Dict[str, Generator] = {}
"""Generator functions by block NAME; each takes the results folder and returns Markdown."""

BLOCK_RE = re.compile(
    r"(?P<open><!-- generated:(?P<name>[A-Za-z0-9_.:-]+) -->\n)"
    r"(?P<body>.*?)"
    r"(?P<close><!-- /generated:(?P=name) -->)",
    re.DOTALL,
)
OPEN_RE = re.compile(r"<!-- generated:([A-Za-z0-9_.:-]+) -->")


def generator(name: str) -> Callable[[Generator], Generator]:
    """Register ``func`` as the generator of the blocks called ``name``."""

    def register(func: Generator) -> Generator:
        if name in GENERATORS:
            raise ValueError(f"two generators for block {name!r}")
        GENERATORS[name] = func
        return func

    return register


def load_results(results_dir: Path, name: str) -> Dict[str, Any]:
    """``results_dir/name.json``, with a message naming the file when it is missing."""
    path = results_dir / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: results file missing (a generated block needs it)")
    return json.loads(path.read_text(encoding="utf8"))


# ----------------------------------------------------------------------- accuracy summary
@dataclass(frozen=True)
class AccuracyTask:
    """One row of the short-budget results table (docs/BENCHMARKS.md): which JSON and which score key."""

    results: str  # benchmarks/results/<results>.json
    label: str  # first column
    metric: str  # key in each run's "scores"


ACCURACY_TASKS: Tuple[AccuracyTask, ...] = (
    AccuracyTask("conll03", "CoNLL-2003 NER (test F1)", "f"),
    AccuracyTask("uner", "UNER English-EWT NER (test F1; trained on its dev)", "f"),
    AccuracyTask("ud_upos", "UD EWT UPOS (test acc)", "pos_acc"),
    AccuracyTask("ud_xpos", "UD EWT XPOS (test acc)", "tag_acc"),
    AccuracyTask("mrpc", 'MRPC (test F1 of "paraphrase")', "f_paraphrase"),
    AccuracyTask("sst2", "SST-2 (test accuracy)", "accuracy"),
)

ROW_NAMES = {
    "ce": "CE",
    "wce": "WCE",
    "focal": "focal",
    "dl": "DL",
    "dsc": "DSC",
    "tversky": "Tversky",
    "combined": "CE + DSC",
    "dsc_set": "set-level DSC",
    "dsc_a0.1": "DSC alpha 0.1",
    "wce_inv": "WCE inverse frequency",
    "ce_then_dsc": "CE then DSC (scheduled)",
    "logdice": "log-dice (set level)",
    "bce": "BCE",
    "wbce": "weighted BCE",
    "dl_set": "set-level DL",
    "bce_dsc": "BCE + set-level DSC",
    "bce_then_dsc": "BCE then set-level DSC (scheduled)",
    "logdice_set": "log-dice (set level, sigmoid)",
    "spacy": "spaCy `ner`",
}


def _mean_std(values: Sequence[float]) -> str:
    """The value (one) or ``mean +- std`` (several), in %."""
    if len(values) == 1:
        return percent(values[0])
    return f"{percent(statistics.mean(values))} +- {percent(statistics.stdev(values))}"


def _group(runs: Iterable[Dict[str, Any]]) -> Dict[str, List[Dict[str, Any]]]:
    rows: Dict[str, List[Dict[str, Any]]] = {}
    for run in runs:
        rows.setdefault(run["name"], []).append(run)
    return rows


def _best_other(rows: Dict[str, List[Dict[str, Any]]]) -> Optional[str]:
    """The row shown as "best other": chosen on dev, never on test.

    Among the rows other than CE, DSC and spaCy's component, those run with the most seeds;
    of these, the highest mean ``best_dev_score`` (the dev score of the kept model).
    """
    others = {k: v for k, v in rows.items() if k not in ("ce", "dsc", "spacy")}
    if not others:
        return None
    most = max(len(v) for v in others.values())
    candidates = {k: v for k, v in others.items() if len(v) == most}
    return max(candidates, key=lambda k: statistics.mean(r["best_dev_score"] for r in candidates[k]))


def accuracy_summary_rows(results_dir: Path) -> List[List[str]]:
    """Cells of the short-budget table, one list per task (see :func:`short_budget_table`)."""
    table = []
    for task in ACCURACY_TASKS:
        rows = _group(load_results(results_dir, task.results)["runs"])
        chosen = {"ce": "ce", "dsc": "dsc", "other": _best_other(rows), "spacy": "spacy"}
        cells: Dict[str, Tuple[float, str, str, int]] = {}  # column -> (mean, name, number, seeds)
        for column, row in chosen.items():
            if row is None or row not in rows:
                continue
            values = [r["scores"][task.metric] for r in rows[row]]
            if column == "other":
                name = ROW_NAMES.get(row, row) + " "
            elif column == "spacy":
                name = f"`{rows[row][0].get('factory', 'spacy')}` "
            else:
                name = ""
            cells[column] = (statistics.mean(values), name, _mean_std(values), len(values))
        # bold the highest test mean as shown (two decimals: a shown tie bolds both)
        shown = {c: round(100 * cells[c][0], 2) for c in cells}
        top = max(shown.values()) if shown else None
        out = [task.label]
        for column in chosen:
            if column not in cells:
                out.append("")
                continue
            _, name, number, seeds = cells[column]
            if shown[column] == top:
                number = f"**{number}**"
            out.append(f"{name}{number} ({seeds})")
        table.append(out)
    return table


@generator("short_budget")
def short_budget_table(results_dir: Path) -> str:
    """docs/BENCHMARKS.md, "Accuracy": the 600-800-step runs, test score mean +- std (number of
    seeds) per task and row.

    Columns: CE, DSC, the best other loss row (chosen by mean dev score among the other rows
    with the most seeds) and spaCy's own component; the highest test mean of a task (at two
    decimals) is bold.
    """
    lines = [
        "| task (metric) | CE | DSC | best other (chosen on dev) | spaCy's own component |",
        "|---|---|---|---|---|",
    ]
    for cells in accuracy_summary_rows(results_dir):
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------- loss diagnosis
DIAGNOSIS_WINDOWS = ((0, 10), (20, 60), (70, 150), (160, 250), (260, 400))


@generator("diagnosis")
def diagnosis_table(results_dir: Path) -> str:
    """docs/LOSSES.md: per row and window of steps, the mean gold probability of entity tokens,
    the mean back-propagated gradient on their gold logit and the mean gradient norm of ``O``
    tokens (batches with entity tokens only), and the dev F1 curve
    (``diagnosis_uner.json``, from benchmarks/diagnose_saturation.py)."""
    data = load_results(results_dir, "diagnosis_uner")
    head = ["row"] + [f"steps {a}-{b}: p(gold) ent / grad ent / grad O" for a, b in DIAGNOSIS_WINDOWS]
    lines = ["| " + " | ".join(head + ["dev F1 at steps 100, 200, 300, 400 (best)"]) + " |",
             "|" + "---|" * (len(head) + 1)]
    for row in data["rows"]:
        cells = [f"`{row['name']}`"]
        for a, b in DIAGNOSIS_WINDOWS:
            recs = [r for r in row["records"] if a <= r["step"] <= b and "entity" in r and "O" in r]

            def mean(group: str, key: str) -> float:
                return statistics.mean(r[group][key] for r in recs) if recs else float("nan")

            cells.append(f"{mean('entity', 'p_gold'):.3f} / {mean('entity', 'grad_gold_logit'):.0e}"
                         f" / {mean('O', 'grad_norm'):.0e}")
        dev = {e["step"]: e["f"] for e in row["dev"]}
        curve = ", ".join(percent(dev[s], 1) for s in (100, 200, 300, 400) if s in dev)
        best = max(dev.values()) if dev else 0.0
        cells.append(f"{curve} ({percent(best, 1)})")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


CONVERGED_ROW_ORDER = ("ce", "wce", "dsc", "ce_then_dsc", "logdice", "combined", "spacy")


def _ordered(rows: Dict[str, List[Dict[str, Any]]], preferred: Sequence[str]) -> List[str]:
    """Row names in the ``preferred`` order, the others after them alphabetically."""
    return sorted(rows, key=lambda k: (preferred.index(k) if k in preferred else 99, k))


def _kept_last(runs: List[Dict[str, Any]], sep: str = ", ") -> str:
    """Per run "kept step/last step" (a last step below the budget stopped on patience)."""
    return sep.join(f"{r.get('best_step')}/{r.get('last_step')}" for r in runs)


def _converged_rows(results_dir: Path, stem: str, order: Optional[Sequence[str]] = None,
                    ) -> Tuple[str, Dict[str, List[Dict[str, Any]]], List[str]]:
    """An early-stopped benchmark (``run_accuracy.py --patience``): its budget line, its runs by row
    and the rows in table order (``order`` first, default :data:`CONVERGED_ROW_ORDER`)."""
    data = load_results(results_dir, stem)
    meta = data["meta"]
    rows = _group(data["runs"])
    budget = (f"Budget: at most {meta['max_steps']} steps, dev every {meta['eval_frequency']} steps,"
              f" early stopping with patience {meta.get('patience')} steps; mean +- std over seeds.")
    return budget, rows, _ordered(rows, CONVERGED_ROW_ORDER if order is None else order)


def converged_table(results_dir: Path, stem: str, rarest: str, order: Optional[Sequence[str]] = None) -> str:
    """Rows of an early-stopped NER benchmark (``run_accuracy.py --patience``): mean +- std over
    seeds of the dev F1 of the kept model, test P / R / F1 and the test recall of the rarest entity
    type, with the kept and the last step; rows in ``order`` first (default
    :data:`CONVERGED_ROW_ORDER`)."""
    budget, rows, order = _converged_rows(results_dir, stem, order)
    lines = [budget, "",
             f"| row | seeds | kept / last step | dev F1 | test P | test R | test F1 | test R {rarest} |",
             "|---|---|---|---|---|---|---|---|"]
    for name in order:
        runs = rows[name]
        steps = _kept_last(runs)
        dev = [r["dev_scores"].get("f", 0.0) for r in runs]
        rare = [r.get("per_type_prf", {}).get(rarest, {}).get("r") for r in runs]
        rare_s = _mean_std([x for x in rare if x is not None]) if all(x is not None for x in rare) else ""
        cells = [ROW_NAMES.get(name, name), ",".join(str(r["seed"]) for r in runs), steps,
                 _mean_std(dev)] + [_mean_std([r["scores"][k] for r in runs]) for k in ("p", "r", "f")]
        lines.append("| " + " | ".join(cells + [rare_s]) + " |")
    return "\n".join(lines) + "\n"


@generator("converged_uner")
def converged_uner_table(results_dir: Path) -> str:
    """docs/LOSSES.md: UNER NER at convergence (``uner_converged.json``); ORG is its rarest type."""
    return converged_table(results_dir, "uner_converged", "ORG")


@generator("converged_conll03")
def converged_conll03_table(results_dir: Path) -> str:
    """docs/LOSSES.md: CoNLL-2003 NER with early stopping (``conll03_converged.json``); MISC is
    its rarest type (3,438 training mentions)."""
    return converged_table(results_dir, "conll03_converged", "MISC")


@generator("converged_conll03_6000")
def converged_conll03_6000_table(results_dir: Path) -> str:
    """docs/LOSSES.md: CoNLL-2003 NER with early stopping and a 6,000-step cap
    (``conll03_converged_6000.json``)."""
    return converged_table(results_dir, "conll03_converged_6000", "MISC")


def _row_label(name: str, spacy_component: str) -> str:
    """A row's name in a table; spaCy's own row named by its component."""
    return f"spaCy `{spacy_component}`" if name == "spacy" else ROW_NAMES.get(name, name)


def _loss_row(name: str) -> str:
    """A row's name in a table that compares across tasks: its loss, or "spaCy's component"."""
    return "spaCy's component" if name == "spacy" else ROW_NAMES.get(name, name)


def _dev_and_test_lines(results_dir: Path, stem: str, order: Sequence[str], dev_header: str,
                        test_columns: Sequence[Tuple[str, str]],
                        row_name: Callable[[str], str] = lambda name: ROW_NAMES.get(name, name)) -> List[str]:
    """An early-stopped benchmark, one line per row: its seeds, kept / last steps, the mean +- std
    of the kept models' dev score and of each test score ``(header, key of scores)``."""
    budget, rows, ordered = _converged_rows(results_dir, stem, order)
    head = ["row", "seeds", "kept / last step", dev_header] + [header for header, _ in test_columns]
    lines = [budget, "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in ordered:
        runs = rows[name]
        cells = [row_name(name), ",".join(str(r["seed"]) for r in runs), _kept_last(runs),
                 _mean_std([r["best_dev_score"] for r in runs])]
        cells += [_mean_std([r["scores"][key] for r in runs]) for _, key in test_columns]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


@generator("converged_ud_upos")
def converged_ud_upos_table(results_dir: Path) -> str:
    """docs/LOSSES.md: UD EWT UPOS with early stopping (``ud_upos_converged.json``): dev and test
    accuracy, mean +- std over seeds."""
    return "\n".join(_dev_and_test_lines(
        results_dir, "ud_upos_converged", CONVERGED_ROW_ORDER, "dev accuracy", [("test accuracy", "pos_acc")],
        lambda name: _row_label(name, "morphologizer"))) + "\n"


CHINESE_ROW_ORDER = ("ce", "focal", "dl", "dsc", "ce_then_dsc", "spacy")


def _joint_seg_pos_table(results_dir: Path, stem: str) -> str:
    return "\n".join(_dev_and_test_lines(
        results_dir, stem, CHINESE_ROW_ORDER, "dev joint F1",
        [("test P", "p"), ("test R", "r"), ("test joint F1", "f"), ("test segmentation F1", "seg_f")],
        lambda name: _row_label(name, "tagger"))) + "\n"


@generator("converged_ud_zh")
def converged_ud_zh_table(results_dir: Path) -> str:
    """docs/BENCHMARKS.md "Chinese": UD1.4 joint segmentation + UPOS with early stopping
    (``ud_zh_converged.json``): dev and test joint F1 of (word span, UPOS) pairs, test P / R and
    segmentation F1, mean +- std over seeds."""
    return _joint_seg_pos_table(results_dir, "ud_zh_converged")


@generator("converged_ud_zh_xpos")
def converged_ud_zh_xpos_table(results_dir: Path) -> str:
    """docs/BENCHMARKS.md "Chinese": the same with XPOS (``ud_zh_xpos_converged.json``): joint F1
    of (word span, XPOS) pairs."""
    return _joint_seg_pos_table(results_dir, "ud_zh_xpos_converged")


@generator("converged_uner_zh")
def converged_uner_zh_table(results_dir: Path) -> str:
    """docs/BENCHMARKS.md "Chinese": UNER Chinese-GSD NER over characters with early stopping
    (``uner_zh_converged.json``); ORG is its rarest type (1,110 training entities)."""
    return converged_table(results_dir, "uner_zh_converged", "ORG", CHINESE_ROW_ORDER)


MRPC_ROW_ORDER = ("ce", "dsc", "ce_then_dsc")


def always_positive_f1(results_dir: Path, stem: str) -> Optional[float]:
    """Test F1 of answering the positive class for every doc, from the saved per-doc counts of
    ``STEM_counts.npz`` (any rule's true positives + false negatives are the gold positives);
    ``None`` before ``calibrated_accuracy`` has run."""
    import numpy

    path = results_dir / f"{stem}_counts.npz"
    if not path.exists():
        return None
    with numpy.load(path) as saved:
        counts = saved[sorted(saved.files)[0]]
    positives, docs = int(counts[..., [0, 2]].sum()), counts.shape[0]
    return 2 * positives / (docs + positives) if docs else None


@generator("converged_mrpc_trf")
def converged_mrpc_trf_table(results_dir: Path) -> str:
    """docs/BENCHMARKS.md "MRPC (paraphrase)": all-MiniLM-L6-v2 (``configs/textcat_trf.cfg``)
    fine-tuned on MRPC with early stopping on dev macro F1 (``mrpc_trf_converged.json``): dev
    macro F1 of the kept model, test accuracy, macro F1 and F1 of paraphrase, beside always
    answering "paraphrase"."""
    lines = _dev_and_test_lines(results_dir, "mrpc_trf_converged", MRPC_ROW_ORDER, "dev macro F1",
                                [("test accuracy", "accuracy"), ("test macro F1", "macro_f"),
                                 ("test F1 of paraphrase", "f_paraphrase")])
    baseline = always_positive_f1(results_dir, "mrpc_trf_converged")
    if baseline is not None:
        lines.append(f"| always \"paraphrase\" | - | - | - | - | - | {percent(baseline)} |")
    return "\n".join(lines) + "\n"


# Published test F1 on the paper's Chinese data, read from the papers (nothing here was run by us):
# (data, system, what it was trained from, P, R, F1, source).
DICE_PAPER = "Li et al. 2020 (the Dice paper)"
PUBLISHED_CHINESE: Tuple[Tuple[str, str, str, Optional[float], Optional[float], float, str], ...] = (
    ("UD1.4", "BiGRU-CRF over characters, single model", "pretrained character embeddings",
     89.28, 89.54, 89.41, "Shao et al. 2017, https://aclanthology.org/I17-1018"),
    ("UD1.4", "the same, ensemble of four", "pretrained character embeddings", None, None, 89.75,
     "Shao et al. 2017"),
    ("UD1.4", "Lattice-LSTM, as re-run by Meng et al.", "pretrained character and word embeddings",
     None, None, 90.09, "Meng et al. 2019 (Glyce), https://arxiv.org/abs/1901.10125"),
    ("UD1.4", "Glyce + Lattice-LSTM", "character images, a word lexicon", None, None, 90.87,
     "Meng et al. 2019 (Glyce)"),
    ("UD1.4", "BERT tagger", "BERT-base Chinese", 95.42, 94.17, 94.79, DICE_PAPER),
    ("UD1.4", "BERT tagger + FL", "BERT-base Chinese", 96.33, 95.85, 96.81, DICE_PAPER),
    ("UD1.4", "BERT tagger + DL", "BERT-base Chinese", 96.10, 97.79, 96.94, DICE_PAPER),
    ("UD1.4", "BERT tagger + DSC", "BERT-base Chinese", 96.24, 97.73, 96.98, DICE_PAPER),
    ("UNER Chinese-GSD", "XLM-R-large (the UNER paper's baseline)", "XLM-R-large", None, None, 89.5,
     "Mayhew et al. 2024 (Universal NER, NAACL)"),
    ("MSRA (not our data)", "BERT-MRC (+ FL 95.67, + DL 96.44, + DSC 96.72: +0.97)", "BERT-base Chinese",
     None, None, 95.75, DICE_PAPER),
    ("OntoNotes4 (not our data)", "BERT-MRC (+ FL 83.30, + DL 84.01, + DSC 84.47: +2.36)", "BERT-base Chinese",
     None, None, 82.11, DICE_PAPER),
)
CHINESE_OURS = (("UD1.4", "ud_zh_converged", "tagger"), ("UD1.4 XPOS", "ud_zh_xpos_converged", "tagger"),
                ("UNER Chinese-GSD", "uner_zh_converged", "ner"))


def _our_chinese_lines(results_dir: Path, data_name: str, stem: str, spacy_component: str) -> List[str]:
    """CE, DSC and the row with the best mean dev score (among those run with the most seeds)."""
    rows = _group(load_results(results_dir, stem)["runs"])
    best = _chosen_on_dev(rows, rows)
    lines = []
    for name in dict.fromkeys(n for n in ("ce", "dsc", best) if n in rows):
        runs = rows[name]
        label = _row_label(name, spacy_component) + (", the best mean dev score" if name == best else "")
        cells = [data_name, f"ours: CNN, {label} ({len(runs)} seed{'s' if len(runs) > 1 else ''})",
                 "nothing pretrained"] + [_mean_std([r["scores"][k] for r in runs]) for k in ("p", "r", "f")]
        lines.append("| " + " | ".join(cells + [f"`results/{stem}.json`"]) + " |")
    return lines


@generator("chinese_beside_published")
def chinese_beside_published_table(results_dir: Path) -> str:
    """docs/BENCHMARKS.md "Chinese": our CNN rows (CE, DSC and the row chosen on dev) beside the
    published test F1 on the same data and the Dice paper's on its other Chinese data."""
    groups: Dict[str, List[str]] = {}
    for data_name, system, pretrained, p, r, f, source in PUBLISHED_CHINESE:
        cells = [data_name, system, pretrained, "-" if p is None else f"{p:.2f}",
                 "-" if r is None else f"{r:.2f}", f"{f:.2f}", source]
        groups.setdefault(data_name, []).append("| " + " | ".join(cells) + " |")
    for data_name, stem, spacy_component in CHINESE_OURS:
        if (results_dir / f"{stem}.json").exists():
            ours = _our_chinese_lines(results_dir, data_name, stem, spacy_component)
            groups.setdefault(data_name, []).extend(ours)
    lines = ["| data | system | trained from | test P | test R | test F1 | source |",
             "|---|---|---|---|---|---|---|"]
    for group in groups.values():
        lines += group
    return "\n".join(lines) + "\n"


DICE_FAMILY = ("dl", "dsc", "tversky", "combined", "dsc_set", "dsc_a0.1", "tversky_a0.5",
               "tversky_set", "ce_then_dsc", "logdice",
               # span (sigmoid) rows
               "dl_inst", "dsc_inst", "dl_set", "bce_dsc", "logdice_set", "bce_then_dsc")


@dataclass(frozen=True)
class Situation:
    """One line of the README results table: a task, its results file and its score."""

    label: str
    results: str  # results file stem
    metric: str  # key of a run's test ``scores``
    metric_label: str
    textcat_accuracy: bool = False  # choose on dev accuracy (micro F), not spaCy's macro-F score
    reference: str = "ce"  # the cross-entropy row ("bce" for spans)
    not_losses: Tuple[str, ...] = ("spacy",)  # spaCy's own components: never the pick
    spacy_label: str = ""  # spaCy's own component, when its factory alone does not say it


# The README's results table, one line per task: the early-stopping (converged) runs where they
# exist (MRPC: MiniLM; its CNN rows at 600 steps learned nothing); SST-2 was only run at a fixed
# 600 steps, and the budget column says so.
SITUATIONS: Tuple[Situation, ...] = (
    Situation("entities (`dice_ner`): UNER English-EWT", "uner_converged", "f", "test F1"),
    Situation("entities (`dice_ner`): CoNLL-2003", "conll03_converged_6000", "f", "test F1"),
    Situation("token tags (`dice_tagger`): UD EWT UPOS", "ud_upos_converged", "pos_acc", "test acc"),
    Situation("words + UPOS (`dice_seg_tagger`): UD1.4 Chinese", "ud_zh_converged", "f", "test joint F1"),
    Situation("entities over characters (`dice_ner`): UNER Chinese-GSD", "uner_zh_converged", "f", "test F1"),
    Situation("spans (`dice_spancat`): UNER English-EWT", "uner_spans_converged",
              "f", "test F1", reference="bce", not_losses=("spacy", "spacy_single")),
    Situation("spans (`dice_spancat`): CoNLL-2003", "conll03_spans_converged",
              "f", "test F1", reference="bce", not_losses=("spacy", "spacy_single")),
    Situation("spans from a span finder (`dice_span_finder` + `dice_spancat`): UNER",
              "uner_spanfinder_converged", "f", "test F1", reference="bce",
              spacy_label="`span_finder` + `spancat`"),
    Situation("texts, MiniLM (`dice_textcat`, `textcat_trf.cfg`): MRPC", "mrpc_trf_converged", "f_paraphrase",
              "test F1 of paraphrase"),
    Situation("texts (`dice_textcat`): SST-2", "sst2", "accuracy", "test acc", textcat_accuracy=True),
)


def _dev_value(run: Dict[str, Any], situation: Optional[Situation]) -> float:
    if situation is not None and situation.textcat_accuracy and run.get("dev_scores", {}).get("accuracy") is not None:
        return run["dev_scores"]["accuracy"]
    return run["best_dev_score"]


def _chosen_on_dev(rows: Dict[str, List[Dict[str, Any]]], names: Iterable[str],
                   situation: Optional[Situation] = None) -> Optional[str]:
    """Among ``names`` run with the most seeds, the highest mean dev score (``best_dev_score``;
    a text situation's dev accuracy where it asks for it)."""
    pool = {k: v for k, v in rows.items() if k in set(names)}
    if not pool:
        return None
    most = max(len(v) for v in pool.values())
    pool = {k: v for k, v in pool.items() if len(v) == most}
    return max(pool, key=lambda k: statistics.mean(_dev_value(r, situation) for r in pool[k]))


def _budget(meta: Dict[str, Any]) -> str:
    """The budget column: early stopping (patience, cap) or a fixed number of steps."""
    if meta.get("patience"):
        return f"early stopping (patience {meta['patience']:,}), at most {meta['max_steps']:,} steps"
    return f"fixed {meta['max_steps']:,} steps"


@generator("results")
def results_table(results_dir: Path) -> str:
    """README "Results": per task, the loss to pick, CE (BCE for spans), the best dice-family
    loss and spaCy's own component, test score mean +- std (number of seeds).

    The pick and the dice row are chosen on dev, never on test: the highest mean dev score among
    the rows run with the most seeds (spaCy's own components excluded). CE (BCE) stays the pick
    unless that row's dev mean beats CE's by more than CE's dev standard deviation over seeds (0.5
    points with one seed). Early-stopping runs wherever they exist (the budget column).
    """
    lines = ["| task (metric) | budget | pick (chosen on dev) | CE (BCE for spans) | best dice loss (chosen on dev) | spaCy's own component |",
             "|---|---|---|---|---|---|"]
    for sit in SITUATIONS:
        path = results_dir / f"{sit.results}.json"
        if not path.exists():
            continue
        data = load_results(results_dir, sit.results)
        rows = _group(data["runs"])
        losses = [k for k in rows if k not in sit.not_losses]
        ref = sit.reference
        best = _chosen_on_dev(rows, losses, sit)
        if best is None:  # only spaCy's rows so far
            continue
        dice = _chosen_on_dev(rows, [k for k in losses if k in DICE_FAMILY], sit)
        pick = best
        if best != ref and ref in rows:
            # CE stays the pick unless the best row's mean dev score beats CE's by more than CE's
            # seed-to-seed spread on dev (0.5 points with one seed): a tie on dev is no reason
            # to change loss
            ref_dev = [_dev_value(r, sit) for r in rows[ref]]
            margin = statistics.stdev(ref_dev) if len(ref_dev) > 1 else 0.005
            best_dev = statistics.mean(_dev_value(r, sit) for r in rows[best])
            if best_dev - statistics.mean(ref_dev) <= margin:
                pick = ref

        def cell(name: Optional[str]) -> str:
            if name is None or name not in rows:
                return ""
            values = [r["scores"][sit.metric] for r in rows[name]]
            return f"{_mean_std(values)} ({len(values)})"

        def named(name: Optional[str]) -> str:
            return "" if name is None else f"{ROW_NAMES.get(name, name)}: {cell(name)}"

        # the pick's score is in its own column when it is CE or the dice row; otherwise here
        pick_cell = ROW_NAMES.get(pick, pick) + ("" if pick in (ref, dice) else f": {cell(pick)}")
        spacy = ""
        if "spacy" in rows:
            spacy = f"{sit.spacy_label or '`' + rows['spacy'][0].get('factory', 'spacy') + '`'}: {cell('spacy')}"
        lines.append(f"| {sit.label} ({sit.metric_label}) | {_budget(data['meta'])} | {pick_cell}"
                     f" | {cell(ref)} | {named(dice)} | {spacy} |")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- main job
def _calibrate_kept_all(data: Dict[str, Any]) -> Optional[bool]:
    """Whether the main job's `calibrate` step stored no setting (``None``: not recorded)."""
    components = data.get("dev_calibration")
    if not components:
        return None
    return all(not component.get("stored", {}).get("config") for component in components)


@generator("main-job")
def main_job(results_dir: Path) -> str:
    """docs/PROJECT.md quick start: what `python -m spacy project run all` gave (run_main_job.py):
    the test scores of `model-best` as trained and, when the `calibrate` step ran, of
    `model-calibrated`."""
    data = load_results(results_dir, "main_job")
    scores = data["test_scores"]
    name = data["name"]

    def described(values: Dict[str, Any]) -> str:
        per_type = ", ".join(
            f"{label} {percent(v['f'])}"
            for label, v in sorted(values.get("ents_per_type", {}).items(), key=lambda kv: -kv[1]["f"])
        )
        return (f"{percent(values['ents_f'])} (P {percent(values['ents_p'])}, R {percent(values['ents_r'])};"
                f" {per_type})")

    steps = data["vars"]["max_steps"]
    text = (
        f"Measured (`{data['rerun'].strip()}`, which runs `{data['command']}` on a fresh copy;"
        f" seed {data['vars']['seed']}, {steps:,} steps, loss `{data['vars']['loss']}`): entity F1"
        f" {described(scores)} on the test sentences as trained (`model-best`, `metrics/{name}.json`)"
    )
    calibrated = data.get("calibrated_test_scores")
    if calibrated:
        kept = _calibrate_kept_all(data)
        text += (
            f", and {described(calibrated)} after the `calibrate` step (`model-calibrated`,"
            f" `metrics/{name}-calibrated.json`"
            + ("; it kept every setting: no change was beyond the noise of dev" if kept else "")
            + ")"
        )
    return text + (
        f", in {data['wall_seconds']:.0f} s of wall time on {data['machine']}"
        " (`benchmarks/results/main_job.json`).\n"
    )


# ----------------------------------------------------------------------------- transformers
TRF_ROWS = {  # trf_curves.json row -> label (in table order)
    "ce": "`dice_ner` CE (shipped config)",
    "dsc": "`dice_ner` DSC",
    "ce_then_dsc": "`dice_ner` CE then DSC (scheduled)",
    "ce_then_pure_dsc": "`dice_ner` CE then DSC alone (scheduled)",
    "logdice": "`dice_ner` log-dice (set level, `logdice` preset)",
    "ce_head50": "`dice_ner` CE, `head_learn_rate_scale = 50`",
    "spacy": "spaCy `ner` (same transformer)",
    "cnn": "`dice_ner` CE, CNN (`ner_cnn.cfg`)",
}


OTHER_ROWS = {"ce": "CE, MiniLM", "dsc": "DSC, MiniLM", "cnn": "CE, CNN (`*_cnn.cfg`)"}


@generator("trf-curves")
def trf_curves_table(results_dir: Path) -> str:
    """docs/BENCHMARKS.md "Transformers": MiniLM dev F1 every 50 steps and test P/R/F1 on UNER
    (``benchmarks/trf_curves.py``), and the UPOS / MRPC rows."""
    data = load_results(results_dir, "trf_curves")
    labels = dict(TRF_ROWS)
    for name, label in TRF_ROWS.items():  # repeats with other seeds: NAME_s1, NAME_s2, ...
        labels.update({key[5:]: f"{label}, seed {key.rsplit('_s', 1)[1]}" for key in data
                       if key.startswith(f"uner/{name}_s") and key.rsplit("_s", 1)[1].isdigit()})
    order = [n for name in TRF_ROWS for n in [name] + sorted(k for k in labels if k.startswith(f"{name}_s"))]
    uner = [(name, data[f"uner/{name}"]) for name in order if f"uner/{name}" in data]
    steps = sorted({p["step"] for _, r in uner for p in r["dev_curve"] if p["step"] > 0})
    head = ["row"] + [f"dev F1 @{s}" for s in steps] + ["test P", "test R", "test F1", "test F1 (model-best)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" + "---:|" * (len(head) - 1)]
    for name, run in uner:
        curve = {p["step"]: p.get("ents_f") for p in run["dev_curve"]}
        last, best = run["test_last"], run["test_best"]
        cells = [labels[name]] + [percent(curve.get(s), 1) for s in steps] + [
            percent(last["ents_p"], 1), percent(last["ents_r"], 1), f"**{percent(last['ents_f'], 1)}**",
            f"{percent(best['ents_f'], 1)} (step {run['best_dev_step']})",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Per-type test F1 (model-last): " + "; ".join(
        f"{labels[name].split(' (')[0]}{', seed ' + name.rsplit('_s', 1)[1] if name not in TRF_ROWS else ''}: "
        + ", ".join(
            f"{t} {percent(v, 1)}" for t, v in sorted(run["test_last"].get("ents_per_type", {}).items()))
        for name, run in uner) + ".")
    rank = {name: i for i, name in enumerate(OTHER_ROWS)}
    other = sorted(((k, v) for k, v in data.items() if not k.startswith("uner/")),
                   key=lambda kv: (kv[1]["task"], rank.get(kv[1]["row"], len(rank)), kv[0]))
    if other:
        lines += ["", "| task | row | steps | dev curve (every 50 steps) | test (model-last) | test (model-best) |",
                  "|---|---|---:|---|---:|---:|"]
        for key, run in other:
            main = "pos_acc" if run["task"] == "ud_upos" else "cats_score"
            curve = ", ".join(percent(p.get(main), 1) for p in run["dev_curve"] if p["step"] > 0)
            lines.append(
                f"| {run['task']} ({main}) | {OTHER_ROWS.get(run['row'], run['row'])} | {run['steps']} | {curve} |"
                f" **{percent(run['test_last'][main], 1)}** | {percent(run['test_best'][main], 1)}"
                f" (step {run['best_dev_step']}) |"
            )
    return "\n".join(lines) + "\n"


@generator("trf-summary")
def trf_summary(results_dir: Path) -> str:
    """README: the MiniLM dice_ner result of the shipped trf config (UNER test, 300 updates, CPU)."""
    data = load_results(results_dir, "trf_curves")
    ce = data["uner/ce"]
    seeds = [data[k] for k in sorted(data) if k.startswith("uner/ce_s") and k[len("uner/ce_s"):].isdigit()]
    more = "".join(
        f" and {percent(run['test_last']['ents_f'], 1)} with seed {run['seed']}" for run in seeds
    )
    parts = [
        f"`configs/ner_trf.cfg` with CE (`head_learn_rate_scale = 200`) on all-MiniLM-L6-v2 reaches"
        f" entity F1 {percent(ce['test_last']['ents_f'], 1)} (seed {ce['seed']}; P {percent(ce['test_last']['ents_p'], 1)},"
        f" R {percent(ce['test_last']['ents_r'], 1)}){more} on the UNER English-EWT test set after {ce['steps']}"
        f" updates on CPU"
    ]
    for name, label in (("dsc", "DSC"), ("ce_then_dsc", "CE then DSC"), ("spacy", "spaCy's `ner`"),
                        ("cnn", "the CNN")):
        run = data.get(f"uner/{name}")
        if run:
            parts.append(f"{label} {percent(run['test_last']['ents_f'], 1)}")
    return (parts[0] + " (same data and steps, seed 0: " + ", ".join(parts[1:]) + "; docs/BENCHMARKS.md,"
            " \"Transformers\", `benchmarks/results/trf_curves.json`).\n")


@generator("main-job-f1")
def main_job_f1(results_dir: Path) -> str:
    """README quick start: the main job's entity F1 as trained and, when the `calibrate` step ran,
    after it; one sentence."""
    data = load_results(results_dir, "main_job")
    f1 = f"{percent(data['test_scores']['ents_f'])} as trained (`model-best`)"
    calibrated = data.get("calibrated_test_scores")
    if calibrated:
        kept = _calibrate_kept_all(data)
        f1 += (f" and {percent(calibrated['ents_f'])} after `calibrate` (`model-calibrated`"
               + (", which kept every setting" if kept else "") + ")")
    return (
        f"With seed {data['vars']['seed']} it gives a test entity F1 of {f1} on this tiny sample"
        " (measured, with the command and commit, in `benchmarks/results/main_job.json`; details in"
        " docs/PROJECT.md).\n"
    )


# ----------------------------------------------------------------------------- grid speed
@generator("grid-speed")
def grid_speed_table(results_dir: Path) -> str:
    """docs/BENCHMARKS.md "Running the grid": the executor's engines on one grid, and ASHA's
    savings on a sweep (benchmarks/grid_speed.py)."""
    data = load_results(results_dir, "grid_speed")
    lines: List[str] = []
    grid = data.get("grid")
    if grid:
        seq = grid["rows"][0]["wall_s"]
        lines += [f"Grid: `compare`, losses {grid['grid']} on the shipped sample (4 trials);"
                  f" {data['meta']['machine']}; ray {data['meta'].get('ray', '?')}. Same scores under"
                  f" every engine (test scores, per-type F1, dev curves): {'yes' if grid['same_scores'] else 'NO'}."
                  f" 1-minute load average before the first command: {grid['rows'][0]['load_before']:.2f}"
                  + ("" if grid["quiet_wait"]["quiet"] else " (the machine was not quiet: other jobs"
                     " shared the two cores, so the ratios are rough)") + ".", "",
                  "| engine | workers | wall time (s) | vs. 1 worker | command |", "|---|---:|---:|---:|---|"]
        for row in grid["rows"]:
            lines.append(f"| {row['engine']} | {row['workers']} | {row['wall_s']:.1f} |"
                         f" {row['wall_s'] / seq:.2f}x | `{row['command']}` |")
        lines += ["", f"Ray over the local pool (2 workers each): {100 * grid['ray_overhead']:+.1f}%."]
    asha = data.get("asha")
    if asha:
        f = asha["full"]
        best = f["dev"][f["best"]]
        if lines:
            lines.append("")
        lines += [
            f"ASHA (`sweep --early-stop`, seed 0, 2 trials at a time, reduction factor 3): {asha['sweep']},"
            f" against the full sweep with seeds 0 and 1, whose best value on dev is `{f['best']}`"
            f" (dev F1 {percent(best['mean'])} ± {percent(best['std'] or 0)}). Steps are counted up to"
            " each trial's last evaluation.", "",
            "| run | training steps | saved | stopped early | picked (full sweep's dev F1) | same or within the seed spread | command |",
            "|---|---:|---:|---:|---|---|---|",
            f"| full sweep, 2 seeds | {2 * asha['runs'][0]['steps_full']:,} | – | – | `{f['best']}`"
            f" ({percent(best['mean'])} ± {percent(best['std'] or 0)}) | – | `{f['command']}` |",
        ]
        for a in asha["runs"]:
            picked = f["dev"][a["picked"]]
            verdict = ("same" if a["same_pick"] else "within" if a["within_seed_spread"]
                       else f"**no** (gap {percent(a['gap'])} > spread {percent(a['spread'])})")
            lines.append(
                f"| ASHA, grace {a['grace_steps']} steps | {a['steps_run']:,} of {a['steps_full']:,} |"
                f" {percent(a['saved_fraction'], 0)}% | {len(a['stopped'])} of 6 | `{a['picked']}`"
                f" ({percent(picked['mean'])} ± {percent(picked['std'] or 0)}) | {verdict} | `{a['command']}` |")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- machinery
def documents(root: Path = ROOT) -> List[Path]:
    """The files whose generated blocks are kept up to date: README.md and docs/*.md."""
    paths = [root / "README.md"] + sorted((root / "docs").glob("*.md"))
    return [p for p in paths if p.is_file()]


def render(text: str, results_dir: Path, where: str = "<text>") -> Tuple[str, List[str]]:
    """``text`` with every generated block regenerated, and the names of the blocks that changed.

    Raises:
        ValueError: a block names an unknown generator, or a start marker has no end marker.
    """
    changed: List[str] = []
    opened = OPEN_RE.findall(text)
    closed = [m.group("name") for m in BLOCK_RE.finditer(text)]
    unclosed = sorted(set(opened) - set(closed))
    if unclosed:
        raise ValueError(
            f"{where}: <!-- generated:{unclosed[0]} --> has no matching <!-- /generated:{unclosed[0]} -->"
        )

    def replace(match: "re.Match[str]") -> str:
        name = match.group("name")
        if name not in GENERATORS:
            raise ValueError(
                f"{where}: block {name!r} has no generator; known: {', '.join(sorted(GENERATORS))}"
            )
        body = GENERATORS[name](results_dir)
        if not body.endswith("\n"):
            body += "\n"
        if body != match.group("body"):
            changed.append(name)
        return match.group("open") + body + match.group("close")

    return BLOCK_RE.sub(replace, text), changed


def update(paths: Iterable[Path], results_dir: Path, write: bool) -> List[str]:
    """Regenerate the blocks of ``paths``; returns ``"FILE: NAME"`` for each stale block."""
    stale = []
    for path in paths:
        text = path.read_text(encoding="utf8")
        new, changed = render(text, results_dir, where=str(path))
        stale += [f"{path}: {name}" for name in changed]
        if write and new != text:
            write_atomic(path, new)
    return stale


SPAN_ROW_ORDER = ["spacy", "spacy_single", "single_ce", "bce", "wbce", "focal_sig", "dl_inst",
                  "dsc_inst", "dl_set", "dsc_set", "tversky_set", "bce_dsc", "bce_then_dsc",
                  "logdice_set"]


def span_table(results_dir: Path, stem: str) -> str:
    """Rows of a span benchmark (``run_accuracy.py --task uner_spans`` etc.): per row the seeds,
    dev F1 of the kept model (its step), test P / R / F1 and per-type F1 (mean +- std over seeds),
    the command that reruns it. (Speeds: :func:`spans_speed_table`; the runs' own speeds come
    from a shared machine's logs and are not comparable across rows.)"""
    data = load_results(results_dir, stem)
    meta = data["meta"]
    rows = _group(data["runs"])
    order = _ordered(rows, SPAN_ROW_ORDER)
    patience = meta.get("patience")
    lines = [f"Budget {meta['max_steps']} steps, dev every {meta['eval_frequency']} steps"
             + (f", early stopping with patience {patience}" if patience else "")
             + "; mean +- std over seeds where there are two.", "",
             "| row | seeds | dev F1 (kept" + ("/last" if patience else "") + " step) | test P"
             " | test R | test F1 | per-type test F1 |",
             "|---|---|---|---|---|---|---|"]
    for name in order:
        runs = rows[name]
        dev = [(r.get("dev_scores") or {}).get("f", r.get("best_dev_score") or 0.0) for r in runs]
        steps = _kept_last(runs, ",") if patience else ",".join(str(r.get("best_step")) for r in runs)
        labels = sorted({label for r in runs for label in r.get("per_type", {})})
        per = ", ".join(f"{label} " + _mean_std([r["per_type"].get(label, 0.0) for r in runs])
                        for label in labels)
        cells = [name, ",".join(str(r["seed"]) for r in runs), f"{_mean_std(dev)} ({steps})"]
        cells += [_mean_std([r["scores"].get(k, 0.0) for r in runs]) for k in ("p", "r", "f")]
        lines.append("| " + " | ".join(cells + [per]) + " |")
    lines += ["", "Reruns, one per run:", ""]
    lines += [f"    {run['rerun']}" for name in order for run in rows[name]]
    return "\n".join(lines) + "\n"


# docs/BENCHMARKS.md, "Spans": block name -> the results file (``STEM.json``) its span_table reads
SPAN_TABLES = {
    "spans_uner": "uner_spans",  # UNER English-EWT as spans
    "spans_conll03": "conll03_spans",  # CoNLL-2003 as spans
    "spans_finder_uner": "uner_spanfinder",  # span finder + spancat on UNER
    "spans_uner_converged": "uner_spans_converged",  # the same three with early stopping
    "spans_conll03_converged": "conll03_spans_converged",
    "spans_finder_uner_converged": "uner_spanfinder_converged",
}
for _block, _stem in SPAN_TABLES.items():
    generator(_block)(functools.partial(span_table, stem=_stem))


@generator("spans_speed")
def spans_speed_table(results_dir: Path) -> str:
    """docs/BENCHMARKS.md, "Spans": candidate imbalance and speed (``spans_speed.json``)."""
    data = load_results(results_dir, "spans_speed")
    lines = [f"`{data['command']}` (commit {data['git_commit']}; training timed by the"
             f" {data['clock']} clock, best of interleaved rounds).", ""]
    return "\n".join(lines + span_speed_tables(data)) + "\n"


def span_speed_tables(data: Dict[str, Any]) -> List[str]:
    """The candidate-imbalance table and one speed table per task of a ``span_speed.py`` report
    (also the body of its own ``spans_speed.md``)."""
    lines = ["| corpus | split | n-gram candidates (1-4) | positive | negative:positive | gold spans longer than 4 |",
             "|---|---|---|---|---|---|"]
    for corpus, splits in data["candidates"].items():
        for split, c in splits.items():
            lines.append(f"| {corpus} | {split} | {c['candidates']:,} | {c['positives']:,} |"
                         f" {c['neg_pos_ratio']:.1f} | {c['gold_not_suggested']} of {c['gold_spans']:,} |")
    for task, res in data["speed"].items():
        lines += ["", f"{task} ({res['data']}):", "",
                  "| row | train words/s | vs spaCy | predict words/s | vs spaCy |", "|---|---|---|---|---|"]
        for row in res["train"]:
            t, q = res["train"][row], res["predict"][row]
            lines.append(f"| {row} | {t['best']:,.0f} | {t['ratio_to_spacy']:.2f} |"
                         f" {q['best']:,.0f} | {q['ratio_to_spacy']:.2f} |")
    return lines


def seg_speed_markdown(report: Dict[str, Any]) -> str:
    """The tables of a ``seg_speed.py`` report (its ``seg_speed.md``, and the body of the
    ``seg_speed`` block)."""
    lines = [f"Machine: {report['machine']}. Command: `{report['command']}`. Best of"
             f" {report['rounds']} interleaved rounds; the machine was shared with other jobs.", ""]
    if "predict" in report:
        entry = report["predict"]
        lines += [f"Prediction (`nlp.pipe`, batch size {report['batch_size']}, pre-tokenised character"
                  f" docs; {entry['data']}, {entry['characters']:,} characters, {entry['words']:,} gold"
                  f" words; {entry['models']}):", "",
                  "| pipeline | characters/s (best) | characters/s (median) | words/s (best) | ratio to spaCy's tagger |",
                  "|---|---|---|---|---|"]
        for name, r in entry["results"].items():
            lines.append(f"| {name} | {r['best']:,.0f} | {r['median']:,.0f} | {r['best_words_per_s']:,.0f} |"
                         f" {r['ratio_to_spacy']:.2f} |")
        lines.append("")
    if "train" in report:
        entry = report["train"]
        unit = "per CPU second of the process" if entry["clock"] == "cpu" else "per second"
        lines += [f"Training (`nlp.update`, dice_seg_tagger on {entry['data']}; {unit}"
                  + (f"; update counter started at {entry['start_step']}" if entry["start_step"] else "")
                  + "):", "",
                  "| loss | characters/s (best) | characters/s (median) | words/s (best) | ratio to CE |",
                  "|---|---|---|---|---|"]
        for name, r in entry["results"].items():
            label = "spaCy tagger" if name == "spacy" else name
            lines.append(f"| {label} | {r['best']:,.0f} | {r['median']:,.0f} | {r['best_words_per_s']:,.0f} |"
                         f" {r['ratio_to_ce']:.3f} |")
        lines.append("")
    return "\n".join(lines)


@generator("seg_speed")
def seg_speed_table(results_dir: Path) -> str:
    """docs/BENCHMARKS.md, "Chinese": joint segmentation + POS speed (``seg_speed.json``)."""
    return seg_speed_markdown(load_results(results_dir, "seg_speed")) + "\n"


# ----------------------------------------------------------------------------- decisions
RULE_LABELS = {
    "as_trained": "as trained",
    "find_threshold": "spaCy `find-threshold`",
    "calibrated": "`calibrate`",
    "calibrated_rule_before": "`calibrate --confidence 0`",
}


def _rule_label(rule: str) -> str:
    if rule.startswith("recall_at_"):
        return f"`calibrate --metric recall --min-precision {rule[len('recall_at_'):]}`"
    return RULE_LABELS.get(rule, rule)


def _rules_of(runs: List[Dict[str, Any]]) -> List[str]:
    """The rules scored in a decisions file: the fixed ones in their order, then the recall rules."""
    found = {rule for r in runs for rule in r["rules"]}
    return [rule for rule in RULE_LABELS if rule in found] + sorted(found - set(RULE_LABELS))


def _rule_cell(records: List[Dict[str, Any]], rule: str) -> str:
    """``F1 (P / R)`` of one rule, mean +- std over the seeds that have it."""
    got = [r["rules"][rule] for r in records if rule in r["rules"]]
    if not got:
        return "-"
    return (f"{_mean_std([g['f'] for g in got])} ({percent(statistics.mean(g['p'] for g in got), 1)} /"
            f" {percent(statistics.mean(g['r'] for g in got), 1)})")


def _interval_cell(found: Dict[str, Any]) -> str:
    cell = f"{found['delta']:+.2f} [{found['low']:+.2f}, {found['high']:+.2f}]"
    return f"**{cell}**" if found["beyond_noise"] else cell


def _test_interval(comparison: Dict[str, Any], key: str = "pooled") -> Dict[str, Any]:
    """The test interval ``key`` (``"pooled"`` or ``"seed N"``) of a decisions comparison: the
    bootstrap over whole source documents where the test docs name theirs (``by_source``; the
    sentences of one document are not independent draws), over test docs otherwise."""
    return (comparison.get("by_source") or comparison)[key]


def _pair_name(key: str) -> str:
    row, rule = key.split("/")
    return f"{row} {_rule_label(rule)}"


def _settings(records: List[Dict[str, Any]]) -> str:
    """What ``calibrate`` stored, per seed: each component's config keys."""
    parts = []
    for r in records:
        comps = (r["rules"].get("calibrated") or {}).get("components", [])
        text = "; ".join(f"{c['name']}: " + (", ".join(f"{k} {json.dumps(v)}" for k, v in c["config"].items())
                                               if c.get("config") else "unchanged") for c in comps)
        parts.append(f"seed {r['seed']}: {text or 'nothing to calibrate'}")
    return " / ".join(parts)


def decisions_table(results_dir: Path, stem: str) -> str:
    """One accuracy run's models under each decision rule (``benchmarks/calibrated_accuracy.py``):
    test F1 (P / R) per rule, the paired bootstrap intervals of the differences, the rarest type's
    recall, what was stored, and the commands."""
    data = load_results(results_dir, f"{stem}_decisions")
    meta = data["meta"]
    rows = _group(data["runs"])
    rules = _rules_of(data["runs"])
    spans = "find_threshold" in rules
    lines = ["Test F1 (P / R), mean +- std over seeds; every decision chosen on dev only.", "",
             "| row | seeds | " + " | ".join(_rule_label(rule) for rule in rules)
             + (" | `find-threshold` value" if spans else "") + " | `calibrate` seconds |",
             "|---|---|" + "---|" * (len(rules) + spans + 1)]
    for name, records in rows.items():
        found = [r["rules"]["find_threshold"]["threshold"] for r in records if "find_threshold" in r["rules"]]
        seconds = [r["rules"]["calibrated"]["seconds"] for r in records if "calibrated" in r["rules"]]
        cells = [name, ",".join(str(r["seed"]) for r in records)]
        cells += [_rule_cell(records, rule) for rule in rules]
        if spans:
            cells.append(", ".join(f"{t:g}" for t in found) or "-")
        cells.append(f"{statistics.mean(seconds):.1f}" if seconds else "nothing to calibrate")
        lines.append("| " + " | ".join(cells) + " |")
    rarest = data.get("rarest") or {}
    if rarest.get("rows"):
        label = rarest["label"]
        lines += ["", f"Test recall of the rarest type ({label}: {rarest['train_counts'][label]:,} training"
                  " positives, against " + ", ".join(f"{k} {v:,}" for k, v in sorted(rarest["train_counts"].items())
                                                      if k != label)
                  + "), mean over seeds (each seed):", "",
                  "| row | " + " | ".join(_rule_label(rule) for rule in rules) + " |",
                  "|---|" + "---|" * len(rules)]
        for name in rows:
            cells = [name]
            for rule in rules:
                got = rarest["rows"].get(f"{name}/{rule}")
                cells.append("-" if got is None else f"{percent(got['mean'], 1)} (" + ", ".join(
                    percent(v, 1) for k, v in got.items() if k != "mean") + ")")
            lines.append("| " + " | ".join(cells) + " |")
    seeds = sorted({s for c in data["comparisons"] for s in c["seeds"]})
    sources = next((c["source_documents"] for c in data["comparisons"] if "by_source" in c), None)
    resampled = (f"the {sources:,} source documents of test, each with all its sentences" if sources
                 else "the test docs")
    lines += ["", f"Differences in test F1 points, b - a: paired bootstrap 95 % intervals"
              f" ({meta.get('resamples', 1000)} resamples of {resampled}, the same for both rows;"
              " pooled = the mean over seeds of each resample's difference). **Bold**: the interval"
              " excludes 0.", "",
              "| b - a | pooled | " + " | ".join(f"seed {s}" for s in seeds) + " |",
              "|---|---|" + "---|" * len(seeds)]
    for c in data["comparisons"]:
        cells = [f"{_pair_name(c['b'])} - {_pair_name(c['a'])}", _interval_cell(_test_interval(c))]
        cells += [_interval_cell(_test_interval(c, f"seed {s}")) if f"seed {s}" in c else "-" for s in seeds]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Stored by `calibrate`: " + "; ".join(
        f"**{name}**: {_settings(records)}" for name, records in rows.items()) + ".", "",
        "Commands (training, then scoring under each rule):", ""]
    lines += [f"    {c}" for c in meta.get("train_rerun", [])]
    # each command once, where it last ran
    lines += [f"    {c}" for c in reversed(list(dict.fromkeys(reversed(meta.get("commands", [])))))]
    return "\n".join(lines) + "\n"


DECISION_SETTINGS = [
    ("spans (`dice_spancat`), UNER, early stopping", "uner_spans_calib"),
    ("spans (`dice_spancat`), CoNLL-2003, 800 steps", "conll03_spans_calib"),
    ("span finder + `dice_spancat`, UNER, early stopping", "uner_spanfinder_calib"),
    ("entities (`dice_ner`), UNER, early stopping", "uner_calib"),
    ("entities (`dice_ner`), UNER, early stopping, trained again", "uner_recall"),
    ("entities (`dice_ner`), UNER, early stopping, trained a third time", "uner_recall_retrain"),
    ("entities (`dice_ner`), CoNLL-2003, 800 steps", "conll03_calib"),
    ("words + UPOS over characters (`dice_seg_tagger`), UD1.4, early stopping", "ud_zh_converged"),
    ("words + XPOS over characters (`dice_seg_tagger`), UD1.4, early stopping", "ud_zh_xpos_converged"),
    ("entities over characters (`dice_ner`), UNER Chinese-GSD, early stopping", "uner_zh_converged"),
    ("entities, MiniLM (`ner_trf.cfg`), UNER, 600 steps", "uner_trf_calib"),
    ("entities, MiniLM (`ner_trf.cfg`), UNER, early stopping", "uner_trf_es_calib"),
    ("entities, MiniLM (`ner_trf.cfg`), UNER, early stopping, trained again", "uner_trf_es_rerun"),
    ("paraphrase pairs, MiniLM (`textcat_trf.cfg`), MRPC, early stopping", "mrpc_trf_converged"),
]


def _pooled(data: Dict[str, Any], a: str, b: str) -> Optional[str]:
    for c in data.get("comparisons", []):
        if c["a"] == a and c["b"] == b:
            return f"{_interval_cell(_test_interval(c))} ({len(c['seeds'])})"
    return None


def _decision_files(results_dir: Path, settings: Sequence[Tuple[str, str]]
                    ) -> Iterable[Tuple[str, str, Dict[str, Any]]]:
    """``(label, STEM, STEM_decisions.json)`` of each setting whose decisions file exists."""
    for label, stem in settings:
        if (results_dir / f"{stem}_decisions.json").exists():
            yield label, stem, load_results(results_dir, f"{stem}_decisions")


def _scored_with_todays_rule(data: Dict[str, Any]) -> bool:
    """Whether a decisions file was scored with today's ``calibrate``: its runs carry the rule
    before the noise check beside it (``calibrated_rule_before``)."""
    return any("calibrated_rule_before" in r["rules"] for r in data["runs"])


@generator("which-loss")
def which_loss_table(results_dir: Path) -> str:
    """README "Which loss to pick": the pooled paired-bootstrap intervals of each decisions file:
    every other row against CE / BCE once both are calibrated, calibration against the model as
    trained and, for spans, against spaCy's ``find-threshold``. Only the settings scored with
    today's ``calibrate`` (:func:`_scored_with_todays_rule`); the others are named under the
    table and stay in docs/BENCHMARKS.md."""
    lines = ["| setting | each other row - CE / BCE, both calibrated | `calibrate` - as trained (CE / BCE) |"
             " `calibrate` - spaCy `find-threshold` (BCE) | `calibrate` - `--confidence 0` (CE / BCE) |",
             "|---|---|---|---|---|"]
    earlier = []
    for label, stem, data in _decision_files(results_dir, DECISION_SETTINGS):
        if not _scored_with_todays_rule(data):
            earlier.append(f"`{stem}`")
            continue
        ref = data["meta"]["reference"]
        rows = list(dict.fromkeys(r["name"] for r in data["runs"]))
        others = []
        for row in rows:
            if row == ref:
                continue
            rule = "calibrated" if _pooled(data, f"{ref}/calibrated", f"{row}/calibrated") else "as_trained"
            cell = _pooled(data, f"{ref}/{rule}", f"{row}/{rule}")
            if cell:
                name = _loss_row(row)
                others.append(f"{name}{' (as trained)' if rule == 'as_trained' else ''}: {cell}")
        cells = [label, "; ".join(others) or "-",
                 _pooled(data, f"{ref}/as_trained", f"{ref}/calibrated") or "-",
                 _pooled(data, f"{ref}/find_threshold", f"{ref}/calibrated") or "-",
                 _pooled(data, f"{ref}/calibrated_rule_before", f"{ref}/calibrated") or "-"]
        lines.append("| " + " | ".join(cells) + " |")
    if earlier:
        lines += ["", "Scored only with the rule before the noise check (models gone; in docs/BENCHMARKS.md):"
                      f" {', '.join(earlier)}."]
    return "\n".join(lines) + "\n"


def _check_cell(comparison: Optional[Dict[str, Any]], by_source: bool = False) -> str:
    """``pooled [interval]``, and the seeds losing beyond their own interval (``seed 1 -1.40*``);
    ``by_source``: the intervals resampling whole source documents."""
    if comparison is None or (by_source and "by_source" not in comparison):
        return "-"
    found = comparison["by_source"] if by_source else comparison
    losing = [f"seed {s} {found[f'seed {s}']['delta']:+.2f}*" for s in comparison["seeds"]
              if found[f"seed {s}"]["beyond_noise"] and found[f"seed {s}"]["delta"] < 0]
    return _interval_cell(found["pooled"]) + (f" ({', '.join(losing)})" if losing else "")


@generator("calibrate_checks")
def calibrate_checks_table(results_dir: Path) -> str:
    """CALIBRATION.md: per row of the decisions tables scored with today's ``calibrate``, it against
    the model as trained and against spaCy's ``find-threshold``, pooled over seeds, with the paired
    bootstrap resampling test sentences and resampling whole source documents, and the seeds that
    lose beyond their own interval."""
    lines = ["| setting | row | `calibrate` - as trained, by sentence | by source document |"
             " `calibrate` - `find-threshold`, by sentence | by source document |",
             "|---|---|---|---|---|---|"]
    for label, _, data in _decision_files(results_dir, DECISION_SETTINGS):
        if not _scored_with_todays_rule(data):
            continue
        found = {(c["a"], c["b"]): c for c in data.get("comparisons", [])}
        for row in dict.fromkeys(r["name"] for r in data["runs"]):
            trained = found.get((f"{row}/as_trained", f"{row}/calibrated"))
            if trained is None:
                continue
            threshold = found.get((f"{row}/find_threshold", f"{row}/calibrated"))
            name = _loss_row(row)
            cells = [label, name, _check_cell(trained), _check_cell(trained, by_source=True),
                     _check_cell(threshold), _check_cell(threshold, by_source=True)]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


for _stem in ("uner_spans_calib", "conll03_spans_calib", "uner_spanfinder_calib", "uner_calib", "conll03_calib",
              "uner_recall", "uner_recall_retrain", "uner_trf_calib", "uner_trf_es_calib", "uner_trf_es_rerun",
              "ud_zh_converged", "ud_zh_xpos_converged", "uner_zh_converged", "mrpc_trf_converged"):
    generator(f"decisions_{_stem}")(lambda results_dir, _s=_stem: decisions_table(results_dir, _s))


HELD_OUT_RULES = {
    "as_trained": "as trained",
    "find_threshold": "spaCy `find-threshold`",
    "global_only": "`calibrate`, global value only",
    "calibrate": "`calibrate` (departures)",
}


def held_out_rule(rule: str) -> str:
    """How the rules table names a rule of ``benchmarks/calibration_rules.py``."""
    if rule.startswith("calibrate@"):
        confidence, _, global_confidence = rule.split("@", 1)[1].partition("/global@")
        global_confidence, *parts = global_confidence.split("/")
        correction = next((x for x in parts if x in ("holm", "none")), "")
        unit = next((x for x in parts if x in ("source", "doc")), "")
        folds = next((x for x in parts if x.startswith("folds@")), "")
        if not global_confidence:  # the studies' single bar for the global value and the departures
            return (f"`calibrate --confidence {confidence}" + (" --correction none" if float(confidence) else "")
                    + " --unit doc` (one bar)")
        flags = f"--confidence {confidence} --global-confidence {global_confidence}"
        # the studies' calibrate rules ran with --correction none --unit doc --folds 5 unless their name says otherwise
        command = f"`calibrate {flags} --correction {correction or 'none'} --unit {unit or 'doc'}"
        folds = folds.partition("@")[2]
        if not folds:
            return command + "`"
        if folds.isdigit():
            return f"{command} --folds {folds}`"
        return f"{command}`, one fold per {'source document' if unit == 'source' else 'dev doc'}"  # loo
    return HELD_OUT_RULES.get(rule, rule)


def rules_table(results_dir: Path, stem: str) -> str:
    """``benchmarks/calibration_rules.py``: each decision rule's F1 on dev docs it was not fitted
    on (outer folds of dev), and the paired bootstrap intervals of the differences."""
    data = load_results(results_dir, f"{stem}_rules")
    meta = data["meta"]
    rules = list(data["runs"][0]["rules"])
    lines = [f"Held-out dev F1 (P / R), mean +- std over seeds: each rule fitted on {meta['folds'] - 1} of"
             f" {meta['folds']} outer folds of the {data['runs'][0]['dev_docs']} dev docs and scored on the"
             " fold it did not see; test is not used.", "",
             "| row | seeds | " + " | ".join(held_out_rule(r) for r in rules) + " |",
             "|---|---|" + "---|" * len(rules)]
    for name, records in _group(data["runs"]).items():
        cells = [name, ",".join(str(r["seed"]) for r in records)]
        cells += [_rule_cell(records, rule) for rule in rules]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Differences in held-out dev F1 points, b - a, pooled over seeds (paired bootstrap 95 %"
              " intervals over the dev docs; **bold**: the interval excludes 0):", "",
              "| b - a | pooled |", "|---|---|"]
    for c in data["comparisons"]:
        a, b = (held_out_rule(k.split("/", 1)[1]) for k in (c["a"], c["b"]))
        lines.append(f"| {c['b'].split('/')[0]}: {b} - {a} | {_interval_cell(c['pooled'])} |")
    lines += ["", "Commands (training, then the held-out rules):", ""]
    lines += [f"    {c}" for c in meta.get("train_rerun", []) + meta.get("commands", [])]
    return "\n".join(lines) + "\n"


for _stem in ("uner_recall", "uner_spans_rules", "uner_calib", "conll03_calib", "uner_spans_calib",
              "uner_spans_calib_split", "uner_calib_split", "conll03_calib_split",
              "uner_spans_calib_source", "uner_calib_source", "uner_spans_calib_folds", "uner_calib_folds"):
    generator(f"rules_{_stem}")(lambda results_dir, _s=_stem: rules_table(results_dir, _s))

SPLIT_STUDIES = {"uner_spans_calib_split": "UNER n-gram spans, BCE / set DSC / log-dice / spaCy",
                 "uner_calib_split": "UNER entities, CE / DSC / CE then DSC",
                 "conll03_calib_split": "CoNLL-2003 entities, CE / DSC / CE then DSC"}
SPLIT_RULES = ("calibrate@0", "calibrate@0.95", "calibrate@0.95/global@0", "calibrate@0.95/global@0.5",
               "calibrate@0.99/global@0", "calibrate@0.95/global@0/holm", "find_threshold")
SOURCE_STUDIES = {"uner_spans_calib_source": SPLIT_STUDIES["uner_spans_calib_split"],
                  "uner_calib_source": SPLIT_STUDIES["uner_calib_split"]}
SOURCE_RULES = ("calibrate@0", "calibrate@0.95/global@0", "calibrate@0.95/global@0/holm",
                "calibrate@0.95/global@0/holm/source", "find_threshold")
FOLDS_STUDIES = {"uner_spans_calib_folds": SPLIT_STUDIES["uner_spans_calib_split"],
                 "uner_calib_folds": SPLIT_STUDIES["uner_calib_split"]}
FOLDS_RULES = ("calibrate@0.95/global@0/holm/source", "calibrate@0.95/global@0/holm/source/folds@10",
               "calibrate@0.95/global@0/holm/source/folds@loo", "find_threshold")


def rules_summary(results_dir: Path, studies: Dict[str, str] = SPLIT_STUDIES,
                  rules: Sequence[str] = SPLIT_RULES) -> str:
    """Per held-out dev study, each rule's mean (over rows) of its pooled held-out F1 gain over
    the model as trained; the best rule of a study in bold, ``-`` where the study lacks it."""
    header = ["study (its table below)", "dev docs"] + [held_out_rule(r) for r in rules]
    lines = ["| " + " | ".join(header) + " |", "|---|---|" + "---|" * len(rules)]
    averages: Dict[str, List[float]] = {rule: [] for rule in rules}
    for stem, title in studies.items():
        data = load_results(results_dir, f"{stem}_rules")
        gains: Dict[str, List[float]] = {}
        for c in data["comparisons"]:
            if c["a"].split("/", 1)[1] == "as_trained":
                gains.setdefault(c["b"].split("/", 1)[1], []).append(c["pooled"]["delta"])
        means = {rule: statistics.mean(gains[rule]) for rule in rules if rule in gains}
        best = max(means.values())
        run = data["runs"][0]
        cells = [title, f"{run['dev_docs']:,}" + (f" ({run['outer_units']} source documents)"
                                                   if run.get("outer_unit") == "source" else "")]
        for rule in rules:
            if rule not in means:
                cells.append("-")
                continue
            averages[rule].append(means[rule])
            text = f"{means[rule]:+.2f}"
            cells.append(f"**{text}**" if abs(means[rule] - best) < 0.005 else text)
        lines.append("| " + " | ".join(cells) + " |")
    cells = ["mean of the studies that have every rule", ""]
    complete = [rule for rule in rules if len(averages[rule]) == len(studies)]
    cells += [f"{statistics.mean(averages[rule]):+.2f}" if rule in complete else "-" for rule in rules]
    lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


generator("rules_split_summary")(rules_summary)
generator("rules_source_summary")(lambda results_dir: rules_summary(results_dir, SOURCE_STUDIES, SOURCE_RULES))
generator("rules_folds_summary")(lambda results_dir: rules_summary(results_dir, FOLDS_STUDIES, FOLDS_RULES))


def global_folds_table(results_dir: Path, stem: str) -> str:
    """``benchmarks/global_gain_folds.py``: per model, ``calibrate``'s cross-fitted gain of the one
    global value over the current setting on dev, mean [lowest, highest] over the fold seeds, and
    how many fold seeds adopted it, for each number of folds."""
    data = load_results(results_dir, f"{stem}_global_folds")
    settings = data["meta"]["folds"]
    records = data["runs"]

    def heading(setting: str) -> str:
        folds = records[0]["summary"][setting]["folds"]
        return f"{folds} folds (one per source document)" if setting == "loo" else f"{setting} folds"

    lines = ["| row | seed | " + " | ".join(heading(s) for s in settings) + " |",
             "|---|---|" + "---|" * len(settings)]
    for r in records:
        cells = [_loss_row(r["name"]), str(r["seed"])]
        for setting in settings:
            v = r["summary"][setting]
            spread = f" [{v['min_gain']:+.2f}, {v['max_gain']:+.2f}]" if v["fold_seeds"] > 1 else ""
            cells.append(f"{v['mean_gain']:+.2f}{spread}, adopted {v['adopted']}/{v['fold_seeds']}")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Command (training, then the refits on dev; test is not used):", ""]
    lines += [f"    {c}" for c in list(dict.fromkeys(data["meta"].get("train_rerun", []))) + [data["meta"]["command"]]]
    return "\n".join(lines) + "\n"


generator("global_folds_uner_spans_calib")(lambda results_dir: global_folds_table(results_dir, "uner_spans_calib"))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report stale blocks; exit 1 if any")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("files", nargs="*", type=Path, help="default: README.md and docs/*.md")
    args = parser.parse_args(argv)
    paths = args.files or documents()
    try:
        stale = update(paths, args.results_dir, write=not args.check)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.check:
        for entry in stale:
            print(f"stale: {entry} (run: python benchmarks/make_tables.py)")
        return 1 if stale else 0
    for entry in stale:
        print(f"updated: {entry}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
