"""Typer commands; each module adds its commands to :data:`app`."""
from .app import app
from . import calibrate  # noqa: F401
from . import convert  # noqa: F401
from . import compare  # noqa: F401
from . import debug_data  # noqa: F401
from . import evaluate  # noqa: F401
from . import init_config  # noqa: F401
from . import project  # noqa: F401
from . import transformer  # noqa: F401

__all__ = ["app"]
