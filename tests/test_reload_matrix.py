"""The reload matrix: every dice component keeps its loss and trains on after any way back.

Every component x {a class-weighted loss, a scheduled loss whose CE part is class-weighted} x
{``to_bytes``/``from_bytes``, ``to_disk``/``spacy.load``, ``spacy train`` with ``source``,
``nlp.resume_training()``}: after the reload the loss's class weights (by class name), its step
and its schedule's weights equal those before, the predictions are identical, and training goes
on (the update counter and the schedule advance, the weights change, the loss stays finite).
"""
import copy
import math
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import numpy
import pytest
import spacy
from spacy.language import Language
from spacy.tokens import DocBin
from spacy.training import Example
from spacy.training.initialize import init_nlp
from spacy.training.loop import train as train_nlp
from spacy.util import fix_random_seed, load_model_from_config, registry
from thinc.api import Adam, Config

from seg_synthetic import seg_examples
from span_synthetic import SMALL_SINGLELABEL_MODEL, SMALL_SPAN_FINDER_MODEL, SMALL_SPANCAT_MODEL, span_examples
from synthetic import SMALL_TAGGER_MODEL, SMALL_TEXTCAT_MODEL, ner_examples, tagger_examples, textcat_examples

from spacy_dice.pipeline.descriptions import (
    ENTITIES, EXCLUSIVE_CATS, MULTILABEL_SPANS, SINGLELABEL_SPANS, SPAN_CANDIDATES, TOKEN_TAGS, WORDS, descriptions,
)
from spacy_dice.training.config_rewrites import factory_activation

pytestmark = pytest.mark.slow

RAMP = "spacy-dice.LinearRamp.v1"
TRAIN_STEPS = 6


def weighted(activation: str) -> Dict[str, Any]:
    return {"@losses": "spacy-dice.CrossEntropy.v1", "class_weights": "inverse_frequency", "activation": activation}


def scheduled(activation: str) -> Dict[str, Any]:
    """CE (class-weighted) ramped down and set-level DSC ramped up over the first 20 updates."""
    return {
        "@losses": "spacy-dice.ScheduledCombinedLoss.v1",
        "losses": {
            "ce": weighted(activation),
            "dsc": {"@losses": "spacy-dice.DiceLoss.v1", "alpha": 0.01, "level": "set", "activation": activation},
        },
        "weights": {
            "ce": {"@schedules": RAMP, "start": 1.0, "stop": 0.25, "begin_step": 0, "end_step": 20},
            "dsc": {"@schedules": RAMP, "start": 0.0, "stop": 2.0, "begin_step": 0, "end_step": 20},
        },
    }


# task -> (a config without the loss, the examples): what a component of that task trains on here
RECIPES: Dict[str, Tuple[Dict[str, Any], Callable[[Language], List[Example]]]] = {
    TOKEN_TAGS: ({"model": SMALL_TAGGER_MODEL, "attr": "pos"}, lambda nlp: tagger_examples(nlp, "pos", 20)),
    ENTITIES: ({"model": SMALL_TAGGER_MODEL}, lambda nlp: ner_examples(nlp, 20)),
    EXCLUSIVE_CATS: ({"model": SMALL_TEXTCAT_MODEL, "positive_label": "POS"}, lambda nlp: textcat_examples(nlp, 24)),
    MULTILABEL_SPANS: (
        {"model": SMALL_SPANCAT_MODEL, "suggester": {"@misc": "spacy.ngram_suggester.v1", "sizes": [1, 2, 3, 4]}},
        lambda nlp: span_examples(nlp, 20),
    ),
    SINGLELABEL_SPANS: (
        {"model": SMALL_SINGLELABEL_MODEL, "suggester": {"@misc": "spacy.ngram_suggester.v1", "sizes": [1, 2, 3, 4]}},
        lambda nlp: span_examples(nlp, 20, multilabel=False),
    ),
    SPAN_CANDIDATES: ({"model": SMALL_SPAN_FINDER_MODEL}, lambda nlp: span_examples(nlp, 20)),
    WORDS: ({"model": SMALL_TAGGER_MODEL}, lambda nlp: seg_examples(nlp, 20)),
}
LANGS = {WORDS: "zh"}
"""task -> the pipeline's language, where not English: words over characters need the char segmenter."""


def lang_of(factory: str) -> str:
    return LANGS.get(descriptions()[factory].task, "en")


def packaged_components() -> Dict[str, Tuple[Dict[str, Any], str, Callable[[Language], List[Example]]]]:
    """Every dice component of the package (its description registered by ``dice_factory`` in a
    ``spacy_dice`` module) -> (its config without the loss, the loss activation, the examples),
    by its task: a new component is in the matrix without an edit here."""
    found = {}
    for factory, description in descriptions().items():
        if not description.dice or not registry.factories.get(factory).__module__.startswith("spacy_dice."):
            continue
        assert description.task in RECIPES, f"{factory}: add a recipe for {description.task!r} components to RECIPES"
        config, examples = RECIPES[description.task]
        found[factory] = (config, factory_activation(factory), examples)
    return found


# component -> (its config without the loss, the loss activation, the examples)
COMPONENTS = packaged_components()
LOSSES = {"weighted": weighted, "scheduled": scheduled}
TEXTS = ["Alice met Bob in Paris", "the Acme Corp in Oslo was green", "", "box ran quickly to Lima", "a"]


def component_config(factory: str, loss: str) -> Dict[str, Any]:
    config, activation, _ = COMPONENTS[factory]
    return dict(copy.deepcopy(config), loss=LOSSES[loss](activation))


def loss_state(pipe: Any) -> Dict[str, Any]:
    """What the component's loss knows: class weights by class name, step, schedule weights."""
    def weights_by_name(loss: Any) -> Any:
        weights = loss.class_weights
        return None if weights is None else dict(zip(loss.labels, [round(float(w), 9) for w in weights]))

    loss = pipe.loss
    if hasattr(loss, "losses"):
        state = {name: weights_by_name(sub) for name, sub in loss.losses.items() if hasattr(sub, "class_weights")}
        state["step"] = loss.step
        state["weights"] = {k: round(v, 9) for k, v in loss.weights.items()}
    else:
        state = {"class_weights": weights_by_name(loss)}
    state["update_step"] = pipe.cfg["update_step"]
    return state


def annotations(nlp: Language) -> List[Dict[str, Any]]:
    """Everything the pipeline writes on TEXTS (spans with their scores, cats, tags, entities)."""
    out = []
    for doc in nlp.pipe(TEXTS):
        spans = {
            key: [(s.start, s.end, s.label_) for s in group]
            + numpy.round(numpy.asarray(group.attrs.get("scores", []), dtype="float64"), 6).ravel().tolist()
            for key, group in doc.spans.items()
        }
        out.append({
            "ents": [(e.start, e.end, e.label_) for e in doc.ents],
            "pos": [t.pos_ for t in doc],
            "cats": {k: round(v, 6) for k, v in doc.cats.items()},
            "spans": spans,
        })
    return out


def build(factory: str, loss: str) -> Tuple[Language, List[Example]]:
    fix_random_seed(0)
    nlp = spacy.blank(lang_of(factory))
    nlp.add_pipe(factory, name="comp", config=component_config(factory, loss))
    examples = COMPONENTS[factory][2](nlp)
    nlp.initialize(lambda: examples)
    optimizer = Adam(0.01)
    for _ in range(TRAIN_STEPS):
        nlp.update(examples, sgd=optimizer)
    return nlp, examples


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(factory, loss) -> (pipeline, examples, its folder), trained once per module."""
    cache: Dict[Tuple[str, str], Tuple[Language, List[Example], Path]] = {}

    def get(factory: str, loss: str) -> Tuple[Language, List[Example], Path]:
        if (factory, loss) not in cache:
            nlp, examples = build(factory, loss)
            path = tmp_path_factory.mktemp(f"{factory}-{loss}") / "model"
            nlp.to_disk(path)
            cache[(factory, loss)] = (nlp, examples, path)
        return cache[(factory, loss)]

    return get


def check_trains_on(nlp: Language, examples: List[Example], optimizer: Any, before: Dict[str, Any]) -> None:
    pipe = nlp.get_pipe("comp")
    params = [p.copy() for node in pipe.model.walk() for p in (node.get_param(n) for n in node.param_names)]
    losses = nlp.update(examples, sgd=optimizer)
    assert math.isfinite(losses["comp"])
    after = loss_state(pipe)
    assert after["update_step"] == before["update_step"] + 1
    if "step" in before:
        assert after["step"] == before["step"] + 1
        assert after["weights"] != before["weights"]  # the ramps moved on from where they were
    new = [p for node in pipe.model.walk() for p in (node.get_param(n) for n in node.param_names)]
    assert any(not numpy.array_equal(a, b) for a, b in zip(params, new))


@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize("factory", list(COMPONENTS))
def test_bytes_round_trip(trained, factory, loss):
    nlp, examples, _ = trained(factory, loss)
    before = loss_state(nlp.get_pipe("comp"))
    assert before["update_step"] == TRAIN_STEPS
    other = load_model_from_config(nlp.config, auto_fill=True)
    other.from_bytes(nlp.to_bytes())
    assert loss_state(other.get_pipe("comp")) == before
    assert annotations(other) == annotations(nlp)
    check_trains_on(other, examples, Adam(0.01), before)


@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize("factory", list(COMPONENTS))
def test_disk_round_trip_and_resume_training(trained, factory, loss):
    nlp, examples, path = trained(factory, loss)
    before = loss_state(nlp.get_pipe("comp"))
    loaded = spacy.load(path)
    assert loss_state(loaded.get_pipe("comp")) == before
    assert annotations(loaded) == annotations(nlp)
    check_trains_on(loaded, examples, loaded.create_optimizer(), before)
    resumed = spacy.load(path)
    check_trains_on(resumed, examples, resumed.resume_training(), before)


def source_config(path: Path, corpus: Path, factory: str) -> Config:
    """A training config whose only component is sourced from ``path``."""
    text = f"""
[paths]
train = "{corpus}"
dev = "{corpus}"

[nlp]
lang = "{lang_of(factory)}"
pipeline = ["comp"]

[components]

[components.comp]
source = "{path}"

[corpora]

[corpora.train]
@readers = "spacy.Corpus.v1"
path = ${{paths.train}}

[corpora.dev]
@readers = "spacy.Corpus.v1"
path = ${{paths.dev}}

[training]
seed = 0
gpu_allocator = null
max_steps = 3
eval_frequency = 2
patience = 0
dropout = 0.0

[training.batcher]
@batchers = "spacy.batch_by_sequence.v1"
size = 10

[training.optimizer]
@optimizers = "Adam.v1"
learn_rate = 0.01

[initialize]
"""
    return Config().from_str(text)


@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize("factory", list(COMPONENTS))
def test_spacy_train_with_source(trained, tmp_path, factory, loss):
    nlp, examples, path = trained(factory, loss)
    before = loss_state(nlp.get_pipe("comp"))
    corpus = tmp_path / "train.spacy"
    DocBin(docs=[eg.reference for eg in examples], store_user_data=True).to_disk(corpus)
    config = source_config(path, corpus, factory)
    sourced = init_nlp(config)
    assert loss_state(sourced.get_pipe("comp")) == before
    assert annotations(sourced) == annotations(nlp)
    output = tmp_path / "training"
    output.mkdir()
    with open(tmp_path / "train.log", "w") as log:
        train_nlp(sourced, output, stdout=log, stderr=log)
    trained_on = spacy.load(output / "model-last").get_pipe("comp")
    after = loss_state(trained_on)
    steps = after["update_step"] - before["update_step"]
    assert steps >= 3, after
    if "step" in before:
        assert after["step"] == after["update_step"]
    for name, weights in before.items():
        if name not in ("step", "weights", "update_step"):
            assert after[name] == weights  # class weights come from the training counts, kept
