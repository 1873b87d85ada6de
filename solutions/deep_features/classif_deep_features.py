# %% [markdown]
"""
Title: Classification from deep features: a small "Kaggle" competition

Chapter: deep_features (seminar slides 49-51)

Teaches: reusing a network trained on another task: its penultimate layer as features (a Keras
    model that stops at the layer named "features"); softmax regression, an MLP and a convolution
    on a reshaped feature vector trained on those features; fine-tuning the whole network with a
    small learning rate; a Kaggle submission (ids and one probability per class) written with
    pandas and scored by a leaderboard; an honest comparison with raw pixels and with the same
    network trained from scratch on the few labels.

Run time: about 25 s on 2 CPU cores with --fast (test set: the 2000 "public" images), about 1 min
    without, plus the first use of the pretrained network (trained once, about 1 min, then cached).

Task: the pretrained network (seminar.pretrained) is a small Inception network trained on
Fashion-MNIST clothes; it stands in for ImageNet's Inception v3. Its "features" layer keeps a
coarse layout: its last 7x7 map averaged to a 3x3 grid of 128 channels, flattened (1152 numbers).
The competition (seminar.kaggle): classify MNIST digits from only 100 labelled images per class;
the test labels are withheld and only the leaderboard (`python -m seminar score FILE.csv`) knows
them. Fill in the functions marked TODO. The submission (the fine-tuned network's) must reach an
accuracy of at least 90% and a log loss below 0.4 on the public test images after the fast run.
Compare the leaderboard's rows: what did features learnt on clothes buy for digits? Check your
work with

    python -m seminar check deep_features/classif_deep_features

The run ends with the leaderboard, and reads it for you: deep features learnt on clothes beat raw
pixels by far (about 0.93 against 0.85 accuracy in the fast run), fine-tuning adds a little; but
the same network trained from scratch on the digits alone does better still. Transfer pays most
when the old task is close to the new one, or when training a network is out of reach.
Real use: `--images DIR` classifies any folder of images from ImageNet Inception v3's 2048
features (DIR/<class>/*.jpg to learn from, DIR/test/*.jpg to predict; `--labels FILE` scores it).
"""

# %% Imports
import seminar  # noqa: F401  (sets TensorFlow's environment defaults: import it before tensorflow)

import keras
import numpy as np
import pandas as pd

from seminar import kaggle, pretrained, runtime, transfer

# %% Settings

NUM_CLASSES = 10
# Every setting below was chosen on 5000 MNIST training images outside the competition, never on
# its test images. Adam; batches of 64.
HEAD_LEARNING_RATE = 3e-3  # the softmax regressions (on raw pixels and on deep features)
HIDDEN_HEAD_LEARNING_RATE = 1e-3  # the MLP and the conv: at 3e-3 they end overconfident
HEAD_EPOCHS, HEAD_EPOCHS_FAST = 60, 30
# Fine-tuning: every layer after the stem trains (batch normalisations frozen, keeping
# Fashion-MNIST's statistics), 3x more gently than a fresh classifier.
FINE_TUNE_LEARNING_RATE = 1e-3
FINE_TUNE_EPOCHS, FINE_TUNE_EPOCHS_FAST = 20, 10
# The same architecture from random weights, with the fine-tuning's budget: as many epochs of the
# same batches, so as many gradient steps. Its batch normalisations average over fewer steps (a
# momentum of 0.9, not Keras' 0.99) or, after a few hundred steps, their moving statistics are
# still mostly their initial values and the network predicts badly in inference mode.
SCRATCH_LEARNING_RATE = 3e-3
SCRATCH_BATCH_NORM_MOMENTUM = 0.9


# %% The lesson: features, classifiers on them, fine-tuning, a submission


def feature_extractor(network: keras.Model) -> keras.Model:
    """A model from the network's input (n, 28, 28, 1) to the output of its layer named
    "features" (n, 1152), sharing the network's trained layers (nothing is copied or retrained)."""
    # SOLUTION: Return a model from the network's input images (n, 28, 28, 1) to what its layer
    #   named "features" outputs (n, 1152), reusing the network's layers (no copy, no new weights).
    return keras.Model(network.inputs, network.get_layer("features").output,
                       name="feature_extractor")
    # END SOLUTION


def softmax_regression(num_inputs: int, num_classes: int = NUM_CLASSES) -> keras.Model:
    """Logits (n, num_classes) of an affine function of (n, num_inputs) vectors (softmax
    regression)."""
    # SOLUTION: Return a model from (n, num_inputs) inputs to (n, num_classes) logits with a single
    #   affine layer (no hidden layer, no activation: the loss applies the softmax).
    return keras.Sequential([keras.Input((num_inputs,)), keras.layers.Dense(num_classes)],
                            name="softmax_regression")
    # END SOLUTION


def mlp(num_inputs: int) -> keras.Model:
    """Logits (n, 10) of (n, num_inputs) vectors through one hidden ReLU layer, with dropout."""
    # SOLUTION: Return a model (n, num_inputs) -> (n, 10) logits with one hidden layer of 256
    #   ReLU units and dropout (rate 0.5) before the output layer: 1000 examples overfit easily.
    return keras.Sequential([
        keras.Input((num_inputs,)),
        keras.layers.Dense(256, activation="relu"),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(NUM_CLASSES),
    ], name="mlp")
    # END SOLUTION


def reshaped_conv(num_inputs: int, shape=pretrained.FEATURE_SHAPE) -> keras.Model:
    """Slide 51: the feature vector (n, num_inputs) seen as a small image of ``shape``, then one
    3x3 ReLU convolution and, after dropout, a dense layer to (n, 10) logits. Here 1152 = 3 x 3 x
    128 is no trick: the features are the pretrained network's 3x3 grid of regions of the digit
    (rows, columns), 128 channels each, flattened row by row; reshaping gives that grid back."""
    if int(np.prod(shape)) != num_inputs:
        raise ValueError(f"cannot reshape {num_inputs} features to {shape}")
    # SOLUTION: Return a model (n, num_inputs) -> (n, 10) logits that views each vector as a
    #   (3, 3, 128) image (``shape``), applies 32 3x3 ReLU filters ("same" padding), flattens
    #   them and ends with dropout (0.5) and a dense layer of 10 logits.
    return keras.Sequential([
        keras.Input((num_inputs,)),
        keras.layers.Reshape(shape),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(NUM_CLASSES),
    ], name="reshaped_conv")
    # END SOLUTION


def fine_tune_model(network: keras.Model, head: keras.Model) -> keras.Model:
    """The whole pretrained network with a new head: images (n, 28, 28, 1) -> the "features"
    layer -> ``head`` (the softmax regression trained on the features) -> (n, 10) logits.

    For fine-tuning: the stem (the layers whose names start with "stem") stays frozen, every batch
    normalisation stays frozen (it keeps Fashion-MNIST's statistics), the rest trains."""
    # SOLUTION: Return a model from the network's input through its "features" layer and the head
    #   to (n, 10) logits, in which the stem layers and every batch normalisation are not
    #   trainable and all other layers are.
    for layer in network.layers:
        layer.trainable = not (layer.name.startswith("stem")
                               or isinstance(layer, keras.layers.BatchNormalization))
    logits = head(network.get_layer("features").output)
    return keras.Model(network.inputs, logits, name="fine_tuned")
    # END SOLUTION


def submission_frame(ids: np.ndarray, probabilities: np.ndarray,
                     class_names=kaggle.DIGITS) -> pd.DataFrame:
    """Kaggle's format: a column "id" (the test images' ids), then one column per class named
    "class_<name>" (class_0 ... class_9) holding the probabilities (n, 10); each row sums to 1."""
    # SOLUTION: Return a DataFrame with a column "id" then one column "class_<name>" per class
    #   name (class_0 ... class_9), one row per test image, holding the given probabilities.
    frame = pd.DataFrame(probabilities, columns=[f"class_{name}" for name in class_names])
    frame.insert(0, "id", ids)
    return frame
    # END SOLUTION


# %% Main


def main(argv=None) -> dict:
    parser = runtime.make_parser("deep_features/classif_deep_features", __doc__)
    transfer.add_flags(parser)  # --labels-per-class; --images DIR and its options (real use)
    args = runtime.parse_args(parser, argv)
    runtime.set_seed(args.seed)
    run = runtime.RunContext.from_args(args)
    if args.labels is not None and args.images is None:
        parser.error("--labels goes with --images (the digit competition's labels are withheld)")
    if args.images is not None:  # real use: Inception v3's features of a folder of images
        return transfer.classify_folder(
            run, args.images, size=args.image_size, weights=args.weights, labels=args.labels,
            build=softmax_regression, submission_frame=submission_frame, epochs=HEAD_EPOCHS,
            learning_rate=HEAD_LEARNING_RATE)

    network = pretrained.load_pretrained()
    game = kaggle.competition(args.labels_per_class, public_only=args.fast)
    runtime.say(run, f"pretrained network: Fashion-MNIST test accuracy "
                     f"{network.test_accuracy:.4f}; competition: {len(game.y_train)} labelled "
                     f"digits, {len(game.test_ids)} test images")
    board = transfer.Leaderboard(run, game.test_ids, submission_frame)
    head_epochs = HEAD_EPOCHS_FAST if args.fast else HEAD_EPOCHS

    # The baseline: softmax regression on the raw pixels.
    name = "raw pixels: softmax regression"
    pixels = game.x_train.reshape(len(game.x_train), -1)
    raw = softmax_regression(pixels.shape[1])
    transfer.train(run, name, raw, pixels, game.y_train, head_epochs, HEAD_LEARNING_RATE)
    board.submit(name, raw, game.x_test.reshape(len(game.x_test), -1))

    # Classifiers on the pretrained network's features (standardised: mean 0, deviation 1).
    features = transfer.standardised_features(run, feature_extractor(network.model), game,
                                              fast=args.fast, seed=args.seed)
    width = features.train.shape[1]
    head = None
    for name, build, rate in (
            ("deep features: softmax regression", softmax_regression, HEAD_LEARNING_RATE),
            ("deep features: MLP", mlp, HIDDEN_HEAD_LEARNING_RATE),
            ("deep features: 3x3x128 conv", reshaped_conv, HIDDEN_HEAD_LEARNING_RATE)):
        model = build(width)
        transfer.train(run, name, model, features.train, game.y_train, head_epochs, rate)
        board.submit(name, model, features.test)
        if head is None:  # fine-tuning starts from the softmax regression, standardising first
            head = keras.Sequential([keras.Input((width,)), features.standardise, model],
                                    name="head")

    # Fine-tuning: the whole pretrained network with that head; its submission is the one handed in.
    epochs = FINE_TUNE_EPOCHS_FAST if args.fast else FINE_TUNE_EPOCHS
    tuned = fine_tune_model(pretrained.fresh_copy(), head)
    log = transfer.train(run, "fine-tuned network", tuned, game.x_train, game.y_train, epochs,
                         FINE_TUNE_LEARNING_RATE)
    submission = board.submit("fine-tuned network", tuned, game.x_test)

    # The honest baseline: no Fashion-MNIST at all, the same epochs of the same batches.
    scratch = pretrained.build_model(seed=args.seed,
                                     batch_norm_momentum=SCRATCH_BATCH_NORM_MOMENTUM)
    transfer.train(run, "same network from scratch", scratch, game.x_train, game.y_train, epochs,
                   SCRATCH_LEARNING_RATE)
    board.submit("same network from scratch", scratch, game.x_test)

    board.report(f"{len(game.test_ids)} test images, {args.labels_per_class} labels per class")
    scored = board.scored("fine-tuned network")
    return {"submission_log_loss": scored["log_loss"], "submission_accuracy": scored["accuracy"],
            "submission": str(submission),
            **log.evidence()}  # the evidence of training: the fine-tuning's loss curve


# %% Run: `python FILE [flags]` in a terminal; in a notebook, this cell runs the fast run
if __name__ == "__main__":
    runtime.print_metrics(main(["--fast"] if runtime.in_notebook() else None))
