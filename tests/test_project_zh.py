"""The Chinese data sets of the project template (issue 23): ``ud_zh`` / ``ud_zh_xpos`` (joint word
segmentation + POS with ``dice_seg_tagger``) and ``uner_zh`` (``dice_ner`` over characters), their
configs (``configs/seg_tagger_*.cfg``, ``configs/ner_zh_*.cfg``), the character n-gram embedding
``spacy-dice.CharNgramEmbed.v1`` (a layer a config can use; the shipped CNNs embed the characters
with spaCy's hash features), ``init-config --lang zh``, and spaCy's ``tagger`` on the
BILU-POS tags as the seg tagger's baseline, scored by the same joint metric
(``spacy-dice.bilu_tag_words_scorer.v1``).

Every Chinese text here is made up (tests/seg_synthetic.py and the few lines below): the UD
Chinese-GSD corpus is CC BY-NC-SA and none of it ships. The one test on the real corpus reads a few
sentences of ``../shared/data`` and skips without it.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Tuple

import numpy
import pytest
import spacy
import srsly
from spacy.tokens import Doc, DocBin, Span
from spacy.training import Example
from thinc.api import Adam, Config

from realdata import DATA, skip_reason
from seg_synthetic import SENTENCES, XPOS, random_sentences
from spacy_dice.init_config import generate_config
from spacy_dice.init_config.backbones import CHINESE_TRANSFORMER
from spacy_dice.layers.char_ngrams import BOUNDARY, char_ngram_embed, ngram_columns, ngram_ids
from spacy_dice.pipeline.seg_tagger_scorer import bilu_tag_words, bilu_tag_words_score
from spacy_dice.project import DATASETS, project_config
from spacy_dice.project.configs import template_path
from spacy_dice.project.datasets import DatasetError, convert_dataset
from spacy_dice.training.config_rewrites import BILU_TAG_WORDS_SCORER, spacy_baseline

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
ZH = ("ud_zh", "ud_zh_xpos", "uner_zh")
CHAR_TOKENIZER = {"@tokenizers": "spacy.zh.ChineseTokenizer", "segmenter": "char"}
UD_UPSTREAM = "https://raw.githubusercontent.com/UniversalDependencies/UD_Chinese-GSD/r1.4/"
UNER_UPSTREAM = "https://raw.githubusercontent.com/UniversalNER/UNER_Chinese-GSD/master/"

# --- made-up corpora in the upstream formats ---------------------------------------------------
ENTITIES = {"北京": "LOC", "台北": "LOC", "他": "PER", "她": "PER"}  # made-up NER labels for the test


def conllu_text(sentences) -> str:
    """CoNLL-U of ``sentences`` (``(word, UPOS)`` pairs) with XPOS, no ``# text`` (as UD r1.4)."""
    blocks = []
    for n, sentence in enumerate(sentences):
        lines = [f"# sent_id = made-up-{n}"]
        for i, (word, pos) in enumerate(sentence, 1):
            lines.append(f"{i}\t{word}\t{word}\t{pos}\t{XPOS[pos]}\t_\t{max(i - 1, 0)}\tdep\t_\t_")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n\n"


def iob2_text(sentences) -> str:
    """UNER ``.iob2`` of ``sentences``: one-word entities from :data:`ENTITIES`."""
    blocks = []
    for n, sentence in enumerate(sentences):
        text = "".join(word for word, _ in sentence)
        lines = [f"# sent_id = made-up-{n}", f"# text = {text}"]
        for i, (word, _pos) in enumerate(sentence, 1):
            tag = f"B-{ENTITIES[word]}" if word in ENTITIES else "O"
            lines.append(f"{i}\t{word}\t{tag}\t-\t-")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n\n"


def sentences(n: int = 24):
    return list(SENTENCES) + random_sentences(n - len(SENTENCES), seed=3)


def fake_data_dir(root: Path, n: int = 24) -> Path:
    """A ``data_dir`` with the two Chinese folders of made-up files, named as upstream."""
    ud, uner = root / "ud_chinese_gsd_r1.4", root / "uner_chinese_gsd"
    ud.mkdir(parents=True)
    uner.mkdir(parents=True)
    for split, part in (("train", sentences(n)), ("dev", SENTENCES[:4]), ("test", SENTENCES[2:6])):
        (ud / f"zh-ud-{split}.conllu").write_text(conllu_text(part), encoding="utf8")
        (uner / f"zh_gsd-ud-{split}.iob2").write_text(iob2_text(part), encoding="utf8")
    return root


def read_docs(path: Path) -> List[Doc]:
    return list(DocBin().from_disk(path).get_docs(spacy.blank("zh").vocab))


# --- data sets and their conversion ------------------------------------------------------------
def test_datasets_convert_to_characters():
    for name in ZH:
        ds = DATASETS[name]
        assert ds.chars and ds.options["chars"] is True
    assert (DATASETS["ud_zh"].task, DATASETS["ud_zh"].attr, DATASETS["ud_zh"].options["pos"]) == ("seg_tagger", "pos", "upos")
    assert (DATASETS["ud_zh_xpos"].attr, DATASETS["ud_zh_xpos"].options["pos"]) == ("tag", "xpos")
    assert (DATASETS["uner_zh"].task, DATASETS["uner_zh"].config_stem) == ("ner", "ner_zh")
    assert template_path("ud_zh", "cnn", configs_dir=CONFIGS) == CONFIGS / "seg_tagger_cnn.cfg"
    assert template_path("uner_zh", "trf", configs_dir=CONFIGS) == CONFIGS / "ner_zh_trf.cfg"
    assert template_path("uner_ewt", "cnn", configs_dir=CONFIGS) == CONFIGS / "ner_cnn.cfg"  # unchanged


def test_span_tasks_refuse_character_data():
    with pytest.raises(DatasetError, match="character docs") as err:
        template_path("uner_zh", "cnn", configs_dir=CONFIGS, task="spans")
    assert err.value.parameter == "task"


def test_convert_ud_zh_and_xpos(tmp_path):
    data = fake_data_dir(tmp_path / "data")
    converted = convert_dataset("ud_zh", data, tmp_path / "ud")
    assert converted.stats["train"]["chars"] is True and converted.stats["train"]["pos_column"] == "upos"
    assert converted.stats["train"]["documents"] == 24
    docs = read_docs(tmp_path / "ud" / "train.spacy")
    first = docs[0]
    assert [t.text for t in first] == list("我們喜歡看書。")
    assert [(s.text, s.label_) for s in first.spans["words"]] == list(SENTENCES[0])
    assert [t.tag_ for t in first][:3] == ["B-PRON", "L-PRON", "B-VERB"]
    assert len(read_docs(tmp_path / "ud" / "dev.spacy")) == 4
    convert_dataset("ud_zh_xpos", data, tmp_path / "xpos")
    doc = read_docs(tmp_path / "xpos" / "test.spacy")[0]
    labels = [s.label_ for s in doc.spans["words"]]
    assert labels == [XPOS[pos] for _, pos in SENTENCES[2]]


def test_convert_uner_zh(tmp_path):
    data = fake_data_dir(tmp_path / "data")
    converted = convert_dataset("uner_zh", data, tmp_path / "uner", limit=6)
    assert converted.stats["train"]["documents"] == 6 and converted.stats["train"]["chars"] is True
    doc = read_docs(tmp_path / "uner" / "train.spacy")[1]  # 他 在 北京 工作 。
    assert [t.text for t in doc] == list("他在北京工作。")
    assert [(e.text, e.label_, e.start, e.end) for e in doc.ents] == [("他", "PER", 0, 1), ("北京", "LOC", 2, 4)]
    assert "words" not in doc.spans


def test_convert_missing_chinese_corpus_names_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="ud_chinese_gsd_r1.4") as err:
        convert_dataset("ud_zh", tmp_path, tmp_path / "out")
    assert "project assets" in str(err.value)


@pytest.mark.realdata
def test_real_ud_zh_and_uner_zh_convert_a_few_sentences(tmp_path):
    for folder in ("ud_chinese_gsd_r1.4", "uner_chinese_gsd"):
        if not (DATA / folder).is_dir():
            pytest.skip(skip_reason(DATA / folder))
    ud = convert_dataset("ud_zh", DATA, tmp_path / "ud", limit=20)
    uner = convert_dataset("uner_zh", DATA, tmp_path / "uner", limit=20)
    for split in ("train", "dev", "test"):
        assert ud.stats[split]["documents"] == 20 == uner.stats[split]["documents"]
        # about the same sentences (UNER follows a later UD release: a few forms differ)
        assert abs(ud.stats[split]["characters"] - uner.stats[split]["characters"]) < 0.05 * ud.stats[split]["characters"]
        assert ud.stats[split]["words"] < ud.stats[split]["characters"]
    assert set(ud.stats["train"]["word_labels"]) <= set(spacy.parts_of_speech.IDS)
    assert set(uner.stats["train"]["entities"]) <= {"LOC", "PER", "ORG"}


# --- project.yml --------------------------------------------------------------------------------
def test_project_yml_fetches_the_chinese_corpora_from_upstream():
    project = srsly.read_yaml(ROOT / "project.yml")
    assets = {a["dest"]: a for a in project["assets"]}
    for split in ("train", "dev", "test"):
        ud = assets[f"${{vars.data_dir}}/ud_chinese_gsd_r1.4/zh-ud-{split}.conllu"]
        assert ud["url"] == f"{UD_UPSTREAM}zh-ud-{split}.conllu" and ud["extra"] is True
        uner = assets[f"${{vars.data_dir}}/uner_chinese_gsd/zh_gsd-ud-{split}.iob2"]
        assert uner["url"] == f"{UNER_UPSTREAM}zh_gsd-ud-{split}.iob2" and uner["extra"] is True
    text = (ROOT / "project.yml").read_text(encoding="utf8")
    comments = "\n".join(line for line in text.splitlines() if line.lstrip().startswith("#"))
    for needle in ("ud_zh", "uner_zh", UD_UPSTREAM, UNER_UPSTREAM):
        assert needle in comments, needle
    # "": the config's own transformer (bert-base-chinese for ud_zh), passed quoted
    assert project["vars"]["transformer_model"] == ""
    assert "--transformer-model '${vars.transformer_model}'" in text


# --- configs ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dataset", ZH)
@pytest.mark.parametrize("backbone", ["cnn", "trf"])
def test_project_config_gives_a_zh_pipeline(dataset, backbone):
    config, component = project_config(dataset, backbone, "dsc", configs_dir=CONFIGS, seed=2, max_steps=9)
    ds = DATASETS[dataset]
    assert component == ds.task
    assert config["nlp"]["lang"] == "zh" and dict(config["nlp"]["tokenizer"]) == CHAR_TOKENIZER
    assert config["nlp"]["pipeline"] == ["tok2vec" if backbone == "cnn" else "transformer", component]
    section = config["components"][component]
    assert section["factory"] == ("dice_seg_tagger" if ds.task == "seg_tagger" else "dice_ner")
    assert section["loss"]["@losses"] == "spacy-dice.DiceLoss.v1" and section["loss"]["alpha"] == 0.01
    if ds.attr is not None:
        assert section["attr"] == ds.attr
    score = "pos_f" if ds.task == "seg_tagger" else "ents_f"
    assert config["training"]["score_weights"][score] == 1.0
    assert config["system"]["seed"] == 2 and config["training"]["max_steps"] == 9
    if backbone == "cnn":
        assert config["components"]["tok2vec"]["model"]["embed"]["@architectures"] == "spacy.MultiHashEmbed.v2"
    else:
        assert config["paths"]["transformer_model"] == CHINESE_TRANSFORMER
        assert section["head_learn_rate_scale"] == 200.0
        tiny = project_config(dataset, backbone, "ce", configs_dir=CONFIGS, transformer_model="some-org/chinese-encoder")[0]
        assert tiny["paths"]["transformer_model"] == "some-org/chinese-encoder"


def test_no_pkuseg_or_jieba_anywhere():
    for path in sorted(CONFIGS.glob("*.cfg")):
        config = Config().from_disk(path, interpolate=False)
        if config["nlp"]["lang"] != "zh":
            continue
        assert dict(config["nlp"]["tokenizer"]) == CHAR_TOKENIZER, path.name
        assert config["initialize"]["tokenizer"]["pkuseg_model"] is None, path.name
        nlp = spacy.util.load_model_from_config(config, auto_fill=True)
        assert nlp.tokenizer.segmenter == "char"
        assert [t.text for t in nlp.make_doc("他在北京工作")] == list("他在北京工作")


def test_zh_cnn_configs_share_one_tok2vec_with_init_config():
    generated = Config().from_str(generate_config(["seg_tagger"], lang="zh"), interpolate=False)
    for name in ("seg_tagger_cnn.cfg", "ner_zh_cnn.cfg"):
        config = Config().from_disk(CONFIGS / name, interpolate=False)
        assert config["components"]["tok2vec"] == generated["components"]["tok2vec"], name
        assert config["training"]["optimizer"]["use_averages"] is generated["training"]["optimizer"]["use_averages"]
    # 6 layers with averaged weights for characters (chosen on dev), spaCy's 4 without for words
    assert generated["components"]["tok2vec"]["model"]["encode"]["depth"] == 6
    assert generated["training"]["optimizer"]["use_averages"] is True
    english = Config().from_str(generate_config(["ner"]), interpolate=False)
    assert english["components"]["tok2vec"]["model"]["encode"]["depth"] == 4
    assert english["training"]["optimizer"]["use_averages"] is False


def test_init_config_knows_the_seg_tagger_for_zh():
    config = Config().from_str(generate_config(["seg_tagger"], loss="dsc", lang="zh"), interpolate=False)
    assert config["nlp"]["lang"] == "zh" and dict(config["nlp"]["tokenizer"]) == CHAR_TOKENIZER
    assert config["components"]["seg_tagger"]["factory"] == "dice_seg_tagger"
    assert config["components"]["tok2vec"]["model"]["embed"]["@architectures"] == "spacy.MultiHashEmbed.v2"
    assert config["training"]["score_weights"]["pos_f"] == 1.0
    trf = Config().from_str(generate_config(["seg_tagger"], backbone="trf", lang="zh"), interpolate=False)
    assert trf["paths"]["transformer_model"] == CHINESE_TRANSFORMER
    english = Config().from_str(generate_config(["ner"]), interpolate=False)
    assert english["nlp"]["tokenizer"] == {"@tokenizers": "spacy.Tokenizer.v1"}
    assert english["components"]["tok2vec"]["model"]["embed"]["@architectures"] == "spacy.MultiHashEmbed.v2"


def test_spacy_baseline_of_the_seg_tagger_is_a_tagger_scored_on_words():
    config, component = project_config("ud_zh", "cnn", "dsc", configs_dir=CONFIGS)
    config["components"][component]["words_key"] = "gold_words"
    baseline = spacy_baseline(config, component)
    block = baseline["components"][component]
    assert block["factory"] == "tagger"
    assert block["scorer"] == {"@scorers": BILU_TAG_WORDS_SCORER, "words_key": "gold_words"}
    assert block["model"]["tok2vec"] == config["components"][component]["model"]["tok2vec"]  # same tok2vec
    assert baseline["components"]["tok2vec"] == config["components"]["tok2vec"]
    weights = baseline["training"]["score_weights"]
    assert weights["pos_f"] == 1.0 and weights["tag_acc"] is None
    assert all(v is None for k, v in weights.items() if k != "pos_f")


# --- training the configs ----------------------------------------------------------------------
def write_corpus(tmp_path: Path, dataset: str) -> Path:
    data = fake_data_dir(tmp_path / "data", n=16)
    return convert_dataset(dataset, data, tmp_path / "corpus").output_dir


def train_config(config: Config, corpus: Path, output: Path, **overrides) -> "spacy.Language":
    from spacy.cli.train import train

    path = output.parent / f"{output.name}.cfg"
    config.to_disk(path)
    train(path, output, overrides={"paths.train": str(corpus / "train.spacy"), "paths.dev": str(corpus / "dev.spacy"),
                                   "training.max_steps": 4, "training.eval_frequency": 2, **overrides})
    return spacy.load(output / "model-last")


@pytest.mark.slow
def test_seg_tagger_cnn_trains_4_steps_and_writes_words(tmp_path):
    corpus = write_corpus(tmp_path, "ud_zh")
    config, _ = project_config("ud_zh", "cnn", "dsc", configs_dir=CONFIGS)
    nlp = train_config(config, corpus, tmp_path / "out")
    assert nlp.pipe_names == ["tok2vec", "seg_tagger"] and nlp.lang == "zh"
    assert nlp.meta["performance"]["pos_f"] is not None
    doc = nlp("他在北京工作。iPhone 很好")
    assert doc.text == "他在北京工作。iPhone 很好"
    assert all(t.pos_ for t in doc) and len(doc.spans["words"]) == len([t for t in doc if not t.is_space])


@pytest.mark.slow
def test_ner_zh_cnn_trains_4_steps(tmp_path):
    corpus = write_corpus(tmp_path, "uner_zh")
    config, _ = project_config("uner_zh", "cnn", "ce", configs_dir=CONFIGS)
    nlp = train_config(config, corpus, tmp_path / "out")
    assert nlp.pipe_names == ["tok2vec", "ner"]
    assert "ents_f" in nlp.meta["performance"]
    assert [t.text for t in nlp("他在北京")] == list("他在北京")


@pytest.mark.slow
def test_spacy_tagger_baseline_trains_and_is_scored_on_words(tmp_path):
    corpus = write_corpus(tmp_path, "ud_zh")
    config, component = project_config("ud_zh", "cnn", "ce", configs_dir=CONFIGS)
    nlp = train_config(spacy_baseline(config, component), corpus, tmp_path / "out")
    assert nlp.get_pipe(component).__class__.__name__ == "Tagger"
    assert nlp.meta["performance"]["pos_f"] is not None
    assert all(label.startswith(("B-", "I-", "L-", "U-")) for label in nlp.get_pipe(component).labels)
    dev = [Example(nlp.make_doc(doc.text), doc) for doc in read_docs(corpus / "dev.spacy")]
    scores = nlp.evaluate(dev)
    assert {"pos_f", "pos_p", "pos_r", "seg_f", "pos_per_type"} <= set(scores) and "tag_acc" not in scores


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["ud_zh", "uner_zh"])
def test_zh_trf_configs_train_4_steps_on_tiny_bert(tmp_path, dataset):
    from tiny_bert import make_tiny_bert

    bert = make_tiny_bert(tmp_path / "tiny-bert")  # no Chinese pieces: every character is [UNK]
    corpus = write_corpus(tmp_path, dataset)
    config, component = project_config(dataset, "trf", "ce", configs_dir=CONFIGS, transformer_model=str(bert))
    nlp = train_config(config, corpus, tmp_path / "out")
    assert nlp.pipe_names == ["transformer", component]
    nlp("他在北京工作。")


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["ud_zh", "uner_zh"])
def test_project_run_all_on_made_up_chinese(tmp_path, dataset):
    """convert, config, train, evaluate and calibrate of project.yml, offline, on made-up files."""
    import shutil

    from conftest import run_workflow_in_process

    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "project.yml", project / "project.yml")
    shutil.copytree(CONFIGS, project / "configs")
    fake_data_dir(tmp_path / "data", n=16)
    run_workflow_in_process(project, "all", dataset=dataset, data_dir=str(tmp_path / "data"),
                            max_steps=4, eval_frequency=2, loss="ce")
    name = f"{dataset}-cnn-ce"
    scores = srsly.read_json(project / "metrics" / f"{name}.json")
    assert ("pos_f" if dataset == "ud_zh" else "ents_f") in scores
    assert (project / "metrics" / f"{name}-calibration.md").exists()


# --- the character n-gram embedding --------------------------------------------------------------
def test_ngram_columns_and_ids():
    assert ngram_columns(3) == [(1, 0), (2, -1), (2, 0), (3, -2), (3, -1), (3, 0)]
    ids = numpy.asarray([11, 22, 33, 22, 33], dtype="uint64")
    table = ngram_ids(ids, 3)
    assert table.shape == (5, 6) and table.dtype == numpy.uint64
    assert table[:, 0].tolist() == ids.tolist()
    # the bigram "22 33" at positions 1-2 and 3-4: one id, whichever column holds it
    assert table[1, 2] == table[2, 1] == table[3, 2] == table[4, 1]
    assert table[0, 2] != table[1, 2]  # "11 22" is another bigram
    assert table[1, 1] != ngram_ids(numpy.asarray([22, 11], dtype="uint64"), 2)[1, 1]  # order matters
    assert len(set(table[:, 1:].ravel().tolist()) & set(ids.tolist())) == 0
    # beyond the ends: the boundary, so the first token's left bigram is (BOUNDARY, 11)
    assert table[0, 1] == ngram_ids(numpy.asarray([BOUNDARY, 11], dtype="uint64"), 2)[1, 1]
    assert ngram_ids(numpy.zeros(0, dtype="uint64"), 3).shape == (0, 6)


def _embed(width: int = 8) -> Tuple["spacy.Language", object]:
    nlp = spacy.blank("zh")
    model = char_ngram_embed(width, [50, 60, 70])
    model.initialize(X=[nlp("他在北京工作")])
    return nlp, model


def test_char_ngram_embed_shapes_and_context():
    nlp, model = _embed()
    docs = [nlp("他在北京工作"), nlp("她在北京工作"), nlp(""), nlp("一")]
    vectors = model.predict(docs)
    assert [v.shape for v in vectors] == [(6, 8), (6, 8), (0, 8), (1, 8)]
    assert isinstance(vectors[0], model.ops.xp.ndarray)
    changed = numpy.abs(vectors[0] - vectors[1]).sum(axis=1) > 1e-6
    # 他 -> 她 at position 0: trigrams reach two characters either side, so 0..2 change, 3..5 do not
    assert changed.tolist() == [True, True, True, False, False, False]
    span = nlp("他在北京工作")[1:4]
    assert model.predict([span])[0].shape == (3, 8)


def test_char_ngram_embed_trains_and_round_trips():
    nlp, model = _embed()
    docs = [nlp("他在北京工作")]
    vectors, backprop = model.begin_update(docs)
    backprop([model.ops.alloc2f(*v.shape) + 1.0 for v in vectors])
    model.finish_update(Adam(0.1))
    after = model.predict(docs)[0]
    assert not numpy.allclose(after, vectors[0])
    copy = char_ngram_embed(8, [50, 60, 70]).from_bytes(model.to_bytes())
    numpy.testing.assert_allclose(copy.predict(docs)[0], after)
    resolved = spacy.util.registry.resolve(
        {"embed": {"@architectures": "spacy-dice.CharNgramEmbed.v1", "width": 8, "rows": [50, 60, 70]}})["embed"]
    numpy.testing.assert_allclose(resolved.from_bytes(model.to_bytes()).predict(docs)[0], after)


@pytest.mark.parametrize("kwargs, message", [
    ({"rows": []}, "one positive number of rows"),
    ({"rows": [10, 0]}, "one positive number of rows"),
    ({"rows": [10], "attr": "NOPE"}, "not a token attribute"),
])
def test_char_ngram_embed_refuses(kwargs, message):
    with pytest.raises(ValueError, match=message):
        char_ngram_embed(8, **kwargs)


# --- the baseline's scorer ----------------------------------------------------------------------
def tagged(tags: List[str], text: str = None, spaces=None) -> Doc:
    text = text or "一二三四五六七八九十"[: len(tags)]
    doc = Doc(spacy.blank("zh").vocab, words=list(text), spaces=spaces or [False] * len(text))
    for token, tag in zip(doc, tags):
        token.tag_ = tag
    return doc


def test_bilu_tag_words_takes_the_tags_as_they_come():
    words = bilu_tag_words(tagged(["B-NOUN", "L-NOUN", "U-VERB", "B-ADJ", "I-ADJ", "L-ADJ"]))
    assert words == {(0, 2, "NOUN"), (2, 3, "VERB"), (3, 6, "ADJ")}
    # ill-formed runs are no word: I without B, a label change, a B not closed, L alone, O, junk
    words = bilu_tag_words(tagged(["I-NOUN", "L-NOUN", "B-NOUN", "L-VERB", "U-ADP", "B-NUM", "I-NUM",
                                   "O", "", "L-PRON"]))
    assert words == {(4, 5, "ADP")}
    assert bilu_tag_words(tagged(["B-NOUN", "I-NOUN", "U-X", "B-NOUN"])) == {(2, 3, "X")}
    # a word does not cross whitespace: B on a character followed by a space opens nothing
    doc = tagged(["B-NOUN", "L-NOUN", "U-PRON"], text="一二三", spaces=[True, False, False])
    assert bilu_tag_words(doc) == {(3, 4, "PRON")}  # 二 at char 2 is an L without its B
    assert bilu_tag_words(tagged(["U-NUM-X"])) == {(0, 1, "NUM-X")}  # labels with dashes


def test_bilu_tag_words_score_hand_counted():
    nlp = spacy.blank("zh")
    gold = Doc(nlp.vocab, words=list("我們喜歡看書"), spaces=[False] * 6)
    gold.spans["words"] = [Span(gold, 0, 2, "PRON"), Span(gold, 2, 4, "VERB"), Span(gold, 4, 5, "VERB"),
                           Span(gold, 5, 6, "NOUN")]
    #   我們: right; 喜歡: B-VERB I-VERB (ill-formed, missed); 看: U-NOUN (span right, POS wrong); 書 right
    predicted = tagged(["B-PRON", "L-PRON", "B-VERB", "I-VERB", "U-NOUN", "U-NOUN"], text="我們喜歡看書")
    scores = bilu_tag_words_score([Example(predicted, gold)], labels=("ignored",))
    # joint: 2 right of 3 predicted, 4 gold; spans: 3 right of 3 predicted, 4 gold
    assert scores["pos_p"] == pytest.approx(2 / 3) and scores["pos_r"] == pytest.approx(2 / 4)
    assert scores["pos_f"] == pytest.approx(2 * (2 / 3) * (1 / 2) / (2 / 3 + 1 / 2))
    assert scores["seg_p"] == pytest.approx(1.0) and scores["seg_r"] == pytest.approx(3 / 4)
    assert scores["pos_per_type"]["VERB"] == {"p": 0.0, "r": 0.0, "f": 0.0}
    assert scores["pos_per_type"]["NOUN"]["p"] == pytest.approx(0.5)
    assert scores["pos_per_type"]["NOUN"]["r"] == pytest.approx(1.0)
    assert scores["pos_per_type"]["PRON"]["f"] == pytest.approx(1.0)
    unannotated = Example(tagged(["U-X"]), Doc(nlp.vocab, words=["一"], spaces=[False]))
    assert bilu_tag_words_score([unannotated])["pos_f"] is None


def test_bilu_tag_words_scorer_is_registered_with_its_words_key():
    nlp = spacy.blank("zh")
    gold = Doc(nlp.vocab, words=list("看書"), spaces=[False, False])
    gold.spans["gold"] = [Span(gold, 0, 1, "VERB"), Span(gold, 1, 2, "NOUN")]
    scorer = spacy.util.registry.resolve({"s": {"@scorers": BILU_TAG_WORDS_SCORER, "words_key": "gold"}})["s"]
    example = Example(tagged(["U-VERB", "U-NOUN"], text="看書"), gold)
    # spaCy passes the tagger's cfg (labels, neg_prefix, overwrite) on: ignored
    assert scorer([example], labels=("U-VERB",), neg_prefix="!", overwrite=False)["pos_f"] == pytest.approx(1.0)
