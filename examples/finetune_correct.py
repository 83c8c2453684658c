"""The same fine-tuning workflow, written so that the pretrained BatchNormalization statistics survive.

- the frozen base is called with training=False (what protects on tf.keras);
- when it is unfrozen, its BatchNormalization layers are kept frozen (what protects on Keras 3);
- the model is compiled again after every change to `trainable`.
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

base.trainable = True
for layer in base.layers:
    if isinstance(layer, keras.layers.BatchNormalization):
        layer.trainable = False
model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(images, labels, epochs=2)
