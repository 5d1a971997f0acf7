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
import json
import re
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

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
    """One row of the README results table: which JSON and which score key."""

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
}


def _mean_std(values: Sequence[float]) -> str:
    if len(values) == 1:
        return f"{100 * values[0]:.2f}"
    return f"{100 * statistics.mean(values):.2f} +- {100 * statistics.stdev(values):.2f}"


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
    """Cells of the results table, one list per task (see :func:`results_table`)."""
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


@generator("results")
def results_table(results_dir: Path) -> str:
    """README "Results": test score mean +- std (number of seeds) per task and row.

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
            path.write_text(new, encoding="utf8")
    return stale


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
