"""The seminar's data: MNIST and Fashion-MNIST (downloaded once, verified, cached), the small SGD
datasets, and the generated word2vec corpus.

    from datasets import fashion_mnist, mnist, toy, word_corpus
    (x_train, y_train), (x_test, y_test) = mnist.load()

Environment variables: ``SEMINAR_DATA_DIR`` names a folder of ready files (a USB key);
``SEMINAR_CACHE_DIR`` moves the cache (default ``~/.cache/tf-seminar``).

``regular_file(path, what)`` and ``open_regular(path, what)`` refuse, with
:class:`NotARegularFile`, a named pipe or anything else that is not a regular file, without
blocking on it: for any file the seminar reads that a user may have put in place.
"""

from datasets._download import (DatasetUnavailable, FolderNotWritable, HashMismatch,
                                NotARegularFile, cache_dir, data_dir, open_regular, regular_file)

__all__ = ["DatasetUnavailable", "FolderNotWritable", "HashMismatch", "NotARegularFile",
           "cache_dir", "data_dir", "open_regular", "regular_file"]
