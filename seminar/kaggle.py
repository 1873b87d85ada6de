"""The "Kaggle" competition of the deep-features chapter (slides 49-51), and its leaderboard.

The task: classify MNIST digits with few labels, using a network pretrained on another task
(Fashion-MNIST clothes, :mod:`seminar.pretrained`)::

    game = competition()            # x_train (1000, 28, 28, 1), y_train (1000,), x_test, test_ids
    ...                             # train anything, predict class probabilities for x_test
    frame.to_csv("submission.csv", index=False)   # columns id, class_0 ... class_9
    score("submission.csv")         # {"log_loss": ..., "accuracy": ..., "rows": ...}

- The labelled training set: ``labels_per_class`` (100 by default) images of each digit, chosen
  with a fixed seed from MNIST's 60000 training images. The sets are nested: the 10 per class of
  ``competition(10)`` are among the 100 per class of ``competition(100)``.
- The test set: MNIST's 10000 test images with ids 1..10000 (image ``i - 1`` has id ``i``), whose
  labels the competition never hands out: :func:`score` loads them itself, like Kaggle's
  leaderboard. ``competition(public_only=True)`` (the fast runs) gives only the "public
  leaderboard" part, ids 1..2000; the scorer recognises which part a submission covers.
- A submission is a CSV file with an ``id`` column and one probability column per class,
  ``class_0`` ... ``class_9``, each row summing to 1 (within 0.001). The scorer clips every
  probability into [1e-15, 1 - 1e-15] and renormalises each row to sum 1, as Kaggle does, then
  computes the multi-class log loss ``-mean(log p[true class])`` and the accuracy of the most
  probable class. ``python -m seminar score FILE.csv`` does the same from the command line.

The checker's measures (:func:`measure_submission_log_loss`, :func:`measure_submission_accuracy`)
score the ``"submission"`` that ``main()`` returns (the CSV's path, or a DataFrame) with this
scorer. Real use (``--images DIR``) reads a folder of images and extracts Inception v3 features:
see :func:`read_image_folder` and :func:`inception_v3_features`.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import pathlib

import numpy as np

NUM_CLASSES = 10
DIGITS = tuple(str(k) for k in range(NUM_CLASSES))
LABELS_PER_CLASS = 100
SPLIT_SEED = 20241151  # which training images are labelled
PUBLIC_IDS = 2000  # the "public leaderboard" part of the test set: ids 1..2000 (fast runs)
CLIP = 1e-15  # probabilities are clipped into [CLIP, 1 - CLIP] (Kaggle's multi-class log loss)
ROW_SUM_TOLERANCE = 1e-3  # each submitted row must sum to 1 within this, before clipping
ID_COLUMN = "id"
COLUMN_PREFIX = "class_"


class SubmissionError(ValueError):
    """A submission file the leaderboard cannot score; the message says what to fix."""


def class_columns(class_names=DIGITS) -> list[str]:
    """The probability columns of a submission: ``class_0`` ... ``class_9`` for the digits."""
    return [f"{COLUMN_PREFIX}{name}" for name in class_names]


# ------------------------------------------------------------------------------ the competition


@dataclasses.dataclass
class Competition:
    x_train: np.ndarray  # (n, 28, 28, 1) float32 in [0, 1]: the labelled images
    y_train: np.ndarray  # (n,) int32 digits 0..9
    x_test: np.ndarray  # (m, 28, 28, 1) float32 in [0, 1]: the images to submit predictions for
    test_ids: np.ndarray  # (m,) int64 ids 1..m, in the order of x_test


def _mnist():
    from datasets import mnist

    return mnist.load()


def training_indices(labels_per_class: int = LABELS_PER_CLASS) -> np.ndarray:
    """Indices into MNIST's training images of the labelled set, ``labels_per_class`` per digit,
    sorted. A fixed permutation of each digit's images is cut at ``labels_per_class``, so smaller
    sets are subsets of larger ones."""
    (_, y_train), _ = _mnist()
    if not 1 <= labels_per_class <= 5000:
        raise ValueError(f"labels_per_class must be between 1 and 5000, got {labels_per_class}")
    rng = np.random.default_rng(SPLIT_SEED)
    chosen = [rng.permutation(np.flatnonzero(y_train == digit))[:labels_per_class]
              for digit in range(NUM_CLASSES)]
    return np.sort(np.concatenate(chosen))


def competition(labels_per_class: int = LABELS_PER_CLASS, public_only: bool = False) -> Competition:
    """The labelled training images and the unlabelled test images with their ids (all 10000, or
    the public part, ids 1..2000, with ``public_only``)."""
    (x_train, y_train), (x_test, _) = _mnist()
    index = training_indices(labels_per_class)
    count = PUBLIC_IDS if public_only else len(x_test)

    def unit(images):
        return (images.astype(np.float32) / 255.0)[..., None]

    return Competition(unit(x_train[index]), y_train[index].astype(np.int32), unit(x_test[:count]),
                       np.arange(1, count + 1, dtype=np.int64))


def _withheld_labels() -> dict:
    """id -> digit for the 10000 test images: only the scorer reads these."""
    _, (_, y_test) = _mnist()
    return dict(zip(range(1, len(y_test) + 1), y_test.astype(np.int64).tolist()))


# ------------------------------------------------------------------------------ reading a submission


LONGEST_LINE = 100_000  # characters: a line holds an id and a few numbers, far fewer


class UnreadableFile(SubmissionError):
    """A submission file that cannot be read at all: missing, a folder, a named pipe, unreadable."""


class LabelsError(SubmissionError):
    """The labels file given to :func:`score` cannot be used (not the submission's fault)."""


def _read_bytes(path: pathlib.Path, give: str, unreadable=UnreadableFile) -> bytes:
    """The bytes of the file ``path``; ``unreadable`` (saying to ``give`` the right file) when it is
    missing, not a regular file (a named pipe would block the reader for ever: it is refused before
    it is opened) or cannot be read."""
    from datasets._download import read_given_file

    return read_given_file(path, give, unreadable)


def _csv_rows(data: bytes, holds: str) -> list[tuple[int, list[str]]]:
    """The rows of a CSV file's bytes with their line numbers, the header first, blank lines left
    out (none at all for an empty file). ValueError, naming the line, for what no CSV writer makes
    of a table: text that is not UTF-8, a line of more than ``LONGEST_LINE`` characters, a quote (")
    that opens a cell and never closes it (the rest of the file would be that cell), a line with
    more or fewer cells than the header. ``holds`` says what a line should hold."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("not a text (UTF-8) CSV file") from None
    lines = io.StringIO(text, newline="").readlines()  # the lines as the csv reader sees them
    advice = f"a line holds {holds}: write the file with DataFrame.to_csv(path, index=False)"
    for number, line in enumerate(lines, start=1):
        if len(line) > LONGEST_LINE:
            raise ValueError(f"line {number} is {len(line.rstrip())} characters long, where {advice}")
    reader = csv.reader(lines, strict=True)
    rows, start = [], 1
    try:
        for row in reader:
            if row and (len(row) > 1 or row[0].strip()):
                rows.append((start, row))
            start = reader.line_num + 1
    except csv.Error as problem:
        reason = str(problem)
        if reason.startswith("',' expected after"):
            raise ValueError(f"cannot be read as CSV: on line {reader.line_num} a quoted cell goes on "
                             f"after its closing quote (\"...\"x): remove the quotes") from None
        if (reason.startswith(("unexpected end of data", "field larger than field limit"))
                and "".join(lines[start - 1:]).count('"') % 2):  # one quote is never closed
            raise ValueError(f"cannot be read as CSV: a quote (\") on line {start} opens a cell "
                             f"that is never closed, so the rest of the file would be that cell: "
                             f"remove the quote") from None
        raise ValueError(f"cannot be read as CSV, line {reader.line_num}: {reason}; {advice}") from None
    if rows:
        width = len(rows[0][1])
        for number, row in rows[1:]:
            if len(row) != width:
                raise ValueError(f"line {number} has {len(row)} cells and the header {width}: every "
                                 f"line holds one cell per column")
    return rows


def _read_frame(submission):
    """A DataFrame of strings from a path or a DataFrame (every cell checked here, not by pandas)."""
    import pandas as pd

    if isinstance(submission, pd.DataFrame):
        frame = submission.copy()
        frame.columns = [str(c) for c in frame.columns]
        return frame.astype(object).where(frame.notna(), "").astype(str)
    data = _read_bytes(pathlib.Path(submission), "the submission's CSV file")
    try:
        rows = _csv_rows(data, "an id and one probability per class")
    except ValueError as problem:
        raise SubmissionError(str(problem)) from None
    if not rows:
        raise SubmissionError("the file is empty; expected a header line 'id,class_0,...,class_9' "
                              "and one line per test image")
    header = rows[0][1]  # as written: pandas would rename a repeated column
    return pd.DataFrame([row for _, row in rows[1:]], columns=header, dtype=object)


def _check_columns(frame, expected_classes) -> list[str]:
    """The probability columns in class order; SubmissionError for missing, unknown or duplicated
    columns."""
    columns = [str(c).strip() for c in frame.columns]
    frame.columns = columns
    example = ",".join([ID_COLUMN] + class_columns(expected_classes or DIGITS)[:3]) + ",..."
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise SubmissionError(f"duplicated column(s) {', '.join(duplicated)}: each column once")
    if ID_COLUMN not in columns:
        raise SubmissionError(f"no {ID_COLUMN!r} column: the header must start like {example} "
                              f"(write the DataFrame with index=False, the ids as a column)")
    if expected_classes is None:  # a folder competition: the classes are the submission's
        probability = [c for c in columns if c != ID_COLUMN]
        bad = [c for c in probability if not c.startswith(COLUMN_PREFIX) or c == COLUMN_PREFIX]
        if bad or not probability:
            raise SubmissionError(f"unexpected column(s) {', '.join(bad) or '(none)'}: expected "
                                  f"{ID_COLUMN!r} and one '{COLUMN_PREFIX}<name>' column per class")
        return probability
    wanted = class_columns(expected_classes)
    missing = [c for c in wanted if c not in columns]
    unknown = [c for c in columns if c not in wanted and c != ID_COLUMN]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing column(s) {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown column(s) {', '.join(unknown)}")
        raise SubmissionError(f"{'; '.join(parts)}: expected exactly the columns "
                              f"{', '.join([ID_COLUMN] + wanted)} (in any order)")
    return wanted


def _row_names(ids, positions) -> str:
    shown = [str(ids[p]) for p in positions[:5]]
    return ", ".join(shown) + (f" and {len(positions) - 5} more" if len(positions) > 5 else "")


def _probabilities(frame, columns, ids) -> np.ndarray:
    """The probability cells as float64 (n, k), refusing non-numbers, NaN, negatives, values above
    1 and rows that do not sum to 1 within the tolerance."""
    cells = frame[columns].to_numpy(dtype=object)
    values = np.empty(cells.shape)
    for j, column in enumerate(columns):
        for i, cell in enumerate(cells[:, j]):
            if not str(cell).strip():
                raise SubmissionError(f"column {column}, id {ids[i]}: the cell is empty (a NaN "
                                      f"written by pandas?); every probability must be a number "
                                      f"in [0, 1]")
            try:
                values[i, j] = float(str(cell).strip())
            except ValueError:
                raise SubmissionError(f"column {column}, id {ids[i]}: {str(cell)!r} is not a number; "
                                      f"every probability must be a number in [0, 1]") from None
    bad = np.flatnonzero(~np.isfinite(values).all(axis=1))
    if bad.size:
        raise SubmissionError(f"NaN or infinite probabilities in the rows of id(s) "
                              f"{_row_names(ids, bad)}")
    bad = np.flatnonzero((values < 0).any(axis=1))
    if bad.size:
        raise SubmissionError(f"negative probabilities in the rows of id(s) {_row_names(ids, bad)}: "
                              f"give probabilities (a softmax), not logits")
    bad = np.flatnonzero((values > 1).any(axis=1))
    if bad.size:
        raise SubmissionError(f"probabilities above 1 in the rows of id(s) "
                              f"{_row_names(ids, bad)}: give probabilities (a softmax), not logits")
    sums = values.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > ROW_SUM_TOLERANCE)
    if bad.size:
        raise SubmissionError(f"the rows of id(s) {_row_names(ids, bad)} sum to "
                              f"{sums[bad[0]]:.6g}{' ...' if bad.size > 1 else ''}, not 1 (within "
                              f"{ROW_SUM_TOLERANCE}): each row holds one probability per class, "
                              f"summing to 1 (a softmax)")
    return values


def read_submission(submission, expected_classes=DIGITS) -> tuple[list, np.ndarray, list[str]]:
    """``(ids, probabilities (n, k), class names)`` of a submission (a CSV path or a DataFrame),
    checked; the ids are ints for the digit competition (``expected_classes`` = the digits), the
    text of the cells otherwise (``expected_classes=None``: classes taken from the header)."""
    frame = _read_frame(submission)
    columns = _check_columns(frame, expected_classes)
    if len(frame) == 0:
        raise SubmissionError("the submission has a header but no rows: one row per test image")
    raw_ids = [cell.strip() for cell in frame[ID_COLUMN].tolist()]
    if expected_classes is not None:
        ids = []
        for cell in raw_ids:
            try:
                number = float(cell)
                if not number.is_integer():
                    raise ValueError
                ids.append(int(number))
            except (ValueError, OverflowError):
                raise SubmissionError(f"id {cell!r} is not a whole number: the ids are the test "
                                      f"images' ids, 1, 2, 3, ...") from None
    else:
        ids = raw_ids
        if any(not cell for cell in ids):
            raise SubmissionError("an empty id: every row needs the id of its test image")
    seen, duplicated = set(), []
    for identifier in ids:
        if identifier in seen and identifier not in duplicated:
            duplicated.append(identifier)
        seen.add(identifier)
    if duplicated:
        raise SubmissionError(f"duplicated id(s) {', '.join(map(str, duplicated[:5]))}"
                              f"{' ...' if len(duplicated) > 5 else ''}: one row per test image")
    probabilities = _probabilities(frame, columns, ids)
    return ids, probabilities, [c[len(COLUMN_PREFIX):] for c in columns]


# ------------------------------------------------------------------------------ scoring


def log_loss_and_accuracy(true_classes: np.ndarray, probabilities: np.ndarray) -> tuple[float, float]:
    """Kaggle's multi-class log loss (clip into [1e-15, 1 - 1e-15], renormalise rows, then
    ``-mean(log p[true])``) and the accuracy of the most probable class (ties: the first)."""
    p = np.clip(np.asarray(probabilities, np.float64), CLIP, 1.0 - CLIP)
    p = p / p.sum(axis=1, keepdims=True)
    true_classes = np.asarray(true_classes, np.int64)
    log_loss = -float(np.mean(np.log(p[np.arange(len(p)), true_classes])))
    accuracy = float(np.mean(np.argmax(p, axis=1) == true_classes))
    return log_loss, accuracy


def _ranges(numbers) -> str:
    numbers = sorted(numbers)
    parts, start = [], 0
    for k in range(1, len(numbers) + 1):
        if k == len(numbers) or numbers[k] != numbers[k - 1] + 1:
            a, b = numbers[start], numbers[k - 1]
            parts.append(str(a) if a == b else f"{a}..{b}")
            start = k
    return ", ".join(parts[:5]) + (" ..." if len(parts) > 5 else "")


def _digit_targets(ids) -> np.ndarray:
    """The withheld digits of the submitted ids, which must be exactly the public part (1..2000)
    or the whole test set (1..10000)."""
    labels = _withheld_labels()
    unknown = [i for i in ids if i not in labels]
    if unknown:
        raise SubmissionError(f"unknown id(s) {_ranges(unknown)}: the test images have ids 1.."
                              f"{len(labels)}")
    submitted = set(ids)
    part = range(1, PUBLIC_IDS + 1) if len(submitted) <= PUBLIC_IDS else range(1, len(labels) + 1)
    missing = [i for i in part if i not in submitted]
    if missing:
        raise SubmissionError(f"missing id(s) {_ranges(missing)}: a submission covers every test "
                              f"image, ids 1..{len(labels)} (or the public part, ids "
                              f"1..{PUBLIC_IDS}, of a fast run)")
    if len(submitted) > PUBLIC_IDS and len(submitted) < len(labels):  # pragma: no cover (above)
        raise SubmissionError("incomplete submission")
    return np.array([labels[i] for i in ids], np.int64)


def _labels_file(path) -> dict:
    """id -> class name from a CSV with columns ``id`` and ``label`` (the folder competition);
    LabelsError, beginning with the file's path, when it cannot be used."""
    path = pathlib.Path(path)
    data = _read_bytes(path, "the id,label CSV file itself", LabelsError)
    try:
        rows = _csv_rows(data, "an id and its label")
    except ValueError as problem:
        raise LabelsError(f"{path}: {problem}") from None
    header = [cell.strip() for cell in rows[0][1]] if rows else []
    if header[:2] != [ID_COLUMN, "label"]:
        raise LabelsError(f"{path}: expected the columns id,label, got {','.join(header) or 'nothing'}")
    return {row[0].strip(): row[1].strip() for _, row in rows[1:]}


def score(submission, labels_path=None) -> dict:
    """Score a submission (a CSV path, or a DataFrame) like the leaderboard:
    ``{"log_loss", "accuracy", "rows"}``. Without ``labels_path``: the digit competition, against
    the withheld MNIST test labels. With it (a CSV ``id,label``): any folder competition, the
    classes taken from the submission's ``class_<name>`` columns. Raises :class:`SubmissionError`
    saying what to fix for a malformed submission."""
    if labels_path is None:
        ids, probabilities, _ = read_submission(submission, DIGITS)
        targets = _digit_targets(ids)
    else:
        labels = _labels_file(labels_path)
        ids, probabilities, names = read_submission(submission, None)
        unknown = [i for i in ids if i not in labels]
        if unknown:
            raise SubmissionError(f"unknown id(s) {', '.join(unknown[:5])}: not in {labels_path}")
        missing = [i for i in labels if i not in set(ids)]
        if missing:
            raise SubmissionError(f"missing id(s) {', '.join(missing[:5])}"
                                  f"{' ...' if len(missing) > 5 else ''}: every id of "
                                  f"{labels_path} needs a row")
        strange = sorted({labels[i] for i in ids} - set(names))
        if strange:
            raise SubmissionError(f"no column for class(es) {', '.join(strange)}: add "
                                  f"{', '.join(COLUMN_PREFIX + s for s in strange)}")
        targets = np.array([names.index(labels[i]) for i in ids], np.int64)
    log_loss, accuracy = log_loss_and_accuracy(targets, probabilities)
    return {"log_loss": log_loss, "accuracy": accuracy, "rows": len(ids)}


# ------------------------------------------------------------------------------ reporting


def report(say, rows: list[dict]) -> None:
    """An aligned table of ``{"method", "log_loss", "accuracy", ...}`` rows."""
    width = max(len(row["method"]) for row in rows)
    say(f"  {'method':<{width}}  {'log loss':>8}  {'accuracy':>8}")
    for row in rows:
        say(f"  {row['method']:<{width}}  {row['log_loss']:8.4f}  {row['accuracy']:8.4f}")


def verdict(raw: dict, features: dict, tuned: dict, scratch: dict) -> str:
    """A few lines reading the leaderboard rows (raw pixels, deep features, the fine-tuned network
    and the same network from scratch, each ``{"method", "log_loss", "accuracy"}``): what the
    features learnt on clothes bought, and whether a network trained from scratch did better."""

    def compare(a: dict, b: dict) -> str:
        return (f"{a['accuracy']:.1%} against {b['accuracy']:.1%} accuracy, log loss "
                f"{a['log_loss']:.3f} against {b['log_loss']:.3f}")

    lines = ["", f"Deep features against raw pixels (softmax regression on both): "
                 f"{compare(features, raw)}."]
    lines.append(f"Fine-tuning against the frozen features: {compare(tuned, features)}.")
    if scratch["accuracy"] > tuned["accuracy"]:
        lines.append(f"The same network from scratch, as many gradient steps: {compare(scratch, tuned)}"
                     f" for the fine-tuned one. With these labels and this budget a small "
                     f"network learns digits on its own: the features learnt on clothes beat raw "
                     f"pixels, not a network trained for the task. Transfer pays most when the "
                     f"old task is close to the new one, or training a network is out of reach.")
    else:
        lines.append(f"The same network from scratch, as many gradient steps: {compare(scratch, tuned)}"
                     f" for the fine-tuned one: the pretrained start is worth having here.")
    return "\n".join(lines)


def write_table(rows: list[dict], path: pathlib.Path) -> pathlib.Path:
    """Write the comparison rows as CSV (one line per method)."""
    import pandas as pd

    pd.DataFrame(rows).to_csv(path, index=False, float_format="%.6g")
    return path


def pca_2d(vectors: np.ndarray) -> np.ndarray:
    """The projection of rows (n, d) on their first two principal axes (n, 2), by SVD."""
    centred = np.asarray(vectors, np.float64)
    centred = centred - centred.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T


def tsne_2d(vectors, perplexity=30.0, iterations=400, seed=0):
    """A t-SNE map (van der Maaten and Hinton, 2008) of a few hundred rows (n, d) -> (n, 2): exact
    affinities with a per-point bandwidth for the given perplexity, then gradient descent with
    early exaggeration, momentum and adaptive gains. O(n^2) a step: 4 s for 500 rows on 2 cores."""
    x = np.asarray(vectors, np.float64)
    x = x - x.mean(axis=0)
    x /= np.sqrt((x ** 2).sum(axis=1).mean()) + 1e-12  # distances of order 1, whatever the units
    n = len(x)
    squared = np.maximum((x ** 2).sum(1)[:, None] - 2 * x @ x.T + (x ** 2).sum(1)[None, :], 0.0)
    target = np.log(perplexity)
    p = np.zeros((n, n))
    for i in range(n):  # a binary search per point for the precision that gives the perplexity
        low, high, beta = 0.0, np.inf, 1.0
        d = np.delete(squared[i], i)
        for _ in range(50):
            w = np.exp(-(d - d.min()) * beta)
            total = w.sum()
            entropy = np.log(total) + beta * np.sum((d - d.min()) * w) / total
            if abs(entropy - target) < 1e-5:
                break
            if entropy > target:
                low, beta = beta, beta * 2 if high == np.inf else (beta + high) / 2
            else:
                high, beta = beta, (beta + low) / 2
        p[i, np.arange(n) != i] = w / total
    p = (p + p.T) / (2 * n)
    p = np.maximum(p, 1e-12)
    rng = np.random.default_rng(seed)
    y = rng.normal(scale=1e-4, size=(n, 2))
    velocity = np.zeros_like(y)
    gains = np.ones_like(y)
    for step in range(iterations):
        exaggeration = 12.0 if step < 100 else 1.0
        momentum = 0.5 if step < 100 else 0.8
        diff = y[:, None, :] - y[None, :, :]
        q_num = 1.0 / (1.0 + (diff ** 2).sum(-1))
        np.fill_diagonal(q_num, 0.0)
        q = np.maximum(q_num / q_num.sum(), 1e-12)
        weights = (exaggeration * p - q) * q_num
        gradient = 4.0 * (weights[:, :, None] * diff).sum(1)
        gains = np.where(np.sign(gradient) != np.sign(velocity), gains + 0.2, gains * 0.8).clip(0.01)
        velocity = momentum * velocity - 200.0 * gains * gradient
        y = y + velocity
        y -= y.mean(0)
    return y


TSNE_PER_CLASS = 50  # points per digit in the t-SNE maps (500 in all)


# ------------------------------------------------------------------------------ real use: a folder

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def _images_in(folder: pathlib.Path) -> list[pathlib.Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def read_image_folder(root, size: int):
    """A folder competition: ``root/<class name>/*.png`` (the labelled training images, one
    sub-folder per class) and ``root/test/*.png`` (the test images, their file names as ids).
    Returns ``(x_train (n, size, size, 3) float32 in [0, 255], y_train (n,), class names,
    x_test (m, size, size, 3), test ids)``."""
    import keras

    root = pathlib.Path(root)
    if not (root / "test").is_dir():
        raise ValueError(f"{root}: expected a sub-folder test/ with the test images, and one "
                         f"sub-folder of training images per class")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name != "test")
    if len(classes) < 2:
        raise ValueError(f"{root}: expected at least two class sub-folders beside test/, found "
                         f"{classes}")

    def load(paths):
        return np.stack([keras.utils.img_to_array(keras.utils.load_img(
            p, color_mode="rgb", target_size=(size, size))) for p in paths]).astype(np.float32)

    train_paths, labels = [], []
    for k, name in enumerate(classes):
        found = _images_in(root / name)
        if not found:
            raise ValueError(f"{root / name}: no images ({', '.join(IMAGE_SUFFIXES)})")
        train_paths += found
        labels += [k] * len(found)
    test_paths = _images_in(root / "test")
    if not test_paths:
        raise ValueError(f"{root / 'test'}: no images")
    return (load(train_paths), np.array(labels, np.int32), classes, load(test_paths),
            np.array([p.name for p in test_paths]))


def inception_v3_features(images: np.ndarray, weights: str | None = "imagenet",
                          batch_size: int = 32) -> np.ndarray:
    """ImageNet Inception v3's 2048 average-pooled features of RGB images (n, s, s, 3) in
    [0, 255], s >= 75 (299 is the network's own size). ``weights=None`` gives random weights:
    for testing the path offline only, the features then mean nothing."""
    import keras

    size = images.shape[1]
    try:
        network = keras.applications.InceptionV3(weights=weights, include_top=False, pooling="avg",
                                                 input_shape=(size, size, 3))
    except Exception as error:  # noqa: BLE001  (no internet to download the weights, most likely)
        raise RuntimeError(f"cannot build Inception v3 with weights={weights!r} ({error}); the "
                           f"ImageNet weights are downloaded on first use (about 90 MB) and need "
                           f"internet access. For an offline test of the path use --weights none "
                           f"(random weights: meaningless features)") from None
    prepared = keras.applications.inception_v3.preprocess_input(images.copy())
    return np.asarray(network.predict(prepared, batch_size=batch_size, verbose=0), np.float32)


# ------------------------------------------------------------------------------ the command


def score_command(path, labels=None, out=print, err=None) -> int:
    """``python -m seminar score FILE.csv [--labels LABELS.csv]``: 0 scored, 1 the submission is
    malformed (the message says what to fix), 2 a file cannot be read at all, the labels file is
    not usable, or the MNIST test labels cannot be had (with what to do about it)."""
    import sys

    from datasets import DatasetUnavailable

    err = err or (lambda message: print(message, file=sys.stderr))
    path = pathlib.Path(path)
    try:
        result = score(path, labels)
    except LabelsError as error:
        err(f"error: --labels {error}")
        return 2
    except UnreadableFile as error:
        err(f"error: {error}")
        return 2
    except SubmissionError as error:
        err(f"rejected: {path}: {error}")
        return 1
    except DatasetUnavailable as error:
        err(f"error: cannot score {path} without the MNIST test labels. {error}")
        return 2
    out(f"{path}: {result['rows']} rows  log loss {result['log_loss']:.5f}  "
        f"accuracy {result['accuracy']:.4f}")
    return 0


__all__ = ["Competition", "SubmissionError", "UnreadableFile", "LabelsError", "competition", "score",
           "read_submission", "log_loss_and_accuracy"]
