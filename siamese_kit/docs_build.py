"""Notebooks to static HTML pages that read fully offline: `make docs`, or

    python -m siamese_kit.docs_build OUTPUT_DIR NOTEBOOK...

nbconvert's own HTML pages fetch JavaScript from CDNs when they are opened: require.js, MathJax for
the formulas, the ipywidgets renderer for widget outputs, mermaid. Offline (a classroom without
internet, a saved page) the formulas stay raw LaTeX and widgets stay blank. The pages built here
fetch nothing:

- Formulas in markdown cells (`$...$`, `$$...$$`, `\\begin{equation}...\\end{equation}`) are turned
  into MathML when the page is built (with `latex2mathml`), which browsers draw by themselves.
  A `$` followed by a space, or one preceded by a space where it would close, is a plain dollar
  sign: "costs $5 and $10" stays text.
- Widget outputs are dropped (each widget of siamese_kit leaves a static picture beside it: a
  `snapshot()` or the training monitor's final loss curve), with the notebook's widget state.
- The page template loads no script at all; its CSS, fonts and images were already inlined.

This module imports nbconvert, never TensorFlow, so a docs build stays light.
"""

from __future__ import annotations

import argparse
import html
import logging
import re
import sys
from collections.abc import Iterable
from pathlib import Path

from jinja2 import DictLoader, pass_context
from nbconvert.exporters import HTMLExporter
from nbconvert.filters.markdown_mistune import MISTUNE_V3, IPythonRenderer, MarkdownWithMath, MathInlineParser
from nbconvert.preprocessors import Preprocessor
from traitlets import default

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# A widget's text/plain is its repr, "VBox(children=(HTML(value=...),...))": nothing a reader can use.
_WIDGET_REPR = re.compile(r"^[A-Za-z_][\w.]*\(")

log = logging.getLogger(__name__)

# Pandoc's rule for TeX dollars: the opening `$` has a non-space right after it, the closing one a
# non-space right before it and no digit right after it, so prices ("$5 and $10") stay text.
INLINE_DOLLAR_MATH = r"(?s:(?<![$\\])\$(?=[^\s$])(?P<math_inline_tex>.+?)(?<=[^\s\\])\$(?![$\d]))"

OFFLINE_TEMPLATE = "siamese_kit_offline.html.j2"
# nbconvert's lab page with every block that writes a <script> emptied: require.js, the widget
# renderer, MathJax and mermaid all come from a CDN.
_OFFLINE_TEMPLATE_SOURCE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}
<style type="text/css">
  math[display="block"] { margin: 0.6em 0; }
  code.siamese-kit-latex { color: #a00; }
</style>
{%- endblock extra_css -%}
"""


def drop_widget_data(output: dict) -> dict | None:
    """An output without its widget view, or None when nothing readable is left of it.

    Args:
        output: one output of a code cell (a `nbformat` NotebookNode or a plain dict).

    Returns:
        the output itself, changed in place: the widget-view data removed, and with it a text/plain
        that is only the widget's repr ("VBox(children=...)"); None when no data remains. Outputs
        without a widget view come back unchanged.
    """
    data = output.get("data")
    if not data or WIDGET_VIEW not in data:
        return output
    del data[WIDGET_VIEW]
    text = data.get("text/plain")
    if text is not None:
        text = "".join(text) if isinstance(text, list) else text
        if _WIDGET_REPR.match(text.strip()):
            del data["text/plain"]
    return output if data else None


class DropWidgetsPreprocessor(Preprocessor):
    """Removes widget views and the notebook's widget state, so no page asks for the widget renderer.

    A widget output in a static page is a blank box (or, without its state, a repr such as
    "VBox(children=...)"); with the state present, nbconvert's page loads the ipywidgets renderer
    from unpkg.com. Every interactive tool in siamese_kit leaves a static picture beside its widget,
    so the widget itself can go.
    """

    def preprocess(self, nb, resources):
        """Drops `metadata.widgets` and every widget view.

        Args:
            nb: the notebook (nbconvert passes a copy).
            resources: nbconvert's resources, passed through.

        Returns:
            `(nb, resources)`.
        """
        nb.metadata.pop("widgets", None)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        """Drops one code cell's widget views (see `drop_widget_data`).

        Args:
            cell: a notebook cell.
            resources: nbconvert's resources, passed through.
            index: the cell's position.

        Returns:
            `(cell, resources)`.
        """
        if cell.cell_type == "code":
            kept = (drop_widget_data(output) for output in cell.get("outputs", []))
            cell.outputs = [output for output in kept if output is not None]
        return cell, resources


def latex_to_mathml(latex: str, display: bool = False) -> str:
    """One formula as MathML markup, which browsers draw without any script.

    Args:
        latex: the formula's LaTeX, without its `$` delimiters.
        display: a display formula (its own centred line) rather than one inside the text.

    Returns:
        a `<math>` element; for LaTeX that `latex2mathml` cannot read, the source itself in a
        `<code class="siamese-kit-latex">` (with a logged warning), so one bad formula never stops a
        build and stays visible for its author to fix.
    """
    from latex2mathml.converter import convert

    try:
        return convert(latex.strip(), display="block" if display else "inline")
    except Exception as error:  # latex2mathml has no single base class for its parse errors
        reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        log.warning("could not convert the formula %r to MathML (%s); left as LaTeX", latex, reason)
        delimiter = "$$" if display else "$"
        return f'<code class="siamese-kit-latex">{html.escape(delimiter + latex + delimiter)}</code>'


class _MathMLRenderer(IPythonRenderer):
    """nbconvert's markdown renderer, with formulas written as MathML instead of left for MathJax."""

    def inline_math(self, body: str) -> str:
        return latex_to_mathml(body)

    def block_math(self, body: str) -> str:
        return latex_to_mathml(body, display=True)

    def latex_environment(self, name: str, body: str) -> str:
        return latex_to_mathml(f"\\begin{{{name}}}{body}\\end{{{name}}}", display=True)


if MISTUNE_V3:

    class _DollarInlineParser(MathInlineParser):
        """nbconvert's math-aware inline parser, with the stricter rule for `$...$`."""

        SPECIFICATION = {**MathInlineParser.SPECIFICATION, "inline_math_tex": INLINE_DOLLAR_MATH}

else:  # mistune 2 has no per-rule table to change; its looser rule still finds real formulas
    _DollarInlineParser = None


class OfflineHTMLExporter(HTMLExporter):
    """nbconvert's HTMLExporter (lab template) whose pages load nothing from the network.

    Formulas become MathML, widget views and state are dropped (`DropWidgetsPreprocessor`), and the
    template writes no `<script>` tags. Usable from the command line too:
    `jupyter nbconvert --to siamese_kit.docs_build.OfflineHTMLExporter notebook.ipynb`.
    """

    export_from_notebook = "HTML (offline)"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.register_preprocessor(DropWidgetsPreprocessor, enabled=True)

    @default("extra_loaders")
    def _offline_template_loader(self):
        return [DictLoader({OFFLINE_TEMPLATE: _OFFLINE_TEMPLATE_SOURCE})]

    @default("template_file")
    def _offline_template_file(self):
        return OFFLINE_TEMPLATE

    @pass_context
    def markdown2html(self, context, source):
        """Markdown cells to HTML as nbconvert renders them, with MathML for the formulas.

        Args:
            context: the template context (its cell's attachments and the notebook's folder).
            source: the markdown.

        Returns:
            the cell's HTML.
        """
        cell = context.get("cell", {})
        renderer = _MathMLRenderer(
            escape=False,
            attachments=cell.get("attachments", {}),
            embed_images=self.embed_images,
            path=context.get("resources", {}).get("metadata", {}).get("path", ""),
            anchor_link_text=self.anchor_link_text,
            exclude_anchor_links=self.exclude_anchor_links,
            **self.lexer_options,
        )
        inline = _DollarInlineParser(hard_wrap=False) if _DollarInlineParser is not None else None
        return MarkdownWithMath(renderer=renderer, inline=inline).render(source)


def build_pages(notebooks: Iterable[str | Path], output_dir: str | Path) -> list[Path]:
    """Renders notebooks, with their saved outputs, to offline HTML pages (nothing is executed).

    Args:
        notebooks: `.ipynb` paths.
        output_dir: folder for the pages (made when missing); each page is named after its
            notebook, `NAME.ipynb` -> `NAME.html`.

    Returns:
        the pages written, in the notebooks' order.

    Raises:
        FileNotFoundError: naming a notebook that does not exist.
        ValueError: if two notebooks share a name, as their pages would overwrite each other.
    """
    paths = [Path(notebook) for notebook in notebooks]
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"no notebook at {path}")
    seen: dict[str, Path] = {}
    for path in paths:
        if path.stem in seen:
            raise ValueError(f"{seen[path.stem]} and {path} would both become {path.stem}.html; rename one.")
        seen[path.stem] = path
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    exporter = OfflineHTMLExporter()
    pages = []
    for path in paths:
        body, _ = exporter.from_filename(str(path))
        page = output / f"{path.stem}.html"
        page.write_text(body, encoding="utf-8")
        pages.append(page)
    return pages


def main(argv: list[str] | None = None) -> int:
    """The command line: `python -m siamese_kit.docs_build OUTPUT_DIR NOTEBOOK...`.

    Args:
        argv: the arguments (default: `sys.argv[1:]`).

    Returns:
        the exit status: 0 when every page was written, 1 otherwise (the reason on stderr).
    """
    parser = argparse.ArgumentParser(
        prog="python -m siamese_kit.docs_build",
        description="Render notebooks with their saved outputs to HTML pages that read fully offline.",
    )
    parser.add_argument("output_dir", help="folder for the HTML pages")
    parser.add_argument("notebooks", nargs="+", help=".ipynb files")
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="docs_build: %(message)s")
    try:
        build_pages(arguments.notebooks, arguments.output_dir)
    except (OSError, ValueError) as error:
        print(f"docs_build: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
