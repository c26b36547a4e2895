"""MkDocs hook: drop the Sphinx roles that some docstrings still carry.

A docstring's ``:meth:`fit``` reaches the page as ``:meth:<code>fit</code>``; this
keeps the code and drops the role (and a leading ``~``), so the API reference reads
cleanly until the docstrings use Markdown cross-references.
"""

import re

_ROLE = re.compile(
    r":(?:py:)?(?:meth|func|class|attr|mod|obj|exc|data|const):<code>~?([^<]*)</code>"
)


def on_page_content(html, **kwargs):
    return _ROLE.sub(r"<code>\1</code>", html)
