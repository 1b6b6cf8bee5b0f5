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
concurrent runs never see a half-written cache.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import ScalingError

DEFAULT_CORPUS = "debian-docs"
DEBIAN_PACKAGES = ("python3.11-doc", "linux-doc-6.1")
FETCH_COMMAND = "scaling data fetch"
EOT_BYTE = 0
CACHE_VERSION = 1
# the system-wide locations of the two packages' documents (also the layout inside the cache)
_DEBIAN_GLOBS = ("usr/share/doc/python3.11/html/_sources/**/*.txt",
                 "usr/share/doc/linux-doc-6.1/Documentation/**/*.rst.gz",
                 "usr/share/doc/linux-doc-6.1/Documentation/**/*.rst")


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
    name: str           # stable name (path relative to the corpus root): decides the split
    path: Path | None   # None for streamed documents
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


def missing_corpus_message(data_dir=None) -> str:
    cache = data_root(data_dir) / "corpus" / "debian-docs"
    return (f"the default corpus (Debian's {' and '.join(DEBIAN_PACKAGES)} documentation) is not in {cache}: "
            f"run `{FETCH_COMMAND}` (apt-get download + dpkg-deb -x, nothing installed system-wide), "
            "or choose another corpus (a file, directory or glob, or 'stdlib')")


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
    if corpus == "stdlib":
        root = Path(sysconfig.get_paths()["stdlib"])
        docs = [Document(str(p.relative_to(root)), p) for p in root.rglob("*.py")
                if p.is_file() and not ({"site-packages", "dist-packages"} & set(p.relative_to(root).parts))]
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
        return sorted((Document(str(p.relative_to(base)) if p.is_relative_to(base) else str(p), p)
                       for p in paths), key=lambda d: d.name)
    path = Path(expanded)
    if path.is_file():
        return [Document(path.name, path)]
    if path.is_dir():
        docs = [Document(str(p.relative_to(path)), p) for p in path.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)]
        if not docs:
            raise ScalingError(f"corpus directory {corpus} holds no files")
        return sorted(docs, key=lambda d: d.name)
    raise ScalingError(f"corpus {corpus!r} is not a file, directory, glob, 'stdlib', 'debian-docs' or 'hf:NAME'")


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
                raise ScalingError(f"corpus {spec!r}: row {i} has no column {column!r} (columns: "
                                   f"{', '.join(map(str, row)) or 'none'}); choose one with #COLUMN")
            value = row[column]
            if value is None:
                continue
            if not isinstance(value, str):
                raise ScalingError(f"corpus {spec!r}: column {column!r} holds {type(value).__name__}, not text "
                                   f"(row {i})")
            text = value.encode("utf-8")
            yield Document(f"{i:012d}", None, text)
            total += len(text)
            if max_bytes and total >= max_bytes:
                break
    except ScalingError:
        raise
    except Exception as exc:   # network, unknown dataset, bad config or split: one line, no traceback
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ScalingError(f"corpus {spec!r}: could not load the Hugging Face dataset {name!r}"
                           f"{f' (config {config!r})' if config else ''}, split {split!r}: {first}") from None


def is_validation(name: str, val_fraction: float) -> bool:
    """Whether a document is held out: a pure function of its name (no seed, no other documents)."""
    h = int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big")
    return h / 2.0 ** 64 < val_fraction


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
        return (f"TokenData({self.meta['corpus']!r}, tokenizer={self.meta['tokenizer']!r}, "
                f"train={len(self.train):,} tokens, val={len(self.val):,} tokens, {self.fingerprint[:19]}...)")


def _slug(text: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_." else "-" for c in text)
    return keep.strip("-")[:40] or "corpus"


def _cache_key(corpus: str, tokenizer: str, val_fraction: float, docs: list[Document] | None,
               max_bytes: int | None) -> str:
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
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
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
        for enc in tok.encode_batch([d.decode("utf-8", errors="replace") for d in docs[i:i + 256]]):
            out.append(np.asarray(enc.ids + [eot], dtype=np.uint16))
    return np.concatenate(out)


def prepare(corpus: str = DEFAULT_CORPUS, tokenizer: str = "bytes", *, val_fraction: float = 0.05,
            data_dir=None, max_bytes: int | None = None, quiet: bool = True) -> TokenData:
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


def _build(cache: Path, corpus, tokenizer, val_fraction, docs, max_bytes, quiet):
    t0 = time.perf_counter()
    if docs is None:
        docs = list(_hf_documents(corpus, max_bytes))
    items, entries = [], []    # (name, content, held out?)
    total = 0
    for d in docs:
        content = d.read()
        entries.append(f"{d.name}\0{hashlib.sha256(content).hexdigest()}\n")
        items.append((d.name, content, is_validation(d.name, val_fraction)))
        total += len(content)
        if max_bytes and total >= max_bytes and not corpus.startswith("hf:"):
            break
    if len(items) < 2:
        raise ScalingError(f"corpus {corpus!r} has {len(items)} document(s); a held-out split needs at least 2")
    if all(v for _, _, v in items) or not any(v for _, _, v in items):
        # too few documents for the hash split: hold out the one whose hash is lowest
        lowest = min(range(len(items)), key=lambda i: hashlib.sha256(items[i][0].encode()).digest())
        items = [(n, c, i == lowest) for i, (n, c, _) in enumerate(items)]
    train_docs = [c for _, c, v in items if not v]
    val_docs = [c for _, c, v in items if v]
    fingerprint = "sha256:" + hashlib.sha256("".join(sorted(entries)).encode()).hexdigest()

    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{cache.name}.", dir=cache.parent))
    try:
        tok = None
        if tokenizer != "bytes":
            tok = _train_bpe(train_docs, tokenizer_vocab(tokenizer), tmp / "tokenizer.json")
        train = _tokenize(train_docs, tokenizer, tok)
        val = _tokenize(val_docs, tokenizer, tok)
        train.tofile(tmp / "train.bin")
        val.tofile(tmp / "val.bin")
        meta = {"corpus": corpus, "tokenizer": tokenizer, "vocab": tokenizer_vocab(tokenizer),
                "val_fraction": val_fraction, "fingerprint": fingerprint, "documents": len(entries),
                "train_documents": len(train_docs), "val_documents": len(val_docs), "bytes": total,
                "train_tokens": int(len(train)), "val_tokens": int(len(val)), "max_bytes": max_bytes,
                "eot": EOT_BYTE if tok is None else tok.token_to_id("<|endoftext|>"),
                "cache_version": CACHE_VERSION, "built_s": round(time.perf_counter() - t0, 3)}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        try:
            os.rename(tmp, cache)
        except OSError:   # another process built it first: theirs is as good as ours
            if not (cache / "meta.json").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not quiet:
        print(f"prepared {corpus} ({tokenizer}): {meta['train_tokens']:,} train / {meta['val_tokens']:,} "
              f"held-out tokens from {len(entries)} documents in {meta['built_s']:.1f} s", file=sys.stderr)


def load_tokenizer(data: TokenData):
    """The trained ``tokenizers.Tokenizer`` of a BPE corpus (None for bytes)."""
    if data.meta["tokenizer"] == "bytes":
        return None
    from tokenizers import Tokenizer
    return Tokenizer.from_file(str(data.path / "tokenizer.json"))


# ---------------------------------------------------------------------------------------------
# batches: a pure function of (seed, step)


def batch_offsets(n_tokens: int, context: int, batch_size: int, seed: int, step: int,
                  order: str = "random") -> np.ndarray:
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
            raise ScalingError(f"`{tool}` is not available: fetching the default corpus needs a Debian-based "
                               "system; use another corpus (a directory of text files, or 'stdlib')")
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
        (tree / "SOURCE.json").write_text(json.dumps(
            {"packages": [d.name for d in debs], "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
            indent=2) + "\n")
        if dest.exists():
            shutil.rmtree(dest)
        os.rename(tree, dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not quiet:
        print(f"unpacked {', '.join(packages)} into {dest}", file=sys.stderr)
    return dest


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
            fetch_debian_docs(a.data_dir)
        else:
            print(prepare(a.corpus, a.tokenizer, data_dir=a.data_dir, quiet=False))
    except ScalingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
