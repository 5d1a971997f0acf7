"""GPU check of spacy-dice with a transformer: every loss runs on the device, DSC costs no speed.

Runs ON the GPU machine (``benchmarks/gpu_check.sh`` unpacks the bundle of
``benchmarks/build_gpu_wheels.sh`` and calls this); ``pack-minilm`` runs where the bundle is built.

    python -m benchmarks.gpu_check check --minilm .gpu/bundle/minilm --data .gpu/bundle/data \
        --steps 300 --out $OUT/gpu_check.json
    python -m benchmarks.gpu_check pack-minilm --out .gpu/bundle/minilm --texts .gpu/bundle/data

(run from the repository root, as a module: it imports ``benchmarks.trf_cpu``, ``tests.tiny_bert``
and ``tests.synthetic``).

``check``:

1. Code paths on a tiny random BERT built on the device (``tests/tiny_bert.py``, no download):
   ``dice_ner`` from ``configs/ner_trf.cfg`` with CE, DSC and ``ce_then_dsc``, a few updates each with
   the loss object's ``__call__`` wrapped: every call must receive cupy guesses and return a cupy
   gradient of the same shape and dtype and a finite value; thinc's ops must be ``CupyOps`` and the
   torch transformer on ``cuda``; prediction (log-softmax + constrained Viterbi) must run and set
   entities. Any numpy on the way fails the check.
2. If ``--minilm`` (a folder made by ``pack-minilm``) and ``--data`` (train/test ``.spacy``) are
   there: all-MiniLM-L6-v2 restored to float32, then ``--steps`` updates of ``dice_ner`` with CE, DSC
   and ``ce_then_dsc`` on the same batches (``benchmarks/trf_cpu.run``): training words/s,
   prediction words/s, entity P/R/F1 on the test file, and the verdict DSC words/s >=
   ``--min-ratio`` (0.95) x CE's.

``check --cpu-dry-run`` runs the same script on the CPU (numpy expected instead of cupy): a check of
the script and the bundle before spending device time.

Exit status 0 when every check passes, 1 otherwise; the results go to ``--out`` as JSON.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

if not __package__:  # run as a file: the repository root is not importable
    raise SystemExit("run from the repository root: python -m benchmarks.gpu_check ...")

from benchmarks import trf_cpu  # noqa: E402  (the shared training loop)


def instrument_loss(loss: Any, record: Dict[str, Any], gpu: bool = True) -> None:
    """Replace ``loss``'s class by a subclass whose ``__call__`` checks devices (see module doc).

    ``gpu=False`` (the ``--cpu-dry-run``) expects numpy instead of cupy.
    """
    import numpy
    from thinc.api import get_array_module

    if gpu:
        import cupy
    else:
        cupy = numpy

    cls = type(loss)

    def __call__(self, guesses, truths):
        first = guesses[0] if isinstance(guesses, (list, tuple)) else guesses
        module = get_array_module(first)
        if module is not cupy:
            raise AssertionError(f"{cls.__name__}: guesses are {type(first)} ({module.__name__}), not cupy")
        start = time.perf_counter()
        d_guesses, value = cls.__call__(self, guesses, truths)
        if gpu:
            cupy.cuda.get_current_stream().synchronize()
        record["loss_seconds"] += time.perf_counter() - start
        pairs = zip(d_guesses, guesses) if isinstance(guesses, (list, tuple)) else [(d_guesses, guesses)]
        for d, g in pairs:
            if not isinstance(d, cupy.ndarray):
                raise AssertionError(f"{cls.__name__}: gradient is {type(d)}, not a cupy array")
            if d.shape != g.shape or d.dtype != g.dtype:
                raise AssertionError(
                    f"{cls.__name__}: gradient {d.shape}/{d.dtype} for guesses {g.shape}/{g.dtype}"
                )
        if not math.isfinite(float(value)):
            raise AssertionError(f"{cls.__name__}: loss value {value!r}")
        record["calls"] += 1
        record["guess_module"] = module.__name__
        record["grad_type"] = f"{type(d_guesses[0] if isinstance(d_guesses, list) else d_guesses).__module__}.ndarray"
        record["guess_dtype"] = str(first.dtype)
        return d_guesses, value

    loss.__class__ = type(f"DeviceChecked{cls.__name__}", (cls,), {"__call__": __call__})


def tiny_bert_check(folder: Path, loss: str, gpu_id: int, steps: int) -> Dict[str, Any]:
    """The instrumented short run for one loss on the tiny BERT; AssertionError on any CPU fallback.

    ``gpu_id < 0``: the same run on the CPU (``--cpu-dry-run``: checks the script, not the device).
    """
    import spacy
    import torch
    from thinc.api import CupyOps, NumpyOps, get_current_ops, set_gpu_allocator

    from tests.synthetic import ner_examples

    gpu = gpu_id >= 0
    if gpu:
        spacy.require_gpu(gpu_id)
        set_gpu_allocator("pytorch")
    ops_type = CupyOps if gpu else NumpyOps
    config_path, overrides = trf_cpu.backbone_config(f"trf:{folder}")
    overrides.update({
        "components.transformer.model.get_spans.window": 64,
        "components.transformer.model.get_spans.stride": 48,
    })
    config = spacy.util.load_config(config_path, overrides=overrides, interpolate=False)
    config["components"]["ner"]["loss"] = trf_cpu.loss_config(loss, 3 * steps)
    nlp = spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
    train = ner_examples(nlp, n_docs=64)
    optimizer = nlp.initialize(lambda: train)
    ner = nlp.get_pipe("ner")
    record: Dict[str, Any] = {"loss": loss, "calls": 0, "loss_seconds": 0.0}
    instrument_loss(ner.loss, record, gpu=gpu)
    assert isinstance(get_current_ops(), ops_type), f"thinc ops are {type(get_current_ops()).__name__}"
    assert isinstance(ner.model.ops, ops_type), f"ner model ops are {type(ner.model.ops).__name__}"
    hf = nlp.get_pipe("transformer").model.transformer
    record["torch_device"] = str(next(hf.parameters()).device)
    assert record["torch_device"].startswith("cuda" if gpu else "cpu"), record["torch_device"]
    for i in range(steps):
        batch = train[(i * 16) % len(train): (i * 16) % len(train) + 16]
        nlp.update(batch, sgd=optimizer, losses={})
    assert record["calls"] == steps, record
    record["loss_ms_per_call"] = round(1000 * record.pop("loss_seconds") / steps, 3)
    docs = list(nlp.pipe(["Alice Corp visited Paris and Bob", "the of and"] * 4))
    record["predicted_entities"] = sum(len(doc.ents) for doc in docs)
    record["torch"] = torch.__version__
    record["gpu"] = torch.cuda.get_device_name(gpu_id) if gpu else "none (CPU dry run)"
    return record


def pack_minilm(out: Path, texts: Optional[Path]) -> None:
    """all-MiniLM-L6-v2 as float16, without the embedding rows of word pieces ``texts`` never uses."""
    import shutil

    import numpy
    import torch
    from safetensors.torch import load_file, save_file
    from transformers import AutoTokenizer

    from spacy_dice.transformers import resolve_model_name

    source = Path(resolve_model_name("minilm"))
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(str(source))
    state = load_file(str(source / "model.safetensors"))
    key = next(k for k in state if k.endswith("word_embeddings.weight"))
    rows = set(tokenizer.all_special_ids)
    if texts is not None and texts.exists():
        import spacy
        from spacy.tokens import DocBin

        vocab = spacy.blank("en").vocab
        for path in sorted(texts.glob("*.spacy")):
            for doc in DocBin().from_disk(path).get_docs(vocab):
                rows.update(tokenizer(doc.text, add_special_tokens=True)["input_ids"])
                # spacy-transformers tokenizes windows of tokens: each token's pieces, as a word
                rows.update(i for word in doc for i in tokenizer(word.text, add_special_tokens=False)["input_ids"])
    else:
        rows = set(range(state[key].shape[0]))
    index = torch.tensor(sorted(rows), dtype=torch.int64)
    packed = {k: v.to(torch.float16).contiguous() for k, v in state.items() if k != key}
    packed[key + ".rows"] = state[key][index].to(torch.float16).contiguous()
    packed[key + ".index"] = index.to(torch.int32)
    save_file(packed, str(out / "packed.safetensors"),
              metadata={"embedding_key": key, "n_rows": str(state[key].shape[0])})
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt",
                 "special_tokens_map.json"):
        if (source / name).exists():
            shutil.copy(source / name, out / name)
    print(f"packed {len(rows)} of {state[key].shape[0]} embedding rows; "
          f"{(out / 'packed.safetensors').stat().st_size / 1e6:.1f} MB", flush=True)


def restore_minilm(packed: Path, out: Path) -> Path:
    """A float32 ``save_pretrained`` folder from :func:`pack_minilm`'s output."""
    import shutil

    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    state: Dict[str, Any] = {}
    with safe_open(str(packed / "packed.safetensors"), framework="pt") as f:
        meta = f.metadata()
        for name in f.keys():
            state[name] = f.get_tensor(name)
    key, n_rows = meta["embedding_key"], int(meta["n_rows"])
    rows, index = state.pop(key + ".rows"), state.pop(key + ".index").to(torch.int64)
    full = torch.zeros((n_rows, rows.shape[1]), dtype=torch.float32)
    full[index] = rows.to(torch.float32)
    state = {k: v.to(torch.float32) for k, v in state.items()}
    state[key] = full
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    for item in packed.iterdir():
        if item.name != "packed.safetensors":
            shutil.copy(item, out / item.name)
    return out


def check(args: argparse.Namespace) -> int:
    import tempfile

    import torch

    if args.cpu_dry_run:
        args.gpu_id = -1
    else:
        try:
            import cupy  # noqa: F401
        except ImportError as err:
            print(f"FAIL: {err}; this check needs a CUDA machine with torch and cupy", flush=True)
            return 1
        if not torch.cuda.is_available():
            print("FAIL: torch sees no CUDA device", flush=True)
            return 1
    from tests.tiny_bert import make_tiny_bert

    gpu_name = torch.cuda.get_device_name(args.gpu_id) if args.gpu_id >= 0 else "none (CPU dry run)"
    report: Dict[str, Any] = {"device_checks": [], "runs": [], "gpu": gpu_name}
    ok = True
    tmp = Path(tempfile.mkdtemp(prefix="spacy-dice-gpu-"))
    bert = make_tiny_bert(tmp / "tiny-bert", max_position_embeddings=128)
    for loss in ("ce", "dsc", "ce_then_dsc"):
        try:
            record = tiny_bert_check(bert, loss, args.gpu_id, args.check_steps)
            record["ok"] = True
        except Exception as err:  # any failure of the code path is a failed check, reported
            record = {"loss": loss, "ok": False, "error": f"{type(err).__name__}: {err}"}
            ok = False
        report["device_checks"].append(record)
        print(f"tiny-BERT device check [{loss}]: " + json.dumps(record), flush=True)
        _write(args.out, report)

    train, test = (args.data / "train.spacy", args.data / "test.spacy") if args.data else (None, None)
    if args.minilm and (args.minilm / "packed.safetensors").exists() and train and train.exists():
        minilm = restore_minilm(args.minilm, tmp / "minilm")
        for loss in args.loss or ["ce", "dsc", "ce_then_dsc"]:
            report["runs"].append(trf_cpu.run(
                f"trf:{minilm}", train, test, steps=args.steps, batch_words=args.batch_words,
                loss=loss, gpu_id=args.gpu_id, mixed_precision=args.mixed_precision,
            ))
            _write(args.out, report)
        by_loss = {r["loss"]: r for r in report["runs"]}
        if "ce" in by_loss and "dsc" in by_loss:
            ratio = by_loss["dsc"]["train_words_per_s"] / by_loss["ce"]["train_words_per_s"]
            report["dsc_over_ce_train_speed"] = round(ratio, 3)
            report["speed_ok"] = ratio >= args.min_ratio
            ok = ok and report["speed_ok"]
    else:
        report["minilm"] = "skipped: no packed MiniLM (--minilm) or no train/test data (--data)"
    report["ok"] = ok
    _write(args.out, report)

    print()
    if report["runs"]:
        print(trf_cpu.table(report["runs"]))
        print()
    for record in report["device_checks"]:
        state = "ok" if record["ok"] else "FAIL " + record["error"]
        print(f"loss on device [{record['loss']}]: {state}"
              + (f" ({record['calls']} calls, guesses {record['guess_module']} {record['guess_dtype']},"
                 f" gradient {record['grad_type']}, torch on {record['torch_device']},"
                 f" {record['loss_ms_per_call']} ms/call, {record['predicted_entities']} entities predicted)"
                 if record["ok"] else ""))
    if "dsc_over_ce_train_speed" in report:
        print(f"DSC/CE training words/s: {report['dsc_over_ce_train_speed']:.3f} (target >= {args.min_ratio}): "
              + ("ok" if report["speed_ok"] else "FAIL"))
    print(("PASS" if ok else "FAIL") + f"; results in {args.out}", flush=True)
    return 0 if ok else 1


def _write(path: Path, report: Dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf8")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("check", help="run the checks on the GPU machine")
    run_p.add_argument("--minilm", type=Path, default=None, help="folder made by pack-minilm")
    run_p.add_argument("--data", type=Path, default=None, help="folder with train.spacy and test.spacy")
    run_p.add_argument("--steps", type=int, default=300)
    run_p.add_argument("--batch-words", type=int, default=300, help="padded batch size in tokens")
    run_p.add_argument("--loss", action="append", choices=sorted(trf_cpu.LOSSES), default=None)
    run_p.add_argument("--gpu-id", type=int, default=0)
    run_p.add_argument("--check-steps", type=int, default=4, help="updates of each instrumented run")
    run_p.add_argument("--min-ratio", type=float, default=0.95)
    run_p.add_argument("--mixed-precision", action="store_true")
    run_p.add_argument("--out", type=Path, default=Path("metrics/gpu_check.json"))
    run_p.add_argument("--cpu-dry-run", action="store_true",
                       help="run everything on the CPU (checks the script before spending device time)")
    pack_p = sub.add_parser("pack-minilm", help="(here) pack all-MiniLM-L6-v2 for the bundle")
    pack_p.add_argument("--out", type=Path, required=True)
    pack_p.add_argument("--texts", type=Path, default=None,
                        help="folder of .spacy files whose word pieces must be kept (default: all)")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if args.command == "pack-minilm":
        pack_minilm(args.out, args.texts)
        return 0
    return check(args)


if __name__ == "__main__":
    sys.exit(main())
