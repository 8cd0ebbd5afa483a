"""One line for a study file's validation errors: each field, the value given, the allowed range."""

import difflib
import typing
from typing import Literal

import annotated_types
from pydantic import BaseModel

__all__ = ["describe_errors"]


def _constraint_text(model, name):
    """'allowed range [a, b]' / 'allowed: a, b' for a field, or ''."""
    info = model.model_fields[name]
    lo = hi = None
    lo_open = hi_open = False
    annotation = info.annotation
    for meta in info.metadata:
        if isinstance(meta, annotated_types.Ge):
            lo = meta.ge
        elif isinstance(meta, annotated_types.Gt):
            lo, lo_open = meta.gt, True
        elif isinstance(meta, annotated_types.Le):
            hi = meta.le
        elif isinstance(meta, annotated_types.Lt):
            hi, hi_open = meta.lt, True
    if typing.get_origin(annotation) is Literal:
        return "allowed: " + ", ".join(repr(a) for a in typing.get_args(annotation))
    if lo is None and hi is None:
        return ""
    left = "(" if lo_open else "["
    right = ")" if hi_open else "]"
    lo_s = "-inf" if lo is None else f"{lo:g}"
    hi_s = "inf" if hi is None else (f"{hi:g}" if hi < 1e15 else "2**63")
    return f"allowed range {left}{lo_s}, {hi_s}{right}"


def _model_at(root, loc):
    """Walk ``loc`` from ``root``; return (model that owns the last key, last key) or (None, None)."""
    model = root
    for i, part in enumerate(loc):
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None, None
        if i == len(loc) - 1:
            return model, part
        if part not in model.model_fields:
            return None, None
        model = model.model_fields[part].annotation
    return None, None


def describe_errors(exc, root):
    """One line describing every error of a pydantic ValidationError of the model ``root``: the
    field, the value given (``repr``), what is wrong and the allowed range or values."""
    parts = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        path = ".".join(str(p) for p in loc)
        model, key = _model_at(root, loc)
        if err["type"] == "extra_forbidden":
            text = f"{path}: unknown key"
            if model is not None:
                hint = difflib.get_close_matches(str(key), list(model.model_fields), n=1, cutoff=0.6)
                if hint:
                    text += f"; did you mean '{hint[0]}'?"
                else:
                    text += "; allowed keys: " + ", ".join(model.model_fields)
        else:
            message = err["msg"]
            if message.startswith("Value error, "):
                message = message[len("Value error, ") :]
            given = err.get("input")
            shown = "" if isinstance(given, dict) else f" = {given!r}"
            text = f"{path}{shown}: {message}" if path and not message.startswith(f"{path}.") else message
            if model is not None and key in model.model_fields:
                allowed = _constraint_text(model, key)
                if allowed and allowed not in text:
                    text += f"; {allowed}"
        parts.append(text)
    return "; ".join(parts)
