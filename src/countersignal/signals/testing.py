"""Conformance checks every signal type must pass (like pytx's ``signal_type`` test helper).

Use from a test::

    check_signal_type(PDQ, valid=[...], invalid=[...], canonical={"  ABC...": "abc..."})

It raises ``AssertionError`` naming the first broken promise. The checks are the contract
indexes rely on: validation is idempotent and rejects junk with :class:`InvalidSignal`;
``distance`` is zero on itself, non-negative and (unless the type says otherwise) symmetric;
``compare`` returns exactly the candidates ``distance`` puts within the threshold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from countersignal.errors import InvalidSignal
from countersignal.signals import get_signal_type
from countersignal.signals.base import SignalType


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def _rejects(signal_type: type[SignalType], value: object) -> None:
    try:
        signal_type.validate(value)  # type: ignore[arg-type]
    except InvalidSignal:
        return
    except Exception as exc:
        raise AssertionError(
            f"{signal_type.name}.validate({value!r:.60}) raised {type(exc).__name__}, "
            "not InvalidSignal"
        ) from exc
    raise AssertionError(f"{signal_type.name}.validate accepted invalid {value!r:.60}")


def check_signal_type(
    signal_type: type[SignalType],
    *,
    valid: Sequence[str],
    invalid: Sequence[object],
    canonical: Mapping[str, str] | None = None,
) -> None:
    """Check one signal type against the interface contract.

    ``valid`` needs at least two values with different canonical forms; ``canonical`` maps
    raw inputs to the canonical form ``validate`` must return.
    """
    name = signal_type.name
    _expect(get_signal_type(name) is signal_type, f"{name} is not registered in SIGNAL_TYPES")
    _expect(
        0 <= signal_type.default_threshold <= signal_type.max_threshold,
        f"{name}: default_threshold must lie in 0..max_threshold",
    )
    for raw, expected in (canonical or {}).items():
        got = signal_type.validate(raw)
        _expect(
            got == expected, f"{name}.validate({raw!r:.60}) = {got!r:.60}, not {expected!r:.60}"
        )

    values = [signal_type.validate(v) for v in valid]
    _expect(len(set(values)) >= 2, f"{name}: give at least two distinct valid values")
    for value in values:
        _expect(signal_type.validate(value) == value, f"{name}: validate is not idempotent")
        _expect(signal_type.distance(value, value) == 0, f"{name}: distance(x, x) != 0")

    for a in values:
        for b in values:
            dist = signal_type.distance(a, b)
            _expect(dist >= 0, f"{name}: negative distance")
            if signal_type.symmetric:
                _expect(dist == signal_type.distance(b, a), f"{name}: distance not symmetric")

    thresholds = {0, signal_type.default_threshold, signal_type.max_threshold}
    for query in values:
        for threshold in thresholds:
            expected_matches = [
                (i, d)
                for i, c in enumerate(values)
                if (d := signal_type.distance(query, c)) <= threshold
            ]
            got = signal_type.compare(query, list(valid), threshold)
            _expect(
                got == expected_matches,
                f"{name}.compare disagrees with distance at threshold {threshold}",
            )
            _expect(any(d == 0 for _, d in got), f"{name}.compare misses the query itself")
        _expect(
            signal_type.compare(query, values)
            == signal_type.compare(query, values, signal_type.default_threshold),
            f"{name}.compare(threshold=None) does not use default_threshold",
        )

    for bad_threshold in (-1, signal_type.max_threshold + 1):
        try:
            signal_type.compare(values[0], values, bad_threshold)
        except InvalidSignal:
            continue
        raise AssertionError(f"{name}.compare accepted threshold {bad_threshold}")

    for bad in [*invalid, None, 12345, b"bytes", ""]:
        _rejects(signal_type, bad)
