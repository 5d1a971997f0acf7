"""benchmarks/run_accuracy.py: two invocations extending one results file keep each other's runs."""
from benchmark_scripts import load_benchmark_script

merge_results = load_benchmark_script("run_accuracy").merge_results


def run(name, seed, max_steps=3000, patience=600, f=0.5):
    return {"name": name, "seed": seed, "max_steps": max_steps, "patience": patience,
            "scores": {"f": f}}


def test_runs_of_another_invocation_are_kept():
    # this invocation: bce seeds 0,1 (seed 0 done); the other one wrote spacy seed 1 meanwhile
    ours = [run("bce", 0, f=0.4)]
    meta = {"max_steps": 3000, "commands": ["cmd-bce"]}
    current = {"meta": {"max_steps": 3000, "commands": ["cmd-old", "cmd-spacy"]},
               "runs": [run("bce", 0, f=0.1), run("spacy", 1), run("bce", 1, f=0.2)]}
    merge_results(current, ours, meta, planned={("bce", 0), ("bce", 1)}, max_steps=3000,
                  patience=600)
    # the file's older bce seed 0 does not replace ours, and its bce seed 1 is about to be rerun
    assert sorted((r["name"], r["seed"], r["scores"]["f"]) for r in ours) == [
        ("bce", 0, 0.4), ("spacy", 1, 0.5)]
    assert meta["commands"] == ["cmd-old", "cmd-spacy", "cmd-bce"]


def test_runs_of_another_budget_are_not_mixed_in():
    ours = []
    meta = {"max_steps": 3000, "commands": ["cmd-new"]}
    current = {"meta": {"max_steps": 1000, "commands": ["cmd-1000"]},
               "runs": [run("spacy", 0, max_steps=1000, patience=0), run("spacy", 1, patience=900)]}
    merge_results(current, ours, meta, planned={("bce", 0)}, max_steps=3000, patience=600)
    assert ours == [] and meta["commands"] == ["cmd-new"]
