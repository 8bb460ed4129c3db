"""Exceptions raised by lpot.

Every error a user can cause is an ``LpotError``; subclasses also inherit the matching builtin so
``except ValueError`` keeps working. Messages say what failed, the name, why, and the fix.
"""

from __future__ import annotations


class LpotError(Exception):
    """Base class of every error lpot raises on purpose."""


class ConfigError(LpotError, ValueError):
    """A configuration file or object is malformed, has an unknown key or a bad value."""


class BackendNotFoundError(LpotError, LookupError):
    """No installed backend accepts the model, or a named backend is not installed."""


class PluginError(LpotError, ImportError):
    """A plugin (backend, strategy, metric, objective) is missing or failed to load."""


class ModelError(LpotError, ValueError):
    """A model file is missing, unreadable or not of the expected format."""


class DataError(LpotError, ValueError):
    """A dataloader is empty or yields batches of an unexpected shape."""


class EvaluationError(LpotError, RuntimeError):
    """The user's eval_func raised, or returned something that is not a finite number."""


class ResumeError(LpotError, RuntimeError):
    """A workspace cannot be resumed: different config or model, or a damaged history."""


class QuantizationError(LpotError, RuntimeError):
    """A backend could not apply a recipe to a model."""


class ExecutorError(LpotError, RuntimeError):
    """A parallel executor itself failed (a worker that cannot start)."""


class WorkerSetupError(LpotError, RuntimeError):
    """A worker could not load what the driver sent it (an eval_func it cannot import, ...)."""


class WorkspaceError(LpotError, OSError):
    """A workspace cannot be used: not a folder, not writable, a full disk, a damaged file in it."""


class WorkspaceBusyError(WorkspaceError):
    """Another lpot run holds the workspace's lock."""


class FeatureNotAvailableError(LpotError, NotImplementedError):
    """A feature of LPOT 1.x (or of a later lpot) that this lpot does not have; the message names
    what to use instead."""


def first_line(exc: BaseException, limit: int | None = None) -> str:
    """The first non-blank line of ``exc``'s message ("" if it has none), cut to ``limit``
    characters: how an lpot error quotes a framework's, whose later lines are its internals."""
    line = next((text.strip() for text in str(exc).splitlines() if text.strip()), "")
    return line if limit is None else line[:limit]
