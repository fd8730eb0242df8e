import json

from robovla.cli.main import main


def test_doctor_models_json(capsys):
    rc = main(["doctor", "--models", "--json", "--backbones", "kosmos2", "qwen2_vl",
               "--formulations", "policy_head_continuous", "one_step_discrete"])
    rows = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert [(r["backbone"], r["formulation"]) for r in rows] == [
        ("kosmos2", "policy_head_continuous"), ("kosmos2", "one_step_discrete"),
        ("qwen2_vl", "policy_head_continuous"), ("qwen2_vl", "one_step_discrete")]
    for r in rows:
        assert r["ok"] and r["error"] is None and r["params"] > 10_000
    assert rows[0]["hf_class"] == "Kosmos2ForConditionalGeneration"
    assert rows[2]["hf_class"] == "Qwen2VLForConditionalGeneration"


def test_doctor_table_and_bad_name(capsys):
    assert main(["doctor", "--models", "--backbones", "smolvlm", "--formulations", "one_step_continuous"]) == 0
    out = capsys.readouterr().out
    assert "Idefics3ForConditionalGeneration" in out and "1/1 combinations OK" in out
    assert main(["doctor", "--models", "--backbones", "flamingo"]) == 2
    assert "unknown backbone(s) ['flamingo']" in capsys.readouterr().err
