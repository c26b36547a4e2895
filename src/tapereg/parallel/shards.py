"""A worker's shard of any re-iterable stream of blocks: every n-th block.

(A table read from files is better sharded with ``tapereg.io.readers.shard_of``,
which skips the other workers' blocks before parsing them.)
"""

from __future__ import annotations

from collections.abc import Iterable


class ShardedBlocks:
    """The blocks of any re-iterable stream that belong to worker ``index`` of
    ``count``: every ``count``-th block, starting at ``index``.

    Each block is still produced on every worker and dropped by the others; a
    TableStream is better sharded with :func:`shard_of`, which skips the other
    workers' blocks before parsing them. Attributes of the stream (names,
    ``no_rows_error``) pass through.
    """

    def __init__(self, blocks: Iterable, index: int, count: int):
        if not 0 <= index < count:
            raise ValueError(f"worker index {index} is not in 0..{count - 1}")
        self.blocks, self.index, self.count = blocks, index, count

    def __iter__(self):
        for k, block in enumerate(self.blocks):
            if k % self.count == self.index:
                yield block

    def __getattr__(self, name):
        return getattr(self.blocks, name)
