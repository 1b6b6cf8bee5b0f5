"""``scaling data fetch|info``: the training corpora of the sweep runner."""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser(
        "data",
        help="fetch and inspect training corpora",
        description="fetch: download Debian's python3.11-doc and linux-doc-6.1 packages with apt-get download "
        "and unpack them with dpkg-deb -x into <data>/corpus/debian-docs (the default corpus, "
        "about 35 MB; nothing is installed system-wide). fetch --corpus debian-docs-large: download "
        "those two and 31 more Debian documentation packages into a temporary directory, "
        "extract the text of their HTML pages, PODs, manual pages and ri files, and write it to "
        "<data>/corpus/debian-docs-large (about 286 MB of text, one file per page; 10-15 minutes "
        "on free cores). info: tokenize a corpus (cached) and print its size, held-out split and "
        "fingerprint.",
    )
    dsub = p.add_subparsers(dest="action", metavar="ACTION")
    dsub.required = True
    f = dsub.add_parser("fetch", help="download and unpack a Debian documentation corpus (default: debian-docs)")
    f.add_argument(
        "--corpus",
        default="debian-docs",
        choices=["debian-docs", "debian-docs-large"],
        help="debian-docs (default, ~35 MB) or debian-docs-large (~286 MB of text from 33 packages)",
    )
    f.add_argument("--data-dir", default=None, help="data root (default $SCALING_DATA_DIR or data)")
    f.add_argument("--force", action="store_true", help="fetch again even if present")
    f.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="processes extracting text for debian-docs-large (default 1: more only help on idle cores)",
    )
    f.set_defaults(func=run_fetch)
    i = dsub.add_parser("info", help="prepare a corpus and print its token counts and fingerprint")
    i.add_argument(
        "corpus",
        nargs="?",
        default="debian-docs",
        help="debian-docs (default), debian-docs-large, stdlib, a file, directory or glob, or hf:NAME",
    )
    i.add_argument("--tokenizer", default="bytes", help="bytes (default) or bpe:VOCAB")
    i.add_argument("--val-fraction", type=float, default=0.05)
    i.add_argument("--data-dir", default=None)
    i.set_defaults(func=run_info)


def run(args) -> int:  # pragma: no cover
    return args.func(args)


def run_fetch(args) -> int:
    from ..train.fetch import fetch_corpus  # the corpus machinery: off `scaling --help`'s start-up

    path = fetch_corpus(args.corpus, args.data_dir, force=args.force, jobs=getattr(args, "jobs", None))
    print(path)
    return 0


def run_info(args) -> int:
    # the corpus machinery: off `scaling --help`'s start-up
    from ..train.corpus import LARGE_CORPUS, LARGE_MANIFEST, large_corpus_root
    from ..train.extract import format_large_manifest
    from ..train.tokens import prepare

    d = prepare(args.corpus, args.tokenizer, val_fraction=args.val_fraction, data_dir=args.data_dir, quiet=False)
    m = d.meta
    if args.corpus == LARGE_CORPUS:
        manifest = large_corpus_root(args.data_dir) / LARGE_MANIFEST
        print(format_large_manifest(json.loads(manifest.read_text()), split=False))
    print(
        f"corpus {m['corpus']} ({m['tokenizer']}, vocab {m['vocab']}): {m['documents']} documents, "
        f"{m['bytes'] / 1e6:.1f} MB; train {m['train_tokens']:,} tokens ({m['train_documents']} documents), "
        f"held out {m['val_tokens']:,} tokens ({m['val_documents']} documents); {d.fingerprint}; cache {d.path}"
    )
    return 0
