"""The library functions behind ``project-convert``, ``project-config``, ``debug-data``, ``convert``,
``init-config`` and ``model-path``, called as a program would, without typer."""
from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin

from spacy_dice.corpus.convert import convert_file
from spacy_dice.evaluation.imbalance import (
    DataReport,
    EmptyCorpus,
    NoCorpusPath,
    UnreadableCorpus,
    debug_data,
)
from spacy_dice.init_config import generate_config
from spacy_dice.project import DATASETS, ConvertedDataset, DatasetError, MissingCustomFile, check_task
from spacy_dice.corpus import SOURCE_DOC
from spacy_dice.project import convert_dataset, custom_dataset, get_dataset, project_config
from spacy_dice.project import set_run_settings, template_path
from spacy_dice.transformers import TransformerModelNotFound, resolve_model_name

from synthetic import ner_examples

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "assets" / "sample"
CONFIGS = ROOT / "configs"
IOB = "Ann\tB-PER\nLee\tI-PER\nlives\tO\nin\tO\nRome\tB-LOC\n\n"


def _docs(path: Path):
    return list(DocBin().from_disk(path).get_docs(spacy.blank("en").vocab))


# --- data sets ------------------------------------------------------------------------------


def test_get_dataset_and_its_errors_name_the_parameter():
    assert get_dataset("ud_ewt") is DATASETS["ud_ewt"] and DATASETS["ud_ewt"].attr == "pos"
    custom = get_dataset("custom", "sst2")
    assert (custom.task, custom.positive_label, custom.files) == ("textcat", "positive", {})
    with pytest.raises(DatasetError, match=r"dataset='nope': unknown data set; expected one of sample,") as err:
        get_dataset("nope")
    assert err.value.parameter == "dataset" and isinstance(err.value, ValueError)
    with pytest.raises(DatasetError, match=r"custom_format='csv': .* expected one of iob,") as err:
        get_dataset("custom", "csv")
    assert err.value.parameter == "custom_format"
    copy = pickle.loads(pickle.dumps(err.value))
    assert (str(copy), copy.parameter) == (str(err.value), "custom_format")


def test_custom_dataset_needs_train_and_test_files():
    ds = custom_dataset("conllu", {"train": "a.conllu", "dev": "", "test": "b.conllu"})
    assert (ds.task, ds.attr, ds.files) == ("tagger", "pos", {"train": "a.conllu", "test": "b.conllu"})
    with pytest.raises(MissingCustomFile, match="custom_files has no 'test' file") as err:
        custom_dataset("iob", {"train": "a.tsv"})
    assert err.value.split == "test" and err.value.parameter == "custom_files"
    assert pickle.loads(pickle.dumps(err.value)).split == "test"


def test_check_task():
    assert check_task("auto", DATASETS["mrpc"]) == "auto"
    assert check_task("spans_finder", DATASETS["sample"]) == "spans_finder"
    with pytest.raises(DatasetError, match=r"task='x': unknown task; expected one of auto, spans, spans_finder"):
        check_task("x", DATASETS["sample"])
    with pytest.raises(DatasetError, match="use an NER data set") as err:
        check_task("spans", DATASETS["ud_ewt"])
    assert err.value.parameter == "task"


def test_convert_dataset_on_the_shipped_sample(tmp_path):
    out = tmp_path / "corpus"
    result = convert_dataset("sample", tmp_path / "unused", out, sample_dir=SAMPLE, limit=5, task="spans")
    assert isinstance(result, ConvertedDataset) and result.dataset is DATASETS["sample"]
    assert result.output_dir == out and result.notes == []
    assert set(result.stats) == {"train", "dev", "test"}
    assert all(result.stats[split]["sentences"] == 5 for split in result.stats)
    train = _docs(out / "train.spacy")
    assert len(train) == result.stats["train"]["documents"]
    assert all([(e.start, e.end, e.label_) for e in d.ents] == [(s.start, s.end, s.label_) for s in d.spans["sc"]]
               for d in train)
    # dev and test keep each doc's source document (calibrate folds dev by it); train, read every epoch, not
    assert all(SOURCE_DOC not in d.user_data for d in train)
    assert all(d.user_data.get(SOURCE_DOC) for d in _docs(out / "dev.spacy"))


def test_convert_dataset_custom_without_dev_splits_train(tmp_path):
    for split in ("train", "test"):
        (tmp_path / f"{split}.tsv").write_text(IOB * 20, encoding="utf8")
    files = {"train": str(tmp_path / "train.tsv"), "dev": "", "test": str(tmp_path / "test.tsv")}
    result = convert_dataset("custom", tmp_path, tmp_path / "out", custom_files=files)
    assert result.dataset.description == "your own iob files"
    assert (result.stats["train"]["documents"], result.stats["dev"]["documents"]) == (18, 2)
    assert result.stats["dev"]["entities"] == {"PER": 2, "LOC": 2}
    assert len(_docs(tmp_path / "out" / "dev.spacy")) == 2


def test_convert_dataset_missing_files_and_bad_arguments(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"conll2003/eng.train.*project assets.*data_dir"):
        convert_dataset("conll2003", tmp_path, tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="missing train file"):
        convert_dataset("custom", tmp_path, tmp_path / "out", custom_files={"train": "no.tsv", "test": "no.tsv"})
    with pytest.raises(DatasetError, match="use an NER data set"):
        convert_dataset("mrpc", tmp_path, tmp_path / "refused", task="spans")
    assert not (tmp_path / "refused").exists()  # checked before anything is written


def test_convert_dataset_reads_glue_sst2_zip(tmp_path):
    folder = tmp_path / "data" / "sst2"
    folder.mkdir(parents=True)
    with zipfile.ZipFile(folder / "SST-2.zip", "w") as archive:
        archive.writestr("SST-2/train.tsv", "sentence\tlabel\ngood film\t1\nbad film\t0\nfine\t1\n")
        archive.writestr("SST-2/dev.tsv", "sentence\tlabel\nnice\t1\nawful\t0\n")
    result = convert_dataset("sst2", tmp_path / "data", tmp_path / "out")
    assert result.notes == ["Read GLUE SST-2.zip: its test split has no labels, dev is used as test"]
    assert (tmp_path / "out" / "raw" / "sst2-train.tsv").read_text(encoding="utf8").splitlines() == [
        "label\tsentence", "1\tgood film", "0\tbad film", "1\tfine"]
    assert result.stats["train"]["cats"] == {"positive": 2, "negative": 1}
    assert result.stats["test"]["documents"] == result.stats["dev"]["documents"] == 2


# --- the run's config ---------------------------------------------------------------------------


def test_project_config_and_its_template():
    assert template_path("ud_ewt", "trf", configs_dir=CONFIGS) == CONFIGS / "tagger_trf.cfg"
    assert template_path("sample", "cnn", task="spans_finder") == Path("configs") / "spans_cnn.cfg"
    config, component = project_config("mrpc", "cnn", "ce", configs_dir=CONFIGS, seed=5, eval_frequency=3)
    assert component == "textcat" and config["components"]["textcat"]["positive_label"] == "paraphrase"
    assert config["system"]["seed"] == 5 and config["training"]["eval_frequency"] == 3
    assert "${" in config.to_str(interpolate=False)  # not interpolated
    with pytest.raises(FileNotFoundError, match="no config .*ner_lstm.cfg"):
        project_config("sample", "lstm", "dsc", configs_dir=CONFIGS)
    with pytest.raises(DatasetError, match="dataset='x'"):
        project_config("x", "cnn", "dsc", configs_dir=CONFIGS)


def test_set_run_settings():
    config, _ = project_config("sample", "trf", "dsc", configs_dir=CONFIGS)
    set_run_settings(config, seed=2, max_steps=0, transformer_model="bert-base-cased")
    assert (config["system"]["seed"], config["training"]["max_steps"]) == (2, 0)
    assert config["paths"]["transformer_model"] == "bert-base-cased"
    with pytest.raises(TransformerModelNotFound):
        set_run_settings(config, seed=0, transformer_model=str(Path("no") / "such" / "folder"))


# --- debug-data ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny")
    docs = [eg.reference for eg in ner_examples(spacy.blank("en"), n_docs=12)]
    DocBin(docs=docs[:9]).to_disk(out / "train.spacy")
    DocBin(docs=docs[9:]).to_disk(out / "dev.spacy")
    return out, docs


def test_debug_data_on_a_tiny_corpus(tiny_corpus):
    folder, docs = tiny_corpus
    report = debug_data(CONFIGS / "ner_cnn.cfg", train_path=folder / "train.spacy", dev_path=folder / "dev.spacy")
    assert isinstance(report, DataReport)
    assert (report.n_train_docs, report.n_dev_docs) == (9, 3)
    assert report.n_train_tokens == sum(len(d) for d in docs[:9])
    assert report.pipe_names == ["tok2vec", "ner"] and report.not_covered == ["tok2vec"]
    (ner,) = report.components
    assert ner.factory == "dice_ner"
    assert sum(ner.train_counts.values()) == sum(len(d.ents) for d in docs[:9])
    data = report.to_dict()
    assert data["train"] == str(folder / "train.spacy") and data["components"][0]["component"] == "ner"
    same = debug_data(CONFIGS / "ner_cnn.cfg", overrides={"paths.train": str(folder / "train.spacy"),
                                                         "paths.dev": str(folder / "dev.spacy")})
    assert same.to_dict() == data


def test_debug_data_errors(tiny_corpus, tmp_path):
    folder, _ = tiny_corpus
    with pytest.raises(NoCorpusPath, match="give train_path") as err:
        debug_data(CONFIGS / "ner_cnn.cfg")
    assert err.value.split == "train"
    with pytest.raises(UnreadableCorpus, match=r"cannot read the train corpus \(paths.train = .*absent.spacy\)") as err:
        debug_data(CONFIGS / "ner_cnn.cfg", train_path=tmp_path / "absent.spacy", dev_path=folder / "dev.spacy")
    assert err.value.reason
    DocBin().to_disk(tmp_path / "empty.spacy")
    with pytest.raises(EmptyCorpus, match="the train corpus has no documents"):
        debug_data(CONFIGS / "ner_cnn.cfg", train_path=tmp_path / "empty.spacy", dev_path=folder / "dev.spacy")


# --- convert, init-config, model-path ------------------------------------------------------------


def test_convert_file_is_the_convert_command(tmp_path):
    source = tmp_path / "train.iob"
    source.write_text(IOB * 3, encoding="utf8")
    stats = convert_file("iob", source, tmp_path / "train.spacy", spans_key="sc", scheme="auto")
    assert (stats["documents"], stats["entities"], stats["scheme"]) == (3, {"PER": 3, "LOC": 3}, "iob2")
    with pytest.raises(ValueError, match="n_sents is only supported for conll2003"):
        convert_file("iob", source, tmp_path / "x.spacy", n_sents=2)
    assert not (tmp_path / "x.spacy").exists()


def test_generate_config_and_resolve_model_name_are_the_other_commands():
    assert "[components.ner.loss]" in generate_config(["ner"], loss="dsc")
    assert resolve_model_name("bert-base-cased") == "bert-base-cased"
