"""Plain text from the documentation formats of Debian's doc packages (standard library only).

``html_to_text``
    HTML pages (Sphinx, rustdoc, mdBook, javadoc, DocBook, Texinfo): page chrome is dropped
    (``<head>``, ``<script>``, ``<style>``, ``<nav>``, ``<header>``, ``<footer>``, forms, and
    elements whose class, id or ARIA role marks a sidebar, search widget, navigation bar, source
    link or permalink); headings, paragraphs, list items, table cells and ``<pre>`` blocks are kept,
    one block per line. Whitespace runs are collapsed outside ``<pre>``; inside, lines are kept
    (trailing spaces dropped). Entities are unescaped.
``roff_to_text``
    Manual pages as written by Pod::Man (Perl's module documentation): macros become paragraph
    breaks and headings, ``.Vb``/``.Ve`` and ``.nf``/``.fi`` blocks stay verbatim, font, size and
    special-character escapes are resolved.
``ri_to_text``
    Ruby's ``ri`` files (RDoc objects in Ruby's Marshal 4.8 format): the title, calling
    sequence and comment of a class, module, method or page, as RDoc markup text.

Each function returns ``str`` (possibly empty); none raises on malformed input except
``ri_to_text``, which raises ``ValueError`` on a file that is not Marshal data.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

# ---------------------------------------------------------------------------------------------
# HTML

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


# ---------------------------------------------------------------------------------------------
# roff (Pod::Man manual pages)

_ROFF_SPECIALS = {
    "aq": "'",
    "dq": '"',
    "bu": "*",
    "em": "--",
    "en": "-",
    "lq": '"',
    "rq": '"',
    "oq": "'",
    "cq": "'",
    "co": "(C)",
    "rg": "(R)",
    "tm": "(TM)",
    "hy": "-",
    "mi": "-",
    "pl": "+",
    "mu": "x",
    "di": "/",
    "<=": "<=",
    ">=": ">=",
    "!=": "!=",
    "->": "->",
    "<-": "<-",
    "de": "deg",
    "ga": "`",
    "ti": "~",
    "ha": "^",
    "rs": "\\",
    "sl": "/",
    "ul": "_",
    "*p": "pi",
    "*W": "",
    "ss": "ss",
    "ae": "ae",
    "AE": "AE",
    "ct": "c",
    "Po": "GBP",
    "Ye": "JPY",
    "Eu": "EUR",
    "fm": "'",
    "sd": '"',
    "br": "|",
    "ba": "|",
    "or": "|",
    "lh": "<=",
    "rh": "=>",
    "sc": "S",
    "ps": "P",
}
_ROFF_STRINGS = {
    "C`": '"',
    "C'": '"',
    'L"': '"',
    'R"': '"',
    "Aq": "'",
    "--": "--",
    "PI": "pi",
    "C+": "C++",
    "Tm": "(TM)",
    "Sh": "",
    "Sd": "",
    "Ho": "",
    "Vb": "",
    "Ve": "",
}
_ROFF_ESCAPE = re.compile(
    r"\\(?:"
    r"f(?:\(..|\[[^\]]*\]|.)"  # fonts
    r"|s(?:[-+]?\d|\([-+]?\d\d|\[[^\]]*\])"  # sizes
    r"|\((..)"  # \(xx special character       -> group 1
    r"|\[([^\]]*)\]"  # \[name] special character    -> group 2
    r"|\*(?:\((..)|\[([^\]]*)\]|(.))"  # \*x \*(xx \*[name] strings  -> groups 3 4 5
    r"|[hvwlLoDxXbNHS]'[^']*'"  # motions, widths
    r"|n(?:\(..|\[[^\]]*\]|.)"  # number registers
    r"|(.)"  # single-character escapes     -> group 6
    r")",
    re.S,
)
_ROFF_SINGLE = {
    "-": "-",
    "e": "\\",
    "\\": "\\",
    "&": "",
    "|": "",
    "^": "",
    "%": "",
    " ": " ",
    "~": " ",
    "0": " ",
    "c": "",
    "'": "'",
    "`": "`",
    ".": ".",
    "t": "\t",
    "d": "",
    "u": "",
    "p": "",
    "z": "",
    "{": "",
    "}": "",
    "!": "",
    ":": "",
    "/": "",
    ",": "",
    ")": "",
    "a": "",
    "r": "",
    '"': "",
}


def _roff_escape(m: re.Match) -> str:
    if m.group(1) is not None:
        return _ROFF_SPECIALS.get(m.group(1), "")
    if m.group(2) is not None:
        return _ROFF_SPECIALS.get(m.group(2), "")
    name = m.group(3) or m.group(4) or m.group(5)
    if name is not None:
        return _ROFF_STRINGS.get(name, "")
    if m.group(6) is not None:
        return _ROFF_SINGLE.get(m.group(6), m.group(6))
    return ""


def _roff_inline(text: str) -> str:
    return _ROFF_ESCAPE.sub(_roff_escape, text)


def _roff_args(rest: str) -> list[str]:
    args, i, n = [], 0, len(rest)
    while i < n:
        while i < n and rest[i] in " \t":
            i += 1
        if i >= n:
            break
        if rest[i] == '"':
            j = i + 1
            buf = []
            while j < n:
                if rest[j] == '"':
                    if j + 1 < n and rest[j + 1] == '"':
                        buf.append('"')
                        j += 2
                        continue
                    break
                buf.append(rest[j])
                j += 1
            args.append("".join(buf))
            i = j + 1
        else:
            j = i
            while j < n and rest[j] not in " \t":
                j += 1
            args.append(rest[i:j])
            i = j
    return args


def roff_to_text(source: str) -> str:
    """The text of a manual page written by Pod::Man (see the module docstring)."""
    lines = source.split("\n")
    # the body starts at .TH; everything before it is the preamble of macro and string definitions
    start = next((i for i, line in enumerate(lines) if line.startswith(".TH")), -1) + 1
    out: list[str] = []
    para: list[str] = []
    verbatim = False

    def end_para():
        if para:
            text = " ".join(" ".join(para).split())
            if text:
                out.append(text)
            para.clear()

    skip_block = 0
    for line in lines[start:]:
        if skip_block:
            if line.startswith(".."):
                skip_block = 0
            continue
        if line.startswith((".", "'")) and not line.startswith(("\\&", "...")):
            macro, _, rest = line[1:].strip().partition(" ")
            if macro.startswith('\\"'):
                continue
            if macro in ("de", "ig", "am"):
                skip_block = 1
                continue
            if macro in ("SH", "SS"):
                end_para()
                heading = " ".join(" ".join(_roff_inline(a) for a in _roff_args(rest)).split())
                if heading:
                    out.append(heading)
            elif macro in ("PP", "LP", "P", "Sp", "sp", "br", "RS", "RE", "TP", "PD", "bp"):
                end_para()
            elif macro == "IP":
                end_para()
                args = _roff_args(rest)
                label = _roff_inline(args[0]).strip() if args else ""
                if label:  # the item's text follows its label on the same line
                    para.append(label)
            elif macro in ("Vb", "nf"):
                end_para()
                verbatim = True
            elif macro in ("Ve", "fi"):
                verbatim = False
            elif macro in ("B", "I", "SM", "SB", "BR", "RB", "IR", "RI", "BI", "IB"):
                para.append("".join(_roff_inline(a) for a in _roff_args(rest)))
            # other requests (.IX index entries, .ft, .ne, .if, .ds ...) print nothing
            continue
        text = _roff_inline(line)
        if verbatim:
            out.append(text.rstrip())
        elif not line.strip():
            end_para()
        else:
            para.append(text)
    end_para()
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out) + "\n" if out else ""


# ---------------------------------------------------------------------------------------------
# Ruby ri files (Marshal 4.8)


class _Sym(str):
    pass


class _RObject:
    __slots__ = ("cls", "ivars", "data")

    def __init__(self, cls):
        self.cls, self.ivars, self.data = cls, {}, None


def ruby_marshal_load(data: bytes):
    """Decode Ruby Marshal 4.8 data into Python values: strings, symbols, lists, dicts, and
    ``_RObject`` (class name, instance variables or struct members, dumped data)."""
    if data[:2] != b"\x04\x08":
        raise ValueError("not Ruby Marshal 4.8 data")
    pos = 2
    syms: list[str] = []
    objs: list = []

    def byte() -> int:
        nonlocal pos
        c = data[pos]
        pos += 1
        return c

    def integer() -> int:
        c = byte()
        c = c - 256 if c > 127 else c
        if c == 0:
            return 0
        if c > 4:
            return c - 5
        if c < -4:
            return c + 5
        n = 0
        for i in range(abs(c)):
            n |= byte() << (8 * i)
        return n if c > 0 else n - (1 << (8 * -c))

    def raw() -> bytes:
        nonlocal pos
        n = integer()
        s = data[pos : pos + n]
        pos += n
        return s

    def value():
        nonlocal pos
        t = chr(byte())
        if t == "0":
            return None
        if t == "T":
            return True
        if t == "F":
            return False
        if t == "i":
            return integer()
        if t == ":":
            s = _Sym(raw().decode("utf-8", "replace"))
            syms.append(s)
            return s
        if t == ";":
            return syms[integer()]
        if t == "@":
            return objs[integer()]
        if t == "I":
            v = value()
            for _ in range(integer()):
                value()
                value()
            return v
        if t == '"':
            s = raw().decode("utf-8", "replace")
            objs.append(s)
            return s
        if t == "[":
            a: list = []
            objs.append(a)
            for _ in range(integer()):
                a.append(value())
            return a
        if t in "{}":
            d: dict = {}
            objs.append(d)
            for _ in range(integer()):
                k = value()
                v = value()
                try:
                    d[k] = v
                except TypeError:  # an unhashable key (an array): keep the value
                    d[id(k)] = v
            if t == "}":
                value()
            return d
        if t in "oSUu":
            o = _RObject(str(value()))
            objs.append(o)
            if t in "oS":
                for _ in range(integer()):
                    k = value()
                    o.ivars[str(k).lstrip("@")] = value()
            elif t == "U":
                o.data = value()
            else:
                o.data = raw()
            return o
        if t in "f/cm":
            s = raw()
            if t == "/":
                byte()
            objs.append(s)
            return s.decode("utf-8", "replace")
        if t == "l":
            byte()
            n = integer()
            pos += 2 * n
            objs.append(0)
            return 0
        if t in "eC":
            value()
            return value()
        raise ValueError(f"unsupported Marshal type {t!r} at byte {pos - 1}")

    return value()


def _rdoc_lines(node, out: list[str], prefix: str = "") -> None:
    """Render RDoc::Markup objects as lines of RDoc markup text."""
    if node is None or isinstance(node, bool):
        return
    if isinstance(node, str):
        text = " ".join(node.split())
        if text:
            out.append(prefix + text)
        return
    if isinstance(node, list):
        for part in node:
            _rdoc_lines(part, out, prefix)
        return
    if not isinstance(node, _RObject):
        return
    kind = node.cls.rsplit("::", 1)[-1]
    parts = node.ivars.get("parts")
    if kind in ("Paragraph", "IndentedParagraph"):
        text = " ".join(" ".join(p for p in parts or () if isinstance(p, str)).split())
        if text:
            out.append(prefix + text)
    elif kind == "Verbatim":
        lines = "".join(p for p in parts or () if isinstance(p, str)).rstrip("\n").split("\n")
        out.extend(prefix + "  " + line.rstrip() if line.strip() else "" for line in lines)
    elif kind == "Heading":
        text = node.ivars.get("text")
        if isinstance(text, str) and text.strip():
            out.append(prefix + " ".join(text.split()))
    elif kind == "List":
        for item in node.ivars.get("items") or ():
            _rdoc_lines(item, out, prefix)
    elif kind == "ListItem":
        label = node.ivars.get("label")
        if isinstance(label, list):
            label = ", ".join(x for x in label if isinstance(x, str))
        sub: list[str] = []
        _rdoc_lines(parts, sub, "")
        head = f"{label}: " if label else "- "
        if sub:
            out.append(prefix + head + sub[0].lstrip())
            out.extend(prefix + "  " + s for s in sub[1:])
        elif label:
            out.append(prefix + label)
    elif kind in ("Document", "BlockQuote", "Raw"):
        _rdoc_lines(parts, out, prefix)
    # BlankLine, Rule, HardBreak and anything else print nothing


def ri_to_text(data: bytes) -> str:
    """The text of one ri file: title, calling sequence and comment (see the module docstring)."""
    obj = ruby_marshal_load(data)
    if not isinstance(obj, _RObject) or not isinstance(obj.data, list):
        return ""
    fields = obj.data
    kind = obj.cls.rsplit("::", 1)[-1]
    out: list[str] = []
    if kind == "TopLevel":
        title = None
    else:
        title = fields[2] if len(fields) > 2 and isinstance(fields[2], str) else None
    if title:
        out.append(title)
    if kind == "AnyMethod" and len(fields) > 6 and isinstance(fields[6], str):
        out.extend(line.strip() for line in fields[6].strip().split("\n") if line.strip())
    comment = next((f for f in fields if isinstance(f, _RObject) and f.cls == "RDoc::Markup::Document"), None)
    body: list[str] = []
    _rdoc_lines(comment, body)
    if not body and kind != "TopLevel":
        return "\n".join(out) + "\n" if out else ""
    out.extend(body)
    return "\n".join(out) + "\n" if out else ""
