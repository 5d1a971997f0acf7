"""benchmarks/run_accuracy.py: the results file keeps the runs of earlier invocations that this
one does not redo (same budget), and only the driver writes it, atomically (no lock files)."""
from benchmark_scripts import load_benchmark_script

run_accuracy = load_benchmark_script("run_accuracy")


def run(name, seed, max_steps=3000, patience=600, f=0.5):
    return {"name": name, "seed": seed, "max_steps": max_steps, "patience": patience,
            "scores": {"f": f}}


def test_runs_of_other_rows_and_seeds_are_kept():
    previous = {"runs": [run("bce", 0, f=0.1), run("spacy", 1), run("bce", 1, f=0.2)]}
    kept = run_accuracy.kept_runs(previous, ["bce"], [0, 1], max_steps=3000, patience=600)
    assert [(r["name"], r["seed"]) for r in kept] == [("spacy", 1)]


def test_resume_keeps_the_finished_runs_of_the_rows_and_seeds_it_was_asked_for():
    """A fresh machine has no run folders: --resume takes finished runs from the results file
    instead of training them again (and still not those of another budget)."""
    previous = {"runs": [run("bce", 0, f=0.1), run("spacy", 1), run("bce", 1, patience=900)]}
    kept = run_accuracy.kept_runs(previous, ["bce"], [0, 1], max_steps=3000, patience=600, resume=True)
    assert [(r["name"], r["seed"], r["scores"]["f"]) for r in kept] == [("bce", 0, 0.1), ("spacy", 1, 0.5)]


def test_runs_of_another_budget_are_not_mixed_in():
    previous = {"runs": [run("spacy", 0, max_steps=1000, patience=0), run("spacy", 1, patience=900)]}
    assert run_accuracy.kept_runs(previous, ["bce"], [0], max_steps=3000, patience=600) == []


def test_no_lock_files_and_trials_go_through_the_executor():
    source = (run_accuracy.ROOT / "benchmarks" / "run_accuracy.py").read_text()
    assert "fcntl" not in source and "merge_results" not in source
    assert "TrialExecutor" in source and "write_atomic" in source
