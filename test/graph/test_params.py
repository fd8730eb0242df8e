"""Config dataclasses declared as typed ROS parameters (nodes/common/params.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

rclpy = pytest.importorskip("rclpy")
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

from robovla.nodes.common.params import declare_config  # noqa: E402


@dataclass
class _Params:
    names: list[str] = field(default_factory=list)  # empty default: must still take a string list
    gains: list[float] = field(default_factory=lambda: [1.0, 2.0])
    rate: float = 10.0
    label: str = "x"


@pytest.fixture()
def context():
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    yield ctx
    rclpy.shutdown(context=ctx)


def test_defaults_and_overrides_including_empty_list_defaults(context) -> None:
    node = Node("params_defaults", context=context)
    assert declare_config(node, _Params) == _Params()
    node.destroy_node()
    overrides = [Parameter("names", Parameter.Type.STRING_ARRAY, ["open_drawer", "close_drawer"]),
                 Parameter("gains", Parameter.Type.DOUBLE_ARRAY, [3.0]), Parameter("rate", Parameter.Type.DOUBLE, 5.0)]
    node = Node("params_overrides", context=context, parameter_overrides=overrides)
    p = declare_config(node, _Params)
    assert p.names == ["open_drawer", "close_drawer"] and p.gains == [3.0]
    assert p.rate == 5.0 and p.label == "x"
    node.destroy_node()


def test_a_wrongly_typed_override_is_refused_naming_the_parameter(context) -> None:
    from rclpy.exceptions import InvalidParameterTypeException

    node = Node("params_bad", context=context,
                parameter_overrides=[Parameter("names", Parameter.Type.DOUBLE_ARRAY, [1.0])])
    with pytest.raises(InvalidParameterTypeException, match="names"):
        declare_config(node, _Params)
    node.destroy_node()


def test_one_params_file_gives_each_composed_node_its_own_section_in_a_namespace(tmp_path) -> None:
    """What `robovla bringup` and the launch file pass to a container (robovla.nodes.container)."""
    from robovla.graph import NodeSpec, write_params_file

    params = write_params_file([NodeSpec("alpha", "alpha", {"rate": 3.0, "label": "a"}),
                                NodeSpec("beta", "beta", {"rate": 7.0})], tmp_path / "params.yaml")
    ctx = rclpy.Context()
    rclpy.init(context=ctx, args=["container", "--ros-args", "-r", "__ns:=/arm", "--params-file", str(params)])
    try:
        alpha, beta = Node("alpha", context=ctx), Node("beta", context=ctx)
        assert alpha.get_namespace() == "/arm"
        a, b = declare_config(alpha, _Params), declare_config(beta, _Params)
        assert (a.rate, a.label) == (3.0, "a")
        assert (b.rate, b.label) == (7.0, "x"), "a node took another node's section"
        alpha.destroy_node()
        beta.destroy_node()
    finally:
        rclpy.shutdown(context=ctx)
