"""The digit judge (``seminar.judge``) that scores the GMMN's and the GAN's samples.

Measured on 2000 samples drawn with the checker's seeds 5000000, 5000001, 5000002 (judge recipe
version 1, test accuracy 0.9882):

    generator                        FID             IS              classes
    real training digits             0.87 - 1.19     9.50 - 9.57     10
    real test digits                 0.38 - 0.53     9.56 - 9.58     10
    real digits + N(0, 0.1) noise    5.9 - 7.2       9.32 - 9.40     10
    blurred digits, sigma 1.0        71 - 75         8.10 - 8.16     10
    blurred test digits, sigma 1.5   160 - 163       5.25 - 5.29     10   (the baseline)
    only real "1"s (mode collapse)   240.8 - 241.7   1.040 - 1.045   1
    uniform noise                    290.9 - 291.1   1.056 - 1.057   1
    the mean image, repeated         339.97          1.000           0
    one real digit, repeated         410.36          1.000           1

The assertions below use these numbers with wide margins. One judge is loaded for the module; the
corrupt-cache test retrains once, in a temporary cache.
"""

import json
import shutil

import numpy as np
import pytest
import tensorflow as tf

from datasets import _download
from helpers import context_for
from seminar import judge, manifest
from seminar.grader import measures
from seminar.grader.grading import EvidenceError

SAMPLE_SEEDS = [0, 1, 2]  # run seeds: the checker draws from seed + 5_000_000


@pytest.fixture(scope="module")
def the_judge():
    return judge.load_judge()


@pytest.fixture(scope="module")
def train_digits():
    (x_train, y_train), _ = judge._mnist()
    return x_train.astype(np.float32) / 255.0, y_train


def real_generator(train_digits):
    images, _ = train_digits
    return lambda n, seed: images[np.random.default_rng(seed).choice(len(images), n, replace=False)]


def broken_generators(train_digits):
    """Generators a wrong GMMN or GAN could amount to, as ``generate(n, seed)`` functions."""
    images, labels = train_digits
    ones = images[labels == 1]
    mean = images.mean(axis=0)
    return {
        "mean image": lambda n, seed: np.repeat(mean[None], n, axis=0),
        "uniform noise": lambda n, seed: np.random.default_rng(seed).uniform(size=(n, 784)),
        "one digit repeated": lambda n, seed: np.repeat(images[:1, :, :, None], n, axis=0),
        "only ones": lambda n, seed: ones[np.random.default_rng(seed).choice(len(ones), n,
                                                                               replace=False)],
    }


BROKEN = ["mean image", "uniform noise", "one digit repeated", "only ones"]


def generated(generate, seed=0):
    """The checker's context once a GMMN's or GAN's main() has returned ``generate``."""
    evidence = {} if generate is None else {"generate": generate}
    return context_for("autoencoders/gmmn", seed=seed, **evidence)


def measured(generate, seed=0):
    context = generated(generate, seed)
    return {"fid": measures.generated_fid(context),
            "inception_score": measures.generated_inception_score(context),
            "classes": measures.generated_classes(context)}


# ------------------------------------------------------------------------------ the judge


def test_judge_is_accurate_and_verified(the_judge):
    assert the_judge.test_accuracy >= judge.MIN_TEST_ACCURACY
    record = json.loads((the_judge.path.parent / judge.SIDECAR_NAME).read_text())
    assert record["file"] == the_judge.path.name
    assert record["recipe_version"] == judge.RECIPE_VERSION
    assert record["sha256"] == _download.sha256_of(the_judge.path)
    assert record["test_accuracy"] == pytest.approx(the_judge.test_accuracy, abs=1e-6)
    assert the_judge.reference_mean.shape == (judge.FEATURES,)
    assert the_judge.reference_cov.shape == (judge.FEATURES, judge.FEATURES)
    assert judge.load_judge() is the_judge  # loaded once per process


@pytest.mark.slow
def test_real_digits_score_like_real_digits(the_judge, train_digits):
    for seed in SAMPLE_SEEDS:
        figures = measured(real_generator(train_digits), seed)
        assert figures["fid"] < 3.0  # measured 0.87 - 1.19
        assert figures["inception_score"] > 9.0  # measured 9.50 - 9.57
        assert figures["classes"] == 10


@pytest.mark.parametrize("name", BROKEN)
def test_broken_generators_score_far_worse(the_judge, train_digits, name):
    figures = measured(broken_generators(train_digits)[name])
    assert figures["fid"] > 150.0, figures  # measured >= 240.8; real digits ~1, blurred ~162
    assert figures["classes"] <= 2, figures  # measured 0 or 1
    assert figures["inception_score"] < 1.5, figures  # measured <= 1.057; real digits ~9.5


@pytest.mark.slow
def test_baselines_order_from_real_digits_to_noise(the_judge, capsys):
    baselines = judge.baseline_figures(the_judge)
    assert list(baselines) == list(judge.BASELINES)
    real, blurred = baselines["real training digits"], baselines["blurred test digits"]
    mean, noise = baselines["mean image"], baselines["uniform noise"]
    assert real["fid"] < 3.0 and real["inception_score"] > 9.0 and real["classes"] == 10
    assert 100.0 < blurred["fid"] < 220.0 and 3.5 < blurred["inception_score"] < 7.5  # 162, 5.25
    for far in (mean, noise):
        assert far["fid"] > 250.0 and far["inception_score"] < 1.2 and far["classes"] <= 1
    judge.report(print, {"fid": 12.5, "inception_score": 8.25, "classes": 9}, baselines)
    lines = capsys.readouterr().out.splitlines()
    assert "FID" in lines[0] and "IS" in lines[0] and "classes" in lines[0]
    table = lines[1:6]
    assert table[0].split()[-3:] == ["12.50", "8.25", "9"] and "your generator" in table[0]
    assert len({len(line) for line in table}) == 1  # aligned columns
    assert [line.split("  ")[1].strip() for line in table[1:]] == list(judge.BASELINES)


def test_manifest_thresholds_reject_the_broken_generators(the_judge, train_digits):
    """The fast thresholds of the GMMN and GAN checks that use the judge: real digits pass them,
    every broken generator fails at least the FID check and one of IS / classes."""
    ours = ("fid", "inception_score", "classes")
    course = manifest.load()
    checks = [(exercise_id, check, check.metric)
              for exercise_id in ("autoencoders/gmmn", "autoencoders/gan")
              for check in course.get(exercise_id).checks if check.metric in ours]
    assert {figure for _, _, figure in checks} == set(ours)
    real = measured(real_generator(train_digits))
    for exercise_id, check, figure in checks:
        assert check.passes(real[figure]), (exercise_id, check.metric, real[figure])
    for name, generate in broken_generators(train_digits).items():
        figures = measured(generate)
        for exercise_id in {e for e, _, _ in checks}:
            failed = {figure for e, check, figure in checks
                      if e == exercise_id and not check.passes(figures[figure])}
            kinds = {figure for e, _, figure in checks if e == exercise_id}
            assert "fid" not in kinds or "fid" in failed, (exercise_id, name, figures)
            others = kinds & {"inception_score", "classes"}
            assert not others or failed & others, (exercise_id, name, figures)


# ------------------------------------------------------------------------------ the figures


def stub_judge(logits):
    """A judge whose classifier answers ``logits`` (n, 10), with 2-d features equal to them."""
    logits = np.asarray(logits, np.float64)

    class Stub:
        reference_mean = np.zeros(2)
        reference_cov = np.eye(2)
        reference_cov_sqrt = np.eye(2)

        def features_and_logits(self, images):
            assert images.shape == (len(logits), 28, 28, 1)
            return logits[:, :2], logits

    return Stub()


def one_hot_logits(classes, strength=20.0):
    return strength * np.eye(10)[np.asarray(classes)]


def test_inception_score_and_classes_follow_their_definitions():
    images = np.zeros((200, 784), np.float32)
    even = judge.figures(stub_judge(one_hot_logits(np.arange(200) % 10)), images)
    assert even["inception_score"] == pytest.approx(10.0, rel=1e-6) and even["classes"] == 10
    same = judge.figures(stub_judge(one_hot_logits(np.full(200, 3))), images)
    assert same["inception_score"] == pytest.approx(1.0) and same["classes"] == 1
    unsure = judge.figures(stub_judge(np.zeros((200, 10))), images)  # p = 0.1 everywhere
    assert unsure["inception_score"] == pytest.approx(1.0) and unsure["classes"] == 0
    # 2.5% of the samples make a class: 5 of 200 count, 4 do not; below 0.5 confidence, no vote.
    labels = np.zeros(200, int)
    labels[:5], labels[5:9] = 1, 2
    logits = one_hot_logits(labels)
    assert judge.figures(stub_judge(logits), images)["classes"] == 2
    logits[:5] = one_hot_logits(np.ones(5, int), strength=1.0)  # p(1) = e / (e + 9) = 0.23
    assert judge.figures(stub_judge(logits), images)["classes"] == 1


def test_frechet_distance_matches_closed_forms():
    rng = np.random.default_rng(0)
    rotation, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    a, b = rng.uniform(0.1, 2.0, 5), rng.uniform(0.1, 2.0, 5)
    c1, c2 = rotation @ np.diag(a) @ rotation.T, rotation @ np.diag(b) @ rotation.T  # commuting
    m1, m2 = rng.normal(size=5), rng.normal(size=5)
    expected = np.sum((m1 - m2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    got = judge.frechet_distance(m1, judge._sqrtm_psd(c1), c1, m2, c2)
    assert got == pytest.approx(expected, rel=1e-9)
    # A generator of one image: zero covariance, distance |m1 - m2|^2 + tr(C1).
    zero = np.zeros((5, 5))
    assert judge.frechet_distance(m1, judge._sqrtm_psd(c1), c1, m2, zero) == pytest.approx(
        np.sum((m1 - m2) ** 2) + a.sum(), rel=1e-9)
    # Non-commuting covariances: the distance is symmetric and 0 only for equal Gaussians.
    c3 = rng.normal(size=(5, 5))
    c3 = c3 @ c3.T
    forward = judge.frechet_distance(m1, judge._sqrtm_psd(c1), c1, m2, c3)
    backward = judge.frechet_distance(m2, judge._sqrtm_psd(c3), c3, m1, c1)
    assert forward == pytest.approx(backward, rel=1e-7)
    same = judge.frechet_distance(m1, judge._sqrtm_psd(c3), c3, m1, c3)
    assert same == pytest.approx(0.0, abs=1e-9)


def test_every_sample_shape_gives_the_same_figures(the_judge, train_digits):
    images = real_generator(train_digits)(300, 7)
    flat = judge.figures(the_judge, images.reshape(300, 784))
    assert judge.figures(the_judge, images) == flat
    assert judge.figures(the_judge, images[..., None]) == flat
    assert judge.figures(the_judge, tf.constant(images[..., None])) == flat
    assert judge.figures(the_judge, images.astype(np.float64)) == flat


@pytest.mark.parametrize("samples, message", [
    (np.zeros((10, 27, 27)), r"expected n images of shape \(n, 784\), \(n, 28, 28\) or "
                             r"\(n, 28, 28, 1\), got shape \(10, 27, 27\)"),
    (np.zeros((10, 28, 28, 3)), r"got shape \(10, 28, 28, 3\)"),
    (np.zeros(784), r"got shape \(784,\)"),
    (np.zeros((1, 784)), r"at least 2 images"),
    (np.full((10, 784), np.nan), r"10 of 10 images hold NaN or inf"),
    (np.full((10, 784), 255.0), r"pixels range over \[255, 255\]; expected values in \[0, 1\]"),
    (np.full((10, 784), -0.5), r"expected values in \[0, 1\]"),
    (np.array([["a"] * 784] * 3), r"expected numbers"),
])
def test_bad_samples_are_refused_clearly(the_judge, samples, message):
    with pytest.raises(ValueError, match=message):
        judge.figures(the_judge, samples)


def test_slightly_out_of_range_pixels_are_clipped(the_judge, train_digits):
    images = real_generator(train_digits)(200, 3)
    nudged = images * 1.01 - 0.005  # within [-0.005, 1.005]: tolerated, then clipped
    assert judge.figures(the_judge, nudged)["classes"] == 10


def test_measures_refuse_bad_evidence_clearly(the_judge, train_digits):
    with pytest.raises(EvidenceError, match="must return 'generate'"):
        measures.generated_fid(generated(None))
    with pytest.raises(EvidenceError, match="must be a function generate"):
        measures.generated_fid(generated(np.zeros((2000, 784))))
    with pytest.raises(EvidenceError, match=r"must return 2000 samples, got shape \(100, 784\)"):
        measures.generated_fid(generated(lambda n, seed: np.zeros((100, 784))))
    with pytest.raises(EvidenceError, match=r"got shape \(2000, 28, 27\)"):
        measures.generated_fid(generated(lambda n, seed: np.zeros((n, 28, 27))))
    with pytest.raises(EvidenceError, match=r"expected values in \[0, 1\]"):
        measures.generated_fid(generated(lambda n, seed: np.full((n, 784), 2.0)))


def test_measures_draw_fresh_samples_once_for_all_three(the_judge, train_digits):
    calls = []
    real = real_generator(train_digits)

    def generate(n, seed):
        calls.append((n, seed))
        return tf.constant(real(n, seed)[..., None])  # a tensor (n, 28, 28, 1) is fine

    context = generated(generate, seed=4)
    values = [measures.generated_fid(context), measures.generated_inception_score(context),
              measures.generated_classes(context)]
    assert calls == [(judge.SAMPLES, 4 + measures.SAMPLE_SEED_OFFSET)]
    assert values[0] < 3.0 and values[1] > 9.0 and values[2] == 10.0


# ------------------------------------------------------------------------------ the cache


def test_cache_records_are_checked_before_use(the_judge, tmp_path):
    """Each way a cached judge can be unusable is reported, and never loaded (no training here)."""
    good = json.loads((the_judge.path.parent / judge.SIDECAR_NAME).read_text())

    def cache_with(record=None, sidecar_text=None, model_bytes=None):
        folder = tmp_path / f"case{len(list(tmp_path.iterdir()))}"
        folder.mkdir()
        shutil.copy(the_judge.path, folder / the_judge.path.name)
        if model_bytes is not None:
            (folder / the_judge.path.name).write_bytes(model_bytes)
        text = sidecar_text if sidecar_text is not None else json.dumps(record or good)
        (folder / judge.SIDECAR_NAME).write_text(text)
        return folder

    cases = [
        (tmp_path / "empty", "no digit judge in the cache yet"),
        (cache_with(sidecar_text="{not json"), "is unreadable"),
        (cache_with({**good, "recipe_version": 0}), "recipe version 0, not 1"),
        (cache_with({**good, "file": "../elsewhere.keras"}), "unexpected file"),
        (cache_with(model_bytes=b"garbage"), "wrong sha256"),
    ]
    (tmp_path / "empty").mkdir()
    for folder, why in cases:
        loaded, reason, _ = judge._read_cached(folder)
        assert loaded is None and why in reason, (folder, reason)
    loaded, reason, _ = judge._read_cached(cache_with())
    assert loaded is not None and reason == ""
    assert loaded.test_accuracy == the_judge.test_accuracy


def test_a_judge_that_misjudges_its_baselines_says_which(the_judge):
    """What loading trusts a judge for: its baselines' FIDs (here those of a judge whose features
    are constant: every set at 0), each against its bound (tests/test_trust.py forges one)."""
    stub = judge.Judge(None, None, the_judge.test_accuracy, np.zeros(2), np.eye(2), np.eye(2))
    stub._baselines[(judge.SAMPLES, 0)] = {
        name: {"fid": 0.0, "inception_score": 1.0, "classes": 0} for name in judge.BASELINES}
    problem = judge.baseline_problem(stub)
    assert problem.startswith("misjudges its baselines: FID of blurred test digits 0.00 (a working "
                              "judge: at least 50)"), problem
    assert "mean image 0.00" in problem and "uniform noise 0.00" in problem
    assert "real training digits" not in problem  # 0 is below its bound of 10


@pytest.mark.slow
def test_corrupt_cached_judge_is_replaced(the_judge, tmp_path, monkeypatch, capfd):
    """A judge file whose hash is wrong is removed and retrained, written atomically, and the
    retrained judge has the same weights (the recipe is deterministic). One training, ~15 s."""
    cache = tmp_path / "cache"
    cache.mkdir()
    shutil.copy(the_judge.path, cache / the_judge.path.name)
    shutil.copy(the_judge.path.parent / judge.SIDECAR_NAME, cache / judge.SIDECAR_NAME)
    corrupt = cache / the_judge.path.name
    with open(corrupt, "r+b") as handle:  # flip bytes in the middle: same size, wrong content
        handle.seek(corrupt.stat().st_size // 2)
        handle.write(b"\x00" * 64)
    monkeypatch.setenv(_download.CACHE_VARIABLE, str(cache))
    monkeypatch.setattr(judge, "_LOADED", {})
    capfd.readouterr()

    fresh = judge.load_judge()

    err = capfd.readouterr().err
    assert "[judge] training the digit judge once" in err and "wrong sha256" in err
    assert fresh is not the_judge and fresh.path.parent == cache
    assert not corrupt.exists()  # the corrupt file is gone (the new one has another name)
    record = json.loads((cache / judge.SIDECAR_NAME).read_text())
    assert record["file"] == fresh.path.name
    assert record["sha256"] == _download.sha256_of(fresh.path)
    # the new model, its record, and the lock file that kept other processes from training it too
    assert sorted(p.name for p in cache.iterdir()) == sorted([fresh.path.name, judge.SIDECAR_NAME,
                                                              f"{judge.STEM}.lock"])
    assert fresh.test_accuracy == the_judge.test_accuracy
    for a, b in zip(fresh.model.get_weights(), the_judge.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    # The next process finds it verified and trains nothing.
    monkeypatch.setattr(judge, "_LOADED", {})
    again = judge.load_judge()
    assert again.path == fresh.path and "training" not in capfd.readouterr().err
