"""GPU check of spacy-dice with a transformer: every loss runs on the device, DSC costs no speed.

Runs ON the GPU machine (``benchmarks/gpu_check.sh`` unpacks the bundle of
``benchmarks/build_gpu_wheels.sh`` and calls this); ``pack-minilm`` runs where the bundle is built.

    python -m benchmarks.gpu_check check --minilm .gpu/bundle/minilm --data .gpu/bundle/data \
        --steps 300 --out $OUT/gpu_check.json
    python -m benchmarks.gpu_check pack-minilm --out .gpu/bundle/minilm --texts .gpu/bundle/data
    python -m benchmarks.gpu_check check --cpu-dry-run --skip tiny_bert --ud-zh .gpu/bundle/ud_zh \
        --zh-steps 10 --zh-trf-steps 4 --zh-trf-size tiny --out /tmp/gpu_check.json

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
3. If ``--ud-zh`` (a folder with the ``train``/``dev``/``test.spacy`` of the project's data set
   ``ud_zh``: UD Chinese-GSD r1.4, the paper's UD1.4, as character docs; ``build_gpu_wheels.sh``
   writes it, never committed: the corpus is CC BY-NC-SA): the UD1.4 row, joint word segmentation
   + UPOS with ``dice_seg_tagger`` (:func:`seg_tagger_run`), CE and DSC (``--zh-loss``) on the same
   batches, on the CNN (``configs/seg_tagger_cnn.cfg``, ``--zh-steps`` updates) and on a
   transformer (``configs/seg_tagger_trf.cfg``, ``--zh-trf-steps``): a BERT with one word piece per
   Han character, as bert-base-chinese, built on the device from the training characters with
   RANDOM weights (``--zh-trf-size``: ``base`` has bert-base-chinese's sizes, 12 layers x 768;
   no Chinese encoder can be fetched there): its characters/s are what the paper's setting costs,
   its F1 is not a result (random weights, a few hundred updates). The first ``--check-steps`` updates of each run go through the device check of
   step 1 (cupy guesses and gradients); then joint F1 (``pos_f``), ``seg_f`` on dev and test,
   training and prediction characters/s, and the DSC/CE training speed ratio per backbone. A run
   stops early at ``--zh-max-seconds`` of training (the steps done are recorded).

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

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("tiny_bert", "minilm", "ud_zh")
ZH_BACKBONES = ("cnn", "trf")
ZH_BERT_SIZES: Dict[str, Dict[str, int]] = {
    # random BERTs with one word piece per character; "base" has bert-base-chinese's sizes
    "tiny": {"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 2, "intermediate_size": 128},
    "small": {"num_hidden_layers": 4, "hidden_size": 256, "num_attention_heads": 4, "intermediate_size": 1024},
    "base": {"num_hidden_layers": 12, "hidden_size": 768, "num_attention_heads": 12, "intermediate_size": 3072},
}
ZH_BATCH_WORDS = {"cnn": 1000, "trf": 300}  # padded characters per update (the configs' batch sizes)


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


def make_char_bert(folder: Path, docs: Any, size: str = "base", *, max_position_embeddings: int = 512,
                   seed: int = 0) -> Path:
    """A BERT with RANDOM weights whose word pieces are the characters of ``docs`` (and the ASCII
    pieces of ``tests/tiny_bert.py``), written with ``save_pretrained`` to ``folder``; returns the
    folder. As in bert-base-chinese, every Han character is one word piece (the BERT tokenizer
    splits them apart); ``size`` is a key of :data:`ZH_BERT_SIZES`."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    from tests.tiny_bert import tiny_vocab

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab = tiny_vocab()
    seen = set(vocab)
    for char in sorted({token.text.lower() for doc in docs for token in doc}):
        if char not in seen and not char.isspace():
            seen.add(char)
            vocab.append(char)
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf8")
    tokenizer = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=True,
                                  model_max_length=max_position_embeddings)
    tokenizer.save_pretrained(str(folder))
    config = BertConfig(vocab_size=len(vocab), max_position_embeddings=max_position_embeddings,
                        **ZH_BERT_SIZES[size])
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(str(folder))
    return folder


def _sync(gpu: bool) -> None:
    """Wait for the device's queued work (so a timer measures it)."""
    if gpu:
        import cupy
        import torch

        cupy.cuda.get_current_stream().synchronize()
        torch.cuda.synchronize()


def seg_tagger_run(backbone: str, loss: str, data: Path, *, steps: int, gpu_id: int,
                   model: Optional[Path] = None, batch_words: Optional[int] = None,
                   mixed_precision: bool = False, check_steps: int = 3, max_seconds: float = 0.0,
                   seed: int = 0, log: Any = None) -> Dict[str, Any]:
    """The UD1.4 row on one backbone and loss: ``dice_seg_tagger`` from the project's config of
    ``ud_zh`` (``cnn`` or ``trf`` with the transformer folder ``model``), ``steps`` updates on
    batches of at most ``batch_words`` padded characters (the same batches for every loss: a
    fixed shuffle), the first ``check_steps`` with the loss instrumented (:func:`instrument_loss`,
    untimed), then evaluated once on dev and test.

    Returns the measurements: ``pos_p/r/f`` and ``seg_f`` on test (``dev_pos_f``, ``dev_seg_f``),
    per-POS F1, training characters/s (the ``nlp.update`` calls, device synchronized), prediction
    characters/s (``nlp.evaluate``'s speed on test), the device check's record and the words a
    raw sentence is turned into. Raises AssertionError when the work leaves the device.
    """
    import spacy
    from thinc.api import CupyOps, NumpyOps, fix_random_seed, get_current_ops, set_gpu_allocator

    from spacy_dice.files import read_examples
    from spacy_dice.project.configs import project_config

    log = log or (lambda text: print(text, flush=True))
    gpu = gpu_id >= 0
    if gpu:
        spacy.require_gpu(gpu_id)
        set_gpu_allocator("pytorch")
    fix_random_seed(seed)
    config, component = project_config("ud_zh", backbone, loss, configs_dir=ROOT / "configs", seed=seed,
                                        transformer_model=str(model) if model else None)
    if backbone == "trf":
        config["training"]["optimizer"]["learn_rate"].update(
            warmup_steps=max(1, steps // 10), total_steps=steps)
        config["components"]["transformer"]["model"]["mixed_precision"] = bool(mixed_precision)
    batch_words = batch_words or ZH_BATCH_WORDS[backbone]
    nlp = spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
    train = read_examples(data / "train.spacy", nlp)
    dev = read_examples(data / "dev.spacy", nlp)
    test = read_examples(data / "test.spacy", nlp)
    t0 = time.perf_counter()
    optimizer = nlp.initialize(lambda: train)
    init_s = time.perf_counter() - t0
    ops_type = CupyOps if gpu else NumpyOps
    assert isinstance(get_current_ops(), ops_type), f"thinc ops are {type(get_current_ops()).__name__}"
    pipe = nlp.get_pipe(component)
    assert isinstance(pipe.model.ops, ops_type), f"{component} model ops are {type(pipe.model.ops).__name__}"
    record: Dict[str, Any] = {"loss": loss, "calls": 0, "loss_seconds": 0.0}
    if backbone == "trf":
        hf = nlp.get_pipe("transformer").model.transformer
        record["torch_device"] = str(next(hf.parameters()).device)
        assert record["torch_device"].startswith("cuda" if gpu else "cpu"), record["torch_device"]
    log(f"[ud_zh {backbone}/{loss}] initialized in {init_s:.1f}s; {len(train)} train, {len(dev)} dev,"
        f" {len(test)} test docs")
    stream = trf_cpu.padded_batches(train, seed, batch_words)
    loss_class = type(pipe.loss)
    instrument_loss(pipe.loss, record, gpu=gpu)
    losses: Dict[str, float] = {}
    for _ in range(check_steps):  # the device check, untimed
        nlp.update(next(stream), drop=0.1, sgd=optimizer, losses=losses)
        optimizer.step_schedules()
    pipe.loss.__class__ = loss_class
    assert record["calls"] == check_steps, record
    record["loss_ms_per_call"] = round(1000 * record.pop("loss_seconds") / max(check_steps, 1), 3)
    chars, train_s, done = 0, 0.0, check_steps
    for step in range(check_steps + 1, steps + 1):
        batch = next(stream)
        _sync(gpu)
        start = time.perf_counter()
        nlp.update(batch, drop=0.1, sgd=optimizer, losses=losses)
        optimizer.step_schedules()
        _sync(gpu)
        train_s += time.perf_counter() - start
        chars += sum(len(eg.predicted) for eg in batch)
        done = step
        if step % max(1, steps // 10) == 0 or step == steps:
            log(f"[ud_zh {backbone}/{loss}] step {step}/{steps}: {chars / max(train_s, 1e-9):,.0f} characters/s,"
                f" loss {losses.get(component, 0.0):.3f}")
            losses = {}
        if max_seconds and train_s > max_seconds:
            log(f"[ud_zh {backbone}/{loss}] stopped at step {step}: {train_s:.0f} s > --zh-max-seconds")
            break
    t0 = time.perf_counter()
    dev_scores = nlp.evaluate(sorted(dev, key=len), batch_size=128)
    scores = nlp.evaluate(sorted(test, key=len), batch_size=128)
    eval_s = time.perf_counter() - t0
    demo = nlp("看似簡單，只是二選一做決擇。iPhone 12 在台北")
    result = {
        "backbone": backbone, "loss": loss, "steps": done, "steps_asked": steps,
        "batch_words": batch_words, "gpu_id": gpu_id, "seed": seed,
        "transformer": (f"random BERT {model.name}" if model else None) if backbone == "trf" else None,
        "mixed_precision": bool(mixed_precision) if backbone == "trf" else None,
        "init_seconds": round(init_s, 1), "train_characters": chars, "train_seconds": round(train_s, 2),
        "train_chars_per_s": round(chars / train_s, 1) if train_s else None,
        "predict_chars_per_s": round(float(scores["speed"]), 1), "eval_seconds": round(eval_s, 2),
        "pos_p": round(float(scores["pos_p"] or 0.0), 4), "pos_r": round(float(scores["pos_r"] or 0.0), 4),
        "pos_f": round(float(scores["pos_f"] or 0.0), 4), "seg_f": round(float(scores["seg_f"] or 0.0), 4),
        "dev_pos_f": round(float(dev_scores["pos_f"] or 0.0), 4),
        "dev_seg_f": round(float(dev_scores["seg_f"] or 0.0), 4),
        "pos_per_type_f": {k: round(float(v["f"]), 4) for k, v in (scores.get("pos_per_type") or {}).items()},
        "device_check": record,
        "demo": [(token.text, token.pos_) for token in demo],
    }
    log(f"[ud_zh {backbone}/{loss}] " + json.dumps({k: v for k, v in result.items() if k != "pos_per_type_f"},
                                                   ensure_ascii=False))
    return result


def zh_table(runs: List[Dict[str, Any]]) -> str:
    """The UD1.4 runs as a Markdown table."""
    lines = ["| backbone | loss | steps | train chars/s | predict chars/s | dev joint F1 | test P | test R |"
             " test joint F1 | test seg F1 |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in runs:
        if not r.get("ok"):
            lines.append(f"| {r['backbone']} | {r['loss']} | FAILED: {r.get('error', '')[:120]} |||||||")
            continue
        lines.append(f"| {r['backbone']}{' (' + r['transformer'] + ')' if r.get('transformer') else ''} |"
                     f" {r['loss']} | {r['steps']} | {r['train_chars_per_s'] or 0:,.0f} |"
                     f" {r['predict_chars_per_s']:,.0f} | {r['dev_pos_f']:.4f} | {r['pos_p']:.4f} |"
                     f" {r['pos_r']:.4f} | {r['pos_f']:.4f} | {r['seg_f']:.4f} |")
    return "\n".join(lines)


def ud_zh_check(args: argparse.Namespace, report: Dict[str, Any], tmp: Path) -> bool:
    """The UD1.4 rows of ``check`` (see the module doc) into ``report``; whether every run passed."""
    import spacy
    from spacy.tokens import DocBin

    ok = True
    report["ud_zh_runs"] = []
    backbones = [b for b in args.zh_backbone.split(",") if b]
    bert = None
    if "trf" in backbones:
        docs = DocBin().from_disk(args.ud_zh / "train.spacy").get_docs(spacy.blank("zh").vocab)
        bert = make_char_bert(tmp / f"char-bert-{args.zh_trf_size}", docs, args.zh_trf_size)
    for backbone in backbones:
        for loss in args.zh_loss or ["ce", "dsc"]:
            try:
                run = seg_tagger_run(
                    backbone, loss, args.ud_zh, gpu_id=args.gpu_id,
                    steps=args.zh_trf_steps if backbone == "trf" else args.zh_steps,
                    model=bert if backbone == "trf" else None, mixed_precision=args.mixed_precision,
                    check_steps=args.check_steps, max_seconds=args.zh_max_seconds)
                run["ok"] = True
            except Exception as err:  # any failure of the row is a failed check, reported
                import traceback

                run = {"backbone": backbone, "loss": loss, "ok": False, "error": f"{type(err).__name__}: {err}",
                       "traceback": traceback.format_exc()[-3000:]}
                print(run["traceback"], flush=True)
                ok = False
            report["ud_zh_runs"].append(run)
            _write(args.out, report)
    ratios = {}
    for backbone in backbones:
        by_loss = {r["loss"]: r for r in report["ud_zh_runs"] if r["backbone"] == backbone and r.get("ok")}
        if "ce" in by_loss and "dsc" in by_loss and by_loss["ce"]["train_chars_per_s"]:
            ratios[backbone] = round(by_loss["dsc"]["train_chars_per_s"] / by_loss["ce"]["train_chars_per_s"], 3)
    report["ud_zh_dsc_over_ce_train_speed"] = ratios
    return ok


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
    skip = {part for part in args.skip.split(",") if part}
    unknown = skip - set(PARTS)
    if unknown:
        print(f"FAIL: --skip {','.join(sorted(unknown))}: expected parts of {', '.join(PARTS)}", flush=True)
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="spacy-dice-gpu-"))
    bert = make_tiny_bert(tmp / "tiny-bert", max_position_embeddings=128)
    for loss in () if "tiny_bert" in skip else ("ce", "dsc", "ce_then_dsc"):
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
    if "minilm" in skip:
        report["minilm"] = "skipped: --skip minilm"
    elif args.minilm and (args.minilm / "packed.safetensors").exists() and train and train.exists():
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
    if "ud_zh" in skip:
        report["ud_zh"] = "skipped: --skip ud_zh"
    elif args.ud_zh and (args.ud_zh / "train.spacy").exists():
        ok = ud_zh_check(args, report, tmp) and ok
    else:
        report["ud_zh"] = "skipped: no UD1.4 character docs (--ud-zh: train/dev/test.spacy)"
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
    if report.get("ud_zh_runs"):
        print("UD1.4 joint segmentation + UPOS (dice_seg_tagger):")
        print(zh_table(report["ud_zh_runs"]))
        for backbone, ratio in report["ud_zh_dsc_over_ce_train_speed"].items():
            print(f"UD1.4 {backbone}: DSC/CE training characters/s {ratio:.3f}")
        print()
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
    run_p.add_argument("--skip", default="", help=f"comma-separated parts not to run: {', '.join(PARTS)}")
    run_p.add_argument("--ud-zh", type=Path, default=None,
                       help="folder with train/dev/test.spacy of the ud_zh character docs (the UD1.4 row)")
    run_p.add_argument("--zh-steps", type=int, default=1500, help="UD1.4 CNN: updates per loss")
    run_p.add_argument("--zh-trf-steps", type=int, default=400, help="UD1.4 transformer: updates per loss")
    run_p.add_argument("--zh-trf-size", choices=sorted(ZH_BERT_SIZES), default="base",
                       help="the random character BERT's size (base: bert-base-chinese's)")
    run_p.add_argument("--zh-backbone", default=",".join(ZH_BACKBONES), help="comma-separated: cnn, trf")
    run_p.add_argument("--zh-loss", action="append", default=None,
                       help="UD1.4 loss presets (repeatable; default ce and dsc)")
    run_p.add_argument("--zh-max-seconds", type=float, default=60.0,
                       help="UD1.4: stop a run after this many seconds of training (0: never)")
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
