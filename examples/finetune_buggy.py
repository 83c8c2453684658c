"""Transfer learning the way many tutorials write it, with three silent BatchNormalization bugs.

bnlint finds: BN001 (the frozen base is called without training=False), BN004 (unfreezing
exposes its BN layers) and BN003 (fit() after the unfreeze without compiling again).
"""

import keras
import numpy as np

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

# Fine-tune the whole network.
base.trainable = True
model.fit(images, labels, epochs=2)
