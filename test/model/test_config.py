from pathlib import Path

import pytest

from robovla.model import VLAConfig, build_vla

REPO = Path(__file__).resolve().parents[2]


def test_yaml_roundtrip(tmp_path):
    cfg = VLAConfig(backbone="kosmos2", formulation="interleaved_continuous", head="gpt", window=4, chunk=3,
                    cameras=["front", "wrist"], dt=0.05)
    cfg.to_yaml(tmp_path / "m.yaml")
    again = VLAConfig.from_yaml(tmp_path / "m.yaml")
    assert again == cfg and again.to_dict()["tiny"]["hidden_size"] == cfg.tiny.hidden_size


@pytest.mark.parametrize("field,value,needle", [
    ("backbone", "gpt5", "unknown backbone 'gpt5'"),
    ("formulation", "two_step", "unknown formulation"),
    ("head", "rnn", "unknown head"),
    ("finetune", "qlora", "unknown finetune"),
    ("window", 0, "window must be >= 1"),
    ("cameras", [], "cameras"),
])
def test_bad_config_values_name_the_problem(field, value, needle):
    with pytest.raises(ValueError, match=needle):
        VLAConfig(**{field: value})


def test_unknown_backbone_in_yaml(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("backbone: flamingo\nformulation: policy_head_continuous\n")
    with pytest.raises(ValueError, match="unknown backbone 'flamingo'"):
        VLAConfig.from_yaml(p)
    p.write_text("backbone: kosmos2\nwindoww: 3\n")
    with pytest.raises(ValueError, match="windoww"):
        VLAConfig.from_yaml(p)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        VLAConfig.from_yaml(tmp_path / "nope.yaml")


def test_build_vla_rejects_non_config():
    with pytest.raises(TypeError, match="VLAConfig"):
        build_vla({"backbone": "kosmos2"})


def test_presets_load():
    presets = sorted((REPO / "config" / "model").glob("*.yaml"))
    assert presets, "config/model has no presets"
    for p in presets:
        cfg = VLAConfig.from_yaml(p)
        assert cfg.backbone and cfg.formulation
