"""Library errors name parameters (``min_precision='most'``); the commands show them with the
flags a user typed (``--min-precision 'most'``)."""
from __future__ import annotations

import re
from typing import Mapping


def flag_message(text: str, flags: Mapping[str, str]) -> str:
    """``text`` with each ``param=`` written as its flag: ``param=True`` becomes the flag alone
    (``overwrite=True`` -> ``--overwrite``), ``param=VALUE`` the flag and the value
    (``metric='x'`` -> ``--metric 'x'``). ``flags`` maps parameter names to flags."""
    for param, flag in flags.items():
        text = re.sub(rf"(?<![\w.-]){re.escape(param)}=(True\b)?",
                      lambda m, flag=flag: flag if m.group(1) else f"{flag} ", text)
    return text
