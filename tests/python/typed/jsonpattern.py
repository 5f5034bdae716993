"""A small evaluator of the CloudWatch JSON filter patterns logflight sends for typed
tables (`{ ($.a.b = "x") && ($.c IS TRUE) || ($.d NOT EXISTS) ... }`), so a test can
check that a pushed pattern keeps every event the SQL answer needs. moto ignores JSON
patterns (it returns every event), so without this a wrong pattern would go unseen.

Supported: `$.path = "text"`, `$.path IS TRUE|FALSE|NULL`, `$.path NOT EXISTS`,
`&&`, `||`, parentheses. Anything else raises ValueError (the test then fails and
shows the pattern, rather than passing on a pattern it could not read).
"""

from __future__ import annotations

import json
import re

TOKEN = re.compile(r'\s*(\(|\)|&&|\|\||\$\.[A-Za-z0-9_.]+|=|IS\s+TRUE|IS\s+FALSE|IS\s+NULL|NOT\s+EXISTS|"(?:[^"\\]|\\.)*")')
MISSING = object()


def _tokens(text: str) -> list[str]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m:
            raise ValueError(f"cannot read pattern at {text[pos:]!r}")
        out.append(m.group(1))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def _lookup(record, path: str):
    value = record
    for key in path[2:].split("."):
        if not isinstance(value, dict) or key not in value:
            return MISSING
        value = value[key]
    return value


def matches(pattern: str, message: str) -> bool:
    """Whether CloudWatch would select `message` with the JSON `pattern`."""
    p = pattern.strip()
    if not (p.startswith("{") and p.endswith("}")):
        raise ValueError(f"not a JSON pattern: {pattern!r}")
    try:
        record = json.loads(message)
    except ValueError:
        return False
    toks = _tokens(p[1:-1])
    pos = 0

    def atom():
        nonlocal pos
        t = toks[pos]
        if t == "(":
            pos += 1
            v = disj()
            assert toks[pos] == ")", toks
            pos += 1
            return v
        if not t.startswith("$."):
            raise ValueError(f"unexpected {t!r} in {pattern!r}")
        value = _lookup(record, t)
        op = toks[pos + 1]
        pos += 2
        if op == "=":
            lit = json.loads(toks[pos])
            pos += 1
            return isinstance(value, str) and value == lit
        op = " ".join(op.split())
        if op == "IS TRUE":
            return value is True
        if op == "IS FALSE":
            return value is False
        if op == "IS NULL":
            return value is None
        if op == "NOT EXISTS":
            return value is MISSING
        raise ValueError(f"unknown operator {op!r} in {pattern!r}")

    def conj():
        nonlocal pos
        v = atom()
        while pos < len(toks) and toks[pos] == "&&":
            pos += 1
            w = atom()
            v = v and w
        return v

    def disj():
        nonlocal pos
        v = conj()
        while pos < len(toks) and toks[pos] == "||":
            pos += 1
            w = conj()
            v = v or w
        return v

    result = disj()
    if pos != len(toks):
        raise ValueError(f"trailing tokens in {pattern!r}: {toks[pos:]}")
    return result
