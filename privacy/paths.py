"""Where the privacy machinery keeps its files, each overridable from the environment.

    MALLCRM_PRIVACY_DIR  <warehouse dir>/privacy   audit log, suppression list, policy snapshots,
                                                   access exports, reports
    MALLCRM_REQUESTS     <inbox>/../requests       data-subject requests inbox (data/requests)

They live outside the warehouse file on purpose: compaction rewrites that file, and a
warehouse rebuilt from the inbox must still know whom not to load again.
"""

from __future__ import annotations

import os
from pathlib import Path

from mallcrm.settings import PROJECT_ROOT, Settings


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    if not value:
        return default
    path = Path(value).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def privacy_dir(settings: Settings) -> Path:
    return _env_path("MALLCRM_PRIVACY_DIR", settings.warehouse_dir / "privacy")


def requests_dir(settings: Settings) -> Path:
    return _env_path("MALLCRM_REQUESTS", settings.inbox.parent / "requests")


def models_dir() -> Path:
    from ml.registry import models_dir as registry_dir

    return registry_dir()
