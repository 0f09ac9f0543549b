"""Every command's flags come from its config class (aksar.cli.flags): --help, precedence
(defaults < --config < -o < flags), one-line errors, old spellings as hidden aliases, -v after the subcommand."""
from __future__ import annotations

import argparse
import json

import pytest
import yaml

from aksar.cli.flags import SPEC, lookup, resolve
from aksar.cli.main import build_parser

KHMER = "សួស្តី ពិភពលោក"
FONT = "Khmer OS"


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command words, parser) of every command that runs something."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if path and (not subs or parser._defaults.get(SPEC) or "--format" in parser._option_string_actions):
        yield path, parser
    for sub in subs:
        for name, child in sub.choices.items():
            yield from _commands(child, (*path, name))


COMMANDS = {" ".join(path): p for path, p in _commands(build_parser())}


def test_every_command_is_registered():
    assert set(COMMANDS) >= {
        "corpus build", "corpus stats", "charset build", "charset audit", "lm build", "fonts", "render", "preview",
        "generate", "valset", "dataset stats", "dataset to-lmdb", "train", "eval", "export", "predict", "models",
        "models show", "models card", "evalset build"}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_lists_generated_flags_with_defaults(command, run_cli):
    proc = run_cli([*command.split(), "--help"])
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    text = proc.stdout
    assert "-v, --verbose" in text and "-q, --quiet" in text
    spec = COMMANDS[command]._defaults.get(SPEC)
    if spec is None:  # nothing to configure (`models` lists the shipped models): --format and the common flags
        return
    assert "--config FILE" in text and "-o KEY=VALUE" in text
    assert spec.flags, command
    parser = COMMANDS[command]
    for flag in spec.flags:
        assert flag.flag in text, (command, flag.flag)
        if flag.key in spec.required or flag.flag not in parser._option_string_actions:  # required, positional
            continue
        action = parser._option_string_actions[flag.flag]
        assert "default" in action.help, (command, flag.flag, action.help)
        _, default, _ = lookup(spec.cls, flag.key, "test")
        if isinstance(default, (int, float, str)) and not isinstance(default, bool) and default != "":
            assert str(default) in action.help, (command, flag.flag, default, action.help)


def _resolve(argv: list[str]):
    return resolve(build_parser().parse_args([str(a) for a in argv]))


@pytest.mark.xdist_group("text_cli")
def test_precedence_defaults_config_override_flag_on_corpus_build(tmp_path, run_cli, khmer_lines):
    src = tmp_path / "in.txt"
    src.write_text("\n".join(khmer_lines[:200]) + "\n", encoding="utf-8")
    cfg_file = tmp_path / "corpus.yaml"
    cfg_file.write_text(yaml.safe_dump({
        "input": [str(src)], "output_dir": str(tmp_path / "from_config"),
        "corpus": {"min_length": 2, "max_length": 90, "val_fraction": 0.2, "test_fraction": 0.15}}))
    out = tmp_path / "from_flag"
    run_cli(["corpus", "build", "--config", cfg_file, "-o", "corpus.max_length=80", "-o", "corpus.val_fraction=0.25",
             "-o", f"output_dir={tmp_path / 'from_o'}", "--max-length", "70", "--output-dir", out, "--no-progress"],
            check=True)
    assert not (tmp_path / "from_config").exists() and not (tmp_path / "from_o").exists()
    config = json.loads((out / "stats.json").read_text())["config"]
    assert config["min_length"] == 2            # --config over the default (an untyped flag changes nothing)
    assert config["test_fraction"] == 0.15      # --config
    assert config["val_fraction"] == 0.25       # -o over --config
    assert config["max_length"] == 70           # the flag over -o and --config
    assert config["dedupe"] is True and config["script"] == "khmer"  # default; detected from the input
    assert config["charset_extra"] == ["digits", "latin", "punct"]


def test_precedence_on_render_of_a_real_khmer_line(tmp_path, run_cli):
    cfg_file = tmp_path / "render.yaml"
    cfg_file.write_text(yaml.safe_dump({"font": FONT, "out": str(tmp_path / "a.png"), "height": 40}))
    proc = run_cli(["render", KHMER, "--config", cfg_file], check=True)  # required --out and --font from the file
    assert proc.stdout.startswith(f"wrote {tmp_path / 'a.png'} (") and "x40, font Khmer OS)" in proc.stdout
    proc = run_cli(["render", KHMER, "--config", cfg_file, "-o", "height=24"], check=True)
    assert "x24, font" in proc.stdout
    proc = run_cli(["render", KHMER, "--config", cfg_file, "-o", "height=24", "--height", "20",
                    "--out", tmp_path / "b.png"], check=True)
    assert f"wrote {tmp_path / 'b.png'} (" in proc.stdout and "x20, font" in proc.stdout
    missing = run_cli(["render", KHMER, "--font", FONT])
    assert missing.returncode == 2 and "--out is required" in missing.stderr and "Traceback" not in missing.stderr


def test_bad_keys_and_values_are_one_line_errors(tmp_path, run_cli):
    proc = run_cli(["corpus", "build", "--input", tmp_path / "x.txt", "-o", "corpus.max_lenght=3"])
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    line, = proc.stderr.strip().splitlines()
    assert "'corpus.max_lenght'" in line and line.startswith("error: -o corpus.max_lenght=3") and "max_length" in line
    proc = run_cli(["render", KHMER, "--font", FONT, "--out", tmp_path / "x.png", "-o", "synth.height=3"])
    line, = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and "'synth'" in line
    proc = run_cli(["preview", "--out", tmp_path / "x.png", "-o", "render.heigth=48"])  # a synth key, misspelt
    line, = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and "'synth.render.heigth'" in line
    proc = run_cli(["valset", "-o", "seed"])
    assert proc.returncode == 2 and "expected KEY=VALUE" in proc.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("corpus:\n  min_lenght: 2\n")
    proc = run_cli(["corpus", "build", "--config", bad])
    line, = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and str(bad) in line and "'corpus.min_lenght'" in line
    proc = run_cli(["corpus", "build", "--max-length", "long"])  # a typed flag is checked by its type
    assert proc.returncode == 2 and "--max-length" in proc.stderr and "Traceback" not in proc.stderr


OLD_AND_NEW = [  # (old spelling, new spelling, the config key both set)
    (["valset", "--random-seed", "7"], ["valset", "--seed", "7"], "random_seed"),
    (["preview", "--n", "5", "--out", "x.png"], ["preview", "--num-samples", "5", "--out", "x.png"], "num_samples"),
    (["eval", "m.onnx", "d", "--out-dir", "r"], ["eval", "m.onnx", "d", "--output-dir", "r"], "output_dir"),
    (["models", "card", "m.onnx", "--name", "n", "--out-dir", "z"],
     ["models", "card", "m.onnx", "--name", "n", "--output-dir", "z"], "output_dir"),
    (["charset", "build", "--input", "a", "--output", "d.txt"], ["charset", "build", "--input", "a", "--out", "d.txt"],
     "out"),
    (["lm", "build", "--input", "a", "--output", "l.gz"], ["lm", "build", "--input", "a", "--out", "l.gz"], "out"),
    (["charset", "audit", "--charset", "c", "--input", "a", "--json", "r.json"],
     ["charset", "audit", "--charset", "c", "--input", "a", "--out", "r.json"], "out"),
]


@pytest.mark.parametrize("old,new,key", OLD_AND_NEW, ids=[" ".join(o[:2]) + " " + k for o, _, k in OLD_AND_NEW])
def test_old_spellings_are_hidden_aliases(old, new, key):
    a, b = _resolve(old), _resolve(new)
    assert a == b and getattr(a, key) == getattr(b, key) not in (None, 42, 32, "eval_report")
    command = " ".join(old[:2]) if " ".join(old[:2]) in COMMANDS else old[0]
    text = COMMANDS[command].format_help()
    (old_flag,), (new_flag,) = set(old) - set(new), set(new) - set(old)
    assert f"{new_flag} " in text and f"{old_flag} " not in text  # the old spelling is hidden


def test_json_is_a_hidden_alias_of_format_json():
    for cmd in ("generate", "valset", "dataset stats", "evalset build", "charset audit", "models"):
        args = build_parser().parse_args([*cmd.split(), *(["d"] if cmd == "dataset stats" else []), "--format",
                                          "json"])
        assert args.format == "json"
        if cmd != "charset audit":  # there --json FILE stays the old spelling of --out FILE
            assert build_parser().parse_args([*cmd.split(), *(["d"] if cmd == "dataset stats" else []),
                                              "--json"]).format == "json"


@pytest.mark.xdist_group("text_cli")
def test_old_spellings_still_work_on_real_runs(tmp_path, run_cli, thai_corpus_dir):
    run_cli(["charset", "build", "--input", thai_corpus_dir, "--output", tmp_path / "old.txt"], check=True)
    run_cli(["charset", "build", "--input", thai_corpus_dir, "--out", tmp_path / "new.txt"], check=True)
    assert (tmp_path / "old.txt").read_bytes() == (tmp_path / "new.txt").read_bytes()
    run_cli(["lm", "build", "--input", thai_corpus_dir, "--output", tmp_path / "old.json.gz", "--order", "3"],
            check=True)
    run_cli(["lm", "build", "--input", thai_corpus_dir, "--out", tmp_path / "new.json.gz", "-o", "order=3"],
            check=True)
    assert (tmp_path / "old.json.gz").stat().st_size == (tmp_path / "new.json.gz").stat().st_size > 0
    audit = ["charset", "audit", "--charset", tmp_path / "new.txt", "--input", thai_corpus_dir]
    run_cli([*audit, "--json", tmp_path / "old.json"], check=True)
    printed = json.loads(run_cli([*audit, "--format", "json", "--out", tmp_path / "new.json"], check=True).stdout)
    assert json.loads((tmp_path / "old.json").read_text()) == json.loads((tmp_path / "new.json").read_text()) \
        == printed


def test_verbose_and_quiet_before_or_after_the_subcommand(tmp_path, run_cli, khmer_corpus_dir):
    for argv in (["-v", "corpus", "stats", khmer_corpus_dir], ["corpus", "stats", khmer_corpus_dir, "-v"],
                 ["corpus", "stats", "--verbose", khmer_corpus_dir]):
        proc = run_cli(argv, check=True)
        assert "DEBUG aksar corpus stats settings:" in proc.stderr and str(khmer_corpus_dir) in proc.stderr
        assert "kept" in proc.stdout
    quiet = run_cli(["corpus", "stats", khmer_corpus_dir, "-q"], check=True)
    assert "DEBUG" not in quiet.stderr and "kept" in quiet.stdout
    assert "DEBUG" not in run_cli(["corpus", "stats", khmer_corpus_dir], check=True).stderr


def test_script_choices_come_from_the_script_registry():
    from aksar.text.scripts import SCRIPTS

    for command in ("corpus build", "charset build", "fonts", "render", "evalset build"):
        action = next(a for a in COMMANDS[command]._actions if "--script" in a.option_strings)
        assert sorted(action.choices) == sorted(SCRIPTS), command


def test_models_card_reads_an_old_config_flag_as_the_training_config(repo_root, tmp_path):
    train_yaml = repo_root / "configs" / "khmer_ctc_dev.yaml"
    base = ["models", "card", "m.onnx", "--name", "n", "--output-dir", "z"]
    old, new = _resolve([*base, "--config", train_yaml]), _resolve([*base, "--train-config", train_yaml])
    assert old == new and old.train_config == str(train_yaml)
    card_yaml = tmp_path / "card.yaml"
    card_yaml.write_text(yaml.safe_dump({"name": "from_file", "alias": ["a", "b"], "hours": 2.5}))
    cfg = _resolve(["models", "card", "m.onnx", "--config", card_yaml, "--output-dir", "z", "--alias", "c"])
    assert (cfg.name, cfg.alias, cfg.hours, cfg.output_dir) == ("from_file", ["c"], 2.5, "z")


def test_train_takes_config_positional_or_flag_and_global_alias(repo_root):
    from aksar.cli.flags import overrides

    cfg = repo_root / "configs" / "khmer_ctc_dev.yaml"
    args = build_parser().parse_args(["train", "--config", str(cfg), "-o", "global.seed=3", "--seed", "5",
                                      "--max-minutes", "2"])
    assert args.config_file == str(cfg) and args.config is None
    items = overrides(args)
    assert items[0] == "run.seed=3" and set(items[1:]) == {"run.seed=5", "run.max_minutes=2.0"}  # flags after -o
