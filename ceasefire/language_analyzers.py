"""The local node's language analyzers: a stable Elasticsearch plugin, compiled from
`ceasefire/java/LanguageAnalyzers.java` against the node's own jars, that registers the six
analyzers the stemmed sub-fields name (`english`, `french`, `german`, `spanish`, `russian`,
`arabic`) over the Lucene classes analysis-common uses.

Why: the integ-test distribution, the only node Maven Central serves, lacks analysis-common, so
without this the local node indexes no stemmed sub-field and the code that full clusters run
(the mapping merge, the per-language query fields, stemmed highlights) would go untried here.
The plugin goes into the local distribution only (`CEASEFIRE_ES_LANGUAGE_ANALYZERS=0` leaves the
node minimal); on a full cluster analysis-common provides the same names.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import tempfile
import zipfile
from importlib import resources
from pathlib import Path

from index_mappings import stemmed_languages

LOGGER = logging.getLogger(__name__)

PLUGIN = "ceasefire-language-analyzers"
PACKAGE = "org.ceasefire.analysis"
FACTORY = "org.elasticsearch.plugin.analysis.AnalyzerFactory"


class PluginBuildError(RuntimeError):
    """The plugin could not be compiled; the message says why."""


def source() -> str:
    """The plugin's Java source, shipped with the package."""
    return resources.files("ceasefire").joinpath("java/LanguageAnalyzers.java").read_text("utf-8")


def build_id(es_version: str) -> str:
    """What an installed copy must match to be current: the source and the node version."""
    return hashlib.sha256(f"{es_version}\n{source()}".encode()).hexdigest()[:16]


def named_components() -> dict[str, dict[str, str]]:
    """`named_components.json`: each analyzer name -> its factory class (`french` ->
    `...LanguageAnalyzers$French`), which Elasticsearch reads instead of scanning the jar."""
    return {FACTORY: {name: f"{PACKAGE}.LanguageAnalyzers${name.capitalize()}"
                      for name in stemmed_languages().values()}}


def descriptor(es_version: str) -> str:
    """`stable-plugin-descriptor.properties` for this node version."""
    return "\n".join([
        "description=Language analyzers for the local ceasefire-etl node (analysis-common's names)",
        f"version={build_id(es_version)}",
        f"name={PLUGIN}",
        "java.version=17",
        f"elasticsearch.version={es_version}",
        "",
    ])


def installed(dist: Path) -> str | None:
    """The build id of the copy installed in `dist`, or None."""
    path = dist / "plugins" / PLUGIN / "stable-plugin-descriptor.properties"
    if not path.is_file():
        return None
    for line in path.read_text().splitlines():
        if line.startswith("version="):
            return line.partition("=")[2]
    return None


def _javac(java_home: Path) -> str:
    candidate = java_home / "bin" / "javac"
    found = str(candidate) if candidate.is_file() else shutil.which("javac")
    if not found:
        raise PluginBuildError(f"no Java compiler (javac) in {java_home}/bin or on PATH: install "
                               "a JDK, or set CEASEFIRE_ES_LANGUAGE_ANALYZERS=0 for a node "
                               "without stemming")
    return found


def _compile(dist: Path, java_home: Path, work: Path) -> Path:
    """Compile the source against the distribution's jars; return the jar."""
    src = work / "LanguageAnalyzers.java"
    src.write_text(source(), encoding="utf-8")
    classes = work / "classes"
    cmd = [_javac(java_home), "--release", "17", "-nowarn", "-d", str(classes),
           "-cp", str(dist / "lib" / "*"), str(src)]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PluginBuildError("compiling the language analyzers failed:\n"
                               + (result.stdout + result.stderr).strip()[-2000:])
    jar = work / f"{PLUGIN}.jar"
    with zipfile.ZipFile(jar, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(classes.rglob("*.class")):
            zf.write(path, path.relative_to(classes).as_posix())
    return jar


def install(dist: Path, es_version: str, java_home: Path) -> bool:
    """Build and install the plugin into `dist` unless the current build is there; True when
    it changed. The folder appears whole (a rename), so a node never loads half a plugin."""
    if installed(dist) == build_id(es_version):
        return False
    plugins = dist / "plugins"
    # Built beside the distribution: a node would take a folder in plugins/ for a plugin.
    with tempfile.TemporaryDirectory(dir=dist.parent, prefix=f".{PLUGIN}-") as tmp:
        work = Path(tmp)
        jar = _compile(dist, java_home, work)
        staged = work / PLUGIN
        staged.mkdir()
        shutil.move(jar, staged / jar.name)
        (staged / "stable-plugin-descriptor.properties").write_text(descriptor(es_version))
        (staged / "named_components.json").write_text(json.dumps(named_components(), indent=2))
        for path in [staged, *staged.iterdir()]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        remove(dist)
        staged.rename(plugins / PLUGIN)
    LOGGER.info("installed the language analyzers plugin into %s", plugins)
    return True


def remove(dist: Path) -> bool:
    """Take the plugin out of `dist`; True when it was there."""
    target = dist / "plugins" / PLUGIN
    if not target.exists():
        return False
    shutil.rmtree(target)
    return True
