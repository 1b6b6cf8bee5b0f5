"""The text of a manual page written by Pod::Man (Perl's module documentation): macros become
paragraph breaks and headings, ``.Vb``/``.Ve`` and ``.nf``/``.fi`` blocks stay verbatim, font,
size and special-character escapes are resolved.
"""

from __future__ import annotations

import re

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
