"""Saved Keras models (.keras, .h5, SavedModel): their config read without TensorFlow, lowered to facts."""
