"""The README and docs/ are valid CommonMark: the two commands first, no heading swallowed by
an unclosed fence, links that resolve.

Each check is a small function returning a list of problems, so the last tests can show that
the checks catch the faults they exist for (an unclosed fence, a dead link).
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
COMMANDS = (
    "bash setup.sh && .venv/bin/memcosim run\n"
    "bash setup.sh && .venv/bin/python -m pytest -q\n"
)
MAX_README_LINES = 160
_FENCE_LINE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def _tokens(text):
    return MarkdownIt("commonmark").parse(text)


def _lines_outside_fences(text):
    """``(line number, line)`` outside fences, by a plain scan that toggles on every fence line."""
    inside = False
    out = []
    for number, line in enumerate(text.splitlines()):
        if _FENCE_LINE.match(line):
            inside = not inside
        elif not inside:
            out.append((number, line))
    return out, inside


def heading_problems(text):
    """Headings the parser sees versus ``#`` lines outside fences; an unclosed fence shows here."""
    lines, _ = _lines_outside_fences(text)
    expected = [n for n, line in lines if line.startswith("#")]
    parsed = [t.map[0] for t in _tokens(text) if t.type == "heading_open"]
    if parsed == expected:
        return []
    missing = [n + 1 for n in expected if n not in parsed]
    extra = [n + 1 for n in parsed if n not in expected]
    return [f"'#' lines not parsed as headings: {missing}; headings the line scan does not see: {extra}"]


def fence_problems(text):
    """Every fence closed by a plain closing line, and the line scan ends outside a fence."""
    problems = []
    lines = text.splitlines()
    _, inside = _lines_outside_fences(text)
    if inside:
        problems.append("odd number of fence lines")
    for token in _tokens(text):
        if token.type != "fence":
            continue
        last = lines[token.map[1] - 1].strip() if token.map[1] - 1 > token.map[0] else ""
        if not (last and set(last) == {token.markup[0]} and len(last) >= len(token.markup)):
            problems.append(f"fence opened on line {token.map[0] + 1} is not closed")
    return problems


def _slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces -> '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path):
    tokens = _tokens(path.read_text(encoding="utf-8"))
    return {_slug(tokens[i + 1].content) for i, t in enumerate(tokens) if t.type == "heading_open"}


def links(text):
    """Every link target in ``text``."""
    out = []
    for token in _tokens(text):
        for child in token.children or ():
            if child.type == "link_open":
                out.append(child.attrs["href"])
    return out


def link_problems(path):
    """Relative links of the markdown file ``path`` that point to no file (or no heading)."""
    problems = []
    for href in links(path.read_text(encoding="utf-8")):
        if _SCHEME.match(href):
            continue
        target, _, fragment = href.partition("#")
        resolved = (path.parent / target).resolve() if target else path
        if not resolved.exists():
            problems.append(f"{path.name}: link {href!r}: no file {resolved}")
        elif fragment and resolved.suffix == ".md" and fragment not in _anchors(resolved):
            problems.append(f"{path.name}: link {href!r}: no heading #{fragment} in {resolved.name}")
    return problems


def _docs():
    return sorted(DOCS.glob("*.md"))


# -- the README ------------------------------------------------------------------------------


def test_readme_opens_with_its_title_then_the_two_commands():
    tokens = [t for t in _tokens(README.read_text(encoding="utf-8")) if t.type in ("heading_open", "fence", "paragraph_open")]
    assert tokens[0].type == "heading_open" and tokens[0].tag == "h1", "the README does not open with '# Title'"
    assert tokens[1].type == "fence", f"the block after the title is {tokens[1].type}, not the fenced commands"
    assert tokens[1].content == COMMANDS


def test_readme_headings_are_headings():
    assert heading_problems(README.read_text(encoding="utf-8")) == []


def test_readme_fences_balance():
    assert fence_problems(README.read_text(encoding="utf-8")) == []


def test_readme_is_short():
    n = len(README.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_README_LINES, f"README has {n} lines; details belong in docs/"


def test_readme_links_resolve():
    assert link_problems(README) == []


def test_readme_links_every_docs_file():
    linked = {(README.parent / h.partition("#")[0]).resolve() for h in links(README.read_text(encoding="utf-8"))}
    unlinked = [p.name for p in _docs() if p.resolve() not in linked]
    assert unlinked == [], f"docs not linked from the README: {unlinked}"


def library_example(text):
    """The fenced python block of the README's ``## As a library`` section."""
    tokens = _tokens(text)
    start = next(i for i, t in enumerate(tokens) if t.type == "inline" and t.content == "As a library")
    return next(t.content for t in tokens[start:] if t.type == "fence" and t.info.strip() == "python")


def test_readme_library_example_runs_as_written():
    code = library_example(README.read_text(encoding="utf-8"))
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    found = re.search(r"test accuracy ([0-9.]+)%, ([0-9.e+-]+) J per update", run.stdout)
    assert found, run.stdout
    assert float(found[1]) > 30 and float(found[2]) > 0  # one epoch learns (chance: 10 %) and every update costs


# -- docs/ -----------------------------------------------------------------------------------


def test_docs_exist():
    assert _docs(), "docs/ holds no .md file"


@pytest.mark.parametrize("path", _docs(), ids=lambda p: p.name)
def test_docs_file_is_valid(path):
    text = path.read_text(encoding="utf-8")
    first = _tokens(text)[0]
    assert first.type == "heading_open" and first.tag == "h1", f"{path.name} does not start with '# Title'"
    assert heading_problems(text) == []
    assert fence_problems(text) == []
    assert link_problems(path) == []


# -- the checks catch what they are for --------------------------------------------------------

_BROKEN = """```bash
a
```

```
table
``` text after a fence marker does not close it

## Swallowed

text
"""


def test_heading_check_catches_an_unclosed_fence():
    assert heading_problems(_BROKEN) != []
    assert fence_problems(_BROKEN) != []
    fixed = _BROKEN.replace("``` text after", "```\n\ntext after")
    assert heading_problems(fixed) == []
    assert fence_problems(fixed) == []


def test_link_check_catches_a_dead_link(tmp_path):
    (tmp_path / "there.md").write_text("# There\n\n## Part\n")
    page = tmp_path / "page.md"
    page.write_text("# Page\n\n[a](there.md) [b](there.md#part) [c](https://example.org/x.md)\n")
    assert link_problems(page) == []
    page.write_text("# Page\n\n[a](missing.md) [b](there.md#nowhere)\n")
    assert len(link_problems(page)) == 2
