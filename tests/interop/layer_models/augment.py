"""The random augmentation layers (plugins/layers/src/random_augmentation.cpp) through every format.

The harness compares inference outputs, so these models check what tf-keras returns at
inference: the identity for RandomFlip/Rotation/Zoom/Translation/Contrast/Brightness and
RandomHeight/Width, and RandomCrop's smart resize to its height x width. Trainable layers
before and after the augmentation make the gradients check that the identity passes them.
Keras 3 has no RandomHeight/RandomWidth (their models come last, so that the rng stream of
the others is the same under both Kerases), and its RandomCrop returns the input unchanged at
inference (its declared output shape notwithstanding), so only the equal-size crop runs there.
"""


def models(keras, rng):
    L = keras.layers

    def randomized(model):
        model.set_weights([rng.uniform(-0.5, 0.5, w.shape).astype(w.dtype) for w in model.get_weights()])
        return model

    def images(*shape, high=255.0):
        return rng.uniform(0.0, high, size=shape).astype("float32")

    out = []

    i = keras.Input((6, 8, 3))
    h = L.RandomFlip("horizontal", seed=1)(i)
    out.append(dict(name="augment_flip_conv", model=randomized(keras.Model(i, L.Conv2D(2, 3)(h))),
                    x=[images(2, 6, 8, 3)]))

    i = keras.Input((7, 7, 2))
    h = L.RandomRotation(0.2, fill_mode="constant", fill_value=0.5, interpolation="nearest", seed=3)(i)
    out.append(dict(name="augment_rotation_nearest", model=randomized(keras.Model(i, L.Dense(3)(h))),
                    x=[images(3, 7, 7, 2, high=1.0)]))

    i = keras.Input((5, 6, 2))
    h = L.RandomRotation((-0.1, 0.25))(i)
    h = L.GlobalAveragePooling2D()(h)
    out.append(dict(name="augment_rotation_default", model=randomized(keras.Model(i, L.Dense(2)(h))),
                    x=[images(2, 5, 6, 2)]))

    i = keras.Input((6, 6, 3))
    h = L.RandomZoom(0.2, (-0.1, 0.3), fill_mode="wrap", seed=11)(i)
    out.append(dict(name="augment_zoom_wrap", model=randomized(keras.Model(i, L.Conv2D(2, 3, padding="same")(h))),
                    x=[images(2, 6, 6, 3, high=1.0)]))

    i = keras.Input((5, 7, 1))
    h = L.RandomTranslation(0.1, (-0.2, 0.2), fill_mode="nearest", interpolation="nearest")(i)
    out.append(dict(name="augment_translation", model=randomized(keras.Model(i, L.Dense(2)(h))),
                    x=[images(2, 5, 7, 1)]))

    i = keras.Input((5, 5, 2))
    h = L.RandomCrop(5, 5, seed=2)(i)
    out.append(dict(name="augment_crop_same_size", model=randomized(keras.Model(i, L.Dense(2)(h))),
                    x=[images(2, 5, 5, 2, high=1.0)]))

    i = keras.Input((4, 4, 2))
    h = L.Conv2D(3, 1)(i)
    h = L.RandomBrightness(0.2)(h)
    h = L.RandomContrast((0.1, 0.3))(h)
    out.append(dict(name="augment_identity_passes_gradients", model=randomized(keras.Model(i, h)),
                    x=[images(3, 4, 4, 2, high=1.0)]))

    i = keras.Input((5, 5, 3))
    h = L.RandomContrast(0.4, seed=5)(i)
    h = L.RandomBrightness((-0.1, 0.2), value_range=(0, 1))(h)
    out.append(dict(name="augment_contrast_brightness", model=randomized(keras.Model(i, L.Conv2D(2, 2)(h))),
                    x=[images(2, 5, 5, 3, high=1.0)]))

    i = keras.Input((8, 8, 3))
    h = L.RandomFlip()(i)
    h = L.RandomRotation(0.1, fill_mode="reflect")(h)
    h = L.RandomZoom((-0.2, 0.0))(h)
    h = L.RandomTranslation((-0.1, 0.1), 0.1, fill_mode="constant")(h)
    h = L.RandomContrast(0.2)(h)
    h = L.RandomBrightness(0.1)(h)
    h = L.Conv2D(2, 3)(h)
    out.append(dict(name="augment_pipeline", model=randomized(keras.Model(i, L.GlobalMaxPooling2D()(h))),
                    x=[images(2, 8, 8, 3)]))

    # Keras 3 returns RandomCrop's input unchanged at inference; tf-keras smart-resizes.
    i = keras.Input((6, 8, 3))
    h = L.RandomCrop(4, 4)(i)
    out.append(dict(name="augment_crop_resize", model=randomized(keras.Model(i, L.Conv2D(2, 3)(h))),
                    x=[images(2, 6, 8, 3, high=1.0)], keras3=False))

    i = keras.Input((6, 6, 2))
    h = L.Conv2D(2, 1)(i)
    h = L.RandomCrop(8, 5)(h)
    out.append(dict(name="augment_crop_upsamples", model=randomized(keras.Model(i, h)),
                    x=[images(2, 6, 6, 2, high=1.0)], keras3=False))

    # Keras 3 has no RandomHeight/RandomWidth: last, and only where the class exists.
    if hasattr(L, "RandomHeight"):
        i = keras.Input((6, 8, 3))
        h = L.RandomHeight(0.2)(i)
        h = L.Conv2D(2, 3)(h)
        out.append(dict(name="augment_height", model=randomized(keras.Model(i, L.GlobalAveragePooling2D()(h))),
                        x=[images(2, 6, 8, 3, high=1.0)], keras3=False))

        i = keras.Input((5, 7, 2))
        h = L.Conv2D(2, 1)(i)
        h = L.RandomWidth((0.1, 0.3), interpolation="nearest", seed=4)(h)
        out.append(dict(name="augment_width", model=randomized(keras.Model(i, L.GlobalMaxPooling2D()(h))),
                        x=[images(2, 5, 7, 2, high=1.0)], keras3=False))
    return out
