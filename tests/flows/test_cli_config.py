"""Options from the command line: YAML, then --set, then flags; unsetting an optional field."""

from __future__ import annotations

import argparse

import pytest

from contracts.config import ConfigError
from flows.cli_config import add_common_args, add_config_args, config_from_args
from training.trainer import TrainConfig


def parse(tmp_path, *argv: str, yaml: str = "") -> TrainConfig:
    p = argparse.ArgumentParser()
    add_common_args(p)
    add_config_args(p, TrainConfig)
    args = list(argv)
    if yaml:
        (tmp_path / "c.yaml").write_text(yaml)
        args += ["--config", str(tmp_path / "c.yaml")]
    return config_from_args(TrainConfig, p.parse_args(args))


def test_set_null_and_flag_none_unset_an_optional_field(tmp_path):
    """TrainConfig documents bucket_ratio None as "no buckets"; --set bucket_ratio=null was dropped
    like an absent flag, and --bucket-ratio none was not a float."""
    assert parse(tmp_path).bucket_ratio == 1.02
    assert parse(tmp_path, "--set", "bucket_ratio=null").bucket_ratio is None
    assert parse(tmp_path, "--bucket-ratio", "none").bucket_ratio is None
    assert parse(tmp_path, "--bucket-ratio", "1.05").bucket_ratio == 1.05
    yaml = "tokens_per_batch: 4096\n"
    assert parse(tmp_path, yaml=yaml).tokens_per_batch == 4096
    assert parse(tmp_path, "--set", "tokens_per_batch=null", yaml=yaml).tokens_per_batch is None
    assert parse(tmp_path, "--tokens-per-batch", "none", yaml=yaml).tokens_per_batch is None
    assert parse(tmp_path, "--set", "tokens_per_batch=100", "--tokens-per-batch", "200", yaml=yaml).tokens_per_batch == 200


def test_none_is_not_accepted_for_a_field_that_cannot_be_unset(tmp_path):
    with pytest.raises(SystemExit):
        parse(tmp_path, "--batch-size", "none")
    with pytest.raises((ConfigError, ValueError)):
        parse(tmp_path, "--set", "batch_size=null")


def test_null_on_a_field_that_cannot_be_unset_says_so(tmp_path):
    with pytest.raises(ConfigError, match=r"TrainConfig.lr: cannot be null"):
        parse(tmp_path, "--set", "lr=null")


def test_help_shows_each_fields_comment_and_default():
    """--help was "(default: None; none unsets it)" for most options: the fields' comments, which
    document them in the code, now say what each option does."""
    from flows.cli_config import field_comments

    comments = field_comments(TrainConfig)
    # a trailing comment, and a block comment above a field (max_nonfinite_steps has one)
    assert comments["tokens_per_batch"].startswith("padded tokens per global batch")
    assert comments["max_nonfinite_steps"].startswith("a step whose gradient norm is inf/NaN")
    assert "tokens_per_batch" not in comments.get("bucket_ratio", "")  # one field's comment stays its own
    p = argparse.ArgumentParser()
    add_config_args(p, TrainConfig)
    helps = {a.dest: a.help for a in p._actions}
    assert helps["tokens_per_batch"] == "padded tokens per global batch; None: batch_size samples (default: None; none unsets it)"
    assert helps["resume"].startswith("continue from the newest resumable checkpoint in out_dir") and helps["resume"].endswith("(default: off)")
    assert helps["out_dir"] == "default: <home>/runs/<run id> (none unsets it)"  # its comment names the default
    assert helps["compile"].startswith("torch.compile every transformer block")  # metadata help wins
    undocumented = [a.dest for a in p._actions if a.help is None or a.help.startswith("(")]
    assert undocumented == [], undocumented  # every train option says what it does


def test_an_unknown_option_lists_the_users_options_only(tmp_path):
    """TrainConfig.given is the CLI's record, not an option: the list of known options left it out."""
    with pytest.raises(ConfigError, match="unknown option") as e:
        parse(tmp_path, "--set", "options.max_tokens=256")
    assert "tokens_per_batch" in str(e.value) and "given" not in str(e.value)


def test_curation_shorthands_reach_the_image_options():
    """--vae-factor 1 (identity latents) had no flag: only --set options.vae_factor=1, found in the code."""
    from flows.cli_config import add_curation_args, curation_options

    p = argparse.ArgumentParser()
    add_curation_args(p)
    a = p.parse_args(["--max-tokens", "256", "--vae-factor", "1"])
    assert curation_options(a, {"vae_factor": 8, "resize": "fit"}) == {"vae_factor": 1, "resize": "fit", "max_tokens": 256}
