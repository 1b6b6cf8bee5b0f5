"""Fetching the Debian corpora: ``apt-get download`` the packages, ``dpkg-deb -x`` them (nothing
is installed system-wide).

``debian-docs`` is unpacked as it is into ``<data>/corpus/debian-docs``; ``debian-docs-large`` is
downloaded into a temporary directory, unpacked one package at a time and turned into its text
tree (:func:`scaling.train.extract.extract_debian_docs_large`). See :mod:`scaling.train.corpus`
for what the corpora hold.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ..errors import ScalingError
from .corpus import (
    DEBIAN_PACKAGES,
    DEFAULT_CORPUS,
    LARGE_CORPUS,
    LARGE_MANIFEST,
    LARGE_PACKAGES,
    data_root,
    debian_docs_present,
    large_corpus_root,
)
from .extract import extract_debian_docs_large, remove_stale_temp


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
    remove_stale_temp(dest.parent, stem)
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
