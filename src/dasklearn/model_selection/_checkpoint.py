"""Durable, append-only record of finished fits, so a search can resume.

Format: JSON lines. The first line is a header holding a fingerprint of
everything that determines the results (search class, estimator, candidates,
splits, scoring, data). Each further line is one finished (candidate, split)
record with a CRC32 of its content. Lines are appended, flushed and fsynced
as results arrive. A crash mid-write leaves at most one torn last line;
loading stops at the first line that fails to parse or check, and the file is
truncated back to the last good line before anything new is appended.

The header is written to a temporary file, fsynced and hard-linked into
place (and the directory fsynced), so a crash while creating the file
leaves either no checkpoint or a complete header, and of two searches that
create the same file at once only one does (the other reads its header).

Two kinds share the format: ``kind="search"`` (GridSearchCV /
RandomizedSearchCV: one record per successful (candidate, split) fit) and
``kind="adaptive"`` (the adaptive searches: one record per scored round of a
model, with the model's state; see :class:`AdaptiveCheckpoint`).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import pickle
import zlib

_FORMAT = "dasklearn-search-checkpoint"
_VERSION = 2  # written
# the versions each kind reads: from version 2 a search's records score with
# the sample weights and keep scorer failures apart from fit failures, so its
# version-1 records cannot be mixed in; the adaptive kind did not change
_READS = {"search": (2,), "adaptive": (1, 2)}


_LAZY_DATA = (
    " X or y is a dask collection: it is known by its graph's name, not by its values, and that name "
    "changes from run to run when the graph has impure steps (dask.delayed without pure=True, "
    "da.from_array(..., name=False), ...). If the search and its data are the same, give those steps "
    "deterministic names (dask.delayed(load, pure=True), a name= for from_array) to resume."
)


def fingerprints(parts: dict) -> tuple[str, dict]:
    """A stable hash of the search's defining arguments and its data (the
    values of ``parts``, in order): the same in every process that runs the
    same search (so a crashed search's file is recognised when it is run
    again); and a short hash of each part by its name, which the header
    keeps, so that a refusal can name the parts that differ.

    Functions and classes of the user's script (``__main__``) are hashed by
    their code as well as their name, with what that code reads from the
    script: a script whose scorer or estimator class was edited between two
    runs is another search (its recorded results would be stale)."""
    h, each = hashlib.sha256(), {}
    for name, part in parts.items():
        token = str(_token(part))
        h.update(token.encode())
        each[str(name)] = hashlib.sha256(token.encode()).hexdigest()[:16]
    return h.hexdigest(), each


def _token(part) -> str:
    import joblib
    from dask.base import is_dask_collection, tokenize

    if is_dask_collection(part):
        return tokenize(part)
    try:
        token = joblib.hash(part)
    except Exception:  # a lambda (a scorer, say), which pickle cannot name
        token = _value_hash(part)
    scripts = _script_code(part)
    return f"{token}-{scripts}" if scripts else token


def _code_token(code) -> tuple:
    """What a code object does, without where it sits in its file (line
    numbers): an edit elsewhere in the script keeps the token."""
    import types

    consts = []
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            consts.append(_code_token(c))
        elif isinstance(c, frozenset):  # its order follows the (per-process) string hashes
            consts.append(("frozenset", tuple(sorted(map(repr, c)))))
        else:
            consts.append(repr(c))
    return (code.co_code, code.co_names, code.co_varnames, tuple(consts))


class _Discard:
    """A file that keeps nothing (the walk needs no bytes)."""

    def write(self, data) -> int:
        return len(data)


class _ScriptFinder(pickle.Pickler):
    """Walks an object as pickle does, collecting the functions and classes
    of the running script (``__main__``) it refers to; writes nothing.

    Each function or class of the script, and each function pickle could not
    name (a lambda), is replaced by a stand-in, so that the walk goes on past
    it to the rest of the object (pickle would stop at the first lambda)."""

    def __init__(self):
        super().__init__(_Discard(), protocol=pickle.HIGHEST_PROTOCOL)
        self.found: dict = {}  # by a name unique in the walk (lambdas share theirs)

    def reducer_override(self, obj):
        import types

        if isinstance(obj, (types.FunctionType, type)):
            if getattr(obj, "__module__", None) == "__main__":
                _enter(self.found, obj)
                return _function_value, (obj.__qualname__,)
            if isinstance(obj, types.FunctionType) and not _named(obj):
                return _function_value, (obj.__qualname__,)  # hashed by value elsewhere
        return NotImplemented


def _enter(found: dict, obj) -> bool:
    """Add ``obj`` to ``found`` under its qualified name, numbered after the
    first (two lambdas are both ``<lambda>``); once only (False when it was
    there). The walk's order is the same in every run, so the names are too."""
    if any(v is obj for v in found.values()):
        return False
    name, k = obj.__qualname__, 1
    while name in found:
        name, k = f"{obj.__qualname__}#{k}", k + 1
    found[name] = obj
    return True


def _globals_read(code) -> set:
    """The global names a code object (and the code nested in it) reads
    (``LOAD_GLOBAL`` / ``LOAD_NAME``; not the attribute names it also lists)."""
    import dis
    import types

    out = {i.argval for i in dis.get_instructions(code) if i.opname in ("LOAD_GLOBAL", "LOAD_NAME")}
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            out |= _globals_read(c)
    return out


def _members(cls):
    """``(name, value)`` of a class's own attributes, static and class
    methods as their functions, by name."""
    for name, value in sorted(vars(cls).items()):
        yield name, value.__func__ if isinstance(value, (staticmethod, classmethod)) else value


def _functions_of(obj) -> list:
    """The functions whose code makes ``obj``: itself, or a class's methods
    and properties' accessors."""
    import types

    if isinstance(obj, types.FunctionType):
        return [obj]
    out = []
    for _, value in _members(obj):
        if isinstance(value, property):
            out += [f for f in (value.fget, value.fset) if isinstance(f, types.FunctionType)]
        elif isinstance(value, types.FunctionType):
            out.append(value)
    return out


def _with_what_they_use(found: dict) -> dict:
    """``found`` (the script's functions and classes by name) with the rest
    of the script's code their results depend on: its base classes, and
    the functions and classes of the script their code reads as globals (a
    helper a scorer calls), recursively. (Not the script's other global
    values: one computed at run time, a start time, would make every run
    another search.)"""
    import types

    out, todo = dict(found), list(found.values())
    while todo:
        obj = todo.pop()
        used = [b for b in obj.__mro__[1:] if b.__module__ == "__main__"] if isinstance(obj, type) else []
        for fn in _functions_of(obj):
            if fn.__globals__.get("__name__") == "__main__":
                used += [fn.__globals__[n] for n in _globals_read(fn.__code__) if n in fn.__globals__]
        for value in used:
            if isinstance(value, (types.FunctionType, type)) and getattr(value, "__module__", None) == "__main__" \
                    and _enter(out, value):
                todo.append(value)
    return out


def _script_code(part) -> str:
    """A hash of the code of the script's functions and classes ``part``
    refers to ("" when none; numpy / pandas data are not walked)."""
    import numpy as np
    import scipy.sparse as sp

    if isinstance(part, np.ndarray) or hasattr(part, "iloc") or sp.issparse(part):
        return ""
    finder = _ScriptFinder()
    try:
        finder.dump(part)
    except Exception:  # what pickle cannot walk is hashed by value elsewhere
        pass
    if not finder.found:
        return ""
    found = _with_what_they_use(finder.found)
    h = hashlib.sha256()
    for name in sorted(found):
        h.update(name.encode())
        h.update(repr(_object_code(found[name])).encode())
    return h.hexdigest()


def _plain(value) -> str:
    """A stable hash of a class attribute: plain data (numbers, strings,
    numpy arrays, and containers of them; sets by their sorted members'
    hashes, whose order would follow the per-process string hashes) by
    value; anything else (a descriptor, a Client) by its type only."""
    import numbers

    import numpy as np

    def plain(v, depth=0):
        """``v`` with its sets sorted, or None when it is not plain data."""
        if v is None or isinstance(v, (bool, numbers.Number, str, bytes, np.ndarray, np.generic)):
            return ("value", v)
        if depth < 4 and isinstance(v, (tuple, list, set, frozenset, dict)):
            items = list(v.items()) if isinstance(v, dict) else list(v)
            parts = [plain(x, depth + 1) for x in items]
            if any(p is None for p in parts):
                return None
            if isinstance(v, (set, frozenset, dict)):
                parts = sorted(parts, key=_stable)
            return (type(v).__name__, tuple(parts))
        return None

    kept = plain(value)
    return _stable(kept) if kept is not None else f"{type(value).__module__}.{type(value).__qualname__}"


def _stable(value) -> str:
    """A hash of ``value`` that is the same in every run (not its repr, which
    may show an address)."""
    import joblib

    try:
        return joblib.hash(value)
    except Exception:
        return type(value).__qualname__


def _object_code(obj):
    """The code of a function, or of a class's methods (and properties)."""
    import types

    if isinstance(obj, types.FunctionType):
        return _code_token(obj.__code__), _stable(obj.__defaults__)
    out = [tuple(f"{b.__module__}.{b.__qualname__}" for b in obj.__mro__[1:])]
    for name, value in _members(obj):
        if isinstance(value, property):
            out.append((name, *(_code_token(f.__code__) for f in (value.fget, value.fset) if f is not None)))
        elif isinstance(value, types.FunctionType):
            out.append((name, _code_token(value.__code__), _stable(value.__defaults__)))
        elif not name.startswith("__"):  # a class attribute (a constant its methods read)
            out.append((name, _plain(value)))
    return tuple(out)


def _function_value(*parts):  # pragma: no cover - never called: stands for a function in a hash
    raise RuntimeError("only used to hash functions by value")


def _named(fn) -> bool:
    """Can pickle save ``fn`` by its module and name (it is that object)?"""
    import sys

    obj = sys.modules.get(fn.__module__)
    for name in fn.__qualname__.split("."):
        obj = getattr(obj, name, None)
    return obj is fn


class _ValueHasher(pickle.Pickler):
    """Pickles functions that have no importable name (lambdas, nested
    functions) by their code, defaults and closure, which are the same in
    every run of the same program (cloudpickle's pickles of a script's
    classes are not: they carry a per-process id)."""

    def reducer_override(self, obj):
        import types

        if isinstance(obj, types.FunctionType) and not _named(obj):
            cells = []
            for cell in obj.__closure__ or ():
                try:
                    cells.append(cell.cell_contents)
                except ValueError:  # an empty cell
                    cells.append(None)
            return _function_value, (obj.__module__, obj.__qualname__, _code_token(obj.__code__),
                                     obj.__defaults__, obj.__kwdefaults__, tuple(cells))
        return NotImplemented


def _value_hash(part) -> str:
    import io

    buf = io.BytesIO()
    try:
        _ValueHasher(buf, protocol=pickle.HIGHEST_PROTOCOL).dump(part)
    except Exception:  # e.g. a class defined inside a function: by cloudpickle, stable within a process only
        import cloudpickle

        return hashlib.sha256(cloudpickle.dumps(part)).hexdigest()
    return hashlib.sha256(buf.getvalue()).hexdigest()


def _line(entry) -> str:
    """A record: the entry as it is (its metrics in the scorer's order, which
    the resumed results keep), with a CRC of its canonical (sorted) form."""
    body = json.dumps(entry, sort_keys=True)
    return json.dumps({"e": entry, "crc": zlib.crc32(body.encode())})


def _parse(line: str):
    try:
        wrapped = json.loads(line)
        entry = wrapped["e"]
        if zlib.crc32(json.dumps(entry, sort_keys=True).encode()) != wrapped["crc"]:
            return None
        return entry
    except (ValueError, KeyError, TypeError):
        return None


class Checkpoint:
    """Records of finished work at ``path`` for the search ``fingerprint``."""

    def __init__(self, path, fingerprint, kind: str = "search", lazy_data: bool = False):
        self.path = os.fspath(path)
        # the whole search's hash, or (that, {part name: its hash}) from fingerprints()
        self.fingerprint, self.parts = fingerprint if isinstance(fingerprint, tuple) else (fingerprint, None)
        self.kind = kind
        self.lazy_data = lazy_data  # X or y is a dask collection (known by its graph's name)

    def load(self) -> list:
        """Entries already recorded (creating the file if needed).

        Raises ValueError if the file was written for a different search.
        """
        if not os.path.exists(self.path) or os.path.getsize(self.path) == 0:
            header = {"format": _FORMAT, "version": _VERSION, "kind": self.kind,
                      "fingerprint": self.fingerprint}
            if self.parts:
                header["parts"] = self.parts
            if self._create(header):
                return []
            # another process created it meanwhile: its header is judged below
        entries, good_end = [], 0
        with open(self.path, "rb") as fh, _locked(fh):  # (a read-only file of a finished search loads)
            first = fh.readline()
            try:
                header = json.loads(first)
            except ValueError:
                header = None
            if not isinstance(header, dict) or header.get("format") != _FORMAT:
                raise ValueError(
                    f"checkpoint={self.path!r} is not a dasklearn checkpoint file. Pass a new "
                    "path (the file is created) or remove that file."
                )
            if header.get("version") not in _READS.get(self.kind, (_VERSION,)):
                raise ValueError(
                    f"checkpoint={self.path!r} was written by another version of dasklearn "
                    f"(checkpoint format {header.get('version')!r}, this one reads "
                    f"{' or '.join(map(str, _READS.get(self.kind, (_VERSION,))))}), "
                    "whose results may differ from this version's. Pass a new checkpoint path, "
                    "or delete the file to start over."
                )
            if header.get("fingerprint") != self.fingerprint or header.get("kind") != self.kind:
                raise ValueError(
                    f"checkpoint={self.path!r} was written by a different search ({self._what_differs(header)}), "
                    "so its results cannot be reused. Pass a new checkpoint path, or delete the file "
                    "to start over." + (_LAZY_DATA if self.lazy_data else "")
                )
            good_end = fh.tell()
            for raw in fh:
                if not raw.endswith(b"\n"):
                    break  # torn last line: a crash mid-write
                entry = _parse(raw.decode(errors="replace"))
                if entry is None:
                    break
                entries.append(entry)
                good_end += len(raw)
            # under the lock: another run of this search appends only whole lines,
            # and none between this read and the truncation
            if good_end < os.fstat(fh.fileno()).st_size:
                with open(self.path, "r+b") as out:
                    out.truncate(good_end)
                    out.flush()
                    os.fsync(out.fileno())
        return entries

    def _what_differs(self, header) -> str:
        """The parts of the search that differ from the file's, by name, when
        both headers name them; else the list of what could."""
        theirs = header.get("parts")
        if header.get("kind") == self.kind and isinstance(theirs, dict) and self.parts \
                and set(theirs) == set(self.parts):
            differ = [name for name in self.parts if theirs[name] != self.parts[name]]
            if differ:
                return "other " + ", ".join(differ)
        return ("other estimator, parameters, splits, scoring or data, or other code of a function "
                "or class of your script")

    def _create(self, header) -> bool:
        """Publish a file holding just ``header``, unless another process has
        created one meanwhile (then False). The header is written to a
        temporary file first and hard-linked into place, which fails if the
        path exists: of two searches starting at once, one creates the file
        and the other reads its header (and is refused if it is another
        search), instead of both taking it."""
        tmp = f"{self.path}.tmp-{os.getpid()}"
        try:
            with open(tmp, "w") as fh:
                fh.write(json.dumps(header) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, self.path)
            except FileExistsError:
                if os.path.getsize(self.path) != 0:
                    return False
                os.replace(tmp, self.path)  # an empty file there (made by the user): ours
            except OSError:  # a file system without hard links
                os.replace(tmp, self.path)
            _fsync_dir(self.path)
            return True
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def append(self, entries: list) -> None:
        """Durably append ``entries`` (JSON-serialisable) in one write."""
        if not entries:
            return
        data = "".join(_line(e) + "\n" for e in entries)
        with open(self.path, "a") as fh, _locked(fh):
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


@contextlib.contextmanager
def _locked(fh):
    """An exclusive advisory lock on an open file, for the block (none where
    the platform has no ``fcntl``): a load of the file (which truncates a torn
    last line) and the appends of another run of the same search exclude
    each other, so no complete record is ever cut off."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _fsync_dir(path) -> None:
    """Make a new directory entry (a created or renamed file) durable."""
    try:
        fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    except OSError:  # e.g. platforms without directory file descriptors
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ------------------------------------------------------------ adaptive searches
def encode_state(obj) -> str:
    """``obj`` pickled, compressed and base64-encoded (one JSON string)."""
    return base64.b64encode(zlib.compress(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))).decode("ascii")


def decode_state(text: str):
    """Inverse of :func:`encode_state`. Unpickles: read only checkpoints you trust."""
    return pickle.loads(zlib.decompress(base64.b64decode(text)))


def _jsonable(params: dict) -> dict:
    """Candidate parameters for reading (numbers as numbers, others as repr)."""
    out = {}
    for name, value in params.items():
        if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
            value = value.item()
        out[name] = value if isinstance(value, (bool, int, float, str, type(None))) else repr(value)
    return out


class AdaptiveCheckpoint:
    """The checkpoint of an adaptive search: one record per scored round.

    Each line (after the header, see :class:`Checkpoint`) is one unit of work
    that finished: model ``m`` (its id), fold ``f`` (an int, or ``"all"`` for
    the cross-validated refit of the best candidate), ``t`` the resource the
    work was asked to reach (partial_fit calls, or training rows), ``p`` the
    candidate's parameters (for reading only), ``v`` the score record
    (``score``, ``score_time``, ``fit_seconds``, ``resource``; None for the
    refit) and ``s`` the model's state after that work, ``(estimator,
    fit_seconds, resource)`` as :func:`encode_state`. The scores history of a
    model is its lines in order.

    A search resumes by replaying its policy: a unit of work that is
    recorded is not run -- its score is read here -- and a model that must
    train further starts from its last recorded state. Because every
    decision depends only on the scores and every task is deterministic,
    the resumed search does exactly the remaining work and ends with the
    results of an uninterrupted run. The file grows by one model state per
    scored round, so it suits the small models these searches train.
    """

    def __init__(self, path, fingerprint, lazy_data: bool = False):
        self._file = Checkpoint(path, fingerprint, kind="adaptive", lazy_data=lazy_data)
        self._recorded: dict = {}

    @property
    def path(self) -> str:
        return self._file.path

    def load(self) -> int:
        """Read the records (refusing another search's file); how many."""
        entries = self._file.load()
        self._recorded = {(e["m"], e["f"], e["t"]): e for e in entries}
        return len(entries)

    def __len__(self) -> int:
        """Records read and not used yet."""
        return len(self._recorded)

    def take(self, model_id, fold, target):
        """The record of this unit of work (removed from memory), or None."""
        return self._recorded.pop((model_id, fold, int(target)), None)

    def discard(self, model_id) -> None:
        """Forget the remaining records of a dropped model."""
        for key in [k for k in self._recorded if k[0] == model_id]:
            del self._recorded[key]

    def append(self, records) -> None:
        """Durably add ``(model_id, fold, target, params, value, state)`` records."""
        self._file.append([
            {"m": m, "f": f, "t": int(t), "p": _jsonable(p), "v": v, "s": encode_state(s)}
            for m, f, t, p, v, s in records
        ])
