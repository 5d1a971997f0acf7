"""The data sets the ``spacy project`` template (``project.yml``) trains on, and their conversion.

:data:`DATASETS` says, per value of the template's ``dataset`` variable, where the files are, which
corpus format they are in and what the run trains (weasel variables cannot branch, so these
choices live here). :func:`convert_dataset` writes a data set's ``train.spacy``, ``dev.spacy`` and
``test.spacy``; ``python -m spacy_dice project-convert`` (:mod:`spacy_dice.cli.project`) is that
call plus printing.
"""
from __future__ import annotations

import csv
import io
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from ..files import write_atomic

SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class Dataset:
    """Where a data set's files are and how the template trains on it."""

    name: str
    format: str  # a name in spacy_dice.corpus.convert.FORMATS
    # "ner", "tagger", "seg_tagger" or "textcat": the component's name in the config
    task: str
    folder: str  # sub-folder of data_dir ("" for the shipped sample)
    files: Dict[str, str]  # split -> file name; "dev" may be missing (split off train)
    description: str
    attr: Optional[str] = None  # tagger, seg_tagger: "pos" (UPOS) or "tag"
    positive_label: Optional[str] = None  # textcat: whose F1 is cats_score
    notes: Tuple[str, ...] = field(default_factory=tuple)
    # the reader options of the conversion (convert_file), e.g. {"chars": True, "pos": "upos"}
    options: Dict[str, Any] = field(default_factory=dict)
    # the config stem, configs/<config>_<backbone>.cfg; "" = the task
    config: str = ""

    @property
    def config_stem(self) -> str:
        """The stem of the repository config the data set trains with (``configs/<stem>_<backbone>.cfg``)."""
        return self.config or self.task

    @property
    def chars(self) -> bool:
        """Whether the data set is converted into character docs (Chinese; its own configs)."""
        return bool(self.options.get("chars"))


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
    "ud_zh": Dataset(
        "ud_zh", "conllu", "seg_tagger", "ud_chinese_gsd_r1.4",
        {"train": "zh-ud-train.conllu", "dev": "zh-ud-dev.conllu", "test": "zh-ud-test.conllu"},
        "UD Chinese-GSD r1.4 (the paper's UD1.4) joint word segmentation + UPOS over characters",
        attr="pos", options={"chars": True, "pos": "upos"},
    ),
    "ud_zh_xpos": Dataset(
        "ud_zh_xpos", "conllu", "seg_tagger", "ud_chinese_gsd_r1.4",
        {"train": "zh-ud-train.conllu", "dev": "zh-ud-dev.conllu", "test": "zh-ud-test.conllu"},
        "UD Chinese-GSD r1.4 joint word segmentation + XPOS (token.tag_) over characters",
        attr="tag", options={"chars": True, "pos": "xpos"},
    ),
    "uner_zh": Dataset(
        "uner_zh", "uner", "ner", "uner_chinese_gsd",
        {"train": "zh_gsd-ud-train.iob2", "dev": "zh_gsd-ud-dev.iob2", "test": "zh_gsd-ud-test.iob2"},
        "Universal NER Chinese-GSD (LOC, PER, ORG) over characters",
        options={"chars": True}, config="ner_zh",
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

DEV_EVERY = 10  # data sets without a dev file: every DEV_EVERY-th training doc is dev

SPAN_TASKS: Dict[str, Tuple[str, Tuple[str, ...]]] = {
    # task value -> (config stem: configs/<stem>_<backbone>.cfg, components with a loss)
    "spans": ("spancat", ("spancat",)),
    "spans_finder": ("spans", ("span_finder", "spancat")),
}
"""NER data sets trained as span categorization (``doc.spans["sc"]``): ``spans`` = dice_spancat
over n-gram candidates, ``spans_finder`` = dice_span_finder suggesting dice_spancat's candidates."""
TASK_CHOICES = ("auto",) + tuple(SPAN_TASKS)
SPANS_KEY = "sc"


class DatasetError(ValueError):
    """A data set, input format, task or file list the template cannot use.

    ``parameter`` names the argument that was wrong: ``dataset``, ``custom_format``, ``task`` or
    ``custom_files``.
    """

    def __init__(self, message: str, parameter: str) -> None:
        super().__init__(message)
        self.parameter = parameter

    def __reduce__(self):  # picklable (multiprocessing) despite the extra argument
        return (type(self), (str(self), self.parameter))


class MissingCustomFile(DatasetError):
    """The ``custom`` data set was given no file for ``split`` (``train`` or ``test``)."""

    def __init__(self, split: str) -> None:
        super().__init__(
            f"custom_files has no {split!r} file: the custom data set needs a train and a test file"
            " (dev is optional: every 10th training doc is dev without one)",
            "custom_files",
        )
        self.split = split

    def __reduce__(self):
        return (type(self), (self.split,))


def _custom(format: str, files: Dict[str, str], description: str) -> Dataset:
    if format not in CUSTOM_TASKS:
        raise DatasetError(
            f"custom_format={format!r}: unknown format for the custom data set; expected one of"
            f" {', '.join(CUSTOM_TASKS)}",
            "custom_format",
        )
    task, attr, positive = CUSTOM_TASKS[format]
    return Dataset("custom", format, task, "", files, description, attr=attr, positive_label=positive)


def custom_dataset(format: str, files: Dict[str, str]) -> Dataset:
    """The ``custom`` data set for the user's ``files`` (split -> path; ``dev`` may be missing or
    empty: every 10th training doc is dev then) in ``format`` (a key of :data:`CUSTOM_TASKS`,
    which sets the task).

    Raises:
        DatasetError: an unknown ``format`` (``parameter == "custom_format"``).
        MissingCustomFile: no train or no test file.
    """
    dataset = _custom(format, {}, "")
    given = {split: path for split, path in files.items() if path}
    for split in ("train", "test"):
        if split not in given:
            raise MissingCustomFile(split)
    return Dataset("custom", format, dataset.task, "", given, f"your own {format} files",
                   attr=dataset.attr, positive_label=dataset.positive_label)


def get_dataset(name: str, custom_format: str = "iob") -> Dataset:
    """The data set called ``name`` (a key of :data:`DATASETS`); for ``custom``, without files,
    its task follows ``custom_format``.

    Raises:
        DatasetError: an unknown ``name`` (``parameter == "dataset"``) or ``custom_format``.
    """
    if name == "custom":
        return _custom(custom_format, {}, DATASETS["custom"].description)
    try:
        return DATASETS[name]
    except KeyError:
        raise DatasetError(
            f"dataset={name!r}: unknown data set; expected one of {', '.join(DATASETS)}", "dataset"
        ) from None


def check_task(task: str, ds: Dataset) -> str:
    """``task`` if the data set ``ds`` can be trained that way: ``auto`` (the data set's own
    task) or a span task (:data:`SPAN_TASKS`), which needs an NER data set.

    Raises:
        DatasetError: an unknown ``task``, or a span task on a data set without entities
            (``parameter == "task"``).
    """
    if task not in TASK_CHOICES:
        raise DatasetError(
            f"task={task!r}: unknown task; expected one of {', '.join(TASK_CHOICES)}", "task"
        )
    if task != "auto" and ds.task != "ner":
        raise DatasetError(
            f"task={task!r} trains spans from entity annotation, but data set {ds.name!r} is a"
            f" {ds.task} data set; use an NER data set (sample, conll2003, uner_ewt, custom iob)",
            "task",
        )
    if task != "auto" and ds.chars:
        raise DatasetError(
            f"task={task!r}: data set {ds.name!r} is made of character docs (Chinese), which the span"
            " configs (English tokens) do not fit; use task auto (dice_ner over the characters)"
            " or another NER data set (sample, conll2003, uner_ewt, custom iob)",
            "task",
        )
    return task


# ---------------------------------------------------------------------------------------------
# conversion


def _source_files(ds: Dataset, data_dir: Path, sample_dir: Path, work_dir: Path,
                  notes: List[str]) -> Dict[str, Path]:
    """The input file of each split that has one; raises ``FileNotFoundError`` with advice."""
    if ds.name == "custom":
        paths = {split: Path(path) for split, path in ds.files.items()}
        missing = [f"{split} file {p}" for split, p in paths.items() if not p.is_file()]
        if missing:
            raise FileNotFoundError(
                f"missing {', '.join(missing)}: custom_files must name existing files"
                " (project.yml: --vars.train_file, --vars.dev_file (optional) and --vars.test_file)"
            )
        return paths
    if ds.name == "sample":
        folder = sample_dir
    else:
        folder = data_dir / ds.folder
    if ds.name == "sst2" and not (folder / "train.tsv").exists():
        zipped = folder / "SST-2.zip"
        if zipped.exists():
            notes.append(f"Read GLUE {zipped.name}: its test split has no labels, dev is used as test")
            return unpack_glue_sst2(zipped, work_dir)
    paths = {split: folder / name for split, name in ds.files.items()}
    missing = [str(p) for p in paths.values() if not p.exists()]
    if missing:
        hint = (
            "the sample ships with the project (assets/sample; sample_dir)"
            if ds.name == "sample"
            else f"fetch it with `python -m spacy project assets --extra` (into data_dir) or give a"
            f" data_dir holding {ds.folder}/ (project.yml: --vars.data_dir; see docs/PROJECT.md)"
        )
        raise FileNotFoundError(f"missing {', '.join(missing)}: {hint}")
    return paths


def unpack_glue_sst2(zipped: Path, work_dir: Path) -> Dict[str, Path]:
    """GLUE's SST-2.zip (``sentence<TAB>label`` train/dev; its test has no labels) rewritten as
    ``label<TAB>sentence`` files the sst2 reader takes, in ``work_dir``.

    Returns split -> file; GLUE dev is used as both dev and test.
    """
    out: Dict[str, Path] = {}
    with zipfile.ZipFile(zipped) as archive:
        for split in ("train", "dev"):
            text = archive.read(f"SST-2/{split}.tsv").decode("utf8")
            rows = list(csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE))
            header, body = rows[0], rows[1:]
            s_col, l_col = header.index("sentence"), header.index("label")
            lines = ["label\tsentence\n"] + [f"{row[l_col]}\t{row[s_col]}\n" for row in body if row]
            out[split] = write_atomic(work_dir / f"sst2-{split}.tsv", "".join(lines))
    out["test"] = out["dev"]
    return out


@dataclass
class ConvertedDataset:
    """What :func:`convert_dataset` wrote."""

    dataset: Dataset
    output_dir: Path
    stats: Dict[str, Dict[str, Any]]  # split -> spacy_dice.corpus.convert.convert_file's stats
    notes: List[str] = field(default_factory=list)  # how the files were read (GLUE's SST-2.zip)


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
) -> ConvertedDataset:
    """Write ``output_dir/{train,dev,test}.spacy`` for the data set ``name`` (a key of
    :data:`DATASETS`), read from ``data_dir/<its folder>`` (``sample_dir`` for ``sample``).

    ``custom``: the files of ``custom_files`` (split -> path) in ``custom_format``. A data set
    without a dev file gets every :data:`DEV_EVERY`-th training doc as dev. ``limit``: the first
    N sentences/pairs of each split. ``task`` a span task (:data:`SPAN_TASKS`): the entities are
    also written to ``doc.spans["sc"]``.

    Returns:
        The data set, the per-split counts and notes on how the files were read.

    Raises:
        DatasetError: an unknown data set, format or task, or a span task on non-NER data.
        FileNotFoundError: an input file is missing (the message says how to get it).
        CorpusFormatError: malformed input.
    """
    from spacy.tokens import DocBin

    from ..corpus.convert import convert_file
    from ..corpus.docbin import write_docbin

    output_dir, notes = Path(output_dir), []
    ds = custom_dataset(custom_format, custom_files or {}) if name == "custom" else get_dataset(name)
    check_task(task, ds)
    output_dir.mkdir(parents=True, exist_ok=True)
    sources = _source_files(ds, Path(data_dir), Path(sample_dir), output_dir / "raw", notes)
    stats: Dict[str, Dict[str, Any]] = {}
    for split, src in sources.items():
        # a training file keeps no source ids: they cost a read on every epoch, and only dev is folded
        stats[split] = convert_file(ds.format, src, output_dir / f"{split}.spacy", limit=limit,
                                    sources=split != "train", **ds.options)
    if "dev" not in sources:
        import spacy

        nlp = spacy.blank("en")
        train_path = output_dir / "train.spacy"
        docs = list(DocBin().from_disk(train_path).get_docs(nlp.vocab))
        dev = [d for i, d in enumerate(docs) if i % DEV_EVERY == DEV_EVERY - 1]
        train = [d for i, d in enumerate(docs) if i % DEV_EVERY != DEV_EVERY - 1]
        write_docbin(train, train_path, keep_user_data=False)
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
            write_docbin(list(ents_as_spans(DocBin().from_disk(path).get_docs(vocab), SPANS_KEY)), path,
                         keep_user_data=split != "train")
    return ConvertedDataset(ds, output_dir, stats, notes)
