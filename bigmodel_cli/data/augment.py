"""Image augmentation from data.augment, applied to training batches in tf.data only.

Keras' own random layers do the flips, rotations, zooms, shifts and contrast changes, each
image of a batch drawn on its own. The padded random crop (the CIFAR standard: pad 4 pixels,
crop back to the original size at a random place) is done here, also per image. Running in the
input pipeline keeps the saved model free of them: validation, test and predict see the
images as they are. Pixels are in [0, 255] here; the model rescales them itself.
"""

from __future__ import annotations

from ..errors import ConfigError
from .spec import IMAGE

PIXEL_RANGE = (0, 255)


def is_enabled(augment_config) -> bool:
    return augment_config.flip != "none" or any(
        getattr(augment_config, key) for key in
        ("rotation", "zoom", "translation", "contrast", "crop"))


def make_augmenter(augment_config, input_kind: str, seed: int):
    """A function from a batch of images to a batch of augmented images, or None."""
    if not is_enabled(augment_config):
        return None
    if input_kind != IMAGE:
        raise ConfigError(f"data.augment changes images, but this data is {input_kind}; "
                          "remove data.augment")
    import keras

    config = augment_config
    layers = []
    if config.flip != "none":
        layers.append(keras.layers.RandomFlip(config.flip, seed=seed))
    if config.rotation:
        layers.append(keras.layers.RandomRotation(config.rotation, seed=seed + 1))
    if config.zoom:
        layers.append(keras.layers.RandomZoom(config.zoom, seed=seed + 2))
    if config.translation:
        layers.append(keras.layers.RandomTranslation(
            config.translation, config.translation, seed=seed + 3))
    if config.contrast:
        layers.append(keras.layers.RandomContrast(
            config.contrast, value_range=PIXEL_RANGE, seed=seed + 4))
    crop = padded_crop(config.crop, seed + 5) if config.crop else None

    def augment(images):
        for layer in layers:
            images = layer(images, training=True)
        return crop(images) if crop else images

    return augment


def padded_crop(padding: int, seed: int):
    """Pad every image by `padding` zero pixels per side, then cut out a window of the original
    size at an offset drawn for each image (Keras' RandomCrop draws one offset per batch)."""
    import tensorflow as tf

    generator = tf.random.Generator.from_seed(seed)

    def crop(images):
        shape = tf.shape(images)
        batch, height, width = shape[0], shape[1], shape[2]
        padded = tf.pad(images, [[0, 0], [padding, padding], [padding, padding], [0, 0]])
        offsets = generator.uniform((batch, 2), 0, 2 * padding + 1, dtype=tf.int32)
        rows = offsets[:, :1] + tf.range(height)[tf.newaxis]  # (batch, height)
        columns = offsets[:, 1:] + tf.range(width)[tf.newaxis]  # (batch, width)
        cropped = tf.gather(padded, rows, axis=1, batch_dims=1)
        cropped = tf.gather(cropped, columns, axis=2, batch_dims=1)
        return tf.ensure_shape(cropped, images.shape)

    return crop
