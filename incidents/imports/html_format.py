"""HTML exports (Confluence, Google Docs, a saved wiki page): converted to Markdown by markdownify, then
read exactly as a Markdown postmortem is (markdown_format.py).

Only the page's body is converted: scripts, styles and the page chrome an export carries (navigation,
breadcrumbs, footers) are dropped first. The page's <title> is its title when the body has no H1.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from bs4 import BeautifulSoup
from markdownify import markdownify

from .markdown_format import read_text
from .records import ImportedIncident, ReadFailure
from .sources import SourceFile

# Not the postmortem: what a browser runs or styles, and the wiki around the page.
_CHROME = ["script", "style", "noscript", "template", "nav", "header", "footer", "iframe", "svg"]
_CHROME_IDS = re.compile(r"breadcrumb|footer|navigation|sidebar|page-metadata", re.IGNORECASE)


def read(file: SourceFile, *, options: dict) -> Iterator[ImportedIncident | ReadFailure]:
    soup = BeautifulSoup(file.data, "html.parser")
    if soup.find(True) is None:
        yield ReadFailure(file.name, "No HTML in this file.")
        return
    yield from read_text(to_markdown(soup), origin=file.name, content=file.data)


def to_markdown(soup: BeautifulSoup) -> str:
    page_title = " ".join(soup.title.get_text().split()) if soup.title else ""
    for tag in soup(_CHROME):
        tag.decompose()
    for tag in soup.find_all(id=_CHROME_IDS):
        tag.decompose()
    body = soup.body or soup
    markdown = markdownify(str(body), heading_style="ATX", bullets="-")
    markdown = re.sub(r"\n{3,}", "\n\n", markdown).strip()
    # Confluence titles read "Space : Page"; the page is what names the postmortem.
    page_title = page_title.rsplit(" : ", 1)[-1].strip()
    if page_title and not re.match(r"^\s*# ", markdown):
        markdown = f"# {page_title}\n\n{markdown}"
    return markdown + "\n"
