"""The fair comparison: every trained model of an accuracy run, scored on test under three
decision rules, with paired bootstrap intervals for the differences.

For each run of ``benchmarks/results/STEM.json`` (written by ``benchmarks/run_accuracy.py``; the
models stay in its ``--work-dir``):

* ``as_trained``: ``model-best`` as it is (threshold 0.5; no label bias);
* ``find_threshold`` (span tasks): spaCy's own ``spacy find-threshold`` search on dev, one
  global threshold of the span categorizer, ``--trials`` values from 0 to 1 (spaCy's default is
  11; 21 gives steps of 0.05), computed from one prediction (:func:`find_global_threshold`);
* ``calibrated``: ``python -m spacy_dice calibrate`` on dev with its defaults (cross-fitted
  per-label thresholds / biases; for the span-finder pipeline the finder and the categorizer;
  a change adopted only when its cross-fitted gain is beyond the noise at ``--confidence 0.95``);
* ``calibrated_rule_before``: the same with ``--confidence 0``, the rule before the noise check
  (any positive cross-fitted gain is adopted), so both rules are scored on the same models;
* ``recall_at_P`` (with ``--recall-at P``): ``calibrate --metric recall --min-precision P``, the
  most recall at precision >= P (``current``: each label keeps the precision it has on dev).

Every rule chooses on dev only (the dev set the model was chosen on); test is scored once per
rule. Per test doc and label the true positives, false positives and false negatives go to
``benchmarks/results/STEM_counts.npz`` (``ROW/RULE/sSEED``), the scores, the chosen settings and
the calibration times to ``STEM_decisions.json``, and the paired bootstrap intervals
(:mod:`benchmarks.bootstrap`) of each comparison to the same JSON. The joint word segmentation +
POS tasks (``ud_zh``, ``ud_zh_xpos``) count (word span, POS) pairs per doc and POS (their scorer's
``pos_f``; ``calibrate`` tunes ``dice_seg_tagger``'s ``label_bias`` and refuses spaCy's tagger).
The text tasks (``mrpc_trf``) count the task's positive class per text (its F1: MRPC's F1 of
paraphrase), and ``calibrate`` tunes ``dice_textcat``'s ``label_bias`` for that F1
(:func:`positive_class_model`):

    python -m benchmarks.calibrated_accuracy --results uner_spans_calib
    python -m benchmarks.calibrated_accuracy --results uner_spans_calib --report-only
    python -m benchmarks.calibrated_accuracy --results uner_recall --recall-at current

A finished (row, seed) is kept from the JSON and not scored again unless ``--redo``.
"""
from __future__ import annotations

import argparse
import io
import json
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

import numpy

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

from benchmarks.bootstrap import RESAMPLES, seed_intervals, label_recall
from benchmarks.run_accuracy import TASKS, git_commit, machine
from spacy_dice.corpus.chars import WORDS_KEY  # the gold words of the character docs
from spacy_dice.files import read_examples, write_atomic
from spacy_dice.formatting import percent

RULES = ("as_trained", "find_threshold", "calibrated")  # compared across rows
RULE_BEFORE = {"confidence": 0.0, "unit": "doc"}  # calibrate's rule before the noise check (and before source units)
RECALL_RULE = "recall_at_"
SPAN_KEY = "sc"


def scored_component(task: str) -> Tuple[str, str]:
    """``(pipe name, what)`` of the component whose F1 the task reports: ``ents``, ``spans``,
    ``words`` (joint word segmentation + POS: (word span, POS) pairs, the seg tagger's ``pos_f``)
    or ``cats`` (exclusive text classes: the F1 of the task's positive class)."""
    spec = TASKS[task]
    if spec.get("kind") == "words":
        return spec["component"], "words"
    if spec.get("kind") == "textcat":
        return spec["component"], "cats"
    return spec["component"], ("spans" if "spans_of" in spec else "ents")


def words_reader(nlp: Any) -> Tuple[Any, str]:
    """``(read, words_key)`` for a pipeline of the ``words`` tasks: ``read(doc)`` gives the predicted
    words of a processed doc as ``(start_char, end_char, label)`` triples, as the component's scorer
    reads them (``dice_seg_tagger``: its merged tokens with their ``pos_`` / ``tag_``; spaCy's
    ``tagger`` on BILU-POS tags: the words of its tags as they come, ill-formed runs no word), and
    ``words_key`` is the ``doc.spans`` key of the gold words."""
    from spacy_dice.pipeline.seg_tagger_scorer import DEFAULT_WORDS_KEY, bilu_tag_words, predicted_words

    for name, pipe in nlp.pipeline:
        factory = nlp.get_pipe_meta(name).factory
        if factory == "dice_seg_tagger":
            return (lambda doc: predicted_words(doc, pipe.attr)), pipe.words_key
        if factory == "tagger":
            scorer = nlp.config["components"][name].get("scorer") or {}
            return bilu_tag_words, scorer.get("words_key", DEFAULT_WORDS_KEY)
    raise ValueError(f"no dice_seg_tagger or tagger in the pipeline ({', '.join(nlp.pipe_names)}):"
                     " the words tasks score one of them")


def count_sets(nlp: Any, examples: Sequence[Any], labels: List[str],
               read_sets: Callable[[Any, Any], Optional[Tuple[Set[tuple], Set[tuple]]]],
               *, outside: str = "raise") -> numpy.ndarray:
    """``(n_docs, n_labels, 3)`` tp / fp / fn of ``nlp``'s predictions on copies of the examples'
    texts. ``read_sets(predicted_doc, reference_doc)`` gives the predicted and the gold set of
    tuples whose first item is the label (a tuple in both is a true positive), or ``None`` for a
    doc without the gold annotation, which counts nothing. A label outside ``labels`` raises,
    or with ``outside="skip"`` goes uncounted (when only some classes are scored)."""
    index = {label: i for i, label in enumerate(labels)}
    out = numpy.zeros((len(examples), len(labels), 3), dtype="int32")
    docs = nlp.pipe((eg.predicted.copy() for eg in examples), batch_size=256)
    for d, (doc, eg) in enumerate(zip(docs, examples)):
        sets = read_sets(doc, eg.reference)
        if sets is None:
            continue
        pred, gold = sets
        for column, items in ((0, pred & gold), (1, pred - gold), (2, gold - pred)):
            for item in items:
                i = index.get(item[0])
                if i is not None:
                    out[d, i, column] += 1
                elif outside != "skip":
                    raise ValueError(f"label {item[0]!r} of doc {d} is not among the counted labels {labels}")
    return out


def word_counts(nlp: Any, examples: Sequence[Any], labels: List[str]) -> numpy.ndarray:
    """(word span, POS) pairs, counted as the seg tagger's scorer
    (``spacy_dice.pipeline.seg_tagger_scorer``) counts them: a predicted word is right when its
    characters and its label are the gold word's. Summed over docs and labels the counts give
    its ``pos_p`` / ``pos_r`` / ``pos_f``."""
    from spacy_dice.pipeline.seg_tagger_scorer import gold_words

    read, key = words_reader(nlp)

    def read_sets(doc: Any, reference: Any) -> Optional[Tuple[Set[tuple], Set[tuple]]]:
        gold = gold_words(reference, key)
        if gold is None:
            return None
        return ({(label, start, end) for start, end, label in read(doc)},
                {(label, start, end) for start, end, label in gold})

    return count_sets(nlp, examples, labels, read_sets)


def _top_class(cats: Dict[str, float]) -> Set[tuple]:
    return {(max(cats, key=lambda label: cats[label]),)} if cats else set()


def cats_counts(nlp: Any, examples: Sequence[Any], labels: List[str]) -> numpy.ndarray:
    """Exclusive text classes, counted as spaCy's ``Scorer.score_cats`` counts them: the
    predicted class is the top of ``doc.cats``, the gold class the top of the reference's.
    Classes outside ``labels`` go uncounted: with ``labels == [positive]`` the summed counts
    give that class's F1 (MRPC's F1 of paraphrase)."""
    def read_sets(doc: Any, reference: Any) -> Optional[Tuple[Set[tuple], Set[tuple]]]:
        gold = _top_class(reference.cats)
        return (_top_class(doc.cats), gold) if gold else None

    return count_sets(nlp, examples, labels, read_sets, outside="skip")


def test_counts(nlp: Any, examples: Sequence[Any], what: str, labels: List[str]) -> numpy.ndarray:
    """``(n_docs, n_labels, 3)`` tp / fp / fn (:func:`count_sets`) of ``nlp``'s predictions on the
    test examples. ``what`` is ``"ents"`` or ``"spans"``: counted as spaCy's
    ``Scorer.score_spans`` counts them (gold in the reference's tokens, predictions aligned to
    them); ``"words"``: :func:`word_counts`; ``"cats"``: :func:`cats_counts`."""
    from spacy.training import Example

    if what == "words":
        return word_counts(nlp, examples, labels)
    if what == "cats":
        return cats_counts(nlp, examples, labels)

    def spans(doc: Any) -> Any:
        return doc.ents if what == "ents" else doc.spans.get(SPAN_KEY, [])

    def annotated(doc: Any) -> bool:
        return doc.has_annotation("ENT_IOB") if what == "ents" else SPAN_KEY in doc.spans

    def read_sets(doc: Any, reference: Any) -> Optional[Tuple[Set[tuple], Set[tuple]]]:
        if not annotated(reference):
            return None
        aligned = Example(doc, reference).get_aligned_spans_x2y(spans(doc), what == "spans") \
            if annotated(doc) else []
        return ({(s.label_, s.start, s.end) for s in aligned},
                {(s.label_, s.start, s.end) for s in spans(reference)})

    return count_sets(nlp, examples, labels, read_sets)


def summarize(counts: numpy.ndarray, labels: List[str]) -> Dict[str, Any]:
    """Micro P / R / F1 and per-type P / R / F1 / support of ``(n_docs, n_labels, 3)`` counts."""
    from spacy_dice.decisions.search import prf

    per_type = {}
    for i, label in enumerate(labels):
        label_counts = counts[:, i].sum(axis=0)
        if label_counts.any():
            p, r, f = prf(label_counts)
            per_type[label] = {"p": p, "r": r, "f": f, "support": int(label_counts[0] + label_counts[2])}
    p, r, f = prf(counts.sum(axis=(0, 1)))
    return {"p": p, "r": r, "f": f, "per_type": per_type}


def model_labels(nlp: Any, pipe_name: str, examples: Sequence[Any], what: str) -> List[str]:
    """The component's labels plus any gold label of test (so no prediction or gold goes uncounted)."""
    pipe = nlp.get_pipe(pipe_name)
    labels = set(getattr(pipe, "labels", ()))
    if what == "words":
        key = words_reader(nlp)[1]
        if nlp.get_pipe_meta(pipe_name).factory == "tagger":  # spaCy's tagger: the POS of its BILU tags
            labels = {_tag_label(label) for label in labels}
    for eg in examples:
        if what == "words":
            spans = eg.reference.spans.get(key, [])
        else:
            spans = eg.reference.ents if what == "ents" else eg.reference.spans.get(SPAN_KEY, [])
        labels.update(s.label_ for s in spans)
    return sorted(labels)


def _tag_label(tag: str) -> str:
    """The label of a BILU tag (``B-NOUN`` -> ``NOUN``); a label without a BILU prefix as it is."""
    from spacy_dice.pipeline.biluo import split_biluo_tag

    try:
        return split_biluo_tag(tag)[1] or tag
    except ValueError:
        return tag


def find_global_threshold(nlp: Any, dev: Path, pipe_name: str, trials: int) -> Dict[str, Any]:
    """spaCy's ``find-threshold`` search, computed from one prediction.

    The same values (``numpy.linspace(0, 1, trials)``), the same dev examples (spaCy's ``Corpus``),
    the same score (the component's scorer, ``spans_sc_f``) and the same choice (the first best
    value) as ``spacy.cli.find_threshold.find_threshold``, which reloads the pipeline and runs all
    of it once per value; here the components before ``pipe_name`` run once, ``pipe_name`` predicts
    once and only its ``set_annotations`` runs per value (tests/test_bootstrap.py checks that both
    choose the same threshold). ``nlp`` is left with its threshold unchanged."""
    from spacy.training import Example

    start = time.perf_counter()
    examples = read_examples(dev, nlp)
    docs = [eg.predicted for eg in examples]
    for name, proc in nlp.pipeline:
        if name == pipe_name:
            break
        docs = list(proc.pipe(docs))
    pipe = nlp.get_pipe(pipe_name)
    scores = pipe.predict(docs)
    original = pipe.cfg["threshold"]
    by_value: Dict[float, float] = {}
    try:
        for value in numpy.linspace(0, 1, trials):
            pipe.cfg["threshold"] = float(value)
            annotated = [doc.copy() for doc in docs]
            pipe.set_annotations(annotated, scores)
            found = pipe.score([Example(doc, eg.reference) for doc, eg in zip(annotated, examples)])
            by_value[float(value)] = found[f"spans_{SPAN_KEY}_f"] or 0.0
    finally:
        pipe.cfg["threshold"] = original
    best = max(by_value, key=lambda value: by_value[value])
    return {"threshold": round(best, 4), "dev_f": by_value[best],
            "seconds": round(time.perf_counter() - start, 1)}


def positive_class_model(nlp: Any, pipe_name: str, positive: str, model: Path) -> Path:
    """The pipeline ``calibrate`` tunes for the F1 of the text class ``positive`` (the score the
    task reports): ``model`` itself when its component's ``positive_label`` is already
    ``positive``, else a copy of ``nlp`` (loaded from ``model``) with it set, saved next to the
    model as ``decisions/model-best-POSITIVE``. Early stopping chose the model on dev macro F1;
    the copy's predictions are the model's, only its scorer (and so ``calibrate``'s objective)
    reads the positive class."""
    pipe = nlp.get_pipe(pipe_name)
    if pipe.cfg.get("positive_label") == positive:
        return model
    out = model.parent / "decisions" / f"model-best-{positive}"
    original = pipe.cfg.get("positive_label")
    pipe.cfg["positive_label"] = positive
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        nlp.to_disk(out)
    finally:
        pipe.cfg["positive_label"] = original
    return out


def our_calibration(model: Path, dev: Path, output: Path, **options: Any) -> Dict[str, Any]:
    """:func:`spacy_dice.decisions.calibrate_model` (what ``python -m spacy_dice calibrate`` runs)
    with its defaults (or ``options``, e.g. ``metric``, ``min_precision``); when it refuses (e.g. a
    pipeline with nothing to calibrate) ``{"refused": its message}``."""
    from spacy_dice.decisions import calibrate_model

    start = time.perf_counter()
    try:
        data = calibrate_model(model, dev, output, overwrite=True,
                               report=output.parent / f"{output.name}-calibration", **options).data
    except ValueError as err:  # CalibrationError, NoGoldError
        return {"refused": " ".join(str(err).split())[-600:]}
    keep = ("name", "factory", "setting", "summary", "config", "labels")
    components = [{k: v for k, v in c.items() if k in keep} for c in data.get("components", [])]
    return {"seconds": round(time.perf_counter() - start, 1), "components": components,
            "skipped": data.get("skipped", {})}


def calibration_rules(recall_at: Sequence[str] = (), calibrated_only: bool = False
                      ) -> List[Tuple[str, str, Dict[str, Any], Dict[str, Any]]]:
    """The ``calibrate`` rules :func:`score_run` scores, in order: (rule, its model's folder under
    ``decisions/``, the options of :func:`our_calibration`, the options shown in its record)."""
    rules: List[Tuple[str, str, Dict[str, Any], Dict[str, Any]]] = [("calibrated", "model-calibrated", {}, {})]
    if not calibrated_only:
        rules.append(("calibrated_rule_before", "model-calibrated-rule-before", RULE_BEFORE, RULE_BEFORE))
    for floor in recall_at:
        rule = f"{RECALL_RULE}{floor}"
        rules.append((rule, f"model-{rule}", {"metric": "recall", "min_precision": floor}, {"min_precision": floor}))
    return rules


def score_run(task: str, run: Dict[str, Any], dev: Path, test: Path, trials: int,
              recall_at: Sequence[str] = (), calibrated_only: bool = False
              ) -> Tuple[Dict[str, Any], Dict[str, numpy.ndarray]]:
    """Every rule for one trained model: the record and the counts by rule (``calibrated_only``:
    as trained and ``calibrate`` with its defaults only, for a change of the defaults)."""
    import spacy
    from spacy.tokens import DocBin
    from spacy.training import Example

    pipe_name, what = scored_component(task)
    model = Path(run["paths"]["model_best"])
    if not model.is_dir():
        raise FileNotFoundError(f"{model}: model-best of {run['name']} seed {run['seed']} is missing;"
                                " rerun benchmarks/run_accuracy.py with the command in the results file")
    nlp = spacy.load(model)
    examples = [Example(nlp.make_doc(d.text), d) for d in DocBin().from_disk(test).get_docs(nlp.vocab)]
    labels = [TASKS[task]["positive"]] if what == "cats" else model_labels(nlp, pipe_name, examples, what)
    record: Dict[str, Any] = {"name": run["name"], "seed": run["seed"], "factory": run.get("factory"),
                              "model": str(model), "labels": labels, "rules": {}}
    counts: Dict[str, numpy.ndarray] = {"as_trained": test_counts(nlp, examples, what, labels)}
    record["rules"]["as_trained"] = summarize(counts["as_trained"], labels)
    if what == "spans" and not calibrated_only:
        found = find_global_threshold(nlp, dev, pipe_name, trials)
        nlp.get_pipe(pipe_name).cfg["threshold"] = found["threshold"]
        counts["find_threshold"] = test_counts(nlp, examples, what, labels)
        record["rules"]["find_threshold"] = {**summarize(counts["find_threshold"], labels), **found}
    # text classes: calibrate for the reported class's F1
    tuned = positive_class_model(nlp, pipe_name, labels[0], model) if what == "cats" else model
    for rule, folder, options, shown in calibration_rules(recall_at, calibrated_only):
        if rule == "calibrated_rule_before" and "not_calibrated" in record:
            continue  # refused once: the same pipeline is refused under any rule
        out_dir = model.parent / "decisions" / folder
        calibration = our_calibration(tuned, dev, out_dir, **options)
        if "refused" in calibration:
            refusal = "not_calibrated" if rule == "calibrated" else f"not_calibrated_{rule}"
            record.setdefault(refusal, calibration["refused"])
            continue
        counts[rule] = test_counts(spacy.load(out_dir), examples, what, labels)
        record["rules"][rule] = {**summarize(counts[rule], labels), **calibration, **shown}
    return record, counts


# ----------------------------------------------------------------------------- comparisons
def comparisons(records: List[Dict[str, Any]], reference: str) -> List[Tuple[str, str]]:
    """The pairs ``(a, b)`` (``ROW/RULE``) whose difference ``b - a`` is reported."""
    rows = list(dict.fromkeys(r["name"] for r in records))
    rules = {r["name"]: set(r["rules"]) for r in records}
    pairs = []
    for row in rows:
        if "calibrated" in rules[row]:
            pairs.append((f"{row}/as_trained", f"{row}/calibrated"))
        if "calibrated_rule_before" in rules[row]:
            pairs.append((f"{row}/calibrated_rule_before", f"{row}/calibrated"))
        if "find_threshold" in rules[row]:
            pairs.append((f"{row}/as_trained", f"{row}/find_threshold"))
            if "calibrated" in rules[row]:
                pairs.append((f"{row}/find_threshold", f"{row}/calibrated"))
        for rule in sorted(r for r in rules[row] if r.startswith(RECALL_RULE)):
            pairs.append((f"{row}/as_trained", f"{row}/{rule}"))
            if "calibrated" in rules[row]:
                pairs.append((f"{row}/calibrated", f"{row}/{rule}"))
    for row in rows:
        if row == reference or reference not in rules:
            continue
        for rule in RULES:
            if rule in rules[row] and rule in rules[reference]:
                pairs.append((f"{reference}/{rule}", f"{row}/{rule}"))
    return pairs


def intervals(records: List[Dict[str, Any]], counts: Dict[str, numpy.ndarray], reference: str,
              resamples: int, units: Optional[numpy.ndarray] = None) -> List[Dict[str, Any]]:
    """The intervals of each comparison, resampling test docs; with ``units`` (each test doc's
    source document) also resampling whole source documents (``by_source``): the sentences of one
    document are not independent draws."""
    seeds_of: Dict[str, set] = {}
    for r in records:
        for rule in r["rules"]:
            seeds_of.setdefault(f"{r['name']}/{rule}", set()).add(r["seed"])
    out = []
    for a, b in comparisons(records, reference):
        seeds = sorted(seeds_of.get(a, set()) & seeds_of.get(b, set()))
        if not seeds:
            continue
        found = seed_intervals(counts, a, b, seeds, resamples=resamples)
        entry = {"a": a, "b": b, "seeds": seeds, **{k: v.to_json() for k, v in found.items()}}
        if units is not None:
            by_source = seed_intervals(counts, a, b, seeds, resamples=resamples, units=units)
            entry["by_source"] = {k: v.to_json() for k, v in by_source.items()}
            entry["source_documents"] = int(units.max()) + 1
        out.append(entry)
    return out


def source_units_of(path: Path) -> Optional[numpy.ndarray]:
    """Each doc's source document in the ``.spacy`` file ``path`` (``doc.user_data["source_doc"]``),
    numbered from 0; ``None`` when the file names none. (Not ``test_*``: tests import this module.)"""
    import spacy
    from spacy.tokens import DocBin

    from spacy_dice.decisions.calibration import source_units

    if not path.exists():
        return None
    return source_units(list(DocBin().from_disk(path).get_docs(spacy.blank("en").vocab)))


def train_counts(train: Path, what: str) -> Dict[str, int]:
    """Gold positives per label in the training set."""
    import spacy
    from spacy.tokens import DocBin

    counts: Dict[str, int] = {}
    docs = DocBin().from_disk(train).get_docs(spacy.blank("en").vocab)
    if what == "cats":
        for doc in docs:
            for (top,) in _top_class(doc.cats):
                counts[top] = counts.get(top, 0) + 1
        return counts
    key = {"ents": None, "spans": SPAN_KEY, "words": WORDS_KEY}[what]
    for doc in docs:
        for span in (doc.ents if key is None else doc.spans.get(key, [])):
            counts[span.label_] = counts.get(span.label_, 0) + 1
    return counts


def rarest_recall(records: List[Dict[str, Any]], counts: Dict[str, numpy.ndarray],
                  trained_on: Dict[str, int]) -> Dict[str, Any]:
    """Test recall of the type with the fewest training positives, per row and rule (each seed
    and the mean over seeds)."""
    if not records or not trained_on:
        return {}
    label = min(trained_on, key=lambda k: trained_on[k])
    out: Dict[str, Any] = {"label": label, "train_counts": trained_on, "rows": {}}
    for r in records:
        if label not in r["labels"]:
            continue
        index = r["labels"].index(label)
        for rule in r["rules"]:
            key = f"{r['name']}/{rule}"
            out["rows"].setdefault(key, {})[str(r["seed"])] = label_recall(counts[f"{key}/s{r['seed']}"], index)
    for by_seed in out["rows"].values():
        by_seed["mean"] = statistics.mean(by_seed.values())
    return out


# ----------------------------------------------------------------------------- files
def load(stem: str, out: Path) -> Tuple[Dict[str, Any], Dict[str, numpy.ndarray]]:
    json_path, npz_path = out / f"{stem}_decisions.json", out / f"{stem}_counts.npz"
    data = json.loads(json_path.read_text()) if json_path.exists() else {"meta": {}, "runs": []}
    counts = dict(numpy.load(npz_path)) if npz_path.exists() else {}
    return data, counts


def save_results(json_path: Path, npz_path: Path, data: Dict[str, Any], counts: Dict[str, numpy.ndarray]) -> None:
    """The counts (``.npz``) and the record (``.json``), each written atomically."""
    buffer = io.BytesIO()
    numpy.savez_compressed(buffer, **counts)
    write_atomic(npz_path, buffer.getvalue())
    write_atomic(json_path, json.dumps(data, indent=1))


def save(stem: str, out: Path, data: Dict[str, Any], counts: Dict[str, numpy.ndarray]) -> None:
    save_results(out / f"{stem}_decisions.json", out / f"{stem}_counts.npz", data, counts)


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--results", required=True, help="stem of a run_accuracy results file, e.g. uner_spans_calib")
    p.add_argument("--rows", default="", help="comma-separated rows (default: every row of the file)")
    p.add_argument("--reference", default="", help="row the others are compared with (default: bce for spans, ce for entities)")
    p.add_argument("--trials", type=int, default=21, help="spaCy find-threshold trials (values 0..1)")
    p.add_argument("--recall-at", default="", help="comma-separated --min-precision values (a number or"
                   " 'current'): adds the rules recall_at_P, calibrate --metric recall --min-precision P")
    p.add_argument("--resamples", type=int, default=RESAMPLES)
    p.add_argument("--results-dir", default=str(RESULTS), help="where STEM.json is")
    p.add_argument("--out", default=str(RESULTS), help="where STEM_decisions.json and STEM_counts.npz go")
    p.add_argument("--redo", action="store_true", help="score runs already in the decisions file again")
    p.add_argument("--redo-calibrated", action="store_true", help="score only the calibrated rule (calibrate's"
                   " defaults) of runs already in the decisions file again, keeping their other rules"
                   " (after a change of calibrate's defaults)")
    p.add_argument("--report-only", action="store_true", help="recompute the intervals from the saved counts")
    args = p.parse_args(argv)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    source = json.loads((Path(args.results_dir) / f"{args.results}.json").read_text())
    task = source["meta"]["task"]
    dev, test = Path(source["meta"]["data"]["dev"]), Path(source["meta"]["data"]["test"])
    reference = args.reference or ("bce" if "spans_of" in TASKS[task] else "ce")
    data, counts = load(args.results, out)
    records: List[Dict[str, Any]] = data["runs"]
    wanted = [r for r in args.rows.split(",") if r]
    recall_at = [v.strip() for v in args.recall_at.split(",") if v.strip()]
    command = "python -m benchmarks.calibrated_accuracy " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    commands = data["meta"].get("commands", [])
    if not args.report_only:
        commands = commands + [command]
        for run in source["runs"]:
            if wanted and run["name"] not in wanted:
                continue
            previous = next((r for r in records if r["name"] == run["name"] and r["seed"] == run["seed"]), None)
            if previous is not None and not (args.redo or args.redo_calibrated):
                continue
            started = time.perf_counter()
            only = args.redo_calibrated and previous is not None and not args.redo
            record, by_rule = score_run(task, run, dev, test, args.trials, recall_at, calibrated_only=only)
            if only:  # the other rules as they were scored before, of the same model
                assert previous is not None
                saved = counts.get(f"{run['name']}/as_trained/s{run['seed']}")
                if saved is None or not numpy.array_equal(saved, by_rule["as_trained"]):
                    raise SystemExit(f"{run['name']} seed {run['seed']}: the model's test counts differ from"
                                     " the saved ones (retrained?): use --redo")
                record["rules"] = {**previous["rules"], "calibrated": record["rules"]["calibrated"]} \
                    if "calibrated" in record["rules"] else previous["rules"]
                record["earlier_rules_git_commit"] = previous.get("earlier_rules_git_commit",
                                                                  previous.get("git_commit"))
                by_rule = {rule: array for rule, array in by_rule.items() if rule == "calibrated"}
            record["git_commit"] = git_commit()
            record["rerun"] = (f"python -m benchmarks.calibrated_accuracy --results {args.results}"
                               f" --rows {run['name']} --redo"
                               + (f" --recall-at {','.join(recall_at)}" if recall_at else ""))
            records[:] = [r for r in records if not (r["name"] == run["name"] and r["seed"] == run["seed"])]
            records.append(record)
            for rule, array in by_rule.items():
                counts[f"{run['name']}/{rule}/s{run['seed']}"] = array
            line = ", ".join(f"{rule} {percent(rec['f'])}" for rule, rec in record["rules"].items())
            print(f"=== {run['name']} seed {run['seed']}: {line} ({time.perf_counter() - started:.0f} s)", flush=True)
            data["meta"] = {"task": task, "source": args.results, "dev": str(dev), "test": str(test),
                            "reference": reference, "trials": args.trials, "commands": commands,
                            "machine": machine(), "train_rerun": source["meta"].get("commands", [])}
            save(args.results, out, data, counts)
    order = {name: i for i, name in enumerate(dict.fromkeys(r["name"] for r in source["runs"]))}
    records.sort(key=lambda r: (order.get(r["name"], 99), r["seed"]))
    data["meta"]["reference"] = reference
    data["meta"]["resamples"] = args.resamples
    data["comparisons"] = intervals(records, counts, reference, args.resamples, source_units_of(test))
    what = scored_component(task)[1]
    # text classes: one counted class (the positive one), so no rarest type to follow
    data["rarest"] = {} if what == "cats" else rarest_recall(
        records, counts, train_counts(Path(source["meta"]["data"]["train"]), what))
    save(args.results, out, data, counts)
    for c in data["comparisons"]:
        pooled = c["pooled"]
        print(f"{c['b']} - {c['a']} (seeds {c['seeds']}): {pooled['delta']:+.2f}"
              f" [{pooled['low']:+.2f}, {pooled['high']:+.2f}]" + (" *" if pooled["beyond_noise"] else ""))


if __name__ == "__main__":
    main()
