"""Adaptive-search policies and Hyperband arithmetic (pure: no dask, no I/O).

A *policy* looks at the scoring history of the models still alive and says
how much more work each should get::

    policy(history) -> {model_id: n_more}

``history`` maps each live model to its score records, oldest first (a list
of dicts with at least ``"score"`` and the resource counter, by default
``"partial_fit_calls"``; a model not trained yet has an empty list). In the
answer, a model that is missing is dropped (its model is released), ``0``
keeps it without more training, and ``n > 0`` asks for ``n`` more units of
resource (``partial_fit`` calls, or training samples for a refit-based
search). When every value is ``0`` the search is over and the models that
are left are its survivors.

The policies never look at the clock or at which worker finished first, so
a search is reproducible and every decision can be tested by hand.
:func:`plan_round` adds the limits every search shares (``max_iter``,
``patience`` / ``tol``, calls per round) around any of them.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

CALLS = "partial_fit_calls"

History = Mapping[object, Sequence[Mapping]]
Instructions = dict


# --------------------------------------------------------------------- helpers
def current(records: Sequence[Mapping], key: str = CALLS) -> int:
    """Resource used so far by one model (0 before its first record)."""
    return int(records[-1][key]) if records else 0


def last_score(records: Sequence[Mapping]) -> float:
    """Latest score of one model; ``-inf`` if it has none or it is NaN."""
    if not records:
        return -math.inf
    score = records[-1]["score"]
    return -math.inf if score is None or math.isnan(score) else float(score)


def top_models(history: History, k: int) -> list:
    """The ``k`` models with the highest latest score, best first.

    NaN scores rank last; ties keep the order of ``history`` (so decisions do
    not depend on anything but the records).
    """
    order = sorted(enumerate(history), key=lambda item: (-last_score(history[item[1]]), item[0]))
    return [model_id for _, model_id in order[: max(int(k), 0)]]


def plateaued(records: Sequence[Mapping], patience, tol, key: str = CALLS) -> bool:
    """Whether the last ``patience`` calls improved the score by at most ``tol``.

    The reference is the latest record made at least ``patience`` calls ago;
    the model has plateaued when no later record beats it by more than
    ``tol``. False when ``patience`` is off, ``tol`` is None/NaN, or the
    model has not been trained ``patience`` calls past a first score.
    """
    if not patience or tol is None or (isinstance(tol, float) and math.isnan(tol)) or not records:
        return False
    now = current(records, key)
    ref = [r for r in records if now - r[key] >= patience]
    if not ref:
        return False
    reference = ref[-1]
    later = [r["score"] for r in records if r[key] > reference[key]]
    if not later:
        return False
    return max(later) - reference["score"] <= tol


# -------------------------------------------------------------------- policies
def train_all(history: History, *, max_iter: int, done: Collection = (), key: str = CALLS) -> Instructions:
    """Train every model to ``max_iter`` (IncrementalSearchCV: no model is dropped).

    Models in ``done`` (plateaued, or at ``max_iter``) get no more calls.
    """
    return {m: 0 if m in done else max(int(max_iter) - current(r, key), 0) for m, r in history.items()}


def inverse_decay(
    history: History,
    *,
    n_initial: int,
    decay_rate: float,
    max_iter: int,
    done: Collection = (),
    key: str = CALLS,
) -> Instructions:
    """Keep the best ``max(1, floor(n_initial / (1 + t) ** decay_rate))`` models
    after ``t`` calls; train them until that number next changes.

    ``t`` is the largest number of calls any live model has had. The models
    kept train together, so they reach the next decay point at the same time;
    the last model left trains on to ``max_iter``. ``decay_rate=0`` trains
    every model to ``max_iter``.
    """
    t = max((current(r, key) for r in history.values()), default=0)

    def keep(step: int) -> int:
        try:
            return max(1, math.floor(n_initial / (1 + step) ** decay_rate + 1e-9))
        except OverflowError:  # (1 + step) ** decay_rate past a float's range: keep one
            return 1

    target = keep(t)
    survivors = list(history) if t == 0 else top_models(history, target)
    steps = 1
    while t + steps < max_iter and keep(t + steps) == target:
        steps += 1
    return {m: 0 if m in done else steps for m in survivors}


def successive_halving(
    history: History,
    *,
    rungs: Sequence[tuple[int, int]],
    done: Collection = (),
    key: str = CALLS,
) -> Instructions:
    """Successive halving over ``rungs``, a list of ``(n_models, resource)``.

    Rung ``k`` trains its models to ``resource_k``; when every live model has
    reached it (or is ``done``), the best ``n_models_{k+1}`` go on to rung
    ``k + 1`` and the others are dropped. After the last rung every survivor
    gets 0 (the search is over). The rung is read from the history (the
    smallest one whose resource covers the most-trained model), so the
    policy keeps no state.
    """
    if not history:
        return {}
    most = max(current(r, key) for r in history.values())
    k = next((i for i, (_, res) in enumerate(rungs) if res >= most), len(rungs) - 1)
    target = rungs[k][1]
    unfinished = {m for m, r in history.items() if current(r, key) < target and m not in done}
    if unfinished:
        return {m: target - current(r, key) if m in unfinished else 0 for m, r in history.items()}
    if k == len(rungs) - 1:
        return {m: 0 for m in history}
    n_next, res_next = rungs[k + 1]
    keep = top_models(history, n_next)
    return {m: 0 if m in done else max(res_next - current(history[m], key), 0) for m in keep}


def plan_round(
    history: History,
    policy: Callable[..., Instructions],
    *,
    max_iter: int | None = None,
    patience=False,
    tol=1e-3,
    max_per_round: int | None = None,
    key: str = CALLS,
) -> Instructions:
    """Next round's work: ``policy`` plus the limits every search shares.

    A model is *done* when it reached ``max_iter`` or :func:`plateaued`; the
    policy receives the set (``done=``) and a done model never gets more
    work. Each model's request is capped at ``max_iter`` in total and at
    ``max_per_round`` (and ``patience``) per round, so plateaus are checked
    on time; later rounds continue where the cap stopped.
    """
    done = {
        m for m, r in history.items()
        if (max_iter is not None and current(r, key) >= max_iter) or plateaued(r, patience, tol, key)
    }
    raw = policy(history, done=frozenset(done))
    caps = [c for c in (max_per_round, patience if patience else None) if c]
    out = {}
    for m, n in raw.items():
        if m not in history:
            raise KeyError(f"policy returned model {m!r}, which is not alive")
        used = current(history[m], key)
        n = 0 if m in done else int(n)
        if max_iter is not None:
            n = min(n, int(max_iter) - used)
        for cap in caps:
            n = min(n, int(cap))
        out[m] = max(n, 0)
    return out


# ---------------------------------------------------------- rungs and brackets
def _is_int(x) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _floor_scale(value: int, eta, power: int) -> int:
    """``floor(value * eta ** power)``, exact for an integer ``eta``."""
    if _is_int(eta):
        eta = int(eta)
        return value * eta**power if power >= 0 else value // eta ** (-power)
    return math.floor(value * float(eta) ** power + 1e-9)


def sha_rungs(n_models: int, n_initial: int, aggressiveness, max_resource: int | None = None) -> list[tuple[int, int]]:
    """Rungs ``[(n_models_k, resource_k), ...]`` of one successive halving run.

    ``n_models_k = floor(n_models / eta**k)`` models are trained to
    ``resource_k = floor(n_initial * eta**k)``, raised when needed to one more
    than ``resource_{k-1}`` so that every rung trains further (with a
    non-integer ``eta`` the floors can repeat). The run ends after the rung
    that leaves one model, or whose successor would keep no model, or at the
    first rung reaching ``max_resource`` (its resource is then
    ``max_resource`` exactly). With an integer ``eta`` these are the rungs
    of the Hyperband paper's inner loop (and of dask-ml's
    SuccessiveHalvingSearchCV), except that no model ever exceeds
    ``max_resource``.
    """
    rungs, previous, k = [], 0, 0
    while True:
        n_k = _floor_scale(n_models, aggressiveness, -k)
        if n_k < 1:
            break
        r_k = max(_floor_scale(n_initial, aggressiveness, k), previous + 1)
        if max_resource is not None and r_k >= max_resource:
            rungs.append((n_k, int(max_resource)))
            break
        rungs.append((n_k, r_k))
        if n_k == 1:
            break
        previous, k = r_k, k + 1
    return rungs


def cap_rungs(rungs: Sequence[tuple[int, int]], max_models: int | None) -> list[tuple[int, int]]:
    """``rungs`` with at most ``max_models`` models in each (None: unchanged).

    For a search with fewer candidates than planned (a small space of
    lists): the rungs keep their resources, so the best candidate still
    trains as far as planned.
    """
    if max_models is None:
        return list(rungs)
    return [(min(n, int(max_models)), r) for n, r in rungs]


def n_halvings(n_models: int, aggressiveness) -> int:
    """Number of halvings (rungs minus one) until one model is left, or until
    the next would keep none: the smallest ``k`` with ``floor(n_models /
    eta**k) == 1`` or ``floor(n_models / eta**(k + 1)) == 0``."""
    k = 0
    while (_floor_scale(n_models, aggressiveness, -k) > 1
           and _floor_scale(n_models, aggressiveness, -(k + 1)) >= 1):
        k += 1
    return k


def exhaust_initial(n_models: int, aggressiveness, max_resource: int) -> int:
    """First rung's resource of :func:`exhaust_rungs`: ``floor(max_resource /
    eta**K)`` for ``K`` halvings, at least 1."""
    return max(1, _floor_scale(int(max_resource), aggressiveness, -n_halvings(n_models, aggressiveness)))


def exhaust_rungs(n_models: int, aggressiveness, max_resource: int, min_resource: int = 1) -> list[tuple[int, int]]:
    """Rungs whose last one uses exactly ``max_resource`` (scikit-learn's
    ``min_resources='exhaust'``): rung ``k`` of ``K`` trains
    ``floor(n_models / eta**k)`` models to ``floor(max_resource * eta**(k - K))``
    (at least ``min_resource``, and increasing; rungs that would pass
    ``max_resource`` are dropped, so the last may keep several models)."""
    K = n_halvings(n_models, aggressiveness)
    rungs, previous = [], 0
    for k in range(K + 1):
        r = max(_floor_scale(int(max_resource), aggressiveness, k - K), previous + 1, int(min_resource), 1)
        rungs.append((_floor_scale(n_models, aggressiveness, -k), min(r, int(max_resource))))
        previous = rungs[-1][1]
        if previous >= max_resource:
            break
    return rungs


def rung_total(rungs: Sequence[tuple[int, int]]) -> int:
    """Total resource of a run: the models dropped after rung ``k`` used
    ``resource_k`` each; the survivors of the last rung used its resource."""
    total = 0
    for k, (n_k, r_k) in enumerate(rungs):
        n_next = rungs[k + 1][0] if k + 1 < len(rungs) else 0
        total += (n_k - n_next) * r_k
    return total


def _power(eta, s: int):
    """``eta ** s``, an exact int for an integer ``eta``."""
    return int(eta) ** s if _is_int(eta) else float(eta) ** s


def _s_max(max_iter: int, eta) -> int:
    """Largest ``s`` with ``eta**s <= max_iter`` (exact, unlike ``floor(log)``)."""
    s = 0
    while _power(eta, s + 1) <= max_iter + (0 if _is_int(eta) else 1e-9):
        s += 1
    return s


@dataclass(frozen=True)
class Bracket:
    """One bracket of Hyperband: successive halving of ``n_models`` models
    from ``n_initial_iter`` calls up to ``max_iter``."""

    bracket: int
    n_models: int
    n_initial_iter: int
    rungs: list = field(compare=False)

    @property
    def partial_fit_calls(self) -> int:
        return rung_total(self.rungs)

    @property
    def decisions(self) -> list[int]:
        return [r for _, r in self.rungs]


def hyperband_brackets(max_iter: int, aggressiveness=3) -> list[Bracket]:
    """Hyperband's brackets for ``R = max_iter`` and ``eta = aggressiveness``,
    most adaptive first.

    With ``s_max = floor(log_eta(R))`` and ``B = (s_max + 1) R``, bracket ``s``
    (``s_max`` down to 0) starts ``n = ceil(B / R * eta**s / (s + 1))`` models
    at ``r = floor(R / eta**s)`` calls, then runs :func:`sha_rungs` up to ``R``
    (Algorithm 1 of Li et al., "Hyperband", JMLR 2018). ``s_max`` is computed
    exactly, so ``max_iter=243`` with ``eta=3`` has 6 brackets.

    Because ``r`` is floored, only bracket 0 (``r = R``) is sure to reach
    ``R``: the others end, as in dask-ml, at the largest ``r * eta**k <= R``
    their models last for (a rung that would pass ``R`` is cut to ``R``).
    Every bracket reaches ``R`` when it is a power of an integer ``eta``;
    ``R=100``, ``eta=3`` gives brackets 4 to 0 ending at 81, 81, 99, 99 and
    100 calls.
    """
    R = int(max_iter)
    s_max = _s_max(R, aggressiveness)
    out = []
    for s in range(s_max, -1, -1):
        scaled = (s_max + 1) * _power(aggressiveness, s)  # B / R * eta**s
        n = -(-scaled // (s + 1)) if _is_int(aggressiveness) else math.ceil(scaled / (s + 1) - 1e-9)
        r = _floor_scale(R, aggressiveness, -s)
        out.append(Bracket(bracket=s, n_models=int(n), n_initial_iter=int(r),
                           rungs=sha_rungs(int(n), r, aggressiveness, R)))
    return out


def hyperband_metadata(max_iter: int, aggressiveness=3, max_models: int | None = None) -> dict:
    """What Hyperband will do (no patience): ``n_models``, ``partial_fit_calls``
    and, per bracket (ascending ``bracket`` as in dask-ml), ``bracket``,
    ``n_models``, ``partial_fit_calls``, ``decisions`` (the calls at which
    models are compared) and ``rungs``. ``max_models`` caps the models of
    every rung (see :func:`cap_rungs`): the number of distinct candidates of
    a space of lists."""
    brackets = sorted(hyperband_brackets(max_iter, aggressiveness), key=lambda b: b.bracket)
    info = []
    for b in brackets:
        rungs = cap_rungs(b.rungs, max_models)
        info.append({
            "bracket": b.bracket,
            "n_models": rungs[0][0],
            "partial_fit_calls": rung_total(rungs),
            "decisions": [r for _, r in rungs],
            "rungs": [{"n_models": n, "partial_fit_calls": r} for n, r in rungs],
        })
    return {
        "n_models": sum(b["n_models"] for b in info),
        "partial_fit_calls": sum(b["partial_fit_calls"] for b in info),
        "brackets": info,
    }


def hyperband_patience(patience, max_iter: int, aggressiveness) -> int | bool:
    """``patience=True`` means ``max(max_iter // aggressiveness, 2)``: dask-ml's
    choice, but at least 2, the smallest patience a search accepts."""
    if patience is True:
        return max(int(max_iter // aggressiveness), 2)
    return patience
