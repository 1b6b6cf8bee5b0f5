"""``scaling data fetch|info``: the training corpora of the sweep runner."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser(
        "data", help="fetch and inspect training corpora",
        description="fetch: download Debian's python3.11-doc and linux-doc-6.1 packages with apt-get download "
                    "and unpack them with dpkg-deb -x into <data>/corpus/debian-docs (the default corpus; "
                    "nothing is installed system-wide). info: tokenize a corpus (cached) and print its size, "
                    "held-out split and fingerprint.")
    dsub = p.add_subparsers(dest="action", metavar="ACTION")
    dsub.required = True
    f = dsub.add_parser("fetch", help="download and unpack the default corpus")
    f.add_argument("--data-dir", default=None, help="data root (default $SCALING_DATA_DIR or data)")
    f.add_argument("--force", action="store_true", help="fetch again even if present")
    f.set_defaults(func=run_fetch)
    i = dsub.add_parser("info", help="prepare a corpus and print its token counts and fingerprint")
    i.add_argument("corpus", nargs="?", default="debian-docs",
                   help="debian-docs (default), stdlib, a file, directory or glob, or hf:NAME")
    i.add_argument("--tokenizer", default="bytes", help="bytes (default) or bpe:VOCAB")
    i.add_argument("--val-fraction", type=float, default=0.05)
    i.add_argument("--data-dir", default=None)
    i.set_defaults(func=run_info)


def run(args) -> int:  # pragma: no cover
    return args.func(args)


def run_fetch(args) -> int:
    from ..train.data import fetch_debian_docs
    path = fetch_debian_docs(args.data_dir, force=args.force)
    print(path)
    return 0


def run_info(args) -> int:
    from ..train.data import prepare
    d = prepare(args.corpus, args.tokenizer, val_fraction=args.val_fraction, data_dir=args.data_dir, quiet=False)
    m = d.meta
    print(f"corpus {m['corpus']} ({m['tokenizer']}, vocab {m['vocab']}): {m['documents']} documents, "
          f"{m['bytes'] / 1e6:.1f} MB; train {m['train_tokens']:,} tokens ({m['train_documents']} documents), "
          f"held out {m['val_tokens']:,} tokens ({m['val_documents']} documents); {d.fingerprint}; cache {d.path}")
    return 0
