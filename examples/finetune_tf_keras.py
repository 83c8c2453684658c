"""The same workflow on tf.keras 2 (`tf_keras`), where `training=False` at the call is what protects.

bnlint finds BN001 (exposed): the frozen base is called without `training=False`, then unfrozen
and trained, so its BatchNormalization layers switch to batch statistics and overwrite the
pretrained moving mean and variance. `base(inputs, training=False)` fixes it (`bnlint check --fix`).
"""

import numpy as np
import tf_keras as keras

IMAGE_SHAPE = (96, 96, 3)

base = keras.applications.MobileNetV2(weights=None, include_top=False, input_shape=IMAGE_SHAPE)
base.trainable = False

inputs = keras.Input(IMAGE_SHAPE)
x = base(inputs)
x = keras.layers.GlobalAveragePooling2D()(x)
outputs = keras.layers.Dense(5, activation="softmax")(x)
model = keras.Model(inputs, outputs)

images = np.random.rand(32, *IMAGE_SHAPE).astype("float32")
labels = np.random.randint(0, 5, size=(32,))

model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(images, labels, epochs=2)

base.trainable = True
model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(images, labels, epochs=2)
