"""SPICE expressions (``{...}`` values, ``.param``, B-source ``I=``/``V=``), checked before evaluation.

One reading for both engines: :func:`compile_expression` tokenises the expression itself (SPICE
numbers with suffixes through :func:`~memcosim.circuits.spice_parser.parse_value`, ``v(a)``,
``v(a,b)``, ``i(vsource)``, ``.param`` names, ``^`` and ``**`` for powers), then checks the
whole tree before anything is evaluated: every name known, every function called with its
number of arguments (a bare ``exp`` is refused), at most :data:`MAX_TERMS` terms and
:data:`MAX_DEPTH` levels (so no ``RecursionError``, no evaluation of a thousand-term chain).
Anything else is a :class:`~memcosim.base.errors.NetlistError` naming where it was.

The checked expression is compiled once into a numpy function of its references, so the
native solver evaluates a group of B elements vectorised and the ngspice answer check
evaluates it at ngspice's solution. Division by zero or overflow gives ``inf``/``nan``, which
every caller refuses.
"""

import ast
import functools
import re
from dataclasses import dataclass

import numpy as np

from memcosim.base.errors import NetlistError

__all__ = ["Expression", "compile_expression", "evaluate_constant", "FUNCTIONS", "NUMPY_FUNCTIONS", "MAX_TERMS",
           "MAX_DEPTH"]

FUNCTIONS = {"exp": 1, "sqrt": 1, "sinh": 1, "cosh": 1, "tanh": 1, "log": 1, "ln": 1, "abs": 1}
"""Functions an expression may call, with their number of arguments (their meaning is ngspice's:
``log`` and ``ln`` are natural logarithms)."""



def _abs(x):
    """|x|, also for the complex step of the native solver's derivatives (d|x|/dx = sign x)."""
    return np.where(np.real(x) < 0, -x, x)


NUMPY_FUNCTIONS = {"exp": np.exp, "sqrt": np.sqrt, "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh, "log": np.log,
                   "ln": np.log, "abs": _abs}
"""The numpy function of each name in :data:`FUNCTIONS`."""

MAX_TERMS = 2000
"""Most numbers, names and references one expression may hold."""

MAX_DEPTH = 60
"""Deepest nesting of operations (``a+b+c`` is two levels)."""

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[a-zA-Z]*)
  | (?P<ref>[vViI]\s*\()
  | (?P<name>[a-zA-Z][a-zA-Z0-9_]*)
  | (?P<op>\*\*|[-+*/^(),])
""", re.VERBOSE | re.ASCII)


@dataclass(frozen=True)
class Expression:
    """A checked expression.

    Attributes
    ----------
    text : str
        As written.
    template : str
        Python text over ``_v0 ...`` (voltage references), ``_i0 ...`` (source currents) and
        ``_k0 ...`` (its numbers, ``.param`` values included).
    voltages : tuple of (str, str)
        The ``(node, node)`` of each ``v()`` reference (``"0"`` for ground).
    currents : tuple of str
        The source named by each ``i()`` reference (lower case).
    constants : tuple of float
    """

    text: str
    template: str
    voltages: tuple
    currents: tuple
    constants: tuple

    def function(self):
        """A numpy function of ``(*voltages, *currents, *constants)`` (element-wise on arrays)."""
        return _compiled(self.template, len(self.voltages), len(self.currents), len(self.constants))

    def evaluate(self, voltage=None, current=None):
        """The value (float) with ``voltage(a, b)`` and ``current(name)`` giving the references."""
        values = [voltage(a, b) for a, b in self.voltages] + [current(n) for n in self.currents]
        with np.errstate(all="ignore"):
            return float(self.function()(*values, *self.constants))


def _at(where):
    return f"line {where}" if isinstance(where, int) else where


@functools.lru_cache(maxsize=1024)
def _compiled(template, n_voltages, n_currents, n_constants):
    args = [f"_v{k}" for k in range(n_voltages)] + [f"_i{k}" for k in range(n_currents)] + \
        [f"_k{k}" for k in range(n_constants)]
    return eval(f"lambda {', '.join(args)}: {template}", dict(NUMPY_FUNCTIONS))  # template checked by _check


def _ground(node):
    return "0" if node in ("0", "gnd") else node


def compile_expression(text, where, params=None):
    """Tokenise and check ``text`` (no braces), or :class:`NetlistError` naming ``where``.

    Parameters
    ----------
    text : str
    where : str
        ``path:line`` or ``line N`` for messages.
    params : dict, optional
        ``.param`` values by lower-case name.

    Returns
    -------
    Expression
    """
    from memcosim.circuits.spice_parser import parse_value

    params = params or {}
    pieces, voltages, currents, constants = [], [], [], []
    pos, n = 0, len(text)
    while pos < n:
        match = _TOKEN.match(text, pos)
        if not match:
            raise NetlistError(f"{_at(where)}: unsupported character {text[pos]!r} in expression {text!r}")
        kind, token = match.lastgroup, match.group(0)
        pos = match.end()
        if kind == "space":
            continue
        if len(constants) + len(voltages) + len(currents) > MAX_TERMS:
            raise NetlistError(f"{_at(where)}: expression has more than {MAX_TERMS} terms")
        if kind == "number":
            constants.append(parse_value(token, where))
            pieces.append(f"_k{len(constants) - 1}")
        elif kind == "ref":
            close = text.find(")", pos)
            if close < 0:
                raise NetlistError(f"{_at(where)}: unclosed {token.strip()} in expression {text!r}")
            args = [a.strip().lower() for a in text[pos:close].split(",")]
            pos = close + 1
            if not all(re.fullmatch(r"[a-z0-9_.#:\[\]<>-]+", a) for a in args):
                raise NetlistError(f"{_at(where)}: bad reference {text[match.start():close + 1]!r} in expression")
            if token[0] in "vV":
                if len(args) not in (1, 2):
                    raise NetlistError(f"{_at(where)}: v() takes one or two nodes, got {text[match.start():close + 1]!r}")
                voltages.append((_ground(args[0]), _ground(args[1]) if len(args) == 2 else "0"))
                pieces.append(f"_v{len(voltages) - 1}")
            else:
                if len(args) != 1:
                    raise NetlistError(f"{_at(where)}: i() takes one source name, got {text[match.start():close + 1]!r}")
                currents.append(args[0])
                pieces.append(f"_i{len(currents) - 1}")
        elif kind == "name":
            low = token.lower()
            if low in FUNCTIONS:
                if not re.match(r"\s*\(", text[pos:]):
                    raise NetlistError(f"{_at(where)}: function {token!r} used without arguments in expression {text!r}")
                pieces.append(low)
            elif low in params:
                constants.append(params[low])
                pieces.append(f"_k{len(constants) - 1}")
            else:
                raise NetlistError(f"{_at(where)}: unknown name {token!r} in expression {text!r} (known: .param names, "
                                   f"v(), i() and the functions {', '.join(sorted(FUNCTIONS))})")
        else:
            pieces.append("**" if token == "^" else token)
    if not pieces:
        raise NetlistError(f"{_at(where)}: empty expression")
    template = " ".join(pieces)
    _check(template, text, where)
    return Expression(text, template, tuple(voltages), tuple(currents), tuple(constants))


def _check(template, text, where):
    """Refuse anything but arithmetic on the placeholders and known functions, before evaluation."""
    try:
        tree = ast.parse(template, mode="eval")
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        raise NetlistError(f"{_at(where)}: cannot parse expression {text!r}") from None
    allowed = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Name, ast.Load, ast.Call, ast.Add, ast.Sub, ast.Mult,
               ast.Div, ast.Pow, ast.USub, ast.UAdd)
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise NetlistError(f"{_at(where)}: expression nested deeper than {MAX_DEPTH} levels")
        if not isinstance(node, allowed):
            raise NetlistError(f"{_at(where)}: unsupported construct in expression {text!r} ({type(node).__name__})")
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else None
            if name not in FUNCTIONS or node.keywords or len(node.args) != FUNCTIONS[name]:
                raise NetlistError(f"{_at(where)}: {name or 'a call'}() takes {FUNCTIONS.get(name, 1)} argument(s) in "
                                   f"expression {text!r}")
            stack.extend((arg, depth + 1) for arg in node.args)
            continue
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            right = node.right
            while isinstance(right, ast.UnaryOp):
                right = right.operand
            if isinstance(right, ast.BinOp) and isinstance(right.op, ast.Pow):
                raise NetlistError(f"{_at(where)}: chained powers in expression {text!r} are refused: ngspice reads a^b^c "
                                   "as (a^b)^c; write the parentheses")
        if isinstance(node, ast.Name) and not re.fullmatch(r"_[vik]\d+", node.id):
            raise NetlistError(f"{_at(where)}: {node.id!r} is not a value in expression {text!r}")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def evaluate_constant(text, where, params=None):
    """The value of an expression without ``v()`` or ``i()`` (a ``{...}`` value, a ``.param``), a
    finite float, or :class:`NetlistError`."""
    expr = compile_expression(text, where, params)
    if expr.voltages or expr.currents:
        raise NetlistError(f"{_at(where)}: {text!r} depends on the circuit's solution; a value must be a constant")
    value = expr.evaluate()
    if not np.isfinite(value):
        raise NetlistError(f"{_at(where)}: expression {text!r} is not finite ({value!r})")
    return value
