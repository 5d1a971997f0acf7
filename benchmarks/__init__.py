"""Benchmarks of spacy-dice (not installed with the package; see benchmarks/README.md).

Run from the repository root. Most scripts run as files, ``python benchmarks/run_accuracy.py ...``:
Python puts ``benchmarks/`` first on ``sys.path`` for them, so they import each other by name
(``from run_accuracy import prepare_data``). The scripts that also reuse code of ``tests/``
(``bench_decoder``: the decoder's test oracle, ``bench_losses``: the PyTorch reference of the losses,
``gpu_check``: the tiny random BERT and the synthetic NER docs) run as modules,
``python -m benchmarks.bench_losses ...``: the repository root is then on ``sys.path`` and they
import ``benchmarks.trf_cpu`` and ``tests.torch_reference``. No script edits ``sys.path``.
"""
