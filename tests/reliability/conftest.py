"""The reliability corpus: kill/resume equality and one case per fault, each asserting the error
class and a fragment of its message, or the exact recovered state."""
