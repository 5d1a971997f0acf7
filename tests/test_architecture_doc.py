"""docs/ARCHITECTURE.md matches the code: every path it names exists, every package is in it."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf8")


def test_every_named_path_exists():
    paths = set(re.findall(r"`((?:spacy_dice|tests|benchmarks|configs|assets)/[\w/<>.]*)`", DOC))
    paths |= {f"spacy_dice/pipeline/{name}" for name in re.findall(r"`(\w+\.py)`", DOC)
              if not (ROOT / "spacy_dice" / "losses" / name).exists()
              and not (ROOT / "spacy_dice" / "layers" / name).exists()
              and not any((ROOT / "spacy_dice" / pkg / name).exists() for pkg in ("training", "evaluation", "decisions"))}
    missing = sorted(p for p in paths if "<" not in p and not (ROOT / p).exists())
    assert not missing, f"docs/ARCHITECTURE.md names paths that do not exist: {missing}"


def test_every_package_and_pipeline_module_is_described():
    packages = sorted(p.name for p in (ROOT / "spacy_dice").iterdir() if (p / "__init__.py").exists())
    absent = [name for name in packages if f"spacy_dice/{name}/" not in DOC]
    assert not absent, f"packages missing from docs/ARCHITECTURE.md: {absent}"
    modules = sorted(p.name for p in (ROOT / "spacy_dice" / "pipeline").glob("*.py") if p.name != "__init__.py")
    absent = [name for name in modules if f"`{name}`" not in DOC]
    assert not absent, f"spacy_dice/pipeline modules missing from docs/ARCHITECTURE.md: {absent}"
