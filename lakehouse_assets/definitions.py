"""The code location: ``defs``, built by :func:`lakehouse_assets.build.build_definitions`.

``workspace.yaml`` (and ``dagster dev``) load this module, which builds ``defs`` from the
configuration directory ``$LAKEHOUSE_CONFIG`` names (default: ``config/``); that variable
is read here and nowhere else. The CLI, the tests and the benches load their configuration
themselves and call ``build_definitions`` with it, without importing this module (so a
``--config`` of their own never makes them read ``config/`` too).
"""

from __future__ import annotations

import os

from lakehouse_assets.build import build_definitions
from lakehouse_assets.config import default_config_dir
from lakehouse_assets.defs.settings import config_at

defs = build_definitions(config_at(os.environ.get("LAKEHOUSE_CONFIG") or default_config_dir()))
