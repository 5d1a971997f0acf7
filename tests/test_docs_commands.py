"""Every command line shown in README.md and docs/*.md parses (issue 13: a README command lacked
the project directory ``.`` and failed for every user who copied it).

Lines are taken from fenced code blocks and inline code: ``python -m spacy ...``, ``spacy ...``
and ``python -m spacy_dice ...`` (after ``nice``/env prefixes, split on ``&&`` and ``;``).

* ``spacy project run ...``: run for real with ``--dry`` on a copy of project.yml (weasel parses
  it, resolves the workflow
  and prints its commands without running them); every ``--vars.NAME`` must be a variable of
  project.yml; then every ``python -m spacy`` / ``python -m spacy_dice`` script line of the
  workflow, with those variables substituted, is parsed as below.
* Any other complete line: parsed by the command's own (typer/click) parser, in a scratch folder
  where the paths it names exist, so a wrong flag, a missing or extra argument, a bad choice or a
  bad number fails.
* A usage pattern (``FORMAT``, ``training/NAME/...``, ``...``) or a command named in prose
  (inline code such as ``spacy train``): the command path must exist and each ``--flag`` given
  must be one of its options.
"""
from __future__ import annotations

import functools
import os
import re
import shlex
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest
import typer.main
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
PREFIX = re.compile(
    r"^(?:[A-Z_][A-Z0-9_]*=\S+\s+)*(?:(?:nice(?:\s+-n\s*\d+)?|nohup|cpuslot(?:\s+--slot\s+\d)?)\s+)*"
    r"((?:python -m spacy_dice|python -m spacy|spacy)(?:\s.*)?)$"
)
PLACEHOLDER = re.compile(r"(?<![a-z])[A-Z]{2,}(?![a-z])|\.\.\.|<[^>]+>")
SUBSTITUTION = re.compile(r'"?\$\(python -m spacy_dice model-path (\S+)\)"?')


def _candidates(text: str, fenced: bool) -> Iterator[str]:
    for part in re.split(r"\s*(?:&&|;|\|\|)\s*", text.strip()):
        match = PREFIX.match(part.strip())
        if match:
            yield SUBSTITUTION.sub(r"\1", match.group(1)).strip()


def doc_commands(docs=DOCS) -> List[Tuple[str, int, str, bool]]:
    """``(file, line number, command, fenced)`` for every command line in ``docs``."""
    found = []
    for path in docs:
        text = path.read_text(encoding="utf8")
        in_block, block_lang = False, ""
        pending = ""
        for lineno, line in enumerate(text.splitlines(), 1):
            if line.lstrip().startswith("```"):
                in_block = not in_block
                block_lang = line.strip()[3:].strip()
                continue
            if in_block:
                if block_lang not in ("", "bash", "sh", "shell", "console"):
                    continue
                code = re.sub(r"(^|\s)#.*$", "", line).rstrip()
                if code.endswith("\\"):
                    pending += code[:-1] + " "
                    continue
                code, pending = pending + code, ""
                for command in _candidates(code, True):
                    found.append((path.name, lineno, command, True))
                continue
            for span in re.findall(r"`([^`\n]+)`", line):
                for command in _candidates(span, False):
                    found.append((path.name, lineno, command, False))
    return found


COMMANDS = doc_commands()
_PARSED_YAML: dict = {}


@pytest.fixture(autouse=True)
def parse_each_yaml_text_once(monkeypatch):
    """weasel parses project.yml again for every step of a workflow (ruamel: most of a test's
    time); the same text gives the same data, so each text is parsed once for the module and
    every read gets a deep copy of it (weasel changes what it reads)."""
    import copy

    import srsly

    read_yaml = srsly.read_yaml

    def parse_once(path, *args, **kwargs):
        if args or kwargs or not Path(path).is_file():
            return read_yaml(path, *args, **kwargs)
        text = Path(path).read_text(encoding="utf8")
        if text not in _PARSED_YAML:
            _PARSED_YAML[text] = read_yaml(path)
        return copy.deepcopy(_PARSED_YAML[text])

    monkeypatch.setattr(srsly, "read_yaml", parse_once)


@functools.lru_cache(maxsize=None)
def _click_command(app):
    """The click command of a typer app, built once (typer builds the whole tree on every call)."""
    return typer.main.get_command(app)


def _apps(argv: List[str]):
    """The typer app and the argument list of a ``spacy``/``python -m spacy_dice`` command."""
    if argv[:3] == ["python", "-m", "spacy_dice"]:
        from spacy_dice.cli import app

        return "spacy_dice", app, argv[3:]
    from spacy.cli import app

    start = 3 if argv[:3] == ["python", "-m", "spacy"] else 1
    return "spacy", app, argv[start:]


def _resolve(command, prog: str, args: List[str]):
    """Follow sub-command names; returns (command, name path, remaining args)."""
    names = [prog]
    while hasattr(command, "commands") and args and not args[0].startswith("-"):
        if args[0] not in command.commands:
            break
        command = command.commands[args[0]]
        names.append(args[0])
        args = args[1:]
    return command, names, args


def _options(command) -> set:
    opts = {"--help"}
    for param in command.params:
        opts.update(getattr(param, "opts", []) or [])
        opts.update(getattr(param, "secondary_opts", []) or [])
    return opts


def _check_flags(command, names: List[str], args: List[str]) -> None:
    known = _options(command)
    lenient = bool((command.context_settings or {}).get("ignore_unknown_options"))
    for arg in args:
        if not arg.startswith("-") or re.fullmatch(r"-\d+(\.\d+)?", arg):
            continue
        flag = arg.split("=", 1)[0]
        if flag in known:
            continue
        if lenient and re.fullmatch(r"--[a-z_]+\.[A-Za-z0-9_.]+", flag):
            continue  # a config override (spacy train --paths.train) or --vars.NAME
        raise AssertionError(f"{' '.join(names)}: no option {flag} (it has {', '.join(sorted(known))})")


def _parse(prog: str, app, args: List[str], scratch: Path) -> None:
    """Parse ``args`` with the command's own parser in ``scratch``, where named paths exist."""
    for arg in args:
        if arg.startswith("-") or "/" not in arg and not re.search(r"\.(spacy|cfg|json|md|iob2|conllu|txt|tsv|zip|png)$", arg):
            continue
        if arg.startswith("/") or arg.startswith("~"):
            continue
        target = scratch / arg
        if target.exists():
            continue
        if re.search(r"\.[a-z0-9]+$", arg):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("", encoding="utf8")
        else:
            target.mkdir(parents=True, exist_ok=True)
    command = _click_command(app)
    parent = None
    cwd = os.getcwd()
    os.chdir(scratch)
    try:
        ctx = command.make_context(prog, list(args))
        while hasattr(command, "commands"):
            rest = list(getattr(ctx, "_protected_args", []) or getattr(ctx, "protected_args", [])) + list(ctx.args)
            name, command, rest = command.resolve_command(ctx, rest)
            parent = ctx
            ctx = command.make_context(name, rest, parent=parent)
    finally:
        os.chdir(cwd)


def _project_vars() -> set:
    import srsly

    return set(srsly.read_yaml(ROOT / "project.yml")["vars"])


def _workflow_scripts(args: List[str], project: Path) -> List[List[str]]:
    """The substituted ``python -m spacy[_dice]`` script lines that ``project run`` would run
    (``project``: a folder with a copy of project.yml; loading it creates its directories)."""
    from weasel.util import load_project_config, parse_config_overrides

    target = args[0]
    overrides = parse_config_overrides([a for a in args[1:] if a != "."])
    config = load_project_config(project, overrides=overrides)
    commands = {c["name"]: c for c in config["commands"]}
    steps = config.get("workflows", {}).get(target, [target])
    scripts = []
    for step in steps:
        for line in commands[step]["script"]:
            argv = shlex.split(line)
            if argv[:3] in (["python", "-m", "spacy"], ["python", "-m", "spacy_dice"]):
                scripts.append(argv)
    return scripts


def _ids():
    return [f"{name}:{lineno}:{command[:60]}" for name, lineno, command, _ in COMMANDS]


def test_the_docs_show_commands():
    fenced_runs = [c for _, _, c, fenced in COMMANDS if fenced and " project run " in f" {c} "]
    assert len(COMMANDS) >= 20 and fenced_runs, COMMANDS


@pytest.mark.parametrize("doc,lineno,command,fenced", COMMANDS, ids=_ids())
def test_doc_command_parses(doc, lineno, command, fenced, tmp_path, monkeypatch):
    where = f"{doc}:{lineno}: `{command}`"
    argv = shlex.split(command)
    prog, app, args = _apps(argv)
    resolved, names, rest = _resolve(_click_command(app), prog, args)
    pattern = bool(PLACEHOLDER.search(command))
    if names[1:3] == ["project", "run"] and not pattern:
        variables = _project_vars()
        for arg in rest:
            if arg.startswith("--vars."):
                assert arg[len("--vars."):].split("=")[0] in variables, f"{where}: unknown variable {arg}"
        project = tmp_path / "project"  # weasel creates the project's directories, even --dry
        project.mkdir()
        (project / "project.yml").write_text((ROOT / "project.yml").read_text(encoding="utf8"), encoding="utf8")
        monkeypatch.chdir(project)
        from spacy.cli import app as spacy_app

        # typer evaluated project_dir's default (the current folder) at import: name the copy
        # when the line gives nothing after the workflow ("." and any other arguments stay as written)
        run_args = args + [str(project)] if len(rest) == 1 else list(args)
        result = CliRunner().invoke(spacy_app, run_args + ["--dry"])
        assert result.exit_code == 0, f"{where}: {result.output[-800:]}"
        for script in _workflow_scripts(rest, project):
            sprog, sapp, sargs = _apps(script)
            try:
                _parse(sprog, sapp, sargs, tmp_path / "a" / "b" / "c")
            except Exception as err:  # noqa: BLE001 - the message is the point
                raise AssertionError(f"{where}: project.yml runs `{' '.join(script)}`: {err}") from None
        return
    if pattern or not rest and hasattr(resolved, "commands"):
        _check_flags(resolved, names, rest)
        return
    scratch = tmp_path / "a" / "b" / "c"
    scratch.mkdir(parents=True)
    try:
        _parse(prog, app, args, scratch)
    except Exception as err:  # noqa: BLE001
        # a command named in prose (inline code) may leave out its arguments; its flags must exist
        if not fenced and type(err).__name__ == "MissingParameter":
            _check_flags(resolved, names, rest)
            return
        raise AssertionError(f"{where}: {type(err).__name__}: {getattr(err, 'message', err)}") from None


@pytest.mark.parametrize("command,error", [
    ("python -m spacy project run all --vars.loss focal", "project_dir"),  # issue 13, item 1
    ("python -m spacy project run all . --vars.lsos focal", "unknown variable"),
    ("python -m spacy_dice convert iob in.txt out.spacy --schem iob1", "No such option"),
    ("python -m spacy_dice init-config out.cfg --pipeline ner --backbon cnn", "No such option"),
    ("python -m spacy_dice convert uner in.iob2", "Missing"),
])
def test_a_broken_command_fails(command, error, tmp_path, monkeypatch):
    doc = tmp_path / "README.md"
    doc.write_text(f"```bash\n{command}\n```\n", encoding="utf8")
    ((name, lineno, found, fenced),) = doc_commands([doc])
    with pytest.raises(AssertionError, match=error):
        test_doc_command_parses(name, lineno, found, fenced, tmp_path, monkeypatch)
