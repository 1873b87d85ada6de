"""The deep-features competition: its leaderboard (seminar.kaggle, and the run's submissions in
seminar.transfer), the ``score`` command, the pretrained network's cache (seminar.pretrained) and
the ``--images DIR`` path of the exercise.

The scorer is checked against log losses computed by hand; every malformed submission must be
refused with a message saying what to fix. The cache test retrains a tiny recipe (seconds) in a
temporary cache; the real pretrained network is never retrained here (it is only loaded, by the
skeleton test, from the cache). The ``--images`` test builds Inception v3 with random weights
(weights=None, no download) on a dozen generated 75x75 images.
"""

import importlib.util
import json
import math
import pathlib

import numpy as np
import pandas as pd
import pytest

from datasets import _download, mnist
from helpers import measure
from seminar import kaggle, pretrained
from seminar.grader.grading import EvidenceError
from seminar.tools import cli

REPO = pathlib.Path(__file__).resolve().parents[1]
SOLUTION = REPO / "solutions" / "deep_features" / "classif_deep_features.py"
SKELETON = REPO / "deep_features" / "classif_deep_features_exo.py"


def load_module(path):
    spec = importlib.util.spec_from_file_location(f"module_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def test_labels():
    _, (_, y_test) = mnist.load()
    return y_test


def frame_for(labels, confidence=0.91):
    """A valid submission: ``confidence`` on the given class, the rest spread evenly."""
    labels = np.asarray(labels)
    p = np.full((len(labels), 10), (1 - confidence) / 9)
    p[np.arange(len(labels)), labels] = confidence
    frame = pd.DataFrame(p, columns=kaggle.class_columns())
    frame.insert(0, "id", np.arange(1, len(labels) + 1))
    return frame


# ------------------------------------------------------------------------------ the scorer


def test_log_loss_by_hand(tmp_path):
    """Three rows, three classes, scored through the folder-competition path (a labels file)."""
    (tmp_path / "labels.csv").write_text("id,label\nx,a\ny,c\nz,a\n")
    (tmp_path / "sub.csv").write_text("id,class_a,class_b,class_c\n"
                                      "x,0.7,0.2,0.1\n"  # right: -ln 0.7
                                      "y,0.1,0.6,0.3\n"  # wrong (b): -ln 0.3
                                      "z,0,1,0\n")  # wrong and sure: p = 1e-15 after clipping
    result = kaggle.score(tmp_path / "sub.csv", tmp_path / "labels.csv")
    clipped = 1e-15 / (1e-15 + (1 - 1e-15) + 1e-15)  # clipped, then the row renormalised
    expected = (-math.log(0.7) - math.log(0.3) - math.log(clipped)) / 3
    assert result["log_loss"] == pytest.approx(expected, rel=1e-9)
    assert result["log_loss"] == pytest.approx((0.356675 + 1.203973 + 34.538776) / 3, rel=1e-6)
    assert result["accuracy"] == pytest.approx(1 / 3) and result["rows"] == 3


def test_clipping_of_zero_and_one():
    loss, accuracy = kaggle.log_loss_and_accuracy([0, 1], [[1.0, 0.0], [0.0, 1.0]])
    assert 0 < loss < 1e-14 and accuracy == 1.0  # 1 is clipped to 1 - 1e-15: a tiny loss
    loss, _ = kaggle.log_loss_and_accuracy([1], [[1.0, 0.0]])
    assert loss == pytest.approx(-math.log(1e-15), rel=1e-6)  # 34.54, not infinity


@pytest.mark.slow
@pytest.mark.parametrize("count", [kaggle.PUBLIC_IDS, 10000])
def test_digit_leaderboard(test_labels, tmp_path, count):
    frame = frame_for(test_labels[:count])
    frame.to_csv(tmp_path / "sub.csv", index=False)
    for submission in (tmp_path / "sub.csv", frame):
        result = kaggle.score(submission)
        assert result == {"log_loss": pytest.approx(-math.log(0.91)), "accuracy": 1.0,
                          "rows": count}
    shuffled = frame.sample(frac=1.0, random_state=0)[["class_3", "id"] + kaggle.class_columns()[4:]
                                                      + kaggle.class_columns()[:3]]
    assert kaggle.score(shuffled)["log_loss"] == pytest.approx(-math.log(0.91))  # any order
    wrong = frame_for((test_labels[:count] + 1) % 10)
    assert kaggle.score(wrong)["accuracy"] == 0.0


def write_variant(tmp_path, frame, name="bad.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def malformed(test_labels):
    good = frame_for(test_labels[:kaggle.PUBLIC_IDS])
    text = good.to_csv(index=False)
    cases = {
        "missing column": (good.drop(columns="class_3"), r"missing column\(s\) class_3"),
        "unknown column": (good.assign(extra=0), r"unknown column\(s\) extra"),
        "no id column": (good.drop(columns="id"), r"no 'id' column"),
        "duplicated id": (good.assign(id=[1] + list(range(1, kaggle.PUBLIC_IDS))),
                          r"duplicated id\(s\) 1"),
        "unknown id": (good.assign(id=np.arange(2, kaggle.PUBLIC_IDS + 2)),
                       r"unknown id\(s\) 10001|missing id\(s\) 1"),
        "id beyond the test set": (pd.concat([good, good.iloc[:1].assign(id=10001)]),
                                   r"unknown id\(s\) 10001"),
        "missing ids": (good.iloc[:-10], r"missing id\(s\) 1991..2000"),
        "id not a number": (good.assign(id=["a"] + list(range(2, kaggle.PUBLIC_IDS + 1))),
                            r"id 'a' is not a whole number"),
        "not a number": (good.assign(class_0=["x"] + list(good.class_0[1:])),
                         r"column class_0, id 1: 'x' is not a number"),
        "negative": (good.assign(class_0=-good.class_0), r"negative probabilities.*not logits"),
        "logits": (good.assign(class_1=good.class_1 + 2), r"above 1.*not logits"),
        "rows not summing to 1": (good.assign(class_0=good.class_0 / 2),
                                  r"sum to .*, not 1 \(within 0.001\)"),
        "NaN": (good.assign(class_2=[np.nan] + list(good.class_2[1:])),
                r"column class_2, id 1: the cell is empty \(a NaN"),
        "NaN as text": (good.assign(class_2=["nan"] + list(good.class_2[1:])), r"NaN or infinite"),
        "header only": (good.iloc[:0], r"no rows"),
        "duplicated column": (text.replace("class_9", "class_8", 1), r"duplicated column\(s\) class_8"),
        "empty file": ("", r"is empty"),
        "not CSV": ('id,"class_0\n1,2\n', r"cannot be read as CSV|no 'id'|missing column"),
    }
    return cases


CASES = list(malformed(np.zeros(kaggle.PUBLIC_IDS, int)))


@pytest.mark.parametrize("case", CASES)
def test_malformed_submissions_are_refused_clearly(test_labels, tmp_path, case):
    content, message = malformed(test_labels)[case]
    path = tmp_path / "bad.csv"
    if isinstance(content, str):
        path.write_text(content)
    else:
        content.to_csv(path, index=False)
    with pytest.raises(kaggle.SubmissionError, match=message):
        kaggle.score(path)


def test_score_command_exit_statuses(test_labels, tmp_path, capsys):
    good = write_variant(tmp_path, frame_for(test_labels[:kaggle.PUBLIC_IDS]), "good.csv")
    assert cli.main(["score", str(good)]) == 0
    out = capsys.readouterr().out
    assert "2000 rows" in out and "log loss 0.09431" in out and "accuracy 1.0000" in out
    bad = write_variant(tmp_path, frame_for(test_labels[:kaggle.PUBLIC_IDS]).drop(columns="class_0"))
    assert cli.main(["score", str(bad)]) == 1
    assert "rejected" in capsys.readouterr().err
    assert cli.main(["score", str(tmp_path / "missing.csv")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert cli.main(["score", str(tmp_path)]) == 2


def test_measures_score_the_evidence(test_labels, tmp_path):
    frame = frame_for(test_labels[:kaggle.PUBLIC_IDS])
    path = write_variant(tmp_path, frame, "sub.csv")
    exercise_id = "deep_features/classif_deep_features"
    for evidence in (str(path), path, frame):
        assert measure(exercise_id, "submission_log_loss", submission=evidence) == pytest.approx(
            -math.log(0.91))
        assert measure(exercise_id, "submission_accuracy", submission=evidence) == 1.0
    with pytest.raises(EvidenceError, match="must return 'submission'"):
        measure(exercise_id, "submission_accuracy")
    with pytest.raises(EvidenceError, match="path of the CSV file or a pandas DataFrame"):
        measure(exercise_id, "submission_accuracy", submission=np.zeros((2000, 10)))
    with pytest.raises(EvidenceError, match="cannot be scored: missing id"):
        measure(exercise_id, "submission_log_loss", submission=frame.iloc[:5])


def test_leaderboard_writes_each_submission_and_scores_it(test_labels, tmp_path):
    """transfer.Leaderboard: the lesson's submission_frame makes each CSV, the scorer scores it."""
    from seminar import runtime, transfer

    class Sure:  # a "model" whose logits, for inputs that are the digits themselves, name them
        def predict(self, digits, batch_size, verbose):
            return 30.0 * np.eye(10, dtype=np.float32)[digits]

    def submission_frame(ids, probabilities, class_names):
        frame = pd.DataFrame(probabilities, columns=[f"class_{name}" for name in class_names])
        frame.insert(0, "id", ids)
        return frame

    run = runtime.RunContext(tmp_path, quiet=True)
    ids = np.arange(1, kaggle.PUBLIC_IDS + 1)
    board = transfer.Leaderboard(run, ids, submission_frame)
    path = board.submit("deep features: MLP", Sure(), test_labels[:kaggle.PUBLIC_IDS])
    assert path == tmp_path / "submissions" / "deep_features_mlp.csv"
    assert board.scored("deep features: MLP")["accuracy"] == 1.0
    board.submit("always zero", Sure(), np.zeros(kaggle.PUBLIC_IDS, np.int64))
    assert board.rows[-1]["accuracy"] == pytest.approx(np.mean(test_labels[:kaggle.PUBLIC_IDS] == 0))
    not_a_frame = transfer.Leaderboard(run, ids, lambda ids, p, names: p)
    with pytest.raises(ValueError, match="must return a pandas DataFrame"):
        not_a_frame.submit("bad", Sure(), test_labels[:kaggle.PUBLIC_IDS])


def test_competition_split_is_fixed_and_nested():
    big, small = kaggle.competition(100, public_only=True), kaggle.competition(10)
    assert big.x_train.shape == (1000, 28, 28, 1) and np.bincount(big.y_train).tolist() == [100] * 10
    assert big.x_test.shape == (2000, 28, 28, 1) and big.test_ids.tolist() == list(range(1, 2001))
    assert small.x_test.shape == (10000, 28, 28, 1) and len(small.y_train) == 100
    assert set(kaggle.training_indices(10)) <= set(kaggle.training_indices(100))
    assert not hasattr(big, "y_test")  # the labels are withheld


# ------------------------------------------------------------------------------ the cache


@pytest.fixture
def tiny_recipe(monkeypatch, tmp_path):
    """A recipe of seconds in an empty temporary cache."""
    monkeypatch.setattr(pretrained, "MODULES", ((4, (4, 4), (2, 2), 4),))
    monkeypatch.setattr(pretrained, "STEM_FILTERS", 4)
    monkeypatch.setattr(pretrained, "EPOCHS", 1)
    monkeypatch.setattr(pretrained, "TRAIN_SIZE", 512)
    monkeypatch.setattr(pretrained, "MIN_TEST_ACCURACY", 0.0)
    monkeypatch.setattr(pretrained, "_LOADED", {})
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv(_download.CACHE_VARIABLE, str(cache))
    return cache


@pytest.mark.slow
def test_pretrained_cache_is_verified_and_retrained(tiny_recipe, monkeypatch, capfd):
    cache = tiny_recipe
    first = pretrained.load_pretrained()
    assert "training the pretrained" in capfd.readouterr().err
    record = json.loads((cache / pretrained.SIDECAR_NAME).read_text())
    assert record["file"] == first.path.name and record["sha256"] == _download.sha256_of(first.path)
    assert record["recipe_version"] == pretrained.RECIPE_VERSION
    # one module on the 14x14 map: average pooling 3x3, stride 2 -> a 6x6 grid of 14 channels
    assert tuple(first.model.get_layer("features_grid").output.shape) == (None, 6, 6, 4 + 4 + 2 + 4)
    assert tuple(first.model.get_layer("features").output.shape) == (None, 6 * 6 * 14)

    monkeypatch.setattr(pretrained, "_LOADED", {})  # a new process: verified, not retrained
    again = pretrained.load_pretrained()
    assert again.path == first.path and "training" not in capfd.readouterr().err
    assert again.test_accuracy == pytest.approx(first.test_accuracy)

    with open(first.path, "r+b") as handle:  # a corrupt file: same size, wrong content
        handle.seek(first.path.stat().st_size // 2)
        handle.write(b"\x00" * 64)
    monkeypatch.setattr(pretrained, "_LOADED", {})
    fresh = pretrained.load_pretrained()
    err = capfd.readouterr().err
    assert "training the pretrained" in err and "wrong sha256" in err
    for a, b in zip(fresh.model.get_weights(), first.model.get_weights()):
        np.testing.assert_array_equal(a, b)  # the recipe is deterministic

    for damage, why in (("{not json", "unreadable"),
                        (json.dumps({**record, "recipe_version": 0}), "recipe version 0")):
        (cache / pretrained.SIDECAR_NAME).write_text(damage)
        loaded, reason, _ = pretrained._read_cached(cache)
        assert loaded is None and why in reason
    monkeypatch.setattr(pretrained, "_LOADED", {})
    pretrained.load_pretrained()  # the damaged record is replaced
    record = json.loads((cache / pretrained.SIDECAR_NAME).read_text())
    assert record["recipe_version"] == pretrained.RECIPE_VERSION
    copy = pretrained.fresh_copy()
    assert copy is not pretrained.load_pretrained().model


# ------------------------------------------------------------------------------ the exercise


@pytest.mark.slow
def test_images_folder_end_to_end(tmp_path):
    """--images DIR with Inception v3's architecture and random weights (no download)."""
    from PIL import Image

    root = tmp_path / "images"
    rng = np.random.default_rng(0)
    labels = ["id,label"]
    for name, colour in (("red", 0), ("blue", 2)):
        (root / name).mkdir(parents=True)
        for k in range(3):
            pixels = rng.integers(0, 60, (20, 20, 3), dtype=np.uint8)
            pixels[..., colour] = 230
            Image.fromarray(pixels).save(root / name / f"{k}.png")
    (root / "test").mkdir()
    for k, (name, colour) in enumerate((("red", 0), ("blue", 2), ("red", 0), ("blue", 2))):
        pixels = rng.integers(0, 60, (20, 20, 3), dtype=np.uint8)
        pixels[..., colour] = 230
        Image.fromarray(pixels).save(root / "test" / f"t{k}.png")
        labels.append(f"t{k}.png,{name}")
    (tmp_path / "labels.csv").write_text("\n".join(labels) + "\n")
    module = load_module(SOLUTION)
    metrics = module.main(["--images", str(root), "--weights", "none", "--image-size", "75",
                           "--labels", str(tmp_path / "labels.csv"), "--seed", "0",
                           "--output-dir", str(tmp_path / "out"), "--quiet"])
    frame = pd.read_csv(metrics["submission"])
    assert list(frame.columns) == ["id", "class_blue", "class_red"]
    assert sorted(frame["id"]) == ["t0.png", "t1.png", "t2.png", "t3.png"]
    np.testing.assert_allclose(frame[["class_blue", "class_red"]].sum(axis=1), 1.0, atol=1e-5)
    assert 0.0 <= metrics["submission_accuracy"] <= 1.0 and metrics["submission_log_loss"] > 0


def test_skeleton_stops_at_its_first_todo(tmp_path):
    module = load_module(SKELETON)
    with pytest.raises(NotImplementedError, match="TODO in softmax_regression"):
        module.main(["--fast", "--quiet", "--output-dir", str(tmp_path)])


def test_recipe_keeps_a_coarse_grid():
    """The real recipe's features: the last module's 7x7 map pooled to 3x3, flattened row by row,
    so that reshaping the vector to FEATURE_SHAPE gives the grid back (slide 51)."""
    model = pretrained.build_model()
    grid = model.get_layer("features_grid").output
    assert tuple(grid.shape) == (None, *pretrained.FEATURE_SHAPE) == (None, 3, 3, 128)
    assert tuple(model.get_layer("features").output.shape) == (None, pretrained.FEATURES)
    assert pretrained.FEATURES == int(np.prod(pretrained.FEATURE_SHAPE)) == 1152
    import keras

    images = np.random.default_rng(0).random((2, 28, 28, 1), dtype=np.float32)
    both = keras.Model(model.inputs, [grid, model.get_layer("features").output])
    grids, vectors = (np.asarray(a) for a in both(images, training=False))
    np.testing.assert_array_equal(vectors.reshape(grids.shape), grids)
    momentum = pretrained.build_model(batch_norm_momentum=0.9).get_layer("stem_bn").momentum
    assert momentum == pytest.approx(0.9)


def test_verdict_reads_the_rows():
    def row(accuracy, loss):
        return {"method": "m", "accuracy": accuracy, "log_loss": loss}
    text = kaggle.verdict(row(0.85, 0.5), row(0.94, 0.2), row(0.95, 0.19), row(0.96, 0.15))
    assert "94.0% against 85.0%" in text and "learns digits on its own" in text
    text = kaggle.verdict(row(0.75, 0.8), row(0.85, 0.5), row(0.87, 0.5), row(0.70, 1.0))
    assert "worth having" in text
