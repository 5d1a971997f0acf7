"""configs/spancat_trf.cfg and configs/spans_trf.cfg: valid, and train on a tiny local BERT."""
from pathlib import Path

import pytest

pytest.importorskip("spacy_transformers")
pytest.importorskip("torch")

import spacy  # noqa: E402
from spacy.cli.debug_config import debug_config  # noqa: E402

from conftest import train_until  # noqa: E402
from span_synthetic import KEY, span_examples  # noqa: E402
from tiny_bert import make_tiny_bert  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
TRF_CONFIGS = ["spancat_trf.cfg", "spans_trf.cfg"]


@pytest.mark.parametrize("name", TRF_CONFIGS)
def test_trf_span_config_is_valid(name, tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    debug_config(CONFIGS / name, overrides={
        "paths.train": "train.spacy", "paths.dev": "dev.spacy",
        "paths.transformer_model": str(folder)})
    config = spacy.util.load_config(CONFIGS / name, interpolate=True)
    assert config["nlp"]["pipeline"][0] == "transformer"
    for component in config["nlp"]["pipeline"][1:]:
        section = config["components"][component]
        assert section["factory"].startswith("dice_")
        assert section["model"]["tok2vec"]["@architectures"] == "spacy-transformers.TransformerListener.v1"
        assert section["loss"]["activation"] == "sigmoid"
    if name == "spans_trf.cfg":
        assert config["training"]["annotating_components"] == ["transformer", "span_finder"]


@pytest.mark.slow
@pytest.mark.parametrize("name", TRF_CONFIGS)
def test_trf_span_config_trains_on_a_tiny_bert(name, tmp_path):
    bert = make_tiny_bert(tmp_path / "tiny-bert")
    config = spacy.util.load_config(CONFIGS / name, overrides={
        "paths.transformer_model": str(bert),
        "components.transformer.model.get_spans.window": 64,
        "components.transformer.model.get_spans.stride": 48,
    }, interpolate=False)
    nlp = spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
    examples = span_examples(nlp, 8)
    annotates = ["span_finder"] if "span_finder" in nlp.pipe_names else []
    train_until(nlp, examples, 3, learn_rate=1e-3, annotates=annotates)  # losses stay finite
    doc = nlp("the Acme Corp in Paris was")
    assert KEY in doc.spans
    nlp.to_disk(tmp_path / "out")
    reloaded = spacy.load(tmp_path / "out")
    again = reloaded("the Acme Corp in Paris was")
    assert [(s.start, s.end, s.label_) for s in again.spans[KEY]] == \
        [(s.start, s.end, s.label_) for s in doc.spans[KEY]]
