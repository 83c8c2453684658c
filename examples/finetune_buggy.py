"""Transfer learning the way many tutorials write it, with two silent fine-tuning bugs on Keras 3.

bnlint finds:
- BN003: the first fine-tuning fit() runs right after `base.trainable = True` without compiling
  again, so Keras 3 reuses the train function it already traced and only the head keeps training;
- BN004: once the model is compiled again, fit() runs the unfrozen base's BatchNormalization layers
  on batch statistics and overwrites the pretrained moving averages, although the base is called
  with training=False (Keras 3's fit() overrides a functional call's training=False).
"""

import keras
import numpy as np

IMAGE_SHAPE = (96, 96, 3)

base = keras.applications.MobileNetV2(weights=None, include_top=False, input_shape=IMAGE_SHAPE)
base.trainable = False

inputs = keras.Input(IMAGE_SHAPE)
x = base(inputs, training=False)
x = keras.layers.GlobalAveragePooling2D()(x)
outputs = keras.layers.Dense(5, activation="softmax")(x)
model = keras.Model(inputs, outputs)

images = np.random.rand(32, *IMAGE_SHAPE).astype("float32")
labels = np.random.randint(0, 5, size=(32,))

model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(images, labels, epochs=2)

# Fine-tune the whole network.
base.trainable = True
model.fit(images, labels, epochs=1)
model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(images, labels, epochs=2)
