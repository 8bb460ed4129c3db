"""A tiny numpy 'framework' with a real INT8 path, so lpot-core's tests need no DL framework."""
