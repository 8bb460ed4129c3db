"""A third-party strategy: try the default recipe only."""

from __future__ import annotations

from lpot.strategies.base import Search, SearchStrategy


class DefaultOnly(SearchStrategy):
    name = "default_only"

    def search(self) -> Search:
        yield "default", self.space.default_recipe()
