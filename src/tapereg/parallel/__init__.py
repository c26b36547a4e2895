"""Training across workers: the cluster (``tf.distribute`` strategies and
TF_CONFIG), the all-reduce reducer, and shards of a stream.
"""
