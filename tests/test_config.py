"""Training config: recipes, YAML files and key=value overrides resolve with clear errors."""

from __future__ import annotations

import pytest

from lmmr1_cli.config import all_keys, list_recipes, load_train_config, parse_override
from lmmr1_cli.errors import ConfigError

PAPER_RECIPES = {"fre-text", "fre-multi", "mgt-geo", "mgt-percereason", "mgt-sokoban", "direct-rl-geo"}


def test_every_paper_recipe_ships_and_resolves():
    assert PAPER_RECIPES <= set(list_recipes())
    for name in PAPER_RECIPES:
        config = load_train_config(name)
        assert config.recipe == name
        assert config.batch.samples_per_prompt == 16
        assert config.batch.prompts_per_rollout in (128, 256)
        assert config.rewards.format_weight == 0.5 and config.rewards.accuracy_weight == 1.0
        assert config.algorithm.scale_rewards == "batch"  # REINFORCE++-baseline
        assert (config.optim.adam_beta1, config.optim.adam_beta2) == (0.9, 0.95)
        assert config.run.save_every_rollouts in (5, 20)


def test_recipe_values_follow_the_paper_table():
    assert load_train_config("fre-text").optim.learning_rate == pytest.approx(4e-7)
    assert load_train_config("mgt-geo").optim.learning_rate == pytest.approx(1e-6)
    assert load_train_config("mgt-percereason").rollout.max_completion_length == 8192
    sokoban = load_train_config("mgt-sokoban")
    assert sokoban.algorithm.kl_coef == 0.0 and sokoban.model.freeze_vision_tower


def test_overrides_reach_nested_keys_and_parse_scientific_notation():
    config = load_train_config(
        "fre-text", overrides=["optim.learning_rate=1e-6", "batch.samples_per_prompt=8"]
    )
    assert config.optim.learning_rate == pytest.approx(1e-6)
    assert config.batch.samples_per_prompt == 8


def test_user_yaml_file_sits_between_recipe_and_overrides(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("optim:\n  learning_rate: 2.0e-6\nrun:\n  seed: 7\n")
    config = load_train_config("fre-text", path, ["run.seed=9"])
    assert config.optim.learning_rate == pytest.approx(2e-6)
    assert config.run.seed == 9


def test_unknown_key_suggests_the_closest_valid_key():
    with pytest.raises(ConfigError, match=r"unknown key 'optim.learning_rat'.*'optim.learning_rate'"):
        load_train_config("fre-text", overrides=["optim.learning_rat=1e-6"])


def test_unknown_key_in_wrong_section_suggests_the_right_section():
    with pytest.raises(ConfigError, match="did you mean 'rollout.temperature'"):
        load_train_config("fre-text", overrides=["temperature=0.7"])


def test_wrong_type_names_the_key():
    with pytest.raises(ConfigError, match="batch.samples_per_prompt: expected an integer"):
        load_train_config("fre-text", overrides=["batch.samples_per_prompt=many"])
    with pytest.raises(ConfigError, match="model.freeze_vision_tower: expected true or false"):
        load_train_config("fre-text", overrides=["model.freeze_vision_tower=3"])


def test_out_of_range_and_enum_values_are_rejected():
    with pytest.raises(ConfigError, match="batch.samples_per_prompt must be >= 2"):
        load_train_config("fre-text", overrides=["batch.samples_per_prompt=1"])
    with pytest.raises(ConfigError, match="scale_rewards must be one of"):
        load_train_config("fre-text", overrides=["algorithm.scale_rewards=sometimes"])


def test_unknown_recipe_suggests_a_close_name():
    with pytest.raises(ConfigError, match="did you mean 'fre-text'"):
        load_train_config("fre-txt")


def test_yaml_aliases_and_non_mapping_files_are_errors(tmp_path):
    bad = tmp_path / "list.yaml"
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_train_config("fre-text", bad)
    python_tag = tmp_path / "tag.yaml"
    python_tag.write_text("run: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_train_config("fre-text", python_tag)


def test_override_without_equals_is_an_error():
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_override("optim.learning_rate")


def test_all_keys_lists_dotted_paths():
    keys = all_keys()
    assert "optim.learning_rate" in keys and "rollout.vllm_mode" in keys


def test_the_verifier_limit_has_one_home_that_every_entry_point_reads():
    import inspect

    from lmmr1_cli.config import TrainConfig
    from lmmr1_cli.defaults import VERIFY_TIMEOUT_SECONDS
    from lmmr1_cli.rewards import accuracy_reward
    from lmmr1_cli.verify import verify, verify_batch
    from lmmr1_cli.verify.score_file import score_rows

    assert TrainConfig().rewards.verify_timeout == VERIFY_TIMEOUT_SECONDS
    assert inspect.signature(accuracy_reward).parameters["verify_timeout"].default == VERIFY_TIMEOUT_SECONDS
    for function in (verify, verify_batch, score_rows):
        assert inspect.signature(function).parameters["timeout"].default == VERIFY_TIMEOUT_SECONDS


def test_answer_types_and_the_verifier_limit_are_defined_only_in_defaults():
    import ast
    from pathlib import Path

    import lmmr1_cli

    package = Path(lmmr1_cli.__file__).parent
    homes = {"ANSWER_TYPES": [], "VERIFY_TIMEOUT_SECONDS": [], "DEFAULT_TIMEOUT": []}
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            for target in targets:
                if isinstance(target, ast.Name) and target.id in homes:
                    homes[target.id].append(path.relative_to(package).as_posix())
    assert homes == {
        "ANSWER_TYPES": ["defaults.py"],
        "VERIFY_TIMEOUT_SECONDS": ["defaults.py"],
        "DEFAULT_TIMEOUT": [],
    }
