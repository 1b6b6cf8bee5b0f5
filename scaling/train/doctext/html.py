"""The readable text of an HTML page (Sphinx, rustdoc, mdBook, javadoc, DocBook, Texinfo), one
block element per line: page chrome is dropped (``<head>``, ``<script>``, ``<style>``, ``<nav>``,
``<header>``, ``<footer>``, forms, and elements whose class, id or ARIA role marks a sidebar,
search widget, navigation bar, source link or permalink); headings, paragraphs, list items, table
cells and ``<pre>`` blocks are kept. Whitespace runs are collapsed outside ``<pre>``; inside,
lines are kept (trailing spaces dropped). Entities are unescaped.
"""

from __future__ import annotations

from html.parser import HTMLParser

# elements whose whole content is page chrome
SKIP_TAGS = frozenset(
    {
        "head",
        "script",
        "style",
        "noscript",
        "template",
        "nav",
        "header",
        "footer",
        "form",
        "button",
        "select",
        "textarea",
        "iframe",
        "object",
        "svg",
        "canvas",
        "map",
    }
)
# class names of chrome: Sphinx (sidebar, related bar, permalinks), rustdoc (sidebar, source links,
# version/source column, playground buttons, tooltips, search), mdBook (menu bar, page arrows),
# DocBook (navigation header/footer, chapter tables of contents), javadoc (navigation lists),
# Texinfo (index tables)
SKIP_CLASSES = frozenset(
    {
        "sidebar",
        "sphinxsidebar",
        "sphinxsidebarwrapper",
        "related",
        "footer",
        "headerlink",
        "searchbox",
        "srclink",
        "rightside",
        "out-of-band",
        "test-arrow",
        "notable-traits",
        "notable-traits-tooltiptext",
        "hideme",
        "search-container",
        "search-form",
        "search-results",
        "theme-picker",
        "sidebar-elems",
        "mobile-topbar",
        "copy-path",
        "menu-bar",
        "menu-title",
        "nav-wrapper",
        "nav-wide-wrapper",
        "nav-chapters",
        "mobile-nav-chapters",
        "navheader",
        "navfooter",
        "toc",
        "top-nav",
        "sub-nav",
        "skip-nav",
        "nav-list",
        "nav-list-search",
        "sub-nav-list",
        "nav-panel",
        "tooltip",
        # pydata-sphinx-theme, furo, Read the Docs, scikit-learn's and other Sphinx themes; Qt's, Erlang's
        # and Node.js's chrome
        "prev-next-area",
        "prev-next-bottom",
        "prev-next-footer",
        "tocsection",
        "toc-item",
        "bd-toc",
        "bd-sidebar",
        "bd-sidebar-primary",
        "bd-sidebar-secondary",
        "bd-header",
        "bd-footer",
        "footer-item",
        "sr-only",
        "visually-hidden",
        "screen-reader-text",
        "related-pages",
        "rellinks",
        "wy-nav-side",
        "wy-breadcrumbs",
        "rst-versions",
        "rst-footer-buttons",
        "navigationbar",
        "breadcrumb",
        "breadcrumbs",
        "topbar",
        "leftnav-tube",
        "copy-notice",
        "sidebar-drawer",
        "toc-drawer",
        "sidebar-tree",
        "mobile-header",
        "theme-toggle-container",
        "bottom-of-page",
        "sk-sidebar-toc-wrapper",
        "sk-btn-toggle-toc",
        "sk-btn-rellink",
        "picker",
        "back-to-top",
        # javadoc before HTML5 (navigation bars), Doxygen (navigation path, inheritance-diagram toggles)
        "topNav",
        "subNav",
        "bottomNav",
        "navList",
        "subNavList",
        "skipNav",
        "fixedNav",
        "navpath",
        "dynheader",
        "dyncontent",
        # Texinfo index pages: the index tables and their letter bars are lists of links
        "index-cp",
        "index-fn",
        "index-vr",
        "index-ky",
        "index-pg",
        "index-tp",
        "summary-letter",
        "printindex",
        "index-entries-header-printindex",
    }
)
SKIP_IDS = frozenset(
    {
        "hd",
        "ft",
        "sidebar",
        "searchbox",
        "global-nav",
        "menu-bar",
        "menu-bar-hover-placeholder",
        "search-wrapper",
        "searchbar",
        "searchresults-outer",
        "search",
        "theme-list",
        "rustdoc-vars",
        "copy-path",
        "help",
        "settings",
        "sidebar-toggle",
        "navbar",
        "navigation",
        "leftnav",
        "footer",
        "footer-text",
        "sk-sidebar-wrapper",
        "sk-sidemenu-toggle",
        "column2",
        "gtoc",
        "docs-top-navigation-container",
        "docs-header",
        "docs-version-header",
        "docs-sidebar-popout",
        "docs-sidebar",
        "docs-narrow-top-navigation",
        "docs-bottom-navigation",
        "docs-copyright",
        "titlearea",
        "side-nav",
        "nav-tree",
        "nav-path",
    }
)
SKIP_ROLES = frozenset({"navigation", "search", "banner", "contentinfo", "menu", "toolbar"})
# elements that start and end a line of text
BLOCK_TAGS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "caption",
        "center",
        "dd",
        "details",
        "dialog",
        "dir",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "html",
        "legend",
        "li",
        "main",
        "menu",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
        "br",
        "listing",
        "xmp",
        "plaintext",
    }
)
VOID_TAGS = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
        "keygen",
        "basefont",
        "frame",
        "isindex",
    }
)
PRE_TAGS = frozenset({"pre", "listing", "xmp", "plaintext"})


class _TextExtractor(HTMLParser):
    def __init__(self, extra_skip_classes=(), extra_skip_ids=()):
        super().__init__(convert_charrefs=True)
        self.skip_classes = SKIP_CLASSES | frozenset(extra_skip_classes)
        self.skip_ids = SKIP_IDS | frozenset(extra_skip_ids)
        self.blocks: list[str] = []
        self.cur: list[str] = []
        self.cur_pre = False
        self.pre = 0
        self.skip_tag: str | None = None  # the tag that opened the skipped region
        self.skip_depth = 0  # how many of skip_tag are open inside it

    def _skipped(self, tag: str, attrs) -> bool:
        if tag in SKIP_TAGS:
            return True
        for k, v in attrs:
            if not v:
                continue
            if k == "class":
                if not self.skip_classes.isdisjoint(v.split()):
                    return True
            elif k == "id":
                if v in self.skip_ids:
                    return True
            elif k == "role":
                if v in SKIP_ROLES:
                    return True
        return False

    def flush(self) -> None:
        if not self.cur:
            return
        text = "".join(self.cur)
        self.cur = []
        if self.cur_pre:
            lines = [line.rstrip() for line in text.replace("\xa0", " ").replace("\r", "").split("\n")]
            while lines and not lines[0]:
                lines.pop(0)
            while lines and not lines[-1]:
                lines.pop()
            text = "\n".join(lines)
        else:
            text = " ".join(text.split())
        if text:
            self.blocks.append(text)

    def handle_starttag(self, tag, attrs):
        if tag == "body" and self.skip_tag == "head":  # a <head> left open ends here
            self.skip_tag, self.skip_depth = None, 0
        if self.skip_tag is not None:
            if tag == self.skip_tag and tag not in VOID_TAGS:
                self.skip_depth += 1
            return
        if self._skipped(tag, attrs):
            if tag not in VOID_TAGS:
                self.skip_tag, self.skip_depth = tag, 1
            return
        if tag in BLOCK_TAGS:
            if tag == "br" and self.pre:
                self.cur.append("\n")
                return
            self.flush()
            if tag in PRE_TAGS:
                self.pre += 1
            self.cur_pre = self.pre > 0

    def handle_startendtag(self, tag, attrs):  # <br/>, <div/>: never opens a region
        if self.skip_tag is None and tag in BLOCK_TAGS:
            if tag == "br" and self.pre:
                self.cur.append("\n")
            else:
                self.flush()

    def handle_endtag(self, tag):
        if self.skip_tag is not None:
            if tag == self.skip_tag:
                self.skip_depth -= 1
                if self.skip_depth == 0:
                    self.skip_tag = None
            elif self.skip_tag == "head" and tag == "html":
                self.skip_tag = None
            return
        if tag in BLOCK_TAGS:
            self.flush()
            if tag in PRE_TAGS and self.pre:
                self.pre -= 1
            self.cur_pre = self.pre > 0

    def handle_data(self, data):
        if self.skip_tag is None:
            self.cur.append(data)

    def text(self) -> str:
        self.flush()
        return "\n".join(self.blocks) + "\n" if self.blocks else ""


def html_to_text(html: str, extra_skip_classes=(), extra_skip_ids=()) -> str:
    """The readable text of an HTML page, one block element per line (see the module docstring).
    ``extra_skip_classes`` and ``extra_skip_ids`` name more chrome, for one generator's pages."""
    parser = _TextExtractor(extra_skip_classes, extra_skip_ids)
    parser.feed(html)
    parser.close()
    return parser.text()
