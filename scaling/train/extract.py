"""The text tree of ``debian-docs-large`` from unpacked Debian documentation packages.

Which files of a package become documents (``_package_items``: HTML pages less indexes and
source views, PODs, Perl's module manual pages, Ruby's ri files), their text
(:mod:`scaling.train.doctext`: page chrome such as scripts, styles, navigation, sidebars and
search widgets dropped; headings, paragraphs, list items and code blocks kept, one block per
line), and the tree itself: near-empty pages (under ``LARGE_MIN_BYTES`` = 200 bytes of text:
redirect stubs) and exact duplicate texts (the first one read is kept) are dropped, and one UTF-8
file per document is written, ``<package>/<path in the package>.txt``, plus ``MANIFEST.json``
(package versions, per-package counts). The tree is written next to its place and renamed into
it, so a killed build never leaves half a corpus. Downloading the packages is
:mod:`scaling.train.fetch`'s part.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from ..errors import ScalingError
from .corpus import DEBIAN_GLOBS, DEBIAN_PACKAGES, LARGE_CORPUS, LARGE_MANIFEST, LARGE_PACKAGES, is_validation
from .doctext.html import html_to_text
from .doctext.ri import ri_to_text
from .doctext.roff import roff_to_text

LARGE_MIN_BYTES = 200  # extracted texts shorter than this (redirect stubs, empty index pages) are dropped

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

    The two packages of debian-docs give exactly its documents (``DEBIAN_GLOBS``). Any other
    package gives its HTML pages (less ``_html_page_kept``'s exclusions), its PODs, its manual
    pages if it has no HTML and no POD of the same name (perl-doc: the module pages of man3), and
    its ri files, one document per class or module (its description and methods) and per page
    (Japanese pages left out). Hidden files and folders are left out, as ``list_documents``
    leaves them out."""
    items: dict[str, tuple[str, str, tuple[str, ...]]] = {}
    if package in DEBIAN_PACKAGES:
        for pattern in DEBIAN_GLOBS:
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


def remove_stale_temp(parent: Path, stem: str) -> None:
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
    remove_stale_temp(dest.parent, dest.name)
    t0 = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.{os.getpid()}.", dir=dest.parent))
    pool = None
    try:
        if jobs > 1:
            methods = multiprocessing.get_all_start_methods()
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
