"""Tokenizers and the token cache: a corpus's documents -> train/val token memmaps and a fingerprint.

Documents (:mod:`scaling.train.corpus`, which also decides the held-out split) are joined with an
end-of-document token (byte 0 for the byte tokenizer, ``<|endoftext|>`` for BPE).

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

import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ScalingError
from .corpus import DEFAULT_CORPUS, Document, data_root, hf_documents, is_validation, list_documents

EOT_BYTE = 0
CACHE_VERSION = 1


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
    # tokenizers is an optional extra ([train]): a byte-level corpus needs none
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
        docs = list(hf_documents(corpus, max_bytes))
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
    from tokenizers import Tokenizer  # an optional extra (see _train_bpe)

    return Tokenizer.from_file(str(data.path / "tokenizer.json"))
