"""``python -c PROGRAM`` / ``python -m MODULE`` for the contract tests, forked from an interpreter
that has already imported spaCy, never ``spacy_dice``.

Each new interpreter here spends about 8 s of CPU before a program's first useful line: spaCy,
thinc's torch, and spacy-transformers and transformers, which spaCy's first ``Language`` imports
through the ``spacy_factories`` entry points. The tests that check what a program that never
imports ``spacy_dice`` sees (``spacy.load`` through the entry points, the logger, the CLI) start
many such programs, so each test worker keeps one *zygote*: an interpreter started as
``python -c`` in an empty folder that imports those libraries once (it refuses to go on if that
imported ``spacy_dice``) and then forks one child per program. The child is what ``python -c``
in ``cwd`` would be: ``sys.argv``, ``''`` first on ``sys.path`` (so the checkout is not on it
unless ``cwd`` is the checkout), the environment given, its own stdout and stderr, the exit
status of ``SystemExit`` or 1 with the traceback for an uncaught exception.

What a child shares with the zygote is only what those imports did: catalogue's list of entry
points, read when catalogue was imported. A test that hides entry points before spaCy is imported
(tests/test_robustness_components.py) starts a real interpreter instead.
"""
from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Union

# The environment every child starts from unless told otherwise: the tests never use the network.
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}

ZYGOTE = r'''
import importlib, json, os, sys, traceback
for name in ("torch", "spacy", "spacy.cli", "spacy_transformers"):
    try:
        importlib.import_module(name)
    except ImportError:
        pass
if "spacy_dice" in sys.modules:
    sys.exit("the zygote imported spacy_dice: its children would not be programs that never do")


def child(request):
    import runpy
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
        os.dup2(os.open(path, os.O_WRONLY | os.O_TRUNC), fd)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    sys.stdin = open(0, closefd=False)
    status = 0
    try:
        if request["module"]:
            sys.argv = [request["module"], *request["argv"]]
            runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
        else:
            sys.argv = ["-c", *request["argv"]]
            exec(compile(request["code"], "<string>", "exec"), {"__name__": "__main__"})
    except SystemExit as stop:
        if stop.code is None:
            status = 0
        elif isinstance(stop.code, int):
            status = stop.code
        else:
            print(stop.code, file=sys.stderr)
            status = 1
    except BaseException:
        traceback.print_exc()
        status = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    request = json.loads(line)
    pid = os.fork()
    if pid == 0:
        child(request)
    print(json.dumps({"pid": pid}), flush=True)
    _, wait_status = os.waitpid(pid, 0)
    print(json.dumps({"returncode": os.waitstatus_to_exitcode(wait_status)}), flush=True)
'''


class Zygote:
    """One zygote interpreter and the programs forked from it, one at a time."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="fresh_python_"))
        self.process = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE], cwd=self.folder, env={**os.environ, **OFFLINE},
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        self._expect("ready")

    def _expect(self, key: str) -> Union[bool, int]:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the zygote exited ({self.process.wait()}) instead of sending {key!r}")
        return json.loads(line)[key]

    def run(self, args: Sequence[str], cwd: Path, env: Mapping[str, str], timeout: Optional[float]) -> tuple:
        module = args[1] if args[0] == "-m" else None
        code = None if module else args[1]
        out, err = self.folder / "stdout", self.folder / "stderr"
        out.write_bytes(b"")
        err.write_bytes(b"")
        request = {"module": module, "code": code, "argv": list(args[2:]), "cwd": str(cwd), "env": dict(env),
                   "stdout": str(out), "stderr": str(err)}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        pid = self._expect("pid")
        timer = None
        if timeout is not None:
            import threading

            timer = threading.Timer(timeout, os.kill, (pid, 9))
            timer.start()
        returncode = self._expect("returncode")
        if timer is not None:
            timer.cancel()
            if returncode == -9:
                raise subprocess.TimeoutExpired(["python", *args], timeout)
        return returncode, out.read_text(encoding="utf8"), err.read_text(encoding="utf8")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(timeout=30)


_zygote: Optional[Zygote] = None


def fresh_python(
    args: List[str],
    *,
    cwd: Union[str, Path, None] = None,
    env: Optional[Dict[str, str]] = None,
    check: bool = False,
    timeout: Optional[float] = None,
) -> "subprocess.CompletedProcess[str]":
    """Run ``python ARGS`` (``["-c", program, *argv]`` or ``["-m", module, *argv]``) as a fresh
    interpreter in ``cwd`` (default: this process's) with ``env`` (default: this process's
    environment and :data:`OFFLINE`) would; returns what ``subprocess.run(..., capture_output=True,
    text=True)`` returns, and raises ``CalledProcessError`` for a non-zero status with ``check``."""
    global _zygote
    if len(args) < 2 or args[0] not in ("-c", "-m"):
        raise ValueError(f"args must start with '-c', PROGRAM or '-m', MODULE, not {args[:2]!r}")
    if _zygote is None or _zygote.process.poll() is not None:
        _zygote = Zygote()
        atexit.register(_zygote.close)
    returncode, stdout, stderr = _zygote.run(args, Path(cwd or os.getcwd()).resolve(),
                                             {**os.environ, **OFFLINE} if env is None else env, timeout)
    result = subprocess.CompletedProcess(["python", *args], returncode, stdout, stderr)
    if check:
        result.check_returncode()
    return result
