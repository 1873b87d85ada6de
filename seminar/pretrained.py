"""The pretrained network of the "deep features" chapter: a small Inception network trained on
Fashion-MNIST, standing in for ImageNet's Inception v3 (slides 49-51).

Slide 49 takes the penultimate layer of a network trained on a big labelled set (ImageNet) as
features for another task with few labels. Here the big set is Fashion-MNIST (60000 photographs of
clothes) and the other task is MNIST digits, which the network never sees::

    network = load_pretrained()        # trained on first use (~1-2 min on 2 cores), then cached
    network.model                      # keras.Model: (n, 28, 28, 1) pixels in [0, 1] -> (n, 10) logits
    network.model.get_layer("features").output   # (n, 1152): the deep features
    network.model.get_layer("features_grid").output  # (n, 3, 3, 128): the same numbers as a grid
    model = fresh_copy()               # an independent copy, to fine-tune without harming the cache

The architecture (going deeper, slides 41-42): a stem (3x3 convolution, batch normalisation,
ReLU, 2x2 max pooling), an Inception module (parallel 1x1, 1x1 -> 3x3, 1x1 -> 5x5 and 3x3 max
pooling -> 1x1 branches, each convolution followed by batch normalisation and ReLU, concatenated),
2x2 max pooling, a second Inception module with 128 output channels on a 7x7 grid, 3x3 average
pooling with stride 2 (the layer "features_grid": a 3x3 grid of overlapping 3x3 windows of the 7x7
map, each covering about 12x12 pixels of the image, 128 channels), flattened (the layer named
"features": 1152 = 3 x 3 x 128 numbers per image, row by row, the 128 channels of each cell
together), dropout, and a Dense layer of 10 logits.

Why not global average pooling, as Inception v3 does (slide 50)? Averaging the 7x7 map over the
whole image forgets *where* each pattern is. Garments are told apart by their textures and overall
outlines, digits by where their strokes are. A softmax regression on 100 digits per class, scored
on 5000 MNIST training images outside the competition: 87% accuracy on raw pixels, 86.5% on the
128 globally pooled features of recipe 1 (no better than pixels), 93.6% on the 3x3 grid of the
same network, 94.9% on this recipe's 3x3 grid. Reshaping the 1152 features to (3, 3, 128), slide
51's "add convolution" trick, gives back exactly this grid: rows, columns, channels.

Recipe 2 (this one) trains in about 115 CPU seconds (2 minutes on 2 idle cores) and scores 0.901
on the Fashion-MNIST test images (recipe 1, globally pooled: 0.881).

The file ``fashion-inception-v<recipe>-<sha>.keras`` sits in the data cache
(``datasets._download.cache_dir()``) beside ``fashion-inception-v<recipe>.json``, which records its
name, sha256, the recipe version and the Fashion-MNIST test accuracy measured when it was trained.
The record only tells a damaged file or an older recipe: the network is trusted for what it does,
measured each time it is loaded (:mod:`seminar.model_cache`), in one pass over the 10000 test
photographs. Its accuracy must be >= :data:`MIN_TEST_ACCURACY`; its logits must be its "features"
through its "logits" layer (so that accuracy is the features' own); and the features alone must
tell the classes apart: the nearest class mean, the means taken on half the test photographs,
classifies the other half with accuracy >= :data:`MIN_FEATURE_ACCURACY` (recipe 2: 0.839; raw
pixels 0.68; zeroed or constant features 0.1). A missing, corrupt or failing network is reported,
retrained and written atomically (a temporary file in the same folder, then ``os.replace``), like
the digit judge (:mod:`seminar.judge`). ``python -m seminar.pretrained`` prepares it ahead.
"""

from __future__ import annotations

import dataclasses
import pathlib
import sys
import time

import numpy as np

from seminar import model_cache

# ------------------------------------------------------------------------------ the recipe

RECIPE_VERSION = 2  # bump whenever anything below that changes the trained weights changes
SEED = 20241149  # the network's own seed: its initial weights and its shuffles
STEM_FILTERS = 32
# Each Inception module: (1x1, (3x3 reduction, 3x3), (5x5 reduction, 5x5), pool projection).
MODULES = ((16, (16, 32), (8, 16), 16),  # 14x14: 16 + 32 + 16 + 16 = 80 channels
           (32, (32, 48), (8, 24), 24))  # 7x7: 32 + 48 + 24 + 24 = 128 channels
GRID_POOL, GRID_STRIDE = 3, 2  # the 7x7 map averaged over 3x3 windows, stride 2: a 3x3 grid
GRID = 3
FEATURE_SHAPE = (GRID, GRID, 128)  # the "features_grid" layer: rows, columns, channels
FEATURES = GRID * GRID * 128  # 1152: the "features" layer, that grid flattened
DROPOUT = 0.3
EPOCHS = 2
BATCH_SIZE = 128
LEARNING_RATE = 3e-3  # Adam, cosine-decayed to 0 over the epochs
MIN_TEST_ACCURACY = 0.88  # a network below this on the 10000 Fashion-MNIST test images is not used
# The nearest class mean on the features (means from the first 5000 test images, scored on the
# other 5000) below which a network is not used: recipe 2 scores 0.839, the raw pixels 0.68, a
# feature layer zeroed or made constant 0.1. Even barely trained features separate the classes
# (the tests' tiny recipe: 0.61): that the network learned is for the accuracy floor to say.
MIN_FEATURE_ACCURACY = 0.3
TRAIN_SIZE = None  # all 60000 training images (tests set a tiny recipe: a few hundred, one epoch)

STEM = f"fashion-inception-v{RECIPE_VERSION}"
SIDECAR_NAME = f"{STEM}.json"  # the cache's record of the network (seminar/model_cache.py)
SIDE = 28
EVAL_BATCH = 1000


def _note(message: str) -> None:
    """One line on stderr, like the data cache's messages (printed even with --quiet)."""
    print(f"[pretrained] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------ data

_FASHION: dict = {}


def _fashion():
    """Fashion-MNIST as uint8 arrays ``(x_train, y_train), (x_test, y_test)``, read once per
    process (verified against pinned hashes by ``datasets.fashion_mnist``)."""
    if "arrays" not in _FASHION:
        from datasets import fashion_mnist

        _FASHION["arrays"] = fashion_mnist.load()
    return _FASHION["arrays"]


def to_unit(images: np.ndarray) -> np.ndarray:
    """uint8 images (n, 28, 28) -> float32 (n, 28, 28, 1) in [0, 1], the network's input."""
    return (np.asarray(images).astype(np.float32) / 255.0)[..., None]


# ------------------------------------------------------------------------------ the network


@dataclasses.dataclass
class Pretrained:
    model: object  # keras.Model: (n, 28, 28, 1) in [0, 1] -> (n, 10) Fashion-MNIST logits
    path: pathlib.Path | None  # the verified file it was loaded from (None: not cached)
    test_accuracy: float  # on the 10000 Fashion-MNIST test images
    # The nearest class mean on the features: means from the first half of the test images,
    # accuracy on the second half.
    feature_accuracy: float = float("nan")
    # The largest difference between the logits and the "logits" layer applied to the features.
    logits_gap: float = float("nan")


def build_model(modules=None, stem_filters=None, seed=SEED, batch_norm_momentum=0.99):
    """The architecture, every initial weight drawn from ``seed`` (no global random state).
    ``modules`` and ``stem_filters`` default to the recipe's :data:`MODULES`, :data:`STEM_FILTERS`.
    ``batch_norm_momentum``: how much of its moving mean and variance each batch normalisation
    keeps at each training step (Keras' 0.99 for the recipe's 938 steps; a network trained for a
    few hundred steps needs less, e.g. 0.9, or its statistics stay near their initial values)."""
    import keras

    modules = MODULES if modules is None else modules
    stem_filters = STEM_FILTERS if stem_filters is None else stem_filters
    layers = keras.layers
    counter = iter(range(1000))

    def conv_bn(x, filters, size, name):
        x = layers.Conv2D(filters, size, padding="same", use_bias=False, name=name,
                          kernel_initializer=keras.initializers.HeNormal(seed=seed + next(counter)))(x)
        x = layers.BatchNormalization(momentum=batch_norm_momentum, name=f"{name}_bn")(x)
        return layers.ReLU(name=f"{name}_relu")(x)

    def inception(x, spec, name):
        one, (reduce3, three), (reduce5, five), pool = spec
        b1 = conv_bn(x, one, 1, f"{name}_1x1")
        b3 = conv_bn(conv_bn(x, reduce3, 1, f"{name}_3x3_reduce"), three, 3, f"{name}_3x3")
        b5 = conv_bn(conv_bn(x, reduce5, 1, f"{name}_5x5_reduce"), five, 5, f"{name}_5x5")
        bp = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
        bp = conv_bn(bp, pool, 1, f"{name}_pool_proj")
        return layers.Concatenate(name=name)([b1, b3, b5, bp])

    inputs = keras.Input((SIDE, SIDE, 1), name="pixels")
    h = conv_bn(inputs, stem_filters, 3, "stem")  # 28x28
    h = layers.MaxPooling2D(2, name="stem_pool")(h)  # 14x14
    for index, spec in enumerate(modules):
        if index:
            h = layers.MaxPooling2D(2, name=f"pool{index}")(h)  # 7x7
        h = inception(h, spec, f"inception{index + 1}")
    h = layers.AveragePooling2D(GRID_POOL, strides=GRID_STRIDE, name="features_grid")(h)
    h = layers.Flatten(name="features")(h)  # (3, 3, channels) -> 9 * channels, row by row
    h = layers.Dropout(DROPOUT, seed=seed + 999, name="dropout")(h)
    logits = layers.Dense(10, name="logits",
                          kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 998))(h)
    return keras.Model(inputs, logits, name="fashion_inception")


def train_model():
    """Train on the Fashion-MNIST training images with the pinned recipe; return the model.

    Deterministic: seeded initializers and dropout, shuffles from
    ``numpy.random.default_rng(SEED)``, TensorFlow's deterministic kernels. The global generators
    are left untouched, so a run that trains the network draws the same numbers as one that loads
    it. The recipe is read from the module's constants (tests swap in a tiny one)."""
    import keras
    import tensorflow as tf

    try:
        tf.config.experimental.enable_op_determinism()
    except (AttributeError, RuntimeError):
        pass
    (x_train, y_train), _ = _fashion()
    if TRAIN_SIZE is not None:
        x_train, y_train = x_train[:TRAIN_SIZE], y_train[:TRAIN_SIZE]
    x, y = to_unit(x_train), y_train.astype(np.int32)
    epochs = EPOCHS
    model = build_model()
    steps_per_epoch = -(-len(x) // BATCH_SIZE)
    optimizer = keras.optimizers.Adam(
        keras.optimizers.schedules.CosineDecay(LEARNING_RATE, epochs * steps_per_epoch))
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def step(images, labels):
        with tf.GradientTape() as tape:
            loss = loss_fn(labels, model(images, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    rng = np.random.default_rng(SEED)
    started = last = time.perf_counter()
    for epoch in range(epochs):
        order = rng.permutation(len(x))
        for number, start in enumerate(range(0, len(x), BATCH_SIZE)):
            batch = order[start:start + BATCH_SIZE]
            loss = step(tf.constant(x[batch]), tf.constant(y[batch]))
            if time.perf_counter() - last > 10:
                last = time.perf_counter()
                _note(f"  epoch {epoch + 1}/{epochs}, step {number + 1}/{steps_per_epoch}: "
                      f"batch loss {float(loss):.3f} ({last - started:.0f} s)")
        _note(f"  epoch {epoch + 1}/{epochs} done: last batch loss {float(loss):.4f} "
              f"({time.perf_counter() - started:.0f} s)")
    return model


def logits_of(model, images: np.ndarray, batch_size: int = EVAL_BATCH) -> np.ndarray:
    """The model's outputs on float32 images, batch by batch in inference mode, as NumPy."""
    import tensorflow as tf

    call = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    return np.concatenate([call(tf.constant(images[start:start + batch_size])).numpy()
                           for start in range(0, len(images), batch_size)])


def test_accuracy(model) -> float:
    """Accuracy on the 10000 Fashion-MNIST test images."""
    _, (x_test, y_test) = _fashion()
    return float(np.mean(np.argmax(logits_of(model, to_unit(x_test)), axis=1) == y_test))


def features_and_logits(model, images: np.ndarray,
                        batch_size: int = EVAL_BATCH) -> tuple[np.ndarray, np.ndarray]:
    """The "features" layer's outputs (n, FEATURES) and the logits (n, 10) of float32 images, in
    one pass batch by batch in inference mode, as float64 NumPy arrays."""
    import keras
    import tensorflow as tf

    both = keras.Model(model.inputs, [model.get_layer("features").output, model.outputs[0]])
    call = tf.function(lambda x: both(x, training=False), reduce_retracing=True)
    features, logits = [], []
    for start in range(0, len(images), batch_size):
        f, z = call(tf.constant(images[start:start + batch_size]))
        features.append(np.asarray(f).reshape(len(f), -1))
        logits.append(np.asarray(z))
    return (np.concatenate(features).astype(np.float64),
            np.concatenate(logits).astype(np.float64))


def nearest_mean_accuracy(features: np.ndarray, labels: np.ndarray) -> float:
    """Class means of the first half of ``features``; the share of the second half whose nearest
    mean is their own class's."""
    half = len(features) // 2
    means = np.stack([features[:half][labels[:half] == k].mean(axis=0) for k in range(10)])
    rest = features[half:]
    distances = (means ** 2).sum(axis=1)[None, :] - 2.0 * rest @ means.T  # + ||x||^2, the same
    return float(np.mean(np.argmin(distances, axis=1) == labels[half:]))


def evaluate(model) -> Pretrained:
    """The network measured on the 10000 Fashion-MNIST test images in one pass: its accuracy, the
    nearest class mean on its features, and how far its logits are from its "logits" layer
    applied to its features."""
    _, (x_test, y_test) = _fashion()
    features, logits = features_and_logits(model, to_unit(x_test))
    kernel, bias = (np.asarray(w, np.float64) for w in model.get_layer("logits").get_weights())
    through = features @ kernel + bias
    return Pretrained(model, None, float(np.mean(np.argmax(logits, axis=1) == y_test)),
                      nearest_mean_accuracy(features, y_test),
                      float(np.max(np.abs(through - logits))))


def behaviour_problem(network: Pretrained) -> str | None:
    """Why the network's features are not trusted, or None: its logits must be its features
    through its "logits" layer, and its features alone must tell the classes apart."""
    if not network.logits_gap <= 1e-3:
        return (f"answers otherwise than through its features: its logits differ from its "
                f"\"logits\" layer applied to its \"features\" by up to {network.logits_gap:.3g}")
    if not network.feature_accuracy >= MIN_FEATURE_ACCURACY:
        return (f"has features that do not tell the classes apart: the nearest class mean on them "
                f"scores {network.feature_accuracy:.4f} on the Fashion-MNIST test images, below "
                f"{MIN_FEATURE_ACCURACY} (recipe {RECIPE_VERSION}: 0.839; chance 0.1)")
    return None


# ------------------------------------------------------------------------------ the cache


def _cache() -> model_cache.CachedModel:
    """The network's recipe as the cache keeps it (read when called: tests set a tiny recipe)."""
    return model_cache.CachedModel(
        stem=STEM, version=RECIPE_VERSION, what="the pretrained Inception network",
        tested_on="the Fashion-MNIST test images", minimum=MIN_TEST_ACCURACY,
        cost="about 2 minutes on 2 CPU cores",
        recipe={"stem_filters": STEM_FILTERS, "modules": MODULES,
                "features": f"average pooling {GRID_POOL}x{GRID_POOL} stride {GRID_STRIDE}, "
                            f"flattened", "epochs": EPOCHS, "batch_size": BATCH_SIZE,
                "learning_rate": LEARNING_RATE, "dropout": DROPOUT, "seed": SEED},
        train=train_model, evaluate=evaluate, note=_note, verify=behaviour_problem)


def _read_cached(folder: pathlib.Path):
    """``(the verified network in folder, "", None)`` or ``(None, why not, the file to discard)``."""
    return _cache().read(folder)


_LOADED: dict[str, Pretrained] = {}


def load_pretrained() -> Pretrained:
    """The verified network from the data cache, trained (and cached) first when it is missing,
    corrupt, of another recipe version, below the accuracy floor or with features that do not
    tell the classes apart. Loaded once per process and cache folder: do not train ``.model``
    itself, fine-tune a :func:`fresh_copy`."""
    return _cache().load(_LOADED)


def fresh_copy():
    """A new Keras model with the pretrained architecture and weights, sharing nothing with the
    cached one (fine-tuning it leaves the cache and other copies alone)."""
    import keras

    source = load_pretrained().model
    copy = keras.models.clone_model(source)
    copy.set_weights(source.get_weights())
    return copy


def main(argv=None) -> int:
    """``python -m seminar.pretrained``: train or verify the cached network."""
    import argparse

    import seminar  # noqa: F401  (sets TensorFlow's environment defaults: import it before tensorflow)

    argparse.ArgumentParser(prog="python -m seminar.pretrained",
                            description="Train (once) or verify the pretrained Fashion-MNIST "
                                        "Inception network in the data cache.").parse_args(argv)
    started = time.perf_counter()
    network = load_pretrained()
    print(f"pretrained network: {network.path}\n  Fashion-MNIST test accuracy "
          f"{network.test_accuracy:.4f} ({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
