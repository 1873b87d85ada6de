"""``python -m datasets``: prefetch data, e.g. to prepare a USB key for a room without network.

    python -m datasets fetch mnist             # into the cache
    python -m datasets fetch mnist --to DIR    # also copy the verified file into DIR
    python -m datasets fetch all --to DIR      # every dataset the seminar downloads (a USB key)
    python -m datasets where                   # print the cache and data folders
    python -m datasets corpus --to DIR         # write word2vec's generated corpus and questions

Every source gives up after 10 s without an answer, so a network that stalls gives the error in
seconds. The models trained from the data (the digit judge, the pretrained network) are made ready
with ``python -m seminar prepare``, which fetches the data too.

Exit status: 0 done; 1 no verified copy could be had (the message says what was tried); 2 a folder
the data should go into (``--to DIR``, the cache) cannot be created or written.
"""

import argparse
import pathlib
import sys

from datasets import _download, fashion_mnist, mnist, word_corpus

DATASETS = {"mnist": mnist.fetch, "fashion-mnist": fashion_mnist.fetch}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m datasets", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser("fetch", help="download and verify a dataset")
    fetch.add_argument("name", choices=[*sorted(DATASETS), "all"])
    fetch.add_argument("--to", type=pathlib.Path, default=None,
                       help=f"also copy the verified files into this folder (then set {_download.DATA_VARIABLE} to it)")
    commands.add_parser("where", help="print the cache and data folders")
    corpus = commands.add_parser("corpus", help="write the generated word2vec corpus and its analogy questions")
    corpus.add_argument("--to", type=pathlib.Path, required=True, help="the folder to write them into")
    corpus.add_argument("--seed", type=int, default=0, help="the corpus's seed (the questions do not depend on it)")
    args = parser.parse_args(argv)
    if args.command == "corpus":
        if args.seed < 0:
            parser.error(f"--seed must be 0 or more, got {args.seed}")
        generated = word_corpus.generate(args.seed)
        try:
            paths = word_corpus.write(generated, args.to)
        except OSError as error:
            print(f"{parser.prog}: error: cannot write into {args.to}: {error.strerror or error}",
                  file=sys.stderr)
            return 2
        print(f"{len(generated.sentences)} sentences, {generated.tokens} words, seed {args.seed}:")
        for path in paths:
            print(f"  {path}")
        return 0
    if args.command == "where":
        print(f"cache: {_download.cache_dir()}  (${_download.CACHE_VARIABLE})")
        print(f"data:  {_download.data_dir() or '(not set)'}  (${_download.DATA_VARIABLE})")
        return 0
    names = sorted(DATASETS) if args.name == "all" else [args.name]
    for name in names:
        try:
            path = DATASETS[name](args.to)
        except _download.FolderNotWritable as error:
            print(f"{parser.prog}: error: {error}", file=sys.stderr)
            return 2
        except _download.DatasetUnavailable as error:
            print(error, file=sys.stderr)
            return 1
        except OSError as error:  # anything unforeseen still gets one line, not a traceback
            print(f"{parser.prog}: error: {error}", file=sys.stderr)
            return 1
        print(f"{name}: verified copy at {path}")
    if args.to is not None:
        print(f"use it with: export {_download.DATA_VARIABLE}={args.to.resolve()}")
    return 0

if __name__ == "__main__":
    sys.exit(main())
