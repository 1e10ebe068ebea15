"""Flowgate's server for Python users: the `flowgate` binary (installed on the venv's PATH by
the `flowgate-server` wheel) and, in `flowgate_server.testing`, a test harness that starts it in
milliseconds for tests written with the `prefect` client."""

import os
import shutil
import sys
import sysconfig
from pathlib import Path

__all__ = ["binary"]


def binary() -> str:
    """The `flowgate` executable: `$FLOWGATE_BIN` when set, else the one this package's wheel
    installed beside the Python interpreter, else the first on `PATH`."""
    explicit = os.environ.get("FLOWGATE_BIN")
    if explicit:
        return explicit
    for scripts in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        candidate = Path(scripts) / "flowgate"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("flowgate")
    if found:
        return found
    raise FileNotFoundError(
        "no flowgate binary: install the flowgate-server wheel (pip install flowgate-server), "
        "put flowgate on PATH (cargo install --path crates/cli), or set FLOWGATE_BIN"
    )
