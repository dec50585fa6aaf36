"""docs/model.rst: every section that the code and the README cite by title exists; README.rst renders without
warnings; the examples in the library's docstrings run."""
import doctest
import importlib
import io
import pathlib
import re

import docutils.core
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODEL = ROOT / 'docs' / 'model.rst'
CITATION = re.compile(r"docs/model\.rst,? (?:sections? )?'([^']+)'(?: and '([^']+)')?|\bsections? '([^']+)'")


def section_titles(path):
    """The titles of a reStructuredText file: lines underlined by a row of one punctuation character."""
    lines = path.read_text(encoding='utf-8').splitlines()
    return {title.strip() for title, rule in zip(lines, lines[1:])
            if title.strip() and re.fullmatch(r'([=\-~^])\1*', rule) and len(rule) >= len(title.strip())}


def test_cited_sections_exist():
    titles = section_titles(MODEL)
    sources = [MODEL, ROOT / 'README.rst'] + [path for folder in ('gle_brian', 'models', 'tests', 'bench', 'tutorials')
                                              for path in sorted((ROOT / folder).glob('*.py'))
                                              if path.name != 'test_docs.py']
    cited = {}
    for path in sources:
        text = ' '.join(path.read_text(encoding='utf-8').split())     # citations may wrap across lines
        for match in CITATION.finditer(text):
            for title in filter(None, match.groups()):
                cited.setdefault(title, path.relative_to(ROOT))
    assert len(cited) >= 10, cited
    missing = {title: str(path) for title, path in cited.items() if title not in titles}
    assert not missing, f'cited sections that docs/model.rst does not have: {missing}'


@pytest.mark.parametrize('module', sorted(path.stem for path in (ROOT / 'gle_brian').glob('*.py')))
def test_docstring_examples_run(module):
    """Every ``>>>`` example of the module gives the output it shows (those marked ``+SKIP`` need data or a
    network they do not build)."""
    result = doctest.testmod(importlib.import_module(f'gle_brian.{module}'), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f'{result.failed} of {result.attempted} examples of gle_brian.{module} failed'


def test_readme_is_valid_restructuredtext():
    """README.rst renders without a warning (a wrapped list item that lost its indent ends the list)."""
    warnings = io.StringIO()
    docutils.core.publish_string((ROOT / 'README.rst').read_text(encoding='utf-8'), writer='null',
                                 settings_overrides={'report_level': 2, 'halt_level': 5, 'warning_stream': warnings})
    assert not warnings.getvalue(), warnings.getvalue()
