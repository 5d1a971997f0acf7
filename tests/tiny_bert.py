"""A tiny random BERT written to a folder, for offline transformer tests.

:func:`make_tiny_bert` writes ``config.json``, the weights and a word-piece tokenizer (``vocab.txt`` +
``tokenizer.json``) with ``transformers``' ``save_pretrained``, so ``AutoModel``/``AutoTokenizer``
(and so ``spacy-transformers.TransformerModel.v3``) load it from the folder with no hub access.
2 layers, hidden 32, 2 heads, intermediate 37: a training step takes milliseconds.

The vocabulary holds the special tokens, every word of :data:`WORDS`, single characters and their
``##`` continuations, so any ASCII text tokenizes without ``[UNK]`` and the words of the test
sentences are one word piece each. The tokenizer's ``model_max_length`` equals
``max_position_embeddings``: spacy-transformers truncates over-long splits to that length.
"""
from __future__ import annotations

import string
from pathlib import Path
from typing import Iterable, List

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

WORDS = (
    "the a an and or of in on at to from with by for is was are were be has have had will "
    "alice bob carol dave eve mallory peter mary john anna paris london berlin rome madrid tokyo "
    "google apple microsoft reuters acme lives works visited moved met called said likes hates "
    "city company today yesterday here there very good bad great awful fine terrible movie film "
    "book food service plot it this that i you he she we they not really quite so too"
).split()


def tiny_vocab(extra_words: Iterable[str] = ()) -> List[str]:
    """The word pieces: specials, words, characters and ``##`` characters (a few hundred)."""
    chars = list(string.ascii_lowercase + string.digits + string.punctuation)
    pieces = SPECIAL + [c for c in chars] + ["##" + c for c in chars]
    seen = set(pieces)
    for word in list(WORDS) + [w.lower() for w in extra_words]:
        if word not in seen:
            seen.add(word)
            pieces.append(word)
    return pieces


def make_tiny_bert(
    folder: Path,
    *,
    max_position_embeddings: int = 128,
    hidden_size: int = 32,
    num_hidden_layers: int = 2,
    num_attention_heads: int = 2,
    intermediate_size: int = 37,
    seed: int = 0,
) -> Path:
    """Write a random tiny BERT and its tokenizer to ``folder``; return the folder."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab = tiny_vocab()
    vocab_file = folder / "vocab.txt"
    vocab_file.write_text("\n".join(vocab) + "\n", encoding="utf8")
    tokenizer = BertTokenizerFast(
        vocab_file=str(vocab_file),
        do_lower_case=True,
        model_max_length=max_position_embeddings,
    )
    tokenizer.save_pretrained(str(folder))
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden_size,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=num_attention_heads,
        intermediate_size=intermediate_size,
        max_position_embeddings=max_position_embeddings,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(str(folder))
    return folder
