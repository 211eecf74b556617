"""The paper recipes hold their released scripts' values, flag by flag; old config keys point to the new ones."""

from __future__ import annotations

import pytest

from lmmr1_cli.config import list_recipes, load_train_config
from lmmr1_cli.errors import ConfigError

# The flags each script passes to openrlhf.cli.train_ppo_ray (TideDra/lmm-r1 at f917f18,
# examples/scripts/lmm_r1/train_*.sh), transcribed by hand.
SCRIPTS = {
    "fre-text": ("train_fre_text.sh", 256, 256, 2, 2, 4096, 4e-7, 0.001, 20, False),
    "fre-multi": ("train_fre_multi.sh", 256, 256, 2, 2, 4096, 1e-6, 0.001, 20, False),
    "mgt-geo": ("train_mgt_geo.sh", 256, 256, 2, 2, 4096, 1e-6, 0.001, 20, False),
    "mgt-percereason": ("train_mgt_percereas.sh", 256, 256, 1, 2, 8192, 4e-7, 0.001, 20, False),
    "mgt-sokoban": ("train_sokoban.sh", 128, 128, 1, 4, 8196, 1e-6, 0.0, 5, True),
    "direct-rl-geo": ("train_direct_rl_geo.sh", 256, 256, 2, 2, 4096, 1e-6, 0.001, 20, False),
}


@pytest.mark.parametrize("recipe", sorted(SCRIPTS))
def test_paper_recipe_matches_its_script_flag_by_flag(recipe):
    script, rollout, train, micro, episodes, generate, lr, kl, save, freeze = SCRIPTS[recipe]
    c = load_train_config(recipe)
    assert recipe in list_recipes()
    # --rollout_batch_size, --n_samples_per_prompt, --train_batch_size, --micro_train_batch_size, --max_epochs,
    # --num_episodes
    assert c.batch.prompts_per_rollout == rollout and c.batch.samples_per_prompt == 16
    assert c.batch.samples_per_step == train and c.batch.micro_batch_size == micro
    assert c.batch.passes_per_rollout == 1 and c.batch.episodes == episodes
    # --prompt_max_len 4096, --generate_max_len, --temperature 1.0, --max_samples 100000
    assert c.rollout.prompt_max_len == 4096 and c.rollout.max_completion_length == generate
    assert c.rollout.temperature == 1.0 and c.rollout.top_p == 1.0
    assert c.run.limit_train_rows == 100000
    # --actor_learning_rate, --init_kl_coef, defaults --eps_clip 0.2 --adam_betas 0.9 0.95 --l2 0 --max_norm 1
    # --lr_warmup_ratio 0.03, and ppo_actor.py's cosine_with_min_lr to 0.1 x lr
    assert c.optim.learning_rate == pytest.approx(lr) and c.algorithm.kl_coef == pytest.approx(kl)
    assert c.algorithm.clip_eps == 0.2
    assert (c.optim.adam_beta1, c.optim.adam_beta2, c.optim.weight_decay) == (0.9, 0.95, 0.0)
    assert c.optim.max_grad_norm == 1.0 and c.optim.warmup_ratio == 0.03
    assert (c.optim.lr_scheduler, c.optim.min_lr_ratio) == ("cosine_with_min_lr", 0.1)
    # REINFORCE++-baseline's group-mean baseline scaled over the rollout; OpenRLHF's token-level policy loss
    assert c.algorithm.scale_rewards == "batch" and c.algorithm.loss_type == "bnpo"
    # --save_steps (rollouts), --seed 42 (default), --bf16, --gradient_checkpointing, --freeze_prefix visual
    assert c.run.save_every_rollouts == save and c.run.seed == 42
    assert c.model.dtype == "bfloat16" and c.model.gradient_checkpointing is True
    assert c.model.freeze_vision_tower is freeze
    # OpenRLHF's --min_pixels / --max_pixels defaults when the paper was run (4 x 28 x 28, 640 x 28 x 28)
    assert (c.model.min_pixels, c.model.max_pixels) == (3136, 640 * 28 * 28)
    # --colocate_all_models --vllm_enable_sleep --vllm_gpu_memory_utilization 0.5 (used with --use-vllm)
    assert c.rollout.vllm_mode == "colocate" and c.rollout.vllm_enable_sleep_mode is True
    assert c.rollout.vllm_gpu_memory_utilization == 0.5
    # rule-based reward server: 0.5 x format + 1.0 x accuracy
    assert (c.rewards.format_weight, c.rewards.accuracy_weight) == (0.5, 1.0)


@pytest.mark.parametrize("recipe", sorted(SCRIPTS))
def test_recipe_header_cites_the_paper_and_its_script(recipe):
    from importlib import resources

    text = (resources.files("lmmr1_cli") / "recipes" / f"{recipe}.yaml").read_text(encoding="utf-8")
    header = text[: text.index(f"recipe: {recipe}")]
    assert "arXiv 2503.07536" in header
    assert f"examples/scripts/lmm_r1/{SCRIPTS[recipe][0]}" in header
    assert "DESIGN" not in header and "shared/" not in header  # nothing internal


def test_mgt_stage_recipes_start_from_an_init_model():
    for recipe in ("mgt-geo", "mgt-percereason", "mgt-sokoban", "direct-rl-geo"):
        assert load_train_config(recipe).stage == "mgt"
    assert load_train_config("fre-text").stage == "fre" and load_train_config("fre-multi").stage == "fre"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("rollout.prompts_per_step=128", "batch.prompts_per_rollout"),
        ("rollout.num_generations=8", "batch.samples_per_prompt"),
        ("rollout.micro_batch_size=4", "batch.micro_batch_size"),
        ("algorithm.num_iterations=2", "batch.passes_per_rollout"),
        ("run.num_epochs=1", "batch.episodes"),
        ("run.save_steps=10", "run.save_every_rollouts"),
        ("rollout_batch_size=128", "batch.prompts_per_rollout"),
        ("batch.train_batch_size=128", "batch.samples_per_step"),
        ("num_generations=8", "batch.samples_per_prompt"),
        ("gradient_accumulation_steps=4", "batch.samples_per_step"),
        ("num_episodes=1", "batch.episodes"),
    ],
)
def test_an_old_or_official_key_names_the_new_one(old, new):
    with pytest.raises(ConfigError, match=f"did you mean '{new}'") as info:
        load_train_config("fre-text", overrides=[old])
    assert "\n" not in str(info.value)


def test_an_old_key_in_a_yaml_file_names_the_new_one(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("rollout:\n  prompts_per_step: 64\n")
    with pytest.raises(
        ConfigError, match=rf"{path}: unknown key 'rollout.prompts_per_step'.*batch.prompts_per_rollout"
    ):
        load_train_config("fre-text", path)


@pytest.mark.parametrize(
    "change",
    [
        "model.max_pixels=1003520",
        "rollout.prompt_max_len=8192",
        "batch.samples_per_step=128",
        "batch.episodes=1",
    ],
)
def test_a_resumed_run_keeps_the_scripts_pixels_prompt_cap_and_batch_shape(change, arith_train, tmp_path):
    from lmmr1_cli.lineage import check_resume, write_lineage

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    write_lineage(
        run_dir, load_train_config("fre-text"), arith_train, init_model="base", resolved_init="/base"
    )
    assert check_resume(run_dir, load_train_config("fre-text"), arith_train) == {}
    key = change.split("=")[0]
    with pytest.raises(ConfigError, match=rf"^--resume: {key} is "):
        check_resume(
            run_dir, load_train_config("fre-text", overrides=[change]), arith_train, allow_config_change=True
        )


def test_the_save_interval_may_change_on_resume_only_when_asked(arith_train, tmp_path):
    from lmmr1_cli.lineage import check_resume, write_lineage

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    write_lineage(
        run_dir, load_train_config("fre-text"), arith_train, init_model="base", resolved_init="/base"
    )
    rarer = load_train_config("fre-text", overrides=["run.save_every_rollouts=40"])
    with pytest.raises(ConfigError, match="run.save_every_rollouts is 40 .*--allow-config-change"):
        check_resume(run_dir, rarer, arith_train)
    assert check_resume(run_dir, rarer, arith_train, allow_config_change=True) == {
        "run.save_every_rollouts": [20, 40]
    }
