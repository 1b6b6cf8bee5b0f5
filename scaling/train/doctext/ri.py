"""The text of Ruby's ``ri`` files (RDoc objects in Ruby's Marshal 4.8 format): the title,
calling sequence and comment of a class, module, method or page, as RDoc markup text.
``ri_to_text`` raises ``ValueError`` on a file that is not Marshal data.
"""

from __future__ import annotations


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
