"""The value types users hand to the index and get back from it.

All three are frozen, slotted dataclasses validated at construction, so an ``Alert``
or ``Tick`` that exists is known to be well formed and the hot matching path never
re-checks it.

Numbers. Prices, thresholds and channel bounds arrive as decimal strings, ints,
floats or ``Decimal`` and are stored as IEEE-754 doubles. Converting a decimal of
up to 15 significant digits to the nearest double is monotone and injective
(``DBL_DIG == 15``), so comparing the doubles gives exactly the answer of comparing
the decimals: ``"0.1"`` and ``0.1`` are equal, ``"0.10000000000001"`` is greater.
Percentage moves are decided exactly too: ``price >= (1 + pct/100) * m`` is
evaluated as ``price * 100 >= (100 + pct) * m`` on the decimals the doubles stand
for (their shortest ``repr``), so a 10% move from ``100`` fires at exactly ``110``
although ``1.1 * 100`` is ``110.00000000000001`` in doubles.

Time. ``ts``, ``expires_at``, ``cooldown_s`` and ``window_s`` are seconds; ``ts`` and
``expires_at`` are Unix epoch seconds as floats. A double holds current epoch
times to about 0.24 microseconds, so microsecond timestamps survive unchanged.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from cryptoalerts.errors import ValidationError

__all__ = ["Alert", "Condition", "Fired", "Tick", "Trigger"]


class Condition(StrEnum):
    """What an alert watches for; the exact rule of each is in the README's table."""

    ABOVE = "above"
    BELOW = "below"
    CROSSES_UP = "crosses_up"
    CROSSES_DOWN = "crosses_down"
    CROSSES = "crosses"
    ENTERS_CHANNEL = "enters_channel"
    EXITS_CHANNEL = "exits_channel"
    MOVES_UP_PCT = "moves_up_pct"
    MOVES_DOWN_PCT = "moves_down_pct"


class Trigger(StrEnum):
    """``once``: fire at most once, then leave the index. ``rearm``: fire again."""

    ONCE = "once"
    REARM = "rearm"


THRESHOLD_CONDITIONS: Final = frozenset(
    {Condition.ABOVE, Condition.BELOW, Condition.CROSSES_UP, Condition.CROSSES_DOWN, Condition.CROSSES}
)
CHANNEL_CONDITIONS: Final = frozenset({Condition.ENTERS_CHANNEL, Condition.EXITS_CHANNEL})
PCT_CONDITIONS: Final = frozenset({Condition.MOVES_UP_PCT, Condition.MOVES_DOWN_PCT})
#: Conditions that hold for as long as the price stays put: firing disarms a
#: ``rearm`` alert until a tick finds the condition false again.
LEVEL_CONDITIONS: Final = frozenset({Condition.ABOVE, Condition.BELOW}) | PCT_CONDITIONS
#: Conditions that compare against the previous accepted price, so they cannot
#: fire on a symbol's first accepted tick.
NEEDS_PREV: Final = THRESHOLD_CONDITIONS - {Condition.ABOVE, Condition.BELOW} | CHANNEL_CONDITIONS

_PARAMS: Final = ("threshold", "lower", "upper", "pct", "window_s")
_REQUIRED: Final[dict[Condition, tuple[str, ...]]] = {
    **dict.fromkeys(THRESHOLD_CONDITIONS, ("threshold",)),
    **dict.fromkeys(CHANNEL_CONDITIONS, ("lower", "upper")),
    **dict.fromkeys(PCT_CONDITIONS, ("pct", "window_s")),
}
_MAX_ID_LEN: Final = 256


def to_number(field_name: str, value: object, *, positive: bool = True, allow_zero: bool = False) -> float:
    """Parse a decimal string or number into a finite double, or raise ``ValidationError``."""
    if isinstance(value, bool):  # bool is an int; True as a price is a bug, not a 1
        raise ValidationError(field_name, value, "must be a number or a decimal string, not a bool")
    if type(value) is float:
        number = value
    elif isinstance(value, (float, int, Decimal, numbers.Real)):
        # numpy scalars too; a numpy.float64 (a float subclass) kept as it is would make
        # every comparison with it return a numpy bool
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise ValidationError(field_name, value, "is not a decimal number") from None
    else:
        raise ValidationError(field_name, value, "must be a number or a decimal string")
    if not math.isfinite(number):
        raise ValidationError(field_name, value, "must be finite (no NaN or infinity)")
    if positive and not (number > 0 or (allow_zero and number == 0)):
        raise ValidationError(field_name, value, ">= 0 required" if allow_zero else "must be > 0")
    return number


def _check_name(field_name: str, value: object) -> str:
    if not isinstance(value, str) or not value or not value.strip():
        raise ValidationError(field_name, value, "must be a non-empty string")
    if len(value) > _MAX_ID_LEN:
        raise ValidationError(field_name, value[:40] + "...", f"is longer than {_MAX_ID_LEN} characters")
    if any(ch in value for ch in "\r\n\t\x00"):
        raise ValidationError(field_name, value, "must not contain control characters")
    return value


def _optional_text(field_name: str, value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValidationError(field_name, value, "must be a string")
    return value


def _metadata(value: object) -> dict[str, Any] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValidationError("metadata", value, "is not a JSON object") from None
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ValidationError("metadata", value, "must be a mapping with string keys")
    return dict(value)


@dataclass(frozen=True, slots=True)
class Alert:
    """A price alert on one symbol.

    >>> Alert(id="a1", symbol="BTC-USD", condition="above", threshold="65000")
    Alert(id='a1', symbol='BTC-USD', condition=<Condition.ABOVE: 'above'>, threshold=65000.0, ...)

    Parameters by condition: ``threshold`` for above/below/crosses*, ``lower`` and
    ``upper`` (``lower < upper``) for the channels, ``pct`` (> 0) and ``window_s``
    (> 0) for the percentage moves; the others must be left ``None``.
    ``owner``, ``channel``, ``note`` and ``metadata`` (any JSON-ready mapping, or a
    JSON object string as in a CSV cell) are carried along and never interpreted
    (stores index ``owner`` for listing).

    Raises:
        ValidationError: naming the field and the bad value.
    """

    id: str
    symbol: str
    condition: Condition
    threshold: float | None = None
    lower: float | None = None
    upper: float | None = None
    pct: float | None = None
    window_s: float | None = None
    trigger: Trigger = Trigger.ONCE
    cooldown_s: float = 0.0
    expires_at: float | None = None
    owner: str | None = None
    channel: str | None = None
    note: str | None = None
    metadata: dict[str, Any] | None = field(default=None, hash=False)

    def __repr__(self) -> str:  # the optional fields make the default repr unreadable
        shown = ", ".join(
            f"{name}={getattr(self, name)!r}"
            for name in ("id", "symbol", "condition", *_REQUIRED[self.condition])
        )
        return f"Alert({shown}, ...)"

    def __post_init__(self) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "id", _check_name("id", self.id))
        setattr_(self, "symbol", _check_name("symbol", self.symbol))
        try:
            condition = Condition(self.condition)
        except ValueError:
            valid = ", ".join(c.value for c in Condition)
            raise ValidationError("condition", self.condition, f"must be one of {valid}") from None
        setattr_(self, "condition", condition)
        required = _REQUIRED[condition]
        for name in _PARAMS:
            value = getattr(self, name)
            if name in required:
                if value is None or value == "":
                    raise ValidationError(name, value, f"is required for condition {condition.value!r}")
                setattr_(self, name, to_number(name, value))
            elif value is not None and value != "":
                raise ValidationError(name, value, f"does not apply to condition {condition.value!r}")
            else:
                setattr_(self, name, None)
        if condition in CHANNEL_CONDITIONS and not self.lower < self.upper:  # type: ignore[operator]
            raise ValidationError("lower", self.lower, f"must be < upper ({self.upper!r})")
        try:
            setattr_(self, "trigger", Trigger(self.trigger))
        except ValueError:
            raise ValidationError("trigger", self.trigger, "must be 'once' or 'rearm'") from None
        cooldown: object = self.cooldown_s
        if cooldown is None or cooldown == "":
            cooldown = 0.0
        setattr_(self, "cooldown_s", to_number("cooldown_s", cooldown, allow_zero=True))
        expires_at: object = self.expires_at
        if expires_at is not None and expires_at != "":
            setattr_(self, "expires_at", to_number("expires_at", expires_at, positive=False))
        else:
            setattr_(self, "expires_at", None)
        for name in ("owner", "channel", "note"):
            setattr_(self, name, _optional_text(name, getattr(self, name)))
        setattr_(self, "metadata", _metadata(self.metadata))

    def to_dict(self) -> dict[str, Any]:
        """The alert as a JSON-ready dict with only the fields that are set."""
        out: dict[str, Any] = {"id": self.id, "symbol": self.symbol, "condition": self.condition.value}
        for name in _PARAMS:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        out["trigger"] = self.trigger.value
        if self.cooldown_s:
            out["cooldown_s"] = self.cooldown_s
        for name in ("expires_at", "owner", "channel", "note", "metadata"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Alert:
        """Build an alert from a dict with the field names (e.g. a JSON or CSV row).

        Empty strings mean "not set", so a CSV header may list every field.

        Raises:
            ValidationError: for an unknown field or a bad value.
        """
        if not isinstance(data, dict):
            raise ValidationError("alert", data, "must be a JSON object")
        unknown = set(data) - set(ALERT_FIELDS)
        if unknown:
            raise ValidationError(sorted(unknown)[0], data[sorted(unknown)[0]], "is not an Alert field")
        for name in ("id", "symbol", "condition"):
            if name not in data:
                raise ValidationError(name, None, "is required")
        kwargs: dict[str, Any] = {k: (None if v == "" else v) for k, v in data.items()}
        if kwargs.get("trigger") is None:
            kwargs.pop("trigger", None)
        if kwargs.get("cooldown_s") is None:
            kwargs.pop("cooldown_s", None)
        return cls(**kwargs)


ALERT_FIELDS: Final = tuple(f for f in Alert.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class Tick:
    """One price observation: ``price`` (finite, > 0) of ``symbol`` at ``ts`` epoch seconds.

    >>> Tick("ETH-USD", "3150.25", 1_700_000_000)
    Tick(symbol='ETH-USD', price=3150.25, ts=1700000000.0)

    Raises:
        ValidationError: naming the field and the bad value.
    """

    symbol: str
    price: float
    ts: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "symbol", _check_name("symbol", self.symbol))
        object.__setattr__(self, "price", to_number("price", self.price))
        object.__setattr__(self, "ts", to_number("ts", self.ts, positive=False))

    def to_dict(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "price": self.price, "ts": self.ts}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Tick:
        """Build a tick from ``{"symbol", "price", "ts"}``; raises ``ValidationError``."""
        if not isinstance(data, dict):
            raise ValidationError("tick", data, "must be a JSON object with symbol, price and ts")
        for name in ("symbol", "price", "ts"):
            if name not in data:
                raise ValidationError(name, None, "is required")
        extra = set(data) - {"symbol", "price", "ts"}
        if extra:
            name = sorted(extra)[0]
            raise ValidationError(name, data[name], "is not a Tick field")
        return cls(data["symbol"], data["price"], data["ts"])


@dataclass(frozen=True, slots=True)
class Fired:
    """One firing of an alert. ``(alert_id, seq)`` is its idempotency key.

    ``seq`` is 1 for the alert's first fire, 2 for its second, and so on; ``prev``
    is the symbol's previous accepted price (``None`` on its first tick).
    """

    alert_id: str
    symbol: str
    condition: Condition
    price: float
    prev: float | None
    ts: float
    seq: int
    threshold: float | None = None
    lower: float | None = None
    upper: float | None = None
    pct: float | None = None
    window_s: float | None = None

    @property
    def key(self) -> tuple[str, int]:
        """``(alert_id, seq)``: unique per real-world fire, the same on every retry."""
        return (self.alert_id, self.seq)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; alert parameters that do not apply are left out."""
        out: dict[str, Any] = {
            "alert_id": self.alert_id,
            "symbol": self.symbol,
            "condition": self.condition.value,
            "price": self.price,
            "prev": self.prev,
            "ts": self.ts,
            "seq": self.seq,
        }
        for name in _PARAMS:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fired:
        """Inverse of :meth:`to_dict`; raises ``ValidationError`` on a malformed record."""
        if not isinstance(data, dict):
            raise ValidationError("fired", data, "must be a JSON object")
        try:
            return cls(
                alert_id=str(data["alert_id"]),
                symbol=str(data["symbol"]),
                condition=Condition(data["condition"]),
                price=float(data["price"]),
                prev=None if data.get("prev") is None else float(data["prev"]),
                ts=float(data["ts"]),
                seq=int(data["seq"]),
                **{k: float(data[k]) for k in _PARAMS if data.get(k) is not None},
            )
        except KeyError as exc:
            raise ValidationError(str(exc.args[0]), None, "is required in a fire record") from None
        except (TypeError, ValueError) as exc:
            raise ValidationError("fired", data, f"is malformed: {exc}") from None


_GUARD: Final = 1e-12  # far above double rounding error, far below any real pct move


def _dec(x: float) -> Decimal:
    return Decimal(repr(x))


def pct_up_holds(price: float, pct: float, low: float) -> bool:
    """``price >= (1 + pct/100) * low``, decided exactly (see the module docstring).

    The double product decides unless it is within 1e-12 of ``price``; only then
    is the exact decimal product computed, so the common case costs one multiply.
    """
    approx = (1 + pct / 100) * low
    if price > approx * (1 + _GUARD):
        return True
    if price < approx * (1 - _GUARD):
        return False
    return _dec(price) * 100 >= (100 + _dec(pct)) * _dec(low)


def pct_down_holds(price: float, pct: float, high: float) -> bool:
    """``price <= (1 - pct/100) * high``, decided exactly like :func:`pct_up_holds`."""
    approx = (1 - pct / 100) * high
    if price < approx * (1 - _GUARD):
        return True
    if price > approx * (1 + _GUARD):
        return False
    return _dec(price) * 100 <= (100 - _dec(pct)) * _dec(high)


# A frozen dataclass's __init__ sets each field through object.__setattr__; the
# slot descriptors' own setters do the same job in half the time, and every fire
# of the index is built here (W1: ~66,000 per million ticks).
(_set_alert_id, _set_symbol, _set_condition, _set_price, _set_prev, _set_ts, _set_seq,
 _set_threshold, _set_lower, _set_upper, _set_pct, _set_window_s) = (
    Fired.__dict__[f.name].__set__ for f in fields(Fired)
)  # fmt: skip
_new = object.__new__


def fired_from(alert: Alert, price: float, prev: float | None, ts: float, seq: int) -> Fired:
    """The :class:`Fired` record of ``alert`` firing at ``price``/``ts``.

    >>> a = Alert(id="a", symbol="S", condition="above", threshold=1)
    >>> fired_from(a, 2.0, 1.0, 3.0, 1) == Fired("a", "S", Condition.ABOVE, 2.0, 1.0, 3.0, 1, threshold=1.0)
    True
    """
    f: Fired = _new(Fired)
    _set_alert_id(f, alert.id)
    _set_symbol(f, alert.symbol)
    _set_condition(f, alert.condition)
    _set_price(f, price)
    _set_prev(f, prev)
    _set_ts(f, ts)
    _set_seq(f, seq)
    _set_threshold(f, alert.threshold)
    _set_lower(f, alert.lower)
    _set_upper(f, alert.upper)
    _set_pct(f, alert.pct)
    _set_window_s(f, alert.window_s)
    return f
