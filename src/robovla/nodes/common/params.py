"""Declare a config dataclass's fields as ROS parameters and read them back into it.

Node configs are the core's dataclasses; their defaults are the documented defaults and the
YAML in config/ overrides them, so nothing is declared twice.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, TypeVar

from rcl_interfaces.msg import ParameterDescriptor, ParameterType
from rclpy.node import Node
from rclpy.parameter import Parameter

C = TypeVar("C")

_ARRAY_TYPES = {
    float: ParameterType.PARAMETER_DOUBLE_ARRAY,
    int: ParameterType.PARAMETER_INTEGER_ARRAY,
    str: ParameterType.PARAMETER_STRING_ARRAY,
    bool: ParameterType.PARAMETER_BOOL_ARRAY,
}
_SCALAR_TYPES = {
    float: ParameterType.PARAMETER_DOUBLE,
    int: ParameterType.PARAMETER_INTEGER,
    str: ParameterType.PARAMETER_STRING,
    bool: ParameterType.PARAMETER_BOOL,
}


def declare_config(node: Node, cls: type[C], prefix: str = "") -> C:
    """Declare every field of dataclass `cls` (prefixed) and build it from the parameter values."""
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        origin = typing.get_origin(hint)
        if origin in (list, tuple):
            (elem,) = set(typing.get_args(hint)) - {Ellipsis} or {str}
            ptype = _ARRAY_TYPES[elem]
            default = [elem(x) for x in default]
        elif hint in _SCALAR_TYPES:
            ptype = _SCALAR_TYPES[hint]
        else:
            raise TypeError(f"{cls.__name__}.{f.name}: unsupported parameter type {hint}")
        name = prefix + f.name
        descriptor = ParameterDescriptor(type=ptype, description=_field_doc(cls, f.name))
        if origin in (list, tuple) and not default:
            # rclpy infers BYTE_ARRAY from an empty list and then refuses the real override: declare
            # the parameter by its type instead (unset = the empty default)
            value = node.declare_parameter(name, Parameter.Type(ptype), descriptor).value
            value = [] if value is None else value
        else:
            value = node.declare_parameter(name, default, descriptor).value
        if origin in (list, tuple):
            value = [] if value is None else list(value)  # an empty list in a params file reads as unset
        elif hint is float:
            value = float(value)
        values[f.name] = value
    return cls(**values)


def _field_doc(cls: type, name: str) -> str:
    return f"{cls.__name__}.{name}"
