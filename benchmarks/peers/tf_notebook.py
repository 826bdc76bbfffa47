"""The reference Deep Dream notebook's algorithm on TensorFlow's CPU build with Keras 3: the peer.

    python benchmarks/peers/tf_notebook.py PHOTO [--threads N] [--output OUT.png]

What a user would run instead of ``deepdream``: Keras' own Deep Dream example as the notebook
has it, on ``keras.applications.InceptionV3(weights=None, include_top=False)`` (random weights:
the speed is the same as with the published ones, and the benchmark needs no download). The
notebook's four layers ``mixed2: 2, mixed3: 0.5, mixed4: 1, mixed5: 2``, its loss per layer
``weight * sum(act[:, 2:-2, 2:-2, :] ** 2) / size``, the gradient divided by
``max(mean |g|, 1e-7)`` times the step 0.01, 10 octaves of 1.2 with 10 steps each,
``scipy.ndimage.zoom`` (order 1) for every resize, the lost detail added back after each octave;
``max_loss`` off. The loss-and-gradient step is one ``tf.function`` (traced once per octave size,
as in Keras' example; ``--trace dynamic`` traces once for all sizes).

Prints one line of JSON: ``wall_s`` (the dream: image in memory and model built, to the result
in memory), ``steps`` (gradient steps taken, counted), ``ready_at`` (``time.time()`` when the
dream began: the runner subtracts its launch time for the start-up), peak RSS in MiB.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

LAYERS = {"mixed2": 2.0, "mixed3": 0.5, "mixed4": 1.0, "mixed5": 2.0}
STEP, OCTAVES, OCTAVE_SCALE, ITERATIONS = 0.01, 10, 1.2, 10


def peak_rss_mb() -> float:
    status = Path("/proc/self/status").read_text()
    return int(next(ln for ln in status.splitlines() if ln.startswith("VmHWM")).split()[1]) / 1024


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("photo")
    p.add_argument("--threads", type=int, help="TensorFlow intra- and inter-op threads")
    p.add_argument("--output", help="save the dream here (PNG)")
    p.add_argument("--octaves", type=int, default=OCTAVES)
    p.add_argument("--iterations", type=int, default=ITERATIONS)
    p.add_argument("--trace", choices=["per-shape", "dynamic"], default="per-shape")
    args = p.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np
    import scipy.ndimage
    import tensorflow as tf
    from PIL import Image

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    keras.utils.set_random_seed(0)

    def preprocess_image(path: str) -> np.ndarray:
        img = np.asarray(Image.open(path).convert("RGB"), dtype="float32")[None]
        return keras.applications.inception_v3.preprocess_input(img)  # to [-1, 1]

    def deprocess_image(x: np.ndarray) -> np.ndarray:
        return np.clip((x[0] + 1.0) * 127.5, 0, 255).astype("uint8")

    def resize_img(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        img = np.copy(img)
        factors = (1, size[0] / img.shape[1], size[1] / img.shape[2], 1)
        return scipy.ndimage.zoom(img, factors, order=1)

    base = keras.applications.InceptionV3(weights=None, include_top=False)
    outputs = {name: base.get_layer(name).output for name in LAYERS}
    features = keras.Model(inputs=base.inputs, outputs=outputs)

    def compute_loss(img: tf.Tensor) -> tf.Tensor:
        acts = features(img)
        loss = tf.zeros(shape=())
        for name, coeff in LAYERS.items():
            act = acts[name]
            scaling = tf.reduce_prod(tf.cast(tf.shape(act), "float32"))
            loss += coeff * tf.reduce_sum(tf.square(act[:, 2:-2, 2:-2, :])) / scaling
        return loss

    def loss_and_step(img: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        with tf.GradientTape() as tape:
            tape.watch(img)
            loss = compute_loss(img)
        grads = tape.gradient(loss, img)
        grads /= tf.maximum(tf.reduce_mean(tf.abs(grads)), 1e-7)
        return loss, img + STEP * grads

    if args.trace == "dynamic":
        spec = tf.TensorSpec(shape=(1, None, None, 3), dtype=tf.float32)
        step_fn = tf.function(loss_and_step, input_signature=[spec])
    else:
        step_fn = tf.function(loss_and_step)

    img = preprocess_image(args.photo)
    steps = 0
    ready_at = time.time()
    t0 = time.perf_counter()
    original_shape = img.shape[1:3]
    successive_shapes = [original_shape]
    for i in range(1, args.octaves):
        successive_shapes.append(tuple(int(dim / (OCTAVE_SCALE**i)) for dim in original_shape))
    successive_shapes = successive_shapes[::-1]
    original_img = np.copy(img)
    shrunk_original_img = resize_img(img, successive_shapes[0])
    for shape in successive_shapes:
        img = resize_img(img, shape)
        x = tf.convert_to_tensor(img)
        for _ in range(args.iterations):  # max_loss off: every step runs
            _loss, x = step_fn(x)
            steps += 1
        img = x.numpy()
        upscaled_shrunk_original_img = resize_img(shrunk_original_img, shape)
        same_size_original = resize_img(original_img, shape)
        img += same_size_original - upscaled_shrunk_original_img
        shrunk_original_img = resize_img(original_img, shape)
    result = deprocess_image(img)
    wall = time.perf_counter() - t0
    if args.output:
        Image.fromarray(result).save(args.output)
    print(
        json.dumps(
            {
                "impl": "tf-notebook",
                "wall_s": wall,
                "steps": steps,
                "ready_at": ready_at,
                "rss_peak_mb": peak_rss_mb(),
                "size": [int(original_shape[1]), int(original_shape[0])],
                "threads": args.threads,
                "trace": args.trace,
                "tensorflow": tf.__version__,
                "keras": keras.__version__,
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
