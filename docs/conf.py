"""Sphinx configuration of benchbench's documentation site.

Build it strictly, as CI does (every warning and every unresolved reference fails)::

    pip install -e '.[docs]'
    sphinx-build -W --keep-going -n -b html docs docs/_build/html
"""

from __future__ import annotations

from importlib.metadata import version as _version

project = "benchbench"
author = "the benchbench developers"
release = _version("benchbench")
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx_click",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

html_theme = "furo"
html_title = "benchbench"

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_typehints_format = "short"

nitpicky = True
"""Every cross-reference must resolve: a renamed module or function fails the build."""
nitpick_ignore_regex = [
    # other projects' types: no intersphinx (CI builds offline)
    (r"py:.*", r"(torch|nn|np|numpy|pd|pandas|optuna|click|pluggy|sqlalchemy|pytest|Tensor)\b.*"),
    (r"py:.*", r"(Path|PathLike|Any|Callable|Mapping|Sequence|Iterable|Iterator|ClassVar)\b.*"),
    (r"py:.*", r"(Generator|Module|ModuleType|Trial|Series|DataFrame|Engine|TracebackType)\b.*"),
    (r"py:.*", r"(KeyboardInterrupt|UserWarning|Exception|BaseException)"),
    (r"py:.*", r"(pathlib|collections|contextlib|typing|types|datetime|_pytest)\..*"),
    (r"py:class", r".*\._T"),  # type variables
    (r"py:class", r"(dict|list|tuple|set)\[.*|.*\[str"),  # pieces of parameterised hints
]
