"""Files SewNet ships besides its Python code: the boards' firmware, the pin maps and the
deployment files. An installed wheel carries them inside the `sewnet` package (pyproject.toml
maps them there); a source checkout has them in their own folders at the top of the repository."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

#: shipped name -> folder in the source checkout
SOURCE = {"firmware": "firmware", "hardware": "hardware", "deploy": "docs/deploy"}


def shipped(name: str) -> Path:
    """The folder of shipped files `name` (firmware, hardware or deploy)."""
    installed = Path(str(importlib.resources.files("sewnet"))) / name
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parents[1] / SOURCE[name]
