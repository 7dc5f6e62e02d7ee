"""A griffe extension for the API reference: a docstring's ``Example:`` section is rendered like ``Examples:``.

difftda's docstrings head their doctests ``Example:``; griffe's Google parser reads only the plural as
an examples section (the singular becomes an admonition of plain Markdown, where ``out[0][1]`` would
be read as a link). This extension renames the heading before the docstring is parsed.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_HEADING = re.compile(r"^(\s*)Example:[ \t]*$", re.M)


class ExampleSections(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _HEADING.sub(r"\1Examples:", obj.docstring.value)
