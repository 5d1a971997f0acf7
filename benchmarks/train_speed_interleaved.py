"""Training speed of each loss relative to CE, measured INTERLEAVED in one process.

The same pipeline (configs/ner_cnn.cfg by default) is updated on the same batches; before each
update the component's loss object is swapped (in an order rotated per batch), so every loss sees
the same machine load and the
ratios are not distorted by a shared, noisy machine (sequential runs of `spacy train` vary by
+-20% here). Words/s counts the words of the batches; ratio = CE's time / the loss's time.

    python benchmarks/train_speed_interleaved.py --data ../shared/data/uner_english_ewt/en_ewt-ud-dev.iob2
"""
import argparse
import time
from pathlib import Path

import spacy
from spacy.training import Example
from spacy.util import fix_random_seed, minibatch
from thinc.api import Adam

from spacy_dice.corpus import read_corpus
from spacy_dice.losses import CombinedLoss, CrossEntropy, DiceLoss, FocalLoss, TverskyLoss

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="an NER corpus file")
    parser.add_argument("--format", default="uner", help="its format (uner, conll2003)")
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "ner_cnn.cfg")
    parser.add_argument("--batch-size", type=int, default=64, help="sentences per update")
    parser.add_argument("--repeats", type=int, default=2, help="passes over the data")
    args = parser.parse_args()

    nlp = spacy.util.load_model_from_config(spacy.util.load_config(args.config), auto_fill=True)
    examples = [Example(nlp.make_doc(doc.text), doc) for doc in read_corpus(args.format, args.data)]
    fix_random_seed(0)
    nlp.initialize(lambda: examples)
    component = nlp.get_pipe(nlp.pipe_names[-1])
    losses = {
        "ce": CrossEntropy(),
        "wce": CrossEntropy(class_weights="inverse_sqrt_frequency"),
        "focal": FocalLoss(2.0),
        "dl": DiceLoss(),
        "dsc": DiceLoss(alpha=0.01),
        "dsc_set": DiceLoss(alpha=0.01, level="set"),
        "tversky": TverskyLoss(0.3, 0.7),
        "combined": CombinedLoss({"ce": CrossEntropy(), "dsc": DiceLoss(alpha=0.01)}),
    }
    counts = dict(component.cfg["label_counts"])
    for loss in losses.values():
        loss.initialize(component.class_names, counts)
    seconds = {name: 0.0 for name in losses}
    optimizer = Adam(0.001)
    batches = list(minibatch(examples, size=args.batch_size))
    n_words = 0
    names = list(losses)
    for _ in range(args.repeats):
        for i, batch in enumerate(batches):
            n_words += sum(len(eg.predicted) for eg in batch)
            # rotate the order, so that no loss always runs first or right after another one
            for name in names[i % len(names):] + names[: i % len(names)]:
                loss = losses[name]
                component.loss = loss
                start = time.perf_counter()
                nlp.update(batch, sgd=optimizer, drop=0.1)
                seconds[name] += time.perf_counter() - start
    print(f"| loss | train words/s | ratio to CE |  ({len(batches)} batches of {args.batch_size} sentences x {args.repeats})")
    print("|---|---|---|")
    for name, spent in seconds.items():
        print(f"| {name} | {n_words / spent:,.0f} | {seconds['ce'] / spent:.3f} |")


if __name__ == "__main__":
    main()
