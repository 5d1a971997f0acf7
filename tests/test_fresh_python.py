"""tests/fresh_python.py: a program forked from the zygote behaves as ``python -c`` / ``python -m``
in a new interpreter would, and the zygote never imported ``spacy_dice``."""
import subprocess
import sys

import pytest

from fresh_python import fresh_python

pytestmark = pytest.mark.slow


def test_a_program_sees_what_python_c_would_see(tmp_path):
    program = ("import json, os, sys\n"
               "print(json.dumps([sys.argv, sys.path[0], os.getcwd(), os.environ.get('ONLY'),\n"
               "                  sorted(m for m in sys.modules if m.startswith('spacy_dice'))]))\n")
    result = fresh_python(["-c", program, "a", "b"], cwd=tmp_path, env={"ONLY": "1"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == f'[["-c", "a", "b"], "", "{tmp_path.resolve()}", "1", []]'
    assert "spacy" in fresh_python(["-c", "import sys; print(sorted(sys.modules))"]).stdout  # preloaded


def test_exit_status_errors_and_modules():
    assert fresh_python(["-c", "import sys; sys.exit(3)"]).returncode == 3
    assert fresh_python(["-c", "raise SystemExit('bad input')"]).returncode == 1
    failed = fresh_python(["-c", "print('before'); raise ValueError('boom')"])
    assert (failed.returncode, failed.stdout) == (1, "before\n")
    assert "ValueError: boom" in failed.stderr
    with pytest.raises(subprocess.CalledProcessError):
        fresh_python(["-c", "raise ValueError"], check=True)
    assert fresh_python(["-m", "json.tool", "--help"]).stdout.startswith("usage:")
    with pytest.raises(ValueError, match="'-c', PROGRAM or '-m', MODULE"):
        fresh_python([sys.executable, "-c", "pass"])


def test_a_program_past_its_timeout_is_killed_and_the_next_one_runs():
    with pytest.raises(subprocess.TimeoutExpired):
        fresh_python(["-c", "import time; time.sleep(60)"], timeout=1)
    assert fresh_python(["-c", "print(2 + 2)"]).stdout == "4\n"
