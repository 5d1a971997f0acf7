"""Speed of the constrained BILUO Viterbi decoder (spacy_dice.pipeline.decoder).

Prints tokens/s (best of --repeat runs, CPU, single process) for N tokens in total and T tags
(T = 1 + 4 * n_labels):

* ``dp 1 doc``: ``BiluoDecoder.decode_many`` on one doc of N tokens, random scores (the
  per-token argmax is invalid, so every doc goes through the DP);
* ``dp docs of L``: the same N tokens as docs of ``--doc-len`` tokens in one batch;
* ``trained-like``: ``BiluoDecoder.decode_probs`` on softmax outputs peaked on a valid sequence, with
  ``--noise`` of the tokens given a random wrong argmax (docs whose argmax is valid take the
  fast path, the rest the DP), docs of ``--doc-len`` tokens;
* ``generic``: the test oracle ``viterbi_decode`` of ``tests/decoder_oracles.py`` (any constraint
  matrix, O(T^2) per token), one doc, only for N <= ``--generic-max-n``.

With ``--spacy-ner`` it also times spaCy's own ``ner`` (an untrained transition parser with
the same labels, default model, ``nlp.pipe`` over docs of ``--doc-len`` tokens): the whole
component, model included, which is the bar the dice_ner component (model + decoder) has to
meet.

    python -m benchmarks.bench_decoder                     # the table in the report
    python -m benchmarks.bench_decoder --spacy-ner --sizes 10000

(run from the repository root, as a module: it imports ``tests.decoder_oracles``).
"""
import argparse
import time

import numpy as np

if not __package__:  # run as a file: the repository root is not importable
    raise SystemExit("run from the repository root: python -m benchmarks.bench_decoder ...")

from spacy_dice.pipeline.biluo import biluo_constraints, make_tag_names  # noqa: E402
from spacy_dice.pipeline.decoder import BiluoDecoder  # noqa: E402
from tests.decoder_oracles import viterbi_decode  # noqa: E402


def best_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def split(array: np.ndarray, doc_len: int):
    return [array[i : i + doc_len] for i in range(0, array.shape[0], doc_len)]


def trained_like_probs(rng, names, n: int, doc_len: int, noise: float) -> np.ndarray:
    """Softmax outputs peaked (p ~ 0.9) on a valid BILUO sequence, with a fraction ``noise``
    of the tokens peaked on a random tag instead."""
    n_labels = (len(names) - 1) // 4
    gold = np.zeros(n, dtype=np.int64)
    i = 0
    while i < n:
        if n_labels and rng.random() < 0.15:
            label = int(rng.integers(n_labels))
            width = int(min(rng.integers(1, 4), doc_len - i % doc_len, n - i))
            base = 1 + 4 * label
            if width == 1:
                gold[i] = base + 3
            else:
                gold[i] = base
                gold[i + 1 : i + width - 1] = base + 1
                gold[i + width - 1] = base + 2
            i += width
        else:
            i += 1
    flip = rng.random(n) < noise
    gold[flip] = rng.integers(len(names), size=int(flip.sum()))
    logits = rng.normal(size=(n, len(names)))
    logits[np.arange(n), gold] += 5.0
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)


def spacy_ner_speed(n_labels: int, n: int, doc_len: int, repeat: int) -> float:
    import spacy
    from spacy.tokens import Doc

    nlp = spacy.blank("en")
    ner = nlp.add_pipe("ner")
    for i in range(max(n_labels, 1)):
        ner.add_label(f"LABEL{i}")
    nlp.initialize()
    words = [f"w{i % 500}" for i in range(doc_len)]
    n_docs = max(1, n // doc_len)

    def run():
        docs = [Doc(nlp.vocab, words=words) for _ in range(n_docs)]
        for _ in ner.pipe(docs, batch_size=256):
            pass

    return n_docs * doc_len / best_time(run, repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 10_000, 100_000])
    parser.add_argument("--tags", type=int, nargs="+", default=[9, 17, 37],
                        help="numbers of tags T = 1 + 4 * labels")
    parser.add_argument("--doc-len", type=int, default=25)
    parser.add_argument("--noise", type=float, default=0.02)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--chunk-size", type=int, default=None)
    parser.add_argument("--long-doc", type=int, default=None)
    parser.add_argument("--generic-max-n", type=int, default=10_000)
    parser.add_argument("--spacy-ner", action="store_true", help="also time spaCy's ner")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    settings = {}
    if args.chunk_size:
        settings["chunk_size"] = args.chunk_size
    if args.long_doc:
        settings["long_doc"] = args.long_doc
    header = ["N", "T", "dp 1 doc", f"dp docs of {args.doc_len}", "trained-like", "generic"]
    if args.spacy_ner:
        header.append("spaCy ner")
    print("tokens/s, best of", args.repeat, "runs")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for n_tags in args.tags:
        if (n_tags - 1) % 4:
            raise SystemExit(f"T={n_tags} is not 1 + 4 * n_labels")
        names = make_tag_names([f"LABEL{i}" for i in range(n_tags // 4)])
        decoder = BiluoDecoder(names, **settings)
        constraints = biluo_constraints(names)
        for n in args.sizes:
            scores = rng.normal(size=(n, n_tags))
            docs = split(scores, args.doc_len)
            probs = split(trained_like_probs(rng, names, n, args.doc_len, args.noise), args.doc_len)
            row = [
                n / best_time(lambda: decoder.decode_many([scores]), args.repeat),
                n / best_time(lambda: decoder.decode_many(docs), args.repeat),
                n / best_time(lambda: decoder.decode_probs(probs), args.repeat),
            ]
            if n <= args.generic_max_n:
                row.append(n / best_time(lambda: viterbi_decode(scores, *constraints), 1))
            else:
                row.append(None)
            if args.spacy_ner:
                row.append(spacy_ner_speed(n_tags // 4, n, args.doc_len, 1))
            cells = [f"{v:,.0f}" if v is not None else "-" for v in row]
            print(f"| {n:,} | {n_tags} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
