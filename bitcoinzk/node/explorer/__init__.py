"""The block explorer: server-rendered HTML pages the node (or a full node) mounts
under /explorer."""
