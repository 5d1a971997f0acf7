"""Batch annotation with a trained pipeline: ``nlp.pipe`` on one machine, Ray Data on many.

Both return one JSON-able record per text: ``{"text", "ents": [[start_char, end_char, label]],
"cats": {label: score}}`` (``ents`` / ``cats`` empty when the pipeline sets none).

* :func:`annotate_local`: ``nlp.pipe(texts, n_process=N)``: N processes on this machine, each
  with its own copy of the pipeline.
* :func:`annotate_ray`: Ray Data ``map_batches`` with :class:`PipelineAnnotator`, a callable
  class, so each of the ``concurrency`` actors loads the pipeline once and annotates many
  batches; on a cluster the actors spread over the nodes (the model path must be readable on
  every node). Needs the ``distributed`` extra.

>>> records = annotate_ray("training/model-best", texts, concurrency=4)
"""
from __future__ import annotations

import json
from typing import Any, Dict, Iterable, List, Sequence, Union

from .training.executor import import_ray


def doc_record(doc: Any) -> Dict[str, Any]:
    """The annotations of one ``Doc`` as plain data."""
    return {"text": doc.text,
            "ents": [[ent.start_char, ent.end_char, ent.label_] for ent in doc.ents],
            "cats": {label: float(score) for label, score in doc.cats.items()}}


def annotate_local(model: str, texts: Iterable[str], *, n_process: int = 1,
                   batch_size: int = 64) -> List[Dict[str, Any]]:
    """Annotate ``texts`` with the pipeline at ``model`` on this machine (``n_process``
    processes through ``nlp.pipe``); records in the order of ``texts``."""
    import spacy

    nlp = spacy.load(model)
    return [doc_record(doc) for doc in nlp.pipe(texts, n_process=n_process, batch_size=batch_size)]


class PipelineAnnotator:
    """A Ray Data ``map_batches`` callable class: loads the pipeline once per actor, then maps
    batches ``{"text": [...]}`` to ``{"text": [...], "annotations": [JSON string, ...]}``."""

    def __init__(self, model: str, batch_size: int = 64) -> None:
        import spacy

        self.nlp = spacy.load(model)
        self.batch_size = batch_size

    def __call__(self, batch: Dict[str, Any]) -> Dict[str, List[str]]:
        texts = [str(t) for t in batch["text"]]
        docs = self.nlp.pipe(texts, batch_size=self.batch_size)
        return {"text": texts, "annotations": [json.dumps(doc_record(doc)) for doc in docs]}


def annotate_ray(model: str, texts: Union[Sequence[str], Any], *, concurrency: int = 2,
                 batch_size: int = 64, num_cpus: float = 1.0) -> List[Dict[str, Any]]:
    """Annotate ``texts`` (a list, or a Ray ``Dataset`` with a ``text`` column) with
    ``concurrency`` actors of :class:`PipelineAnnotator`; records in the input order. Uses the
    Ray this process is connected to, or starts one here."""
    ray = import_ray("annotate_ray")
    started = False
    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False, logging_level="warning")
        started = True
    try:
        import ray.data

        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True
        dataset = texts if hasattr(texts, "map_batches") else ray.data.from_items(
            [{"text": t} for t in texts])
        annotated = dataset.map_batches(
            PipelineAnnotator, fn_constructor_kwargs={"model": str(model), "batch_size": batch_size},
            batch_size=batch_size, concurrency=concurrency, num_cpus=num_cpus,
        )
        return [json.loads(row["annotations"]) for row in annotated.take_all()]
    finally:
        if started:
            ray.shutdown()
