"""docs/ARCHITECTURE.md matches the code: every path it names exists, every package is in it."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf8")
DESCRIBED_MODULE_BY_MODULE = ("pipeline", "decisions", "evaluation", "training", "project")
"""The packages whose every module ARCHITECTURE.md names (what each holds is not guessable from
the package name alone)."""


def test_every_named_path_exists():
    paths = set(re.findall(r"`((?:spacy_dice|tests|benchmarks|configs|assets)/[\w/<>.]*)`", DOC))
    modules = {p.name for p in (ROOT / "spacy_dice").rglob("*.py")}
    bare = [name for name in re.findall(r"`(\w+\.py)`", DOC) if name not in modules]
    assert not bare, f"docs/ARCHITECTURE.md names modules that are in no package of spacy_dice: {bare}"
    missing = sorted(p for p in paths if "<" not in p and not (ROOT / p).exists())
    assert not missing, f"docs/ARCHITECTURE.md names paths that do not exist: {missing}"


def test_every_package_and_pipeline_module_is_described():
    packages = sorted(p.name for p in (ROOT / "spacy_dice").iterdir() if (p / "__init__.py").exists())
    absent = [name for name in packages if f"spacy_dice/{name}/" not in DOC]
    assert not absent, f"packages missing from docs/ARCHITECTURE.md: {absent}"
    for package in DESCRIBED_MODULE_BY_MODULE:
        modules = sorted(p.name for p in (ROOT / "spacy_dice" / package).glob("*.py") if p.name != "__init__.py")
        absent = [name for name in modules if f"`{name}`" not in DOC]
        assert not absent, f"spacy_dice/{package} modules missing from docs/ARCHITECTURE.md: {absent}"
