"""The test tiers of tests/conftest.py: ``slow`` tests only run with ``--slow``, ``realdata`` tests
are skipped with a reason where the corpora are absent, the fast tier draws fewer property examples,
and every test that starts a process is marked ``slow``."""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Set

import conftest
import realdata

TESTS = Path(__file__).resolve().parent
# what starts another process: python itself, a shell command, a process pool, a forked program
PROCESS_NAMES = {"subprocess", "Popen", "executable", "ProcessPoolExecutor", "multiprocessing", "fresh_python"}


class _Config:
    def __init__(self, slow: bool) -> None:
        self.slow = slow

    def getoption(self, name: str) -> bool:
        assert name == "--slow"
        return self.slow


class _Item:
    def __init__(self, *keywords: str) -> None:
        self.keywords = set(keywords)
        self.skips: List[str] = []

    def add_marker(self, mark) -> None:
        assert mark.name == "skip"
        self.skips.append(mark.kwargs["reason"])


def _skips(slow: bool, *items: _Item) -> List[List[str]]:
    conftest.pytest_collection_modifyitems(_Config(slow), list(items))
    return [item.skips for item in items]


def test_slow_tests_run_only_with_the_option():
    assert _skips(False, _Item("slow"), _Item()) == [["slow: run with --slow"], []]
    assert _skips(True, _Item("slow"), _Item()) == [[], []]


def test_realdata_tests_are_skipped_with_the_reason_where_the_data_is_absent(tmp_path, monkeypatch):
    monkeypatch.setattr(realdata, "DATA", tmp_path)
    assert _skips(True, _Item("realdata")) == [[]]
    monkeypatch.setattr(realdata, "DATA", tmp_path / "absent")
    ((reason,),) = _skips(True, _Item("realdata"))
    assert reason == realdata.skip_reason(tmp_path / "absent") and "SPACY_DICE_DATA" in reason
    # a slow real-data test is skipped for being slow first
    assert _skips(False, _Item("realdata", "slow")) == [["slow: run with --slow"]]


def test_the_fast_tier_draws_a_fifth_of_the_property_examples(monkeypatch):
    monkeypatch.setattr(conftest, "_SLOW_RUN", False)
    assert [conftest.examples(n) for n in (300, 40, 8)] == [60, 10, 8]
    monkeypatch.setattr(conftest, "_SLOW_RUN", True)
    assert [conftest.examples(n) for n in (300, 40, 8)] == [300, 40, 8]


def _names(node: ast.AST) -> Set[str]:
    """Every name and attribute name used in ``node``."""
    found = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            found.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            found.add(sub.attr)
    return found


def _marked_slow(decorators: List[ast.expr]) -> bool:
    return any("slow" in _names(d) for d in decorators)


def _unmarked_process_tests(path: Path) -> List[str]:
    """Test functions of ``path`` not marked slow that start a process themselves, through a
    function of the module they call or through a fixture of the module they use."""
    tree = ast.parse(path.read_text(encoding="utf8"))
    module_slow = any(
        isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "pytestmark" for t in node.targets)
        and "slow" in _names(node.value)
        for node in tree.body
    )
    functions: Dict[str, ast.FunctionDef] = {
        node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)
    }

    def starts_a_process(name: str, seen: Set[str]) -> bool:
        if name in seen or name not in functions:
            return False
        seen.add(name)
        node = functions[name]
        used = _names(node) | {arg.arg for arg in node.args.args}
        return bool(used & PROCESS_NAMES) or any(starts_a_process(other, seen) for other in used)

    if module_slow:
        return []
    return [
        f"{path.name}::{name}" for name, node in functions.items()
        if name.startswith("test_") and not _marked_slow(node.decorator_list)
        and starts_a_process(name, set())
    ]


def test_every_test_that_starts_a_process_is_marked_slow():
    unmarked = [name for path in sorted(TESTS.glob("test_*.py")) for name in _unmarked_process_tests(path)]
    assert not unmarked, f"mark these @pytest.mark.slow (they start a process): {unmarked}"


def test_the_process_check_finds_a_process_behind_a_helper_or_a_fixture(tmp_path):
    source = tmp_path / "test_example.py"
    source.write_text(
        "import subprocess, sys, pytest\n"
        "def run():\n    return subprocess.run([sys.executable, '-V'])\n"
        "@pytest.fixture\ndef started():\n    return run()\n"
        "def test_direct():\n    run()\n"
        "def test_through_fixture(started):\n    pass\n"
        "@pytest.mark.slow\ndef test_marked():\n    run()\n"
        "def test_in_process():\n    pass\n",
        encoding="utf8",
    )
    assert _unmarked_process_tests(source) == ["test_example.py::test_direct",
                                               "test_example.py::test_through_fixture"]
