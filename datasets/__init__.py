"""The seminar's data: MNIST (downloaded once, verified, cached) and the small SGD datasets.

    from datasets import mnist, toy
    (x_train, y_train), (x_test, y_test) = mnist.load()

Environment variables: ``SEMINAR_DATA_DIR`` names a folder of ready files (a USB key);
``SEMINAR_CACHE_DIR`` moves the cache (default ``~/.cache/tf-seminar``).
"""

from datasets._download import (DatasetUnavailable, FolderNotWritable, HashMismatch, cache_dir,
                                data_dir)

__all__ = ["DatasetUnavailable", "FolderNotWritable", "HashMismatch", "cache_dir", "data_dir"]
