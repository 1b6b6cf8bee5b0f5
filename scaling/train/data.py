"""Corpora -> token memmaps with a fixed held-out split and a content fingerprint.

A corpus is named by a string:

``debian-docs`` (the default)
    The Python 3.11 documentation sources (Debian package python3.11-doc:
    ``usr/share/doc/python3.11/html/_sources/**/*.txt``, about 11 MB) and the Linux kernel
    documentation (linux-doc-6.1: ``usr/share/doc/linux-doc-6.1/Documentation/**/*.rst.gz``, about
    24 MB unpacked): about 35 MB of technical English. ``scaling data fetch`` downloads the two
    packages with ``apt-get download`` and unpacks them with ``dpkg-deb -x`` into
    ``data/corpus/debian-docs`` (nothing is installed system-wide); a system-wide install of the
    packages is used when the cache is absent.
``debian-docs-large``
    About 286 MB of technical English (57,900 documents; 273 M training tokens for the byte
    tokenizer at the default split) for sweeps that must never repeat a token: the documents of ``debian-docs`` as they
    are, plus the text of the HTML pages of rust-doc, openjdk-17-doc, python-django-doc,
    postgresql-doc-15, octave-doc and 24 more documentation packages (``LARGE_PACKAGES``: Python
    scientific stack, Erlang, Qt, GHC, libstdc++, Groovy, Vim, GLib/GTK, git, CMake, Node.js...),
    Perl's PODs and module manual pages (perl-doc) and Ruby's ri documentation (ruby3.1-doc).
    ``scaling data fetch --corpus debian-docs-large`` downloads the packages into a temporary
    directory (``apt-get download``, ``dpkg-deb -x``; nothing is installed system-wide), extracts
    the text (``scaling.train.doctext``: page chrome such as scripts, styles, navigation, sidebars
    and search widgets dropped; headings, paragraphs, list items and code blocks kept, one block
    per line), drops near-empty pages (under ``LARGE_MIN_BYTES`` = 200 bytes of text: redirect
    stubs) and exact duplicate texts (the first one read is kept), and writes one UTF-8 file per
    document, ``data/corpus/debian-docs-large/<package>/<path in the package>.txt``, plus
    ``MANIFEST.json`` (package versions, per-package counts). The tree is written next to its
    place and renamed into it, so a killed fetch never leaves half a corpus.
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
never depends on a seed or on the other documents. Documents are joined with an end-of-document
token (byte 0 for the byte tokenizer, ``<|endoftext|>`` for BPE).

The fingerprint is ``sha256:`` + the sha256 of the sorted (name, sha256 of content) list: it
changes exactly when a document is added, removed, renamed or edited. Runs record it.

Prepared tokens are cached under ``<data>/cache/tokens/`` (``<data>`` is ``$SCALING_DATA_DIR`` or
``./data``), keyed by the corpus spec, the tokenizer, the split and the files' sizes and
modification times; the cache is written to a temporary directory and renamed into place, so
concurrent runs never see a half-written cache. Byte tokens are written one document at a time
(memory stays flat whatever the corpus size); BPE trains on the whole training split in memory.
``TokenData.meta["train_tokens"]`` (= ``len(data.train)``) and ``meta["val_tokens"]`` are the
split's sizes in tokens.

Tokenizers: ``bytes`` (vocab 256, the CPU default) and ``bpe:N`` (byte-level BPE with N tokens
trained on the training split with the ``tokenizers`` package, cached beside the tokens).
"""

from __future__ import annotations

import functools
import glob as _glob
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

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
LARGE_MIN_BYTES = 200  # extracted texts shorter than this (redirect stubs, empty index pages) are dropped
LARGE_MANIFEST = "MANIFEST.json"
EOT_BYTE = 0
CACHE_VERSION = 1
# the system-wide locations of the two packages' documents (also the layout inside the cache)
_DEBIAN_GLOBS = (
    "usr/share/doc/python3.11/html/_sources/**/*.txt",
    "usr/share/doc/linux-doc-6.1/Documentation/**/*.rst.gz",
    "usr/share/doc/linux-doc-6.1/Documentation/**/*.rst",
)


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """``data_dir``, else ``$SCALING_DATA_DIR``, else ``./data``."""
    return Path(data_dir or os.environ.get("SCALING_DATA_DIR") or "data")


# ---------------------------------------------------------------------------------------------
# tokenizers


def tokenizer_vocab(tokenizer: str) -> int:
    """Vocabulary size of a tokenizer spec: ``bytes`` -> 256, ``bpe:N`` -> N."""
    if tokenizer == "bytes":
        return 256
    if tokenizer.startswith("bpe:"):
        try:
            n = int(float(tokenizer[4:]))
        except ValueError:
            n = 0
        if not 257 <= n <= 65535:
            raise ScalingError(f"tokenizer {tokenizer!r}: the BPE vocabulary must be 257..65535 (uint16 tokens)")
        return n
    raise ScalingError(f"unknown tokenizer {tokenizer!r} (use 'bytes' or 'bpe:VOCAB', e.g. 'bpe:8192')")


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
        if all(any(root.glob(g.split("/**")[0] + "/*")) for g in _DEBIAN_GLOBS[:2]):
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
        for pattern in _DEBIAN_GLOBS:
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


def _hf_documents(spec: str, max_bytes: int | None) -> Iterator[Document]:
    """Stream a Hugging Face dataset: ``hf:NAME[:CONFIG][@SPLIT][#COLUMN]``."""
    try:
        import datasets  # noqa: F401
    except ImportError:
        raise ScalingError(f"corpus {spec!r} needs the `datasets` package: pip install 'scaling[hf]'") from None
    from datasets import load_dataset

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


# ---------------------------------------------------------------------------------------------
# preparation and the cache


@dataclass
class TokenData:
    """A prepared corpus: train and validation token arrays (uint16 memmaps) and their metadata."""

    path: Path
    train: np.ndarray
    val: np.ndarray
    vocab: int
    fingerprint: str
    meta: dict

    def __repr__(self) -> str:
        return (
            f"TokenData({self.meta['corpus']!r}, tokenizer={self.meta['tokenizer']!r}, "
            f"train={len(self.train):,} tokens, val={len(self.val):,} tokens, {self.fingerprint[:19]}...)"
        )


def _slug(text: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_." else "-" for c in text)
    return keep.strip("-")[:40] or "corpus"


def _cache_key(
    corpus: str, tokenizer: str, val_fraction: float, docs: list[Document] | None, max_bytes: int | None
) -> str:
    h = hashlib.sha256(json.dumps([CACHE_VERSION, corpus, tokenizer, val_fraction, max_bytes]).encode())
    for d in docs or ():
        st = d.path.stat()
        h.update(f"{d.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _train_bpe(texts: list[bytes], vocab: int, path: Path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator((t.decode("utf-8", errors="replace") for t in texts), trainer=trainer)
    tok.save(str(path))
    return tok


def _tokenize(docs: list[bytes], tokenizer: str, tok) -> np.ndarray:
    if not docs:
        return np.zeros(0, dtype=np.uint16)
    if tokenizer == "bytes":
        parts = []
        for d in docs:
            parts.append(np.frombuffer(d, dtype=np.uint8))
            parts.append(np.array([EOT_BYTE], dtype=np.uint8))
        return np.concatenate(parts).astype(np.uint16)
    eot = tok.token_to_id("<|endoftext|>")
    out = []
    for i in range(0, len(docs), 256):
        for enc in tok.encode_batch([d.decode("utf-8", errors="replace") for d in docs[i : i + 256]]):
            out.append(np.asarray(enc.ids + [eot], dtype=np.uint16))
    return np.concatenate(out)


def prepare(
    corpus: str = DEFAULT_CORPUS,
    tokenizer: str = "bytes",
    *,
    val_fraction: float = 0.05,
    data_dir=None,
    max_bytes: int | None = None,
    quiet: bool = True,
) -> TokenData:
    """Tokenize a corpus into ``train.bin`` / ``val.bin`` (uint16) in the cache, or load the cached copy."""
    vocab = tokenizer_vocab(tokenizer)
    if not 0.0 < val_fraction < 0.5:
        raise ScalingError(f"val_fraction must be in (0, 0.5): got {val_fraction}")
    streamed = corpus.startswith("hf:")
    docs = None if streamed else list_documents(corpus, data_dir)
    key = _cache_key(corpus, tokenizer, val_fraction, docs, max_bytes)
    cache = data_root(data_dir) / "cache" / "tokens" / f"{_slug(corpus)}-{_slug(tokenizer)}-{key[:16]}"
    if not (cache / "meta.json").exists():
        _build(cache, corpus, tokenizer, val_fraction, docs, max_bytes, quiet)
    meta = json.loads((cache / "meta.json").read_text())
    train = np.memmap(cache / "train.bin", dtype=np.uint16, mode="r")
    val = np.memmap(cache / "val.bin", dtype=np.uint16, mode="r")
    return TokenData(cache, train, val, vocab, meta["fingerprint"], meta)


def _read_documents(docs, corpus, val_fraction, max_bytes) -> Iterator[tuple[Document, bytes, bool]]:
    """(document, content, held out?) in order, up to ``max_bytes`` for a local corpus."""
    total = 0
    for d in docs:
        content = d.read()
        yield d, content, is_validation(d.name, val_fraction)
        total += len(content)
        if max_bytes and total >= max_bytes and not corpus.startswith("hf:"):
            break


def _fallback_split(names: list[str]) -> int:
    """Too few documents for the hash split: the index of the one held out (lowest name hash)."""
    return min(range(len(names)), key=lambda i: hashlib.sha256(names[i].encode()).digest())


def _byte_tokens(content: bytes) -> bytes:
    """A document's byte tokens and its end-of-document token as uint16 bytes."""
    buf = np.empty(len(content) + 1, dtype=np.uint16)
    buf[:-1] = np.frombuffer(content, dtype=np.uint8)
    buf[-1] = EOT_BYTE
    return buf.tobytes()


def _stream_bytes(tmp: Path, corpus, val_fraction, docs, max_bytes) -> dict:
    """Write the byte tokens of each document straight to train.bin / val.bin: one document in
    memory at a time, whatever the corpus size (a corpus of hundreds of MB never exists twice)."""
    docs_used, entries, held = [], [], []
    total = 0
    with open(tmp / "train.bin", "wb") as ft, open(tmp / "val.bin", "wb") as fv:
        for d, content, v in _read_documents(docs, corpus, val_fraction, max_bytes):
            entries.append(f"{d.name}\0{hashlib.sha256(content).hexdigest()}\n")
            docs_used.append(d)
            held.append(v)
            total += len(content)
            (fv if v else ft).write(_byte_tokens(content))
        if len(docs_used) < 2:
            raise ScalingError(f"corpus {corpus!r} has {len(docs_used)} document(s); a held-out split needs at least 2")
        if all(held) or not any(held):
            lowest = _fallback_split([d.name for d in docs_used])
            held = [i == lowest for i in range(len(docs_used))]
            for f in (ft, fv):
                f.seek(0)
                f.truncate()
            for d, v in zip(docs_used, held):
                (fv if v else ft).write(_byte_tokens(d.read()))
        n_train, n_val = ft.tell() // 2, fv.tell() // 2
    return {
        "entries": entries,
        "bytes": total,
        "train_documents": held.count(False),
        "val_documents": held.count(True),
        "train_tokens": n_train,
        "val_tokens": n_val,
    }


def _build(cache: Path, corpus, tokenizer, val_fraction, docs, max_bytes, quiet):
    t0 = time.perf_counter()
    if docs is None:
        docs = list(_hf_documents(corpus, max_bytes))
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{cache.name}.", dir=cache.parent))
    try:
        tok = None
        if tokenizer == "bytes":
            split = _stream_bytes(tmp, corpus, val_fraction, docs, max_bytes)
        else:  # BPE trains on the whole training split in memory
            items = [(d.name, c, v) for d, c, v in _read_documents(docs, corpus, val_fraction, max_bytes)]
            if len(items) < 2:
                raise ScalingError(f"corpus {corpus!r} has {len(items)} document(s); a held-out split needs at least 2")
            if all(v for _, _, v in items) or not any(v for _, _, v in items):
                lowest = _fallback_split([n for n, _, _ in items])
                items = [(n, c, i == lowest) for i, (n, c, _) in enumerate(items)]
            train_docs = [c for _, c, v in items if not v]
            val_docs = [c for _, c, v in items if v]
            tok = _train_bpe(train_docs, tokenizer_vocab(tokenizer), tmp / "tokenizer.json")
            train = _tokenize(train_docs, tokenizer, tok)
            val = _tokenize(val_docs, tokenizer, tok)
            train.tofile(tmp / "train.bin")
            val.tofile(tmp / "val.bin")
            split = {
                "entries": [f"{n}\0{hashlib.sha256(c).hexdigest()}\n" for n, c, _ in items],
                "bytes": sum(len(c) for _, c, _ in items),
                "train_documents": len(train_docs),
                "val_documents": len(val_docs),
                "train_tokens": int(len(train)),
                "val_tokens": int(len(val)),
            }
        entries = split["entries"]
        fingerprint = "sha256:" + hashlib.sha256("".join(sorted(entries)).encode()).hexdigest()
        meta = {
            "corpus": corpus,
            "tokenizer": tokenizer,
            "vocab": tokenizer_vocab(tokenizer),
            "val_fraction": val_fraction,
            "fingerprint": fingerprint,
            "documents": len(entries),
            "train_documents": split["train_documents"],
            "val_documents": split["val_documents"],
            "bytes": split["bytes"],
            "train_tokens": split["train_tokens"],
            "val_tokens": split["val_tokens"],
            "max_bytes": max_bytes,
            "eot": EOT_BYTE if tok is None else tok.token_to_id("<|endoftext|>"),
            "cache_version": CACHE_VERSION,
            "built_s": round(time.perf_counter() - t0, 3),
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        try:
            os.rename(tmp, cache)
        except OSError:  # another process built it first: theirs is as good as ours
            if not (cache / "meta.json").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not quiet:
        print(
            f"prepared {corpus} ({tokenizer}): {meta['train_tokens']:,} train / {meta['val_tokens']:,} "
            f"held-out tokens from {len(entries)} documents in {meta['built_s']:.1f} s",
            file=sys.stderr,
        )


def load_tokenizer(data: TokenData):
    """The trained ``tokenizers.Tokenizer`` of a BPE corpus (None for bytes)."""
    if data.meta["tokenizer"] == "bytes":
        return None
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(data.path / "tokenizer.json"))


# ---------------------------------------------------------------------------------------------
# batches: a pure function of (seed, step)


def batch_offsets(
    n_tokens: int, context: int, batch_size: int, seed: int, step: int, order: str = "random"
) -> np.ndarray:
    """Start offsets of the training sequences of one optimizer step: depends only on (seed, step),
    so a resumed run sees exactly the data an uninterrupted one would.

    ``random``: windows drawn with replacement. ``shuffled``: sequence ``g = step * batch_size + i``
    is window ``perm_e[g mod W]`` of the ``W`` non-overlapping windows (stride ``context``), with a
    seeded permutation per epoch ``e = g // W``: no token is trained twice within an epoch.
    """
    high = n_tokens - context - 1
    if high < 0 or (order == "random" and high == 0):
        raise ScalingError(f"the training split has {n_tokens} tokens, fewer than one sequence of {context + 1}")
    if order == "shuffled":
        n_win = high // context + 1
        g = np.arange(step * batch_size, (step + 1) * batch_size, dtype=np.int64)
        epochs, pos = np.divmod(g, n_win)
        out = np.empty(batch_size, dtype=np.int64)
        for e in np.unique(epochs):
            sel = epochs == e
            out[sel] = _window_permutation(n_win, int(seed), int(e))[pos[sel]] * context
        return out
    if order != "random":
        raise ScalingError(f"unknown data order {order!r} (random or shuffled)")
    rng = np.random.default_rng([int(seed), int(step)])
    return rng.integers(0, high + 1, size=batch_size)


@functools.lru_cache(maxsize=4)
def _window_permutation(n_windows: int, seed: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch, 0x5EED]).permutation(n_windows)


def eval_offsets(n_tokens: int, context: int, n_tokens_eval: int) -> np.ndarray:
    """Fixed, evenly spread, non-overlapping held-out windows (the same for every run of a corpus)."""
    n_seq = max(1, n_tokens_eval // context)
    high = n_tokens - context - 1
    if high < 0:
        raise ScalingError(f"the held-out split has {n_tokens} tokens, fewer than one sequence of {context + 1}")
    n_seq = min(n_seq, max(1, (high + 1) // context))
    return np.linspace(0, high, n_seq).astype(np.int64)


def gather(tokens: np.ndarray, offsets: np.ndarray, context: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and next-token targets (int64, shape (len(offsets), context)) at the offsets."""
    idx = offsets[:, None] + np.arange(context + 1)[None, :]
    buf = np.asarray(tokens[idx], dtype=np.int64)
    return buf[:, :-1], buf[:, 1:]


# ---------------------------------------------------------------------------------------------
# fetching the default corpus


def fetch_debian_docs(data_dir=None, *, packages=DEBIAN_PACKAGES, force: bool = False, quiet: bool = False) -> Path:
    """Download Debian's documentation packages with ``apt-get download`` and unpack them with
    ``dpkg-deb -x`` into ``<data>/corpus/debian-docs`` (nothing is installed system-wide)."""
    dest = data_root(data_dir) / "corpus" / "debian-docs"
    if dest.exists() and not force and debian_docs_present(data_dir) == dest:
        if not quiet:
            print(f"the corpus is already in {dest}", file=sys.stderr)
        return dest
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise ScalingError(
                f"`{tool}` is not available: fetching the default corpus needs a Debian-based "
                "system; use another corpus (a directory of text files, or 'stdlib')"
            )
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".fetch.", dir=dest.parent)).resolve()
    try:
        run = dict(cwd=work, capture_output=True, text=True)
        res = subprocess.run(["apt-get", "download", *packages], **run)
        if res.returncode != 0:
            last = (res.stderr.strip().splitlines() or ["unknown error"])[-1]
            hint = " (run `apt-get update` first?)" if "Unable to locate" in res.stderr else ""
            raise ScalingError(f"apt-get download {' '.join(packages)} failed: {last}{hint}")
        debs = sorted(work.glob("*.deb"))
        tree = work / "root"
        for deb in debs:
            res = subprocess.run(["dpkg-deb", "-x", str(deb), str(tree)], **run)
            if res.returncode != 0:
                raise ScalingError(f"dpkg-deb -x {deb.name} failed: {res.stderr.strip()}")
        (tree / "SOURCE.json").write_text(
            json.dumps(
                {"packages": [d.name for d in debs], "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
                indent=2,
            )
            + "\n"
        )
        if dest.exists():
            shutil.rmtree(dest)
        os.rename(tree, dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not quiet:
        print(f"unpacked {', '.join(packages)} into {dest}", file=sys.stderr)
    return dest


# ---------------------------------------------------------------------------------------------
# fetching debian-docs-large

# HTML that is not a document of its own: Sphinx sources/assets and indexes, javadoc's index and
# "uses of" pages, rustdoc's implementor lists, item lists and source views (*.rs.html), mdBook's
# whole-book print.html, Sphinx's highlighted module sources, Haddock's source views (src/) and
# indexes, Doxygen's source listings (*_source.html). Search and settings pages of the generators
# are left to the near-empty rule: Django documents its own search and settings.
_HTML_SUFFIXES = (".html", ".htm", ".xhtml", ".html.gz", ".htm.gz")
_HTML_SKIP_DIRS = frozenset(
    {"_sources", "_static", "_images", "_downloads", "_modules", "class-use", "index-files", "implementors", "src"}
)
_HTML_SKIP_NAMES = frozenset(
    {
        "print.html",
        "all.html",
        "search.html",
        "py-modindex.html",
        "index-all.html",
        "overview-tree.html",
        "package-tree.html",
        "allclasses-index.html",
        "allpackages-index.html",
        "allclasses.html",
        "allclasses-frame.html",
        "allclasses-noframe.html",
        "overview-frame.html",
        "deprecated-list.html",
        "constant-values.html",
        "serialized-form.html",
        "package-use.html",
    }
)
# packages of which only one folder is English (the other folders are translations)
_ENGLISH_ONLY = {"debian-handbook": "usr/share/doc/debian-handbook/html/en-US/"}
# classes and ids of page chrome particular to one package's generator, too common as names to
# drop everywhere: Texinfo's "Next: ... Up: ..." bar (in javadoc, <div class="header"> holds the
# page title), Doxygen's "Public Types | ..." link bar, Haddock's source links, module info table
# and synopsis (a second copy of the signatures), Publican's banner and page arrows
_EXTRA_SKIP_CLASSES = {
    "octave-doc": ("header",),
    "libstdc++-12-doc": ("summary",),
    "ghc-doc": ("link", "selflink", "info"),
    "debian-handbook": ("docnav",),
}
_EXTRA_SKIP_IDS = {"ghc-doc": ("synopsis", "package-header"), "debian-handbook": ("banner", "title")}


def _html_page_kept(rel: str) -> bool:
    parts = rel.split("/")
    name = parts[-1][:-3] if parts[-1].endswith(".gz") else parts[-1]
    return not (
        _HTML_SKIP_DIRS.intersection(parts[:-1])
        or name in _HTML_SKIP_NAMES
        or name.startswith(("genindex", "doc-index"))
        or name.endswith((".rs.html", "-tree.html", "_source.html"))
    )


def _text_name(package: str, rel: str) -> str:
    """A document's name in debian-docs-large: ``<package>/<path in the package>`` with ``.gz``
    dropped and ``.txt`` appended (unless it already ends in ``.txt``)."""
    if rel.endswith(".gz"):
        rel = rel[:-3]
    return f"{package}/{rel}" if rel.endswith(".txt") else f"{package}/{rel}.txt"


def _package_items(package: str, root: Path) -> list[tuple[str, str, tuple[str, ...]]]:
    """What one unpacked package contributes: (document name, kind, source paths relative to
    ``root``), sorted by name. Kinds: ``text`` (as is, gunzipped), ``html``, ``man``, ``ri``.

    The two packages of debian-docs give exactly its documents (``_DEBIAN_GLOBS``). Any other
    package gives its HTML pages (less ``_html_page_kept``'s exclusions), its PODs, its manual
    pages if it has no HTML and no POD of the same name (perl-doc: the module pages of man3), and
    its ri files, one document per class or module (its description and methods) and per page
    (Japanese pages left out). Hidden files and folders are left out, as ``list_documents``
    leaves them out."""
    items: dict[str, tuple[str, str, tuple[str, ...]]] = {}
    if package in DEBIAN_PACKAGES:
        for pattern in _DEBIAN_GLOBS:
            for p in root.glob(pattern):
                if p.is_file():
                    rel = p.relative_to(root).as_posix()
                    items.setdefault(_text_name(package, rel), (_text_name(package, rel), "text", (rel,)))
        return sorted(items.values())
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]  # build leftovers (.build-html)
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        files.extend(
            f if rel_dir == "." else f"{rel_dir}/{f}"
            for f in filenames
            if not f.startswith(".") and os.path.isfile(os.path.join(dirpath, f))
        )
    if package in _ENGLISH_ONLY:
        files = [f for f in files if f.startswith(_ENGLISH_ONLY[package])]
    files.sort()
    has_html = any(f.endswith(_HTML_SUFFIXES) for f in files)
    pods = {f.rsplit("/", 1)[-1].split(".")[0] for f in files if f.endswith((".pod", ".pod.gz"))}
    ri_groups: dict[str, list[str]] = {}
    for rel in files:
        parts = rel.split("/")
        base = parts[-1]
        if base.endswith(_HTML_SUFFIXES):
            if _html_page_kept(rel):
                items.setdefault(_text_name(package, rel), (_text_name(package, rel), "html", (rel,)))
        elif base.endswith((".pod", ".pod.gz")):
            items.setdefault(_text_name(package, rel), (_text_name(package, rel), "text", (rel,)))
        elif (
            len(parts) == 5
            and parts[:3] == ["usr", "share", "man"]
            and parts[3].startswith("man")
            and not has_html
            and base.split(".")[0] not in pods
        ):
            items.setdefault(_text_name(package, rel), (_text_name(package, rel), "man", (rel,)))
        elif base.endswith(".ri") and base != "cache.ri":
            if base.startswith("page-"):
                if "_ja" not in base:
                    name = _text_name(package, rel[:-3])
                    items.setdefault(name, (name, "ri", (rel,)))
            else:
                ri_groups.setdefault(rel.rsplit("/", 1)[0], []).append(rel)
    for group, rels in ri_groups.items():
        name = _text_name(package, group)
        rels.sort(key=lambda r: (not r.rsplit("/", 1)[-1].startswith("cdesc-"), r))  # the description first
        items.setdefault(name, (name, "ri", tuple(rels)))
    return sorted(items.values())


def _read_raw(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


def _extract_item(job) -> tuple[str, bytes | None, str | None]:
    """(name, UTF-8 text, None) or (name, None, error) for one ``_package_items`` entry."""
    from .doctext.html import html_to_text
    from .doctext.ri import ri_to_text
    from .doctext.roff import roff_to_text

    root, package, name, kind, rels = job
    try:
        if kind == "text":
            return name, _read_raw(Path(root) / rels[0]), None
        if kind == "ri":
            texts = [ri_to_text(_read_raw(Path(root) / rel)) for rel in rels]
            text = "\n".join(t for t in texts if t)
        else:
            source = _read_raw(Path(root) / rels[0]).decode("utf-8", errors="replace")
            if kind == "html":
                text = html_to_text(source, _EXTRA_SKIP_CLASSES.get(package, ()), _EXTRA_SKIP_IDS.get(package, ()))
            elif kind == "man":
                text = roff_to_text(source)
            else:
                raise ValueError(f"unknown kind {kind!r}")
        return name, text.encode("utf-8"), None
    except Exception as exc:  # one unreadable page must not stop the fetch: it is counted and reported
        return name, None, f"{type(exc).__name__}: {exc}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _remove_stale_temp(parent: Path, stem: str) -> None:
    """Remove ``.<stem>.<pid>.*`` temporary directories left by killed processes of this machine."""
    for p in parent.glob(f".{stem}.*"):
        pid = p.name[len(stem) + 2 :].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            shutil.rmtree(p, ignore_errors=True)


def _replace_dir(new: Path, dest: Path) -> None:
    """Rename the finished tree ``new`` into ``dest`` (moving an older ``dest`` aside first)."""
    old = None
    if dest.exists():
        old = dest.with_name(f".{dest.name}.{os.getpid()}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.rename(dest, old)
    os.rename(new, dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def extract_debian_docs_large(
    unpacked,
    dest,
    packages=None,
    *,
    min_bytes: int = LARGE_MIN_BYTES,
    val_fraction: float = 0.05,
    jobs: int | None = None,
    sources: dict | None = None,
    unpack=None,
    quiet: bool = False,
) -> dict:
    """Turn unpacked documentation packages (``unpacked/<package>/``, as ``dpkg-deb -x`` leaves
    them) into the text tree of debian-docs-large at ``dest``; returns the manifest it writes.

    Texts shorter than ``min_bytes`` and exact duplicates of an earlier text (packages in order,
    then names) are dropped. The tree is written into a temporary directory beside ``dest`` and
    renamed into place, so ``dest`` is either the old corpus or the whole new one.

    ``unpack``, if given, is called with each package's name just before the package is read and
    must leave it in ``unpacked/<package>/``, which is removed once read (the fetch unpacks one
    package at a time: about 0.6 GB of disk at most instead of 3.5 GB)."""
    unpacked, dest = Path(unpacked), Path(dest)
    packages = list(packages or [p for p in LARGE_PACKAGES if (unpacked / p).is_dir()])
    missing = [] if unpack else [p for p in packages if not (unpacked / p).is_dir()]
    if missing:
        raise ScalingError(f"{unpacked} holds no unpacked package {', '.join(missing)}")
    if not packages:
        raise ScalingError(f"{unpacked} holds none of the packages of {LARGE_CORPUS}")
    # one process by default: on two cores shared with a training run, two extracting processes were
    # no faster (36-42 s vs 35-41 s for qtbase5-doc-html + python-sqlalchemy-doc); --jobs 2 on an idle machine
    jobs = 1 if jobs is None else max(1, int(jobs))
    dest.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temp(dest.parent, dest.name)
    t0 = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.{os.getpid()}.", dir=dest.parent))
    pool = None
    try:
        if jobs > 1:
            import multiprocessing

            methods = multiprocessing.get_all_start_methods()
            import signal

            pool = multiprocessing.get_context("fork" if "fork" in methods else None).Pool(
                jobs, initializer=signal.signal, initargs=(signal.SIGTERM, signal.SIG_DFL)
            )
        seen: set[bytes] = set()
        per_package, failures = {}, []
        for package in packages:
            tp = time.perf_counter()
            root = unpacked / package
            if unpack is not None:
                unpack(package)
            work = [(str(root), package, name, kind, rels) for name, kind, rels in _package_items(package, root)]
            results = pool.imap(_extract_item, work, chunksize=16) if pool else map(_extract_item, work)
            st = {
                "sources": len(work),
                "documents": 0,
                "bytes": 0,
                "stubs": 0,
                "duplicates": 0,
                "failed": 0,
                "train_tokens": 0,
                "val_tokens": 0,
            }
            made_dirs: set[Path] = set()
            for name, text, error in results:
                if text is None:
                    st["failed"] += 1
                    failures.append(f"{name}: {error}")
                    continue
                if len(text.strip()) < min_bytes:
                    st["stubs"] += 1
                    continue
                digest = hashlib.sha256(text).digest()
                if digest in seen:
                    st["duplicates"] += 1
                    continue
                seen.add(digest)
                path = tmp / name
                if path.parent not in made_dirs:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    made_dirs.add(path.parent)
                path.write_bytes(text)
                st["documents"] += 1
                st["bytes"] += len(text)
                st["val_tokens" if is_validation(name, val_fraction) else "train_tokens"] += len(text) + 1
            if unpack is not None:
                shutil.rmtree(root, ignore_errors=True)
            st["seconds"] = round(time.perf_counter() - tp, 1)
            per_package[package] = st
            if not quiet:
                failed = f", {st['failed']} unreadable" if st["failed"] else ""
                print(
                    f"  {package}: {st['documents']} documents, {st['bytes'] / 1e6:.1f} MB of text "
                    f"({st['stubs']} near-empty and {st['duplicates']} duplicate texts dropped{failed}) "
                    f"in {st['seconds']:.0f} s",
                    file=sys.stderr,
                )
        total = {
            k: sum(st[k] for st in per_package.values())
            for k in ("sources", "documents", "bytes", "stubs", "duplicates", "failed", "train_tokens", "val_tokens")
        }
        manifest = {
            "corpus": LARGE_CORPUS,
            "packages": per_package,
            "total": total,
            "sources": sources or {},
            "min_bytes": min_bytes,
            "val_fraction": val_fraction,
            "failures": failures[:100],
            "extracted_s": round(time.perf_counter() - t0, 1),
            "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        (tmp / LARGE_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        _replace_dir(tmp, dest)
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
        shutil.rmtree(tmp, ignore_errors=True)
    if not quiet:
        print(format_large_manifest(manifest), file=sys.stderr)
    return manifest


def format_large_manifest(manifest: dict, split: bool = True) -> str:
    """The per-package table of a debian-docs-large manifest, its total and (``split``) its split."""
    rows = [f"{'package':<20} {'documents':>9} {'MB of text':>10}"]
    for package, st in manifest["packages"].items():
        rows.append(f"{package:<20} {st['documents']:>9,} {st['bytes'] / 1e6:>10.1f}")
    t = manifest["total"]
    rows.append(f"{'total':<20} {t['documents']:>9,} {t['bytes'] / 1e6:>10.1f}")
    if split:
        rows.append(
            f"split at val_fraction {manifest['val_fraction']}: train {t['train_tokens']:,} bytes, held out "
            f"{t['val_tokens']:,} bytes (= tokens for the byte tokenizer, one end-of-document token per "
            f"document included)"
        )
    if t["failed"]:
        rows.append(f"{t['failed']} page(s) could not be read (see {LARGE_MANIFEST}: failures)")
    return "\n".join(rows)


def _apt_available(packages, quiet: bool) -> list[str]:
    """The packages apt can download (one ``apt-cache policy`` call: a candidate version); the
    others are dropped with a warning."""
    res = subprocess.run(["apt-cache", "policy", *packages], capture_output=True, text=True)
    candidates, current = set(), None
    for line in res.stdout.splitlines():
        if line and not line[0].isspace() and line.endswith(":"):
            current = line[:-1]
        elif current and line.strip().startswith("Candidate:") and line.split(":", 1)[1].strip() != "(none)":
            candidates.add(current)
    found = [p for p in packages if p in candidates]
    for package in packages:
        if package not in candidates and not quiet:
            print(
                f"warning: apt has no package {package} (run `apt-get update`?): {LARGE_CORPUS} is built without it",
                file=sys.stderr,
            )
    return found


def _exit_on_sigterm():
    """Make SIGTERM raise SystemExit (so a terminated fetch removes its temporary directories, as
    an interrupted one does); returns the previous handler, or None off the main thread."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    def terminate(signum, frame):
        raise SystemExit(128 + signum)

    return signal.signal(signal.SIGTERM, terminate)


def fetch_debian_docs_large(
    data_dir=None, *, packages=LARGE_PACKAGES, force: bool = False, quiet: bool = False, jobs: int | None = None
) -> Path:
    """Build ``<data>/corpus/debian-docs-large``: ``apt-get download`` the packages into a temporary
    directory, ``dpkg-deb -x`` them there, and extract their text (``extract_debian_docs_large``).
    Nothing is installed system-wide; the temporary directory is removed afterwards."""
    dest = large_corpus_root(data_dir)
    if (dest / LARGE_MANIFEST).is_file() and not force:
        if not quiet:
            print(f"the corpus is already in {dest} (--force fetches it again)", file=sys.stderr)
        return dest
    for tool in ("apt-get", "apt-cache", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise ScalingError(
                f"`{tool}` is not available: fetching {LARGE_CORPUS} needs a Debian-based system; "
                "use another corpus (a directory of text files, or 'stdlib')"
            )
    packages = _apt_available(packages, quiet)
    if not packages:
        raise ScalingError(f"apt knows none of the packages of {LARGE_CORPUS} (run `apt-get update` first?)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    stem = f"{LARGE_CORPUS}-fetch"
    _remove_stale_temp(dest.parent, stem)
    work = Path(tempfile.mkdtemp(prefix=f".{stem}.{os.getpid()}.", dir=dest.parent)).resolve()
    previous = _exit_on_sigterm()
    try:
        t0 = time.perf_counter()
        debs_dir = work / "debs"
        debs_dir.mkdir()
        run = dict(cwd=debs_dir, capture_output=True, text=True)
        res = subprocess.run(["apt-get", "download", *packages], **run)
        if res.returncode != 0:
            last = (res.stderr.strip().splitlines() or ["unknown error"])[-1]
            raise ScalingError(f"apt-get download {' '.join(packages)} failed: {last}")
        debs = {d.name.split("_", 1)[0]: d for d in sorted(debs_dir.glob("*.deb"))}
        lost = [p for p in packages if p not in debs]
        if lost:
            raise ScalingError(f"apt-get download left no .deb for {', '.join(lost)}")
        (work / "unpacked").mkdir()

        def unpack(package):
            deb = debs[package]
            res = subprocess.run(["dpkg-deb", "-x", str(deb), str(work / "unpacked" / package)], **run)
            if res.returncode != 0:
                raise ScalingError(f"dpkg-deb -x {deb.name} failed: {res.stderr.strip()}")
            deb.unlink()

        if not quiet:
            print(
                f"downloaded {len(packages)} packages in {time.perf_counter() - t0:.0f} s; unpacking each and "
                "extracting its text:",
                file=sys.stderr,
            )
        extract_debian_docs_large(
            work / "unpacked",
            dest,
            packages,
            jobs=jobs,
            unpack=unpack,
            quiet=quiet,
            sources={p: debs[p].name for p in packages},
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if previous is not None:
            import signal

            signal.signal(signal.SIGTERM, previous)
    if not quiet:
        print(f"wrote {LARGE_CORPUS} into {dest} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return dest


FETCHABLE_CORPORA = (DEFAULT_CORPUS, LARGE_CORPUS)


def fetch_corpus(
    corpus: str = DEFAULT_CORPUS, data_dir=None, *, force: bool = False, quiet: bool = False, jobs: int | None = None
) -> Path:
    """Fetch one of ``FETCHABLE_CORPORA`` (``debian-docs`` or ``debian-docs-large``)."""
    if corpus == DEFAULT_CORPUS:
        return fetch_debian_docs(data_dir, force=force, quiet=quiet)
    if corpus == LARGE_CORPUS:
        return fetch_debian_docs_large(data_dir, force=force, quiet=quiet, jobs=jobs)
    raise ScalingError(
        f"corpus {corpus!r} cannot be fetched: {' and '.join(FETCHABLE_CORPORA)} can "
        "(the others are local files, 'stdlib', or streamed hf:NAME)"
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m scaling.train.data fetch|info [CORPUS]`` (the same as ``scaling data``)."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m scaling.train.data")
    p.add_argument("action", choices=["fetch", "info"])
    p.add_argument("corpus", nargs="?", default=DEFAULT_CORPUS)
    p.add_argument("--tokenizer", default="bytes")
    p.add_argument("--data-dir", default=None)
    a = p.parse_args(argv)
    try:
        if a.action == "fetch":
            fetch_corpus(a.corpus, a.data_dir)
        else:
            print(prepare(a.corpus, a.tokenizer, data_dir=a.data_dir, quiet=False))
    except ScalingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
