"""LPOT 1.x's ``lpot.utils`` helpers that deployed scripts call (``lpot.utils.pytorch.load``)."""
