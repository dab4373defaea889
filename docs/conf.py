"""Sphinx configuration of benchbench's documentation site.

Build it strictly, as CI does (every warning and every unresolved reference fails)::

    pip install -e '.[docs]'
    sphinx-build -W --keep-going -n -b html docs docs/_build/html
"""

from __future__ import annotations

import re
from importlib.metadata import version as _version

project = "benchbench"
author = "the benchbench developers"
copyright = "2026, the benchbench developers"  # noqa: A001 (Sphinx's setting)
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
autodoc_preserve_defaults = True
"""Defaults as written (``DEFAULT_OUT``), not as evaluated (``PosixPath('benchbench-out')``)."""
smartquotes = False
"""``--option`` stays two hyphens in the CLI reference (not an en dash)."""
nitpicky = True
"""Every cross-reference must resolve: a renamed module or function fails the build."""
nitpick_ignore_regex = [
    # other projects' types: no intersphinx (CI builds offline)
    (r"py:.*", r"(torch|nn|np|numpy|pd|pandas|optuna|click|pluggy|sqlalchemy|pytest|Tensor)\b.*"),
    (r"py:.*", r"(Path|PathLike|Any|Callable|Mapping|Sequence|Iterable|Iterator|ClassVar)\b.*"),
    (r"py:.*", r"(Generator|Module|ModuleType|Trial|Series|DataFrame|Engine|TracebackType)\b.*"),
    (r"py:.*", r"(KeyboardInterrupt|UserWarning|Exception|BaseException)"),
    (r"py:.*", r"(pathlib|collections|contextlib|typing|types|datetime|_pytest|inspect)\..*"),
    (r"py:.*", r"multiprocessing\..*"),
    (r"py:class", r".*\._T"),  # type variables
    (r"py:class", r"(dict|list|tuple|set)\[.*|.*\[str"),  # pieces of parameterised hints
]


def _executor_options(name: str) -> list[str]:
    """The options the executor ``name`` declares, as the lines of a list-table: what
    ``benchbench show NAME`` prints, from the same declarations."""
    from benchbench.plugins.manager import get_plugin_manager

    cls = get_plugin_manager().registry.executor(name)
    lines = [".. list-table::", "   :header-rows: 1", "", "   * - option", "     - value",
             "     - default", "     - meaning"]  # fmt: skip
    for option in cls.options:
        value = "flag" if option.type is bool else option.metavar or option.type.__name__
        default = "" if option.default in (None, ()) else f"``{option.default}``"
        repeat = " (repeatable)" if option.multiple else ""
        meaning = re.sub(r"(--[a-z][a-z0-9=-]*)", r"``\1``", option.help.replace("*", r"\*"))
        lines += [f"   * - ``{option.flag}``{repeat}", f"     - {value}", f"     - {default}",
                  f"     - {meaning}"]  # fmt: skip
    return lines


def _meanings(where: str) -> list[str]:
    """A dict of name -> meaning in the code (``benchbench.spec.RESULT_FIELDS``), as the
    lines of a list-table: the docs list columns and fields from where they are defined."""
    import importlib

    module, _, name = where.rpartition(".")
    table = getattr(importlib.import_module(module), name)
    lines = [".. list-table::", "   :header-rows: 1", "", "   * - column", "     - meaning"]
    for key, meaning in table.items():
        lines += [f"   * - ``{key}``", f"     - {meaning.replace('*', chr(92) + '*')}"]
    return lines


def setup(app):  # noqa: ANN001, ANN201 (Sphinx's extension hook)
    """``.. benchbench-executor-options:: NAME`` renders an executor's declared options,
    ``.. benchbench-meanings:: MODULE.TABLE`` a table of columns and what they hold."""
    from docutils import nodes
    from docutils.statemachine import StringList
    from sphinx.util.docutils import SphinxDirective

    def directive(lines_of):  # noqa: ANN001, ANN202
        """A directive of one argument that renders the reST lines ``lines_of`` makes of it."""

        class Table(SphinxDirective):
            required_arguments = 1

            def run(self) -> list:
                container = nodes.container()
                text = StringList(lines_of(self.arguments[0]), source=self.name)
                self.state.nested_parse(text, self.content_offset, container)
                return container.children

        return Table

    app.add_directive("benchbench-executor-options", directive(_executor_options))
    app.add_directive("benchbench-meanings", directive(_meanings))
    return {"parallel_read_safe": True}
