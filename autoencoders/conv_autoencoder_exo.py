# %% [markdown]
"""
Title: A convolutional autoencoder: convolutions down, transposed convolutions up

Chapter: autoencoders (seminar slides 52-68)

Teaches: the conv-deconv autoencoder: Conv2D and MaxPooling2D shrink a digit to 7x7 feature maps and
    a code of 32 numbers, Conv2DTranspose layers of stride 2 grow it back to 28x28; the same code
    size as the dense autoencoder, a lower error. Built as two Keras models (so that codes can be
    decoded on their own: a walk through code space), chained, compiled and trained with model.fit
    on (input, target) pairs; with --noise the inputs are noisy and the targets clean: a denoising
    autoencoder.

Run time: about 90 s (30 s with --fast) on 2 CPU cores, plus a few seconds to load TensorFlow and
    MNIST.

Task: fill in the three functions marked TODO: the encoder, the decoder and the compiled
autoencoder. After the fast run (two epochs) the error on the 10000 test digits must be below the
dense autoencoder's. Check your work with

    python -m seminar check autoencoders/conv_autoencoder
Then try python autoencoders/conv_autoencoder_exo.py --noise 0.3: the same network trained on noisy
inputs to give back the clean digits (denoising.png shows a few).
"""

# %% Imports
import seminar  # noqa: F401  (sets TensorFlow's environment defaults: import it before tensorflow)

import keras

from seminar import autoencoding, runtime, shapes
from seminar.training_log import TrainingLog

# %% Settings

CODE_SIZE = 32  # as in the dense autoencoder
FILTERS = (8, 32)  # few filters at 28x28, where a filter costs most; more at 14x14 and 7x7
# ELU rather than ReLU: a ReLU unit that outputs 0 for every digit gets no gradient and stays dead.
ACTIVATION = "elu"
# Adam at 5e-3 decayed to 0 along a cosine, on batches of 64: in a short run, more and smaller
# steps learn more than fewer large ones for the same work.
LEARNING_RATE = 5e-3
BATCH_SIZE = 64
EPOCHS = 6
EPOCHS_FAST = 2


# %% The autoencoder: 28x28x1 -> 7x7x32 -> 32 numbers -> 7x7x32 -> 28x28x1


def build_encoder(code_size: int) -> keras.Model:
    """f: images (batch, 28, 28, 1), pixels in [0, 1] -> codes (batch, code_size)."""
    layers = keras.layers
    # TODO: Two stages of 3x3 convolution (FILTERS[0] then FILTERS[1] filters, ACTIVATION,
    #   size kept: 28x28, 14x14) each followed by a 2x2 max pooling (-> 14x14, -> 7x7), then the
    #   7x7xFILTERS[1] maps flattened into code_size linear units.
    raise NotImplementedError('TODO in build_encoder() (for a hint: python -m seminar hint autoencoders/conv_autoencoder)')


def build_decoder(code_size: int) -> keras.Model:
    """g: codes (batch, code_size) -> images (batch, 28, 28, 1), every pixel in (0, 1)."""
    layers = keras.layers
    # TODO: Mirror the encoder: code_size -> 7x7xFILTERS[1] feature maps (a dense layer, then a
    #   reshape), two 3x3 transposed convolutions of stride 2 (FILTERS[1] then FILTERS[0] filters:
    #   7x7 -> 14x14 -> 28x28), then a 3x3 convolution to one channel squashed into (0, 1).
    raise NotImplementedError('TODO in build_decoder() (for a hint: python -m seminar hint autoencoders/conv_autoencoder)')


def build_autoencoder(encoder: keras.Model, decoder: keras.Model, learning_rate) -> keras.Model:
    """The whole autoencoder, images (batch, 28, 28, 1) -> reconstructions of the same shape, made
    of the two networks given and compiled for model.fit (which main() calls with inputs and
    targets): its loss the per-pixel mean squared error, its optimizer Adam at ``learning_rate``
    (a number or a Keras schedule)."""
    # TODO: One model that runs the encoder then the decoder, compiled so that fit minimises
    #   the per-pixel squared error with Adam at learning_rate.
    raise NotImplementedError('TODO in build_autoencoder() (for a hint: python -m seminar hint autoencoders/conv_autoencoder)')


# %% Main


def main(argv=None) -> dict:
    parser = runtime.make_parser("autoencoders/conv_autoencoder", __doc__, epochs=EPOCHS,
                                 fast_epochs=EPOCHS_FAST, batch_size=BATCH_SIZE,
                                 learning_rate=LEARNING_RATE)
    parser.add_argument("--noise", type=float, default=0.0,
                        help="standard deviation of the Gaussian noise added to the training inputs "
                             "(0: a plain autoencoder; 0.3: a denoising one)")
    args = runtime.parse_args(parser, argv)
    if not 0.0 <= args.noise <= 10.0:
        parser.error(f"--noise must be between 0 and 10, got {args.noise}")
    runtime.set_seed(args.seed)
    run = runtime.RunContext.from_args(args)
    data = autoencoding.load_mnist(run)  # flat rows (n, 784); the model takes (n, 28, 28, 1)

    encoder, decoder = build_encoder(CODE_SIZE), build_decoder(CODE_SIZE)
    codes = encoder(autoencoding.as_images(data.x_val[:3]))
    shapes.require("the encoder's output for 3 images", codes, (3, CODE_SIZE))
    shapes.require("the decoder's output for 3 codes", decoder(codes), (3, 28, 28, 1))
    steps_per_epoch = autoencoding.steps_per_pass(data.num_train, args.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(args.learning_rate, steps_per_epoch * args.epochs)
    autoencoder = build_autoencoder(encoder, decoder, schedule)
    if not isinstance(autoencoder, keras.Model) or getattr(autoencoder, "optimizer", None) is None:
        raise ValueError("build_autoencoder must return a compiled keras.Model (call its compile)")
    shapes.require("the autoencoder's output for 3 images",
                   autoencoder(autoencoding.as_images(data.x_val[:3])), (3, 28, 28, 1))
    if not args.quiet:
        encoder.summary()
        decoder.summary()

    def encode(images):  # float32 rows (n, 784) -> codes (n, CODE_SIZE)
        return encoder.predict_on_batch(autoencoding.as_images(images))

    def decode(codes):  # codes (n, CODE_SIZE) -> images as rows (n, 784)
        return decoder.predict_on_batch(codes).reshape(len(codes), -1)

    def reconstruct(images):
        return autoencoder.predict_on_batch(autoencoding.as_images(images)).reshape(len(images), -1)

    # (input, target) batches without end: the images and themselves, or noisy images and the clean ones.
    pairs = autoencoding.training_batches(data.x_train, args.batch_size, args.seed, pairs=True,
                                          noise=args.noise, image_shape=True)
    log = TrainingLog(run, epochs=args.epochs, evaluate=autoencoding.validation(data.x_val, reconstruct))
    runtime.say(run, f"Training on {data.num_train} digits" +
                (f" with Gaussian noise of deviation {args.noise} on the inputs" if args.noise else ""))
    autoencoder.fit(pairs, epochs=args.epochs, steps_per_epoch=steps_per_epoch,
                    callbacks=[log.keras_callback()], shuffle=False,  # already shuffled
                    verbose=0 if args.quiet else 1)

    name = "denoising conv AE" if args.noise else "conv autoencoder"
    metrics = autoencoding.report(run, data, encode, decode, CODE_SIZE, log, name=name)
    autoencoding.plot_code_walks(run, encode, decode, data.x_test, pairs=[(0, 1), (3, 4)])
    if args.noise:  # how well the network cleans noisy test digits (denoising.png shows a few)
        metrics.update(autoencoding.denoising_report(run, data.x_test, reconstruct, args.noise,
                                                     args.seed))
    return metrics


# %% Run: `python FILE [flags]` in a terminal; in a notebook, this cell runs the fast run
if __name__ == "__main__":
    runtime.print_metrics(main(["--fast"] if runtime.in_notebook() else None))
