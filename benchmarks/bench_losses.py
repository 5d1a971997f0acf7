"""Speed of the spacy-dice losses (loss + gradient) against thinc's CE and a PyTorch autograd version.

For each number of classes, on identical float32 arrays (~100k rows: one array, and the same rows as
a list of docs), time

* thinc's ``SequenceCategoricalCrossentropy(normalize=False, missing_value=-1)``, what spaCy's tagger
  uses (the one-array case passes it a list of one doc);
* each spacy-dice loss, ``loss(guesses, truths)`` (probabilities in, gradient w.r.t. logits out);
* the same formula in PyTorch (``tests/torch_reference.py``): forward from the logits (activation
  included) and ``backward()``.

Prints a markdown table: median (and minimum) milliseconds of ``--repeats`` runs after one warm-up
(``--clock cpu``, the default: the process's CPU time, steady on a shared machine; ``wall``: elapsed),
all contenders of one input taking turns; the ratio of medians to thinc CE on the same input; and
ours / PyTorch. Example::

    nice python -m benchmarks.bench_losses --repeats 5

(run from the repository root, as a module: it imports ``tests.torch_reference``).
"""
import argparse
import os
import platform
import statistics
import sys
import time
from typing import Callable, Dict, List, Tuple

import numpy

if not __package__:  # run as a file: the repository root is not importable
    raise SystemExit("run from the repository root: python -m benchmarks.bench_losses ...")

LOSS_SPECS: Dict[str, Tuple[str, dict]] = {
    "CE": ("ce", {}),
    "WCE": ("ce", {"class_weights": "inverse_frequency"}),
    "focal (gamma 2)": ("focal", {"gamma": 2.0}),
    "dice instance": ("dice", {"alpha": 0.0, "level": "instance"}),
    "dice set": ("dice", {"alpha": 0.0, "level": "set"}),
    "DSC alpha=0.01": ("dice", {"alpha": 0.01, "level": "instance"}),
    "Tversky 0.3/0.7": ("tversky", {"alpha": 0.3, "beta": 0.7}),
    "log-dice set": ("logdice", {"level": "set"}),
    # the ce_then_dsc preset at step 1000 (both terms on: CE x 0.25 + DSC x 4)
    "CE then DSC (step 1000)": ("scheduled", {"step": 1000, "parts": [
        (("ramp", 1.0, 0.25, 200, 1000), ("ce", {})),
        (("ramp", 0.0, 4.0, 200, 1000), ("dice", {"alpha": 0.01}))]}),
}
TARGETED = ("dice instance", "dice set", "DSC alpha=0.01", "Tversky 0.3/0.7")


def make_data(rng, n_rows: int, n_docs: int, n_classes: int):
    """float32 logits and probabilities, imbalanced gold (class 0 ~80%) with 1% missing."""
    Z = rng.normal(scale=2.0, size=(n_rows, n_classes)).astype("float32")
    E = numpy.exp(Z - Z.max(axis=1, keepdims=True))
    P = (E / E.sum(axis=1, keepdims=True)).astype("float32")
    p = numpy.full(n_classes, 0.2 / max(n_classes - 1, 1))
    p[0] = 0.8 if n_classes > 1 else 1.0
    gold = rng.choice(n_classes, size=n_rows, p=p / p.sum()).astype("int32")
    gold[rng.random(n_rows) < 0.01] = -1
    cuts = numpy.sort(rng.choice(numpy.arange(1, n_rows), size=n_docs - 1, replace=False))
    bounds = [0] + cuts.tolist() + [n_rows]
    docs = [(s, e) for s, e in zip(bounds[:-1], bounds[1:])]
    return Z, P, gold, docs


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


def time_interleaved(
    fns: Dict[str, Callable[[], object]], repeats: int, clock: Callable[[], float]
) -> Dict[str, List[float]]:
    """Milliseconds of ``repeats`` runs of each function (after one warm-up each), the functions
    taking turns so that a change of machine load hits all of them alike."""
    for fn in fns.values():
        fn()
    times: Dict[str, List[float]] = {key: [] for key in fns}
    for _ in range(repeats):
        for key, fn in fns.items():
            start = clock()
            fn()
            times[key].append((clock() - start) * 1000.0)
    return times


def class_weights_for(gold, n_classes):
    from tests.torch_reference import resolve_weights

    labels = [str(i) for i in range(n_classes)]
    counts = {str(i): int((gold == i).sum()) for i in range(n_classes)}
    return resolve_weights("inverse_frequency", labels, counts)


def build(spec, weights):
    from tests.torch_reference import build_ours

    kind, params = spec
    params = dict(params)
    if params.get("class_weights") is not None:
        params["class_weights"] = weights
    if kind == "scheduled":  # the reference: the combined loss with the weights of that step
        from tests.torch_reference import reference_spec

        return build_ours((kind, params), "softmax", labels=None), reference_spec((kind, params))
    return build_ours((kind, params), "softmax", labels=None), (kind, params)


def make_torch_fn(spec, Z, gold, doc_bounds):
    """Forward from the logits and backward, in PyTorch autograd (tests/torch_reference.py)."""
    import torch

    from tests.torch_reference import loss_from_logits

    if doc_bounds is None:
        def torch_fn():
            Zt = torch.tensor(Z, requires_grad=True)
            loss_from_logits(spec, Zt, gold, "softmax").backward()
            return Zt.grad
        return torch_fn
    Z_docs = [Z[s:e] for s, e in doc_bounds]

    def torch_docs_fn():
        Zs = [torch.tensor(z, requires_grad=True) for z in Z_docs]
        loss_from_logits(spec, torch.cat(Zs), gold, "softmax").backward()
        return [z.grad for z in Zs]
    return torch_docs_fn


def run(args) -> List[str]:
    import torch
    from thinc.api import SequenceCategoricalCrossentropy

    torch.set_num_threads(args.torch_threads)
    rng = numpy.random.default_rng(args.seed)
    thinc_ce = SequenceCategoricalCrossentropy(normalize=False, missing_value=-1)
    rows = []
    for n_classes in args.classes:
        Z, P, gold, docs = make_data(rng, args.rows, args.docs, n_classes)
        weights = class_weights_for(gold, n_classes)
        inputs = {
            "1 array": (P, gold, None),
            f"{args.docs} docs": (
                [P[s:e] for s, e in docs], [gold[s:e] for s, e in docs], docs
            ),
        }
        for form, (guesses, truths, doc_bounds) in inputs.items():
            fns: Dict[str, Callable[[], object]] = {}
            if doc_bounds is None:
                fns["thinc"] = lambda: thinc_ce([guesses], [truths])  # noqa: E731
            else:
                fns["thinc"] = lambda: thinc_ce(guesses, truths)  # noqa: E731
            for name in args.losses:
                loss, spec = build(LOSS_SPECS[name], weights)
                fns[name] = (lambda loss: lambda: loss(guesses, truths))(loss)
                if not args.no_torch:
                    fns["torch " + name] = make_torch_fn(spec, Z, gold, doc_bounds)
            times = time_interleaved(fns, args.repeats, CLOCKS[args.clock])
            med = {key: statistics.median(values) for key, values in times.items()}
            low = {key: min(values) for key, values in times.items()}
            base = med["thinc"]
            rows.append((n_classes, form, "thinc SequenceCategoricalCrossentropy", med["thinc"],
                         low["thinc"], 1.0, None))
            for name in args.losses:
                torch_ms = med.get("torch " + name)
                rows.append((n_classes, form, name, med[name], low[name], med[name] / base, torch_ms))
            print(f"# done: {n_classes} classes, {form}", file=sys.stderr)
    return format_table(rows, args)


def format_table(rows, args) -> List[str]:
    out = [
        "| classes | input | loss | median ms | min ms | x thinc CE (median) | PyTorch median ms | ours / PyTorch |",
        "|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    for n_classes, form, name, ms, low, ratio, torch_ms in rows:
        mark = ""
        if name in TARGETED:
            ok = ratio <= 1.3 and (torch_ms is None or ms < torch_ms)
            mark = "" if ok else " (target missed)"
        torch_cells = ("-", "-") if torch_ms is None else (f"{torch_ms:.1f}", f"{ms / torch_ms:.2f}")
        out.append(
            f"| {n_classes} | {form} | {name}{mark} | {ms:.1f} | {low:.1f} | {ratio:.2f} |"
            f" {torch_cells[0]} | {torch_cells[1]} |"
        )
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows (tokens) per batch")
    parser.add_argument("--docs", type=int, default=3_000, help="docs in the list form")
    parser.add_argument("--classes", type=int, nargs="+", default=[9, 17, 50])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per cell (median)")
    parser.add_argument("--losses", nargs="+", default=list(LOSS_SPECS), choices=list(LOSS_SPECS))
    parser.add_argument("--torch-threads", type=int, default=1,
                        help="torch.set_num_threads (numpy runs single-threaded: 1 is like for like)")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch column")
    parser.add_argument(
        "--clock", choices=sorted(CLOCKS), default="cpu",
        help="cpu: the process's CPU time (steady on a shared machine); wall: elapsed time",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    import thinc
    import torch

    print(
        f"<!-- python {platform.python_version()}, numpy {numpy.__version__}, thinc {thinc.__version__},"
        f" torch {torch.__version__} ({args.torch_threads} thread(s)), {platform.processor() or platform.machine()},"
        f" {os.cpu_count()} CPUs; rows={args.rows}, docs={args.docs}, repeats={args.repeats},"
        f" clock={args.clock} -->"
    )
    for line in run(args):
        print(line)


if __name__ == "__main__":
    main()
