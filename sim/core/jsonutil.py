"""JSON with money as `Decimal` end to end.

QBO sends amounts as JSON numbers; a float round trip would turn 0.1 + 0.2
into 0.30000000000000004. simplejson reads numbers with a fraction as
`Decimal` and writes `Decimal` back as a bare number.

`simplejson.dumps(obj, use_decimal=True, ...)` builds a new encoder (and
its C half) on every call, which cost more than the encoding of a small
record: the compact form, the hot one, keeps one of each and gives the same
text.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import simplejson
from simplejson.encoder import c_make_encoder, encode_basestring

_MEMO_LIMIT = 10_000
"""Encoded keys the shared encoder remembers; cleared past this, so odd keys cannot pile up."""

_key_memo: dict[Any, str] = {}
_s = simplejson.JSONEncoder(use_decimal=True, ensure_ascii=False, separators=(",", ":"))
_compact = None if c_make_encoder is None else c_make_encoder(  # as JSONEncoder.iterencode builds it
    None, _s.default, encode_basestring, _s.indent, _s.key_separator, _s.item_separator, _s.sort_keys,
    _s.skipkeys, _s.allow_nan, _key_memo, _s.use_decimal, _s.namedtuple_as_object, _s.tuple_as_array,
    53 if _s.bigint_as_string else _s.int_as_string_bitcount, _s.item_sort_key, _s.encoding, _s.for_json,
    _s.ignore_nan, Decimal, _s.iterable_as_array)
_decoder = simplejson.JSONDecoder(parse_float=Decimal, allow_nan=True)  # what loads(use_decimal=True) builds


def dumps(obj: Any, *, sort_keys: bool = False, indent: int | None = None) -> str:
    if _compact is not None and not sort_keys and indent is None:
        if len(_key_memo) > _MEMO_LIMIT:
            _key_memo.clear()
        return "".join(_compact(obj, 0))
    return simplejson.dumps(obj, use_decimal=True, sort_keys=sort_keys, indent=indent,
                            ensure_ascii=False, separators=(",", ":") if indent is None else None)


def loads(text: str | bytes) -> Any:
    """Parse JSON; non-integral numbers become `Decimal`, never float."""
    return _decoder.decode(text)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, Decimal)) and not isinstance(value, bool)
