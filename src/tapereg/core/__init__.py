"""The TensorFlow training core: the model, losses, the step, one epoch function
per kind of data, runs. Callbacks, checkpoints and the reducer are passed in.
"""
