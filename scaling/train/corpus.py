"""Corpus names -> documents, and the held-out split.

A corpus is named by a string:

``debian-docs`` (the default)
    The Python 3.11 documentation sources (Debian package python3.11-doc:
    ``usr/share/doc/python3.11/html/_sources/**/*.txt``, about 11 MB) and the Linux kernel
    documentation (linux-doc-6.1: ``usr/share/doc/linux-doc-6.1/Documentation/**/*.rst.gz``, about
    24 MB unpacked): about 35 MB of technical English. ``scaling data fetch`` downloads the two
    packages with ``apt-get download`` and unpacks them with ``dpkg-deb -x`` into
    ``data/corpus/debian-docs`` (nothing is installed system-wide; :mod:`scaling.train.fetch`); a
    system-wide install of the packages is used when the cache is absent.
``debian-docs-large``
    About 286 MB of technical English (57,900 documents; 273 M training tokens for the byte
    tokenizer at the default split) for sweeps that must never repeat a token: the documents of ``debian-docs`` as they
    are, plus the text of the HTML pages of rust-doc, openjdk-17-doc, python-django-doc,
    postgresql-doc-15, octave-doc and 24 more documentation packages (``LARGE_PACKAGES``: Python
    scientific stack, Erlang, Qt, GHC, libstdc++, Groovy, Vim, GLib/GTK, git, CMake, Node.js...),
    Perl's PODs and module manual pages (perl-doc) and Ruby's ri documentation (ruby3.1-doc).
    ``scaling data fetch --corpus debian-docs-large`` downloads the packages into a temporary
    directory (``apt-get download``, ``dpkg-deb -x``; nothing is installed system-wide) and
    extracts their text (:mod:`scaling.train.extract`) into one UTF-8 file per document,
    ``data/corpus/debian-docs-large/<package>/<path in the package>.txt``, plus
    ``MANIFEST.json`` (package versions, per-package counts).
``stdlib``
    The running interpreter's standard library sources (``*.py``, about 31 MB; no install needed;
    the tests' and the smoke sweep's corpus).
``hf:NAME[:CONFIG][@SPLIT][#COLUMN]``
    A Hugging Face dataset, streamed (needs the optional ``datasets`` package and a network);
    limit it with ``max_bytes``.
anything else
    A local text file, a directory (every non-hidden file under it) or a glob (``**`` allowed).

The held-out split is by whole documents: a document is held out when the first 8 bytes of the
sha256 of its name (its path relative to the corpus root) fall below ``val_fraction``; the split
never depends on a seed or on the other documents.
"""

from __future__ import annotations

import glob as _glob
import gzip
import hashlib
import os
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import ScalingError

DEFAULT_CORPUS = "debian-docs"
DEBIAN_PACKAGES = ("python3.11-doc", "linux-doc-6.1")
FETCH_COMMAND = "scaling data fetch"
LARGE_CORPUS = "debian-docs-large"
# the packages of debian-docs-large, in the order their documents are read (the first of two
# identical texts is kept): the two of debian-docs, then the ones whose HTML/POD/man/ri becomes text
LARGE_PACKAGES = DEBIAN_PACKAGES + (
    "rust-doc",
    "openjdk-17-doc",
    "python-django-doc",
    "postgresql-doc-15",
    "ruby3.1-doc",
    "octave-doc",
    "perl-doc",
    # added to pass 200 MB of training text with room to spare (the seven above and debian-docs
    # give about 140 MB)
    "python-pandas-doc",
    "python-scipy-doc",
    "erlang-doc",
    "qtbase5-doc-html",
    "python-sqlalchemy-doc",
    "git-doc",
    "cmake-doc",
    "nodejs-doc",
    "sphinx-doc",
    "python-sklearn-doc",
    "python-sympy-doc",
    "python-astropy-doc",
    "python-statsmodels-doc",
    "ghc-doc",
    "libstdc++-12-doc",
    "groovy-doc",
    "vim-doc",
    "libglib2.0-doc",
    "libgtk-3-doc",
    "python-dask-doc",
    "zsh-doc",
    "python-celery-doc",
    "python-pytest-doc",
    "debian-handbook",
)
LARGE_FETCH_COMMAND = f"scaling data fetch --corpus {LARGE_CORPUS}"
LARGE_MANIFEST = "MANIFEST.json"
# the system-wide locations of the two packages' documents (also the layout inside the cache)
DEBIAN_GLOBS = (
    "usr/share/doc/python3.11/html/_sources/**/*.txt",
    "usr/share/doc/linux-doc-6.1/Documentation/**/*.rst.gz",
    "usr/share/doc/linux-doc-6.1/Documentation/**/*.rst",
)


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """``data_dir``, else ``$SCALING_DATA_DIR``, else ``./data``."""
    return Path(data_dir or os.environ.get("SCALING_DATA_DIR") or "data")


# ---------------------------------------------------------------------------------------------
# documents


@dataclass(frozen=True)
class Document:
    name: str  # stable name (path relative to the corpus root): decides the split
    path: Path | None  # None for streamed documents
    text: bytes | None = None

    def read(self) -> bytes:
        if self.text is not None:
            return self.text
        data = self.path.read_bytes()
        return gzip.decompress(data) if self.path.suffix == ".gz" else data


def _is_glob(spec: str) -> bool:
    return any(c in spec for c in "*?[")


def _debian_roots(data_dir) -> list[Path]:
    return [data_root(data_dir) / "corpus" / "debian-docs", Path("/")]


def debian_docs_present(data_dir=None) -> Path | None:
    """The root (cache or /) holding both Debian documentation packages, or None."""
    for root in _debian_roots(data_dir):
        if all(any(root.glob(g.split("/**")[0] + "/*")) for g in DEBIAN_GLOBS[:2]):
            return root
    return None


def missing_corpus_message(data_dir=None, corpus: str = DEFAULT_CORPUS) -> str:
    if corpus == LARGE_CORPUS:
        cache = data_root(data_dir) / "corpus" / LARGE_CORPUS
        return (
            f"the corpus {LARGE_CORPUS} (the text of {len(LARGE_PACKAGES)} Debian documentation packages, "
            f"about 286 MB of text) is not in {cache}: run `{LARGE_FETCH_COMMAND}` (apt-get download + dpkg-deb -x "
            "into a temporary directory, then text extraction; nothing installed system-wide), "
            "or choose another corpus (debian-docs, a file, directory or glob, or 'stdlib')"
        )
    cache = data_root(data_dir) / "corpus" / "debian-docs"
    return (
        f"the default corpus (Debian's {' and '.join(DEBIAN_PACKAGES)} documentation) is not in {cache}: "
        f"run `{FETCH_COMMAND}` (apt-get download + dpkg-deb -x, nothing installed system-wide), "
        "or choose another corpus (a file, directory or glob, or 'stdlib')"
    )


def large_corpus_root(data_dir=None) -> Path:
    """Where ``debian-docs-large`` lives: ``<data>/corpus/debian-docs-large``."""
    return data_root(data_dir) / "corpus" / LARGE_CORPUS


def _text_tree_documents(root: Path) -> list[Document]:
    """Every ``*.txt`` under ``root`` (hidden entries skipped), named by its path relative to ``root``."""
    docs = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        rel = os.path.relpath(dirpath, root)
        for f in filenames:
            if f.endswith(".txt") and not f.startswith("."):
                name = f if rel == "." else f"{rel}/{f}".replace(os.sep, "/")
                docs.append(Document(name, Path(dirpath) / f))
    return sorted(docs, key=lambda d: d.name)


def list_documents(corpus: str, data_dir=None) -> list[Document]:
    """The documents of a local corpus spec, sorted by name (see the module docstring)."""
    if corpus == "debian-docs":
        root = debian_docs_present(data_dir)
        if root is None:
            raise ScalingError(missing_corpus_message(data_dir))
        docs = {}
        for pattern in DEBIAN_GLOBS:
            for p in root.glob(pattern):
                if p.is_file():
                    name = str(p.relative_to(root))
                    if name.endswith(".gz"):
                        name = name[:-3]
                    docs.setdefault(name, Document(name, p))
        return sorted(docs.values(), key=lambda d: d.name)
    if corpus == LARGE_CORPUS:
        root = large_corpus_root(data_dir)
        if not (root / LARGE_MANIFEST).is_file():
            raise ScalingError(missing_corpus_message(data_dir, LARGE_CORPUS))
        docs = _text_tree_documents(root)
        if not docs:
            raise ScalingError(missing_corpus_message(data_dir, LARGE_CORPUS))
        return docs
    if corpus == "stdlib":
        root = Path(sysconfig.get_paths()["stdlib"])
        docs = [
            Document(str(p.relative_to(root)), p)
            for p in root.rglob("*.py")
            if p.is_file() and not ({"site-packages", "dist-packages"} & set(p.relative_to(root).parts))
        ]
        return sorted(docs, key=lambda d: d.name)
    if corpus.startswith("hf:"):
        raise ScalingError("a Hugging Face corpus is streamed, not listed")
    expanded = os.path.expanduser(corpus)
    if _is_glob(expanded):
        base = Path(expanded.split("*")[0].split("?")[0].split("[")[0])
        base = base if base.is_dir() else base.parent
        paths = [Path(p) for p in _glob.glob(expanded, recursive=True) if os.path.isfile(p)]
        if not paths:
            raise ScalingError(f"corpus glob {corpus!r} matches no files")
        return sorted(
            (Document(str(p.relative_to(base)) if p.is_relative_to(base) else str(p), p) for p in paths),
            key=lambda d: d.name,
        )
    path = Path(expanded)
    if path.is_file():
        return [Document(path.name, path)]
    if path.is_dir():
        docs = [
            Document(str(p.relative_to(path)), p)
            for p in path.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
        ]
        if not docs:
            raise ScalingError(f"corpus directory {corpus} holds no files")
        return sorted(docs, key=lambda d: d.name)
    raise ScalingError(
        f"corpus {corpus!r} is not a file, directory, glob, 'stdlib', 'debian-docs', '{LARGE_CORPUS}' or 'hf:NAME'"
    )


def hf_documents(spec: str, max_bytes: int | None) -> Iterator[Document]:
    """Stream a Hugging Face dataset: ``hf:NAME[:CONFIG][@SPLIT][#COLUMN]``."""
    try:
        import datasets  # noqa: F401  (an optional extra, [hf]: only hf: corpora need it)
    except ImportError:
        raise ScalingError(f"corpus {spec!r} needs the `datasets` package: pip install 'scaling[hf]'") from None
    from datasets import load_dataset  # the optional extra checked above

    rest = spec[3:]
    column = "text"
    if "#" in rest:
        rest, column = rest.split("#", 1)
    split = "train"
    if "@" in rest:
        rest, split = rest.split("@", 1)
    name, _, config = rest.partition(":")
    if not name:
        raise ScalingError(f"corpus {spec!r}: give a dataset name, hf:NAME[:CONFIG][@SPLIT][#COLUMN]")
    try:
        ds = load_dataset(name, config or None, split=split, streaming=True)
        rows = iter(ds)
        total = 0
        for i, row in enumerate(rows):
            if column not in row:
                raise ScalingError(
                    f"corpus {spec!r}: row {i} has no column {column!r} (columns: "
                    f"{', '.join(map(str, row)) or 'none'}); choose one with #COLUMN"
                )
            value = row[column]
            if value is None:
                continue
            if not isinstance(value, str):
                raise ScalingError(
                    f"corpus {spec!r}: column {column!r} holds {type(value).__name__}, not text (row {i})"
                )
            text = value.encode("utf-8")
            yield Document(f"{i:012d}", None, text)
            total += len(text)
            if max_bytes and total >= max_bytes:
                break
    except ScalingError:
        raise
    except Exception as exc:  # network, unknown dataset, bad config or split: one line, no traceback
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ScalingError(
            f"corpus {spec!r}: could not load the Hugging Face dataset {name!r}"
            f"{f' (config {config!r})' if config else ''}, split {split!r}: {first}"
        ) from None


def is_validation(name: str, val_fraction: float) -> bool:
    """Whether a document is held out: a pure function of its name (no seed, no other documents)."""
    h = int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big")
    return h / 2.0**64 < val_fraction
