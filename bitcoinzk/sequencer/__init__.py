"""Ordering, the consensus component today: mempool, sequencer, block producer and
the node's store of blocks, batches and receipts."""
