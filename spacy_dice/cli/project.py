"""The commands the ``spacy project`` template (``project.yml``) calls to prepare one run.

* ``python -m spacy_dice project-convert DATASET --data-dir DIR --output corpus/DATASET``:
  the data set's train/dev/test files to ``train.spacy``, ``dev.spacy``, ``test.spacy``
  (weasel variables cannot branch, so the per-data-set choices live in :data:`DATASETS`).
* ``python -m spacy_dice project-config DATASET --backbone cnn --loss dsc --output CFG``:
  ``configs/<task>_<backbone>.cfg`` with the chosen loss preset, seed and step budget.
"""
from __future__ import annotations

import csv
import io
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import typer
from wasabi import msg

from .app import app

SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class Dataset:
    """Where a data set's files are and how the template trains on it."""

    name: str
    format: str  # a name in spacy_dice.corpus.convert.FORMATS
    task: str  # "ner", "tagger" or "textcat": the config is configs/<task>_<backbone>.cfg
    folder: str  # sub-folder of data_dir ("" for the shipped sample)
    files: Dict[str, str]  # split -> file name; "dev" may be missing (split off train)
    description: str
    attr: Optional[str] = None  # tagger: "pos" (UPOS) or "tag"
    positive_label: Optional[str] = None  # textcat: whose F1 is cats_score
    notes: Tuple[str, ...] = field(default_factory=tuple)


SAMPLE_DIR = Path("assets") / "sample"

DATASETS: Dict[str, Dataset] = {
    "sample": Dataset(
        "sample", "uner", "ner", "",
        {"train": "train.iob2", "dev": "dev.iob2", "test": "test.iob2"},
        "UNER English-EWT excerpt shipped in assets/sample (NER, offline)",
    ),
    "conll2003": Dataset(
        "conll2003", "conll2003", "ner", "conll2003",
        {"train": "eng.train", "dev": "eng.testa", "test": "eng.testb"},
        "CoNLL-2003 English NER (LOC, PER, ORG, MISC)",
    ),
    "ud_ewt": Dataset(
        "ud_ewt", "conllu", "tagger", "ud_english_ewt",
        {
            "train": "en_ewt-ud-train.conllu",
            "dev": "en_ewt-ud-dev.conllu",
            "test": "en_ewt-ud-test.conllu",
        },
        "UD English-EWT r2.16 part-of-speech tagging (17 UPOS tags)",
        attr="pos",
    ),
    "uner_ewt": Dataset(
        "uner_ewt", "uner", "ner", "uner_english_ewt",
        {
            "train": "en_ewt-ud-train.iob2",
            "dev": "en_ewt-ud-dev.iob2",
            "test": "en_ewt-ud-test.iob2",
        },
        "Universal NER English-EWT (LOC, PER, ORG; 94% of tokens O)",
    ),
    "mrpc": Dataset(
        "mrpc", "mrpc", "textcat", "mrpc",
        {"train": "msr_paraphrase_train.txt", "test": "msr_paraphrase_test.txt"},
        "MRPC paraphrase identification (dev: every 10th training pair)",
        positive_label="paraphrase",
    ),
    "sst2": Dataset(
        "sst2", "sst2", "textcat", "sst2",
        {"train": "train.tsv", "dev": "dev.tsv", "test": "test.tsv"},
        "SST-2 binary sentiment (GLUE SST-2.zip also accepted)",
        positive_label="positive",
    ),
    "custom": Dataset(
        "custom", "iob", "ner", "", {},
        "your own files: --train-file/--dev-file/--test-file in --custom-format (default iob)",
    ),
}
"""The data sets the template knows, by the ``dataset`` variable's value."""

CUSTOM_TASKS: Dict[str, Tuple[str, Optional[str], Optional[str]]] = {
    # format -> (task, tagger attr, textcat positive label)
    "iob": ("ner", None, None),
    "conll2003": ("ner", None, None),
    "uner": ("ner", None, None),
    "conllu": ("tagger", "pos", None),
    "mrpc": ("textcat", None, "paraphrase"),
    "sst2": ("textcat", None, "positive"),
}
"""What the ``custom`` data set trains for each input format of ``python -m spacy_dice convert``."""


def custom_dataset(format: str, files: Dict[str, str]) -> Dataset:
    """The ``custom`` data set for the user's ``files`` (split -> path; ``dev`` may be missing or
    empty: every 10th training doc is dev then) in ``format``."""
    if format not in CUSTOM_TASKS:
        raise typer.BadParameter(
            f"unknown format {format!r} for the custom data set: expected one of {', '.join(CUSTOM_TASKS)}",
            param_hint="--custom-format",
        )
    given = {split: path for split, path in files.items() if path}
    for split in ("train", "test"):
        if split not in given:
            raise typer.BadParameter(
                f"the custom data set needs a {split} file: --vars.{split}_file PATH"
                f" (--{split}-file for project-convert)",
                param_hint=f"--{split}-file",
            )
    task, attr, positive = CUSTOM_TASKS[format]
    return Dataset("custom", format, task, "", given, f"your own {format} files", attr=attr,
                   positive_label=positive)

DEV_EVERY = 10  # data sets without a dev file: every DEV_EVERY-th training doc is dev

SPAN_TASKS = {
    # --vars.task value -> (config stem: configs/<stem>_<backbone>.cfg, components with a loss)
    "spans": ("spancat", ("spancat",)),
    "spans_finder": ("spans", ("span_finder", "spancat")),
}
"""NER data sets trained as span categorization (``doc.spans["sc"]``): ``spans`` = dice_spancat
over n-gram candidates, ``spans_finder`` = dice_span_finder suggesting dice_spancat's candidates."""
TASK_CHOICES = ("auto",) + tuple(SPAN_TASKS)
SPANS_KEY = "sc"
def check_task(task: str, ds: Dataset) -> str:
    """``auto`` (the data set's own task) or a span task, which needs an NER data set."""
    if task not in TASK_CHOICES:
        raise typer.BadParameter(
            f"unknown task {task!r}: expected one of {', '.join(TASK_CHOICES)}", param_hint="--task"
        )
    if task != "auto" and ds.task != "ner":
        raise typer.BadParameter(
            f"task {task!r} trains spans from entity annotation, but data set {ds.name!r} is a"
            f" {ds.task} data set; use an NER data set (sample, conll2003, uner_ewt, custom iob)",
            param_hint="--task",
        )
    return task


def get_dataset(name: str, custom_format: str = "iob") -> Dataset:
    """The data set called ``name``; for ``custom`` its task follows ``custom_format``."""
    if name == "custom":
        if custom_format not in CUSTOM_TASKS:
            raise typer.BadParameter(
                f"unknown format {custom_format!r} for the custom data set: expected one of"
                f" {', '.join(CUSTOM_TASKS)}",
                param_hint="--custom-format",
            )
        task, attr, positive = CUSTOM_TASKS[custom_format]
        return Dataset("custom", custom_format, task, "", {}, DATASETS["custom"].description,
                       attr=attr, positive_label=positive)
    try:
        return DATASETS[name]
    except KeyError:
        raise typer.BadParameter(
            f"unknown data set {name!r}: expected one of {', '.join(DATASETS)}",
            param_hint="DATASET",
        ) from None


# ---------------------------------------------------------------------------------------------
# project-convert


def _source_files(ds: Dataset, data_dir: Path, sample_dir: Path, work_dir: Path) -> Dict[str, Path]:
    """The input file of each split that has one; raises ``FileNotFoundError`` with advice."""
    if ds.name == "custom":
        paths = {split: Path(path) for split, path in ds.files.items()}
        missing = [f"{split} file {p}" for split, p in paths.items() if not p.is_file()]
        if missing:
            raise FileNotFoundError(
                f"missing {', '.join(missing)}: give existing files with --vars.train_file,"
                " --vars.dev_file (optional) and --vars.test_file"
            )
        return paths
    if ds.name == "sample":
        folder = sample_dir
    else:
        folder = data_dir / ds.folder
    if ds.name == "sst2" and not (folder / "train.tsv").exists():
        zipped = folder / "SST-2.zip"
        if zipped.exists():
            return _unpack_glue_sst2(zipped, work_dir)
    paths = {split: folder / name for split, name in ds.files.items()}
    missing = [str(p) for p in paths.values() if not p.exists()]
    if missing:
        hint = (
            "the sample ships with the project (assets/sample)"
            if ds.name == "sample"
            else f"fetch it with `python -m spacy project assets --extra` (into data_dir) or point "
            f"--vars.data_dir at a folder holding {ds.folder}/ (see docs/PROJECT.md)"
        )
        raise FileNotFoundError(f"missing {', '.join(missing)}: {hint}")
    return paths


def _unpack_glue_sst2(zipped: Path, work_dir: Path) -> Dict[str, Path]:
    """GLUE's SST-2.zip: ``sentence<TAB>label`` train/dev (its test has no labels).

    Rewritten as ``label<TAB>sentence`` files the sst2 reader takes; GLUE dev is used
    as both dev and test.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    out: Dict[str, Path] = {}
    with zipfile.ZipFile(zipped) as archive:
        for split in ("train", "dev"):
            text = archive.read(f"SST-2/{split}.tsv").decode("utf8")
            rows = list(csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE))
            header, body = rows[0], rows[1:]
            s_col, l_col = header.index("sentence"), header.index("label")
            dest = work_dir / f"sst2-{split}.tsv"
            with dest.open("w", encoding="utf8") as file:
                file.write("label\tsentence\n")
                for row in body:
                    if row:
                        file.write(f"{row[l_col]}\t{row[s_col]}\n")
            out[split] = dest
    out["test"] = out["dev"]
    msg.info(f"Read GLUE {zipped.name}: its test split has no labels, dev is used as test")
    return out


def convert_dataset(
    name: str,
    data_dir: Path,
    output_dir: Path,
    *,
    sample_dir: Path = SAMPLE_DIR,
    limit: Optional[int] = None,
    custom_files: Optional[Dict[str, str]] = None,
    custom_format: str = "iob",
    task: str = "auto",
) -> Dict[str, Dict[str, Any]]:
    """Write ``output_dir/{train,dev,test}.spacy`` for the data set ``name``; return stats by split.

    ``custom``: the files of ``custom_files`` (split -> path) in ``custom_format``. ``task`` a
    span task (:data:`SPAN_TASKS`): the entities are also written to ``doc.spans["sc"]``.
    """
    from spacy.tokens import DocBin

    from ..corpus.convert import convert_file
    from ..corpus.docbin import write_docbin

    if name == "custom":
        ds = custom_dataset(custom_format, custom_files or {})
    else:
        ds = get_dataset(name)
    check_task(task, ds)
    output_dir.mkdir(parents=True, exist_ok=True)
    sources = _source_files(ds, Path(data_dir), Path(sample_dir), output_dir / "raw")
    stats: Dict[str, Dict[str, Any]] = {}
    for split, src in sources.items():
        stats[split] = convert_file(ds.format, src, output_dir / f"{split}.spacy", limit=limit)
    if "dev" not in sources:
        import spacy

        nlp = spacy.blank("en")
        train_path = output_dir / "train.spacy"
        docs = list(DocBin().from_disk(train_path).get_docs(nlp.vocab))
        dev = [d for i, d in enumerate(docs) if i % DEV_EVERY == DEV_EVERY - 1]
        train = [d for i, d in enumerate(docs) if i % DEV_EVERY != DEV_EVERY - 1]
        write_docbin(train, train_path)
        write_docbin(dev, output_dir / "dev.spacy")
        for split, part in (("train", train), ("dev", dev)):
            cats = Counter(k for d in part for k, v in d.cats.items() if v >= 0.5)
            ents = Counter(e.label_ for d in part for e in d.ents)
            stats[split] = {
                **stats["train"], "documents": len(part), "tokens": sum(len(d) for d in part),
                "cats": dict(cats.most_common()), "entities": dict(ents.most_common()),
            }
    if task in SPAN_TASKS:
        import spacy

        from ..corpus.spans import ents_as_spans

        vocab = spacy.blank("en").vocab
        for split in SPLITS:
            path = output_dir / f"{split}.spacy"
            write_docbin(list(ents_as_spans(DocBin().from_disk(path).get_docs(vocab), SPANS_KEY)), path)
    return stats


@app.command("project-convert")
def project_convert(
    dataset: str = typer.Argument(..., help="Data set: " + ", ".join(DATASETS)),
    data_dir: Path = typer.Option(
        Path("assets/data"), "--data-dir", help="Folder holding the corpora (ignored for sample)."
    ),
    output_dir: Path = typer.Option(
        ..., "--output", "-o", help="Folder for train.spacy, dev.spacy, test.spacy."
    ),
    sample_dir: Path = typer.Option(SAMPLE_DIR, "--sample-dir", help="Where the sample lives."),
    limit: Optional[int] = typer.Option(
        None, "--limit", min=1, help="Keep the first N sentences/pairs of each split."
    ),
    train_file: str = typer.Option("", "--train-file", help="custom only: the training file."),
    dev_file: str = typer.Option("", "--dev-file", help="custom only: the dev file (empty: every 10th training doc)."),
    test_file: str = typer.Option("", "--test-file", help="custom only: the test file."),
    custom_format: str = typer.Option(
        "iob", "--custom-format", help="custom only: " + ", ".join(CUSTOM_TASKS) + " (see `convert --help`)."
    ),
    task: str = typer.Option(
        "auto", "--task", help="auto (the data set's task) or spans / spans_finder: NER data also"
        " written as doc.spans[\"sc\"] for span categorization."
    ),
) -> None:
    """Convert a data set's train/dev/test files to .spacy files (for project.yml)."""
    from ..corpus.errors import CorpusFormatError

    files = {"train": train_file, "dev": dev_file, "test": test_file}
    ds = custom_dataset(custom_format, files) if dataset == "custom" else get_dataset(dataset)
    try:
        check_task(task, ds)
        stats = convert_dataset(dataset, data_dir, output_dir, sample_dir=sample_dir, limit=limit,
                                custom_files=files, custom_format=custom_format, task=task)
    except FileNotFoundError as err:
        msg.fail(f"Cannot convert {dataset}", str(err))
        raise typer.Exit(code=1)
    except CorpusFormatError as err:
        msg.fail(f"Cannot convert {dataset}", str(err))
        raise typer.Exit(code=1)
    rows = []
    for split in SPLITS:
        s = stats.get(split, {})
        labels = s.get("entities") or s.get("cats") or s.get(ds.attr or "", {}) or {}
        rows.append((split, f"{s.get('documents', 0):,}", f"{s.get('tokens', 0):,}" if "tokens" in s else "",
                     ", ".join(f"{k} {v}" for k, v in list(labels.items())[:6])))
    msg.good(f"{ds.description} -> {output_dir}")
    msg.table(rows, header=("split", "docs", "tokens", "labels"), divider=True)


# ---------------------------------------------------------------------------------------------
# project-config


def build_config(
    dataset: str,
    backbone: str,
    loss: str,
    *,
    configs_dir: Path = Path("configs"),
    seed: int = 0,
    max_steps: Optional[int] = None,
    eval_frequency: Optional[int] = None,
    loss_params: Optional[Dict[str, Any]] = None,
    transformer_model: Optional[str] = None,
    custom_format: str = "iob",
    task: str = "auto",
):
    """``configs/<task>_<backbone>.cfg`` with the ``loss`` preset and the data set's settings.

    ``task``: ``auto`` or a span task (:data:`SPAN_TASKS`: ``configs/spancat_<backbone>.cfg`` or
    ``configs/spans_<backbone>.cfg``, the loss given to every span component). The preset takes
    the form of each component's factory (``with_loss``; one table,
    :mod:`spacy_dice.losses.presets`): ``dsc`` is set-level sigmoid DSC on ``dice_spancat``, as
    ``init-config`` writes it. Returns ``(config, component_name)``; the config is not
    interpolated (it keeps ``${...}``).

    Raises:
        ValueError: an unknown preset, or one without a form for the component (``bce`` on NER).
    """
    from thinc.api import Config

    from ..training.config_rewrites import with_loss

    ds = get_dataset(dataset, custom_format)
    check_task(task, ds)
    stem, span_components = SPAN_TASKS.get(task, (ds.task, ()))
    path = Path(configs_dir) / f"{stem}_{backbone}.cfg"
    if not path.exists():
        raise FileNotFoundError(f"no config {path} for task {ds.task!r} and backbone {backbone!r}")
    config = Config().from_disk(path, interpolate=False)
    if span_components:
        for name in span_components:
            config = with_loss(config, name, loss, **(loss_params or {}))
        _set_run_settings(config, seed, max_steps, eval_frequency, transformer_model)
        return config, "spancat"
    config = with_loss(config, ds.task, loss, **(loss_params or {}))
    component = config["components"][ds.task]
    if ds.attr is not None:
        component["attr"] = ds.attr
    if ds.positive_label is not None:
        component["positive_label"] = ds.positive_label
    _set_run_settings(config, seed, max_steps, eval_frequency, transformer_model)
    return config, ds.task


def _set_run_settings(config: Any, seed: int, max_steps: Optional[int],
                      eval_frequency: Optional[int], transformer_model: Optional[str]) -> None:
    config["system"]["seed"] = seed
    if max_steps is not None:
        config["training"]["max_steps"] = max_steps
    if eval_frequency is not None:
        config["training"]["eval_frequency"] = eval_frequency
    if transformer_model and "transformer_model" in config.get("paths", {}):
        from ..transformers import resolve_model_name

        config["paths"]["transformer_model"] = resolve_model_name(transformer_model)


@app.command("project-config")
def project_config(
    dataset: str = typer.Argument(..., help="Data set: " + ", ".join(DATASETS)),
    output: Path = typer.Option(..., "--output", "-o", help="The training config to write."),
    backbone: str = typer.Option("cnn", "--backbone", help="cnn or trf (configs/<task>_<backbone>.cfg)."),
    loss: str = typer.Option("dsc", "--loss", help="Loss preset, in the component's form: ce, wce, focal, dl, dsc, tversky, combined, ce_then_dsc, logdice (more: docs/LOSSES.md, \"Preset names\")."),
    seed: int = typer.Option(0, "--seed"),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", min=0, help="0: no step limit."),
    eval_frequency: Optional[int] = typer.Option(None, "--eval-frequency", min=1),
    configs_dir: Path = typer.Option(Path("configs"), "--configs-dir"),
    transformer_model: Optional[str] = typer.Option(
        None, "--transformer-model",
        help="trf only: a Hugging Face name, a local folder or 'minilm' (see `model-path`).",
    ),
    custom_format: str = typer.Option(
        "iob", "--custom-format", help="custom only: the files' format, which sets the task."
    ),
    task: str = typer.Option(
        "auto", "--task", help="auto (the data set's task) or spans (dice_spancat,"
        " configs/spancat_<backbone>.cfg) / spans_finder (dice_span_finder + dice_spancat,"
        " configs/spans_<backbone>.cfg); the loss preset takes its sigmoid form (dsc: set-level DSC)."
    ),
) -> None:
    """Write the training config for a data set, backbone and loss preset (for project.yml)."""
    from ..transformers import TransformerModelNotFound

    try:
        config, component = build_config(
            dataset, backbone, loss, configs_dir=configs_dir, seed=seed,
            max_steps=max_steps, eval_frequency=eval_frequency,
            transformer_model=transformer_model, custom_format=custom_format, task=task,
        )
    except (FileNotFoundError, ValueError, TransformerModelNotFound, typer.BadParameter) as err:
        msg.fail("Cannot write the config", str(err))
        raise typer.Exit(code=1)
    output.parent.mkdir(parents=True, exist_ok=True)
    config.to_disk(output)
    stem = SPAN_TASKS[task][0] if task in SPAN_TASKS else get_dataset(dataset, custom_format).task
    from ..training.config_rewrites import component_activation

    form = component_activation(config, component)
    msg.good(
        f"Wrote {output}: {configs_dir}/{stem}_{backbone}.cfg, "
        f"[components.{component}.loss] = {loss} ({form} form),"
        f" seed {seed}, max_steps {config['training']['max_steps']}"
    )
