"""Run a command under a real pseudo-terminal and return what it drew (progress bars only
show on a terminal)."""

from __future__ import annotations

import os
import pty
import subprocess
from collections.abc import Mapping, Sequence


def run_in_terminal(argv: Sequence[str], env: Mapping[str, str], timeout: float) -> tuple[int, str]:
    """(exit code, everything written to the terminal)."""
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(list(argv), stdin=secondary, stdout=secondary, stderr=secondary,
                            env=dict(env))
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    code = proc.wait(timeout)
    os.close(primary)
    return code, b"".join(chunks).decode(errors="replace")
