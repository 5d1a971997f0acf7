"""Rebuild ``assets/sample/`` from a local copy of UNER English-EWT (CC BY-SA 4.0).

The shipped sample is the first ``--n-train`` sentences of ``en_ewt-ud-dev.iob2``
(training), the first ``--n-dev`` sentences of ``en_ewt-ud-test.iob2`` (dev: model
selection) and the ``--n-test`` sentences after those (test: evaluation), copied verbatim
(comment lines included), plus the corpus's LICENSE.txt.

    python scripts/make_sample.py ../shared/data/uner_english_ewt assets/sample
"""
import argparse
import shutil
from pathlib import Path


def read_sentences(src: Path):
    """The blank-line separated sentence blocks of ``src`` (comment lines included)."""
    blocks, current = [], []
    for line in src.read_text(encoding="utf8").splitlines(keepends=True):
        if line.strip():
            current.append(line)
        elif current:
            blocks.append("".join(current))
            current = []
    if current:
        blocks.append("".join(current))
    return blocks


def write_sentences(blocks, dest: Path) -> int:
    dest.write_text("\n".join(blocks) + "\n", encoding="utf8")
    return len(blocks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("uner_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--n-dev", type=int, default=300)
    parser.add_argument("--n-test", type=int, default=300)
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    dev = read_sentences(args.uner_dir / "en_ewt-ud-dev.iob2")
    test = read_sentences(args.uner_dir / "en_ewt-ud-test.iob2")
    n = write_sentences(dev[: args.n_train], args.out_dir / "train.iob2")
    m = write_sentences(test[: args.n_dev], args.out_dir / "dev.iob2")
    k = write_sentences(test[args.n_dev : args.n_dev + args.n_test], args.out_dir / "test.iob2")
    shutil.copyfile(args.uner_dir / "LICENSE.txt", args.out_dir / "LICENSE.txt")
    print(f"train.iob2: {n} sentences, dev.iob2: {m} sentences, test.iob2: {k} sentences")


if __name__ == "__main__":
    main()
