"""The command line as a user runs it: every bad input gets one line, a non-zero exit, no traceback."""
import json
import shutil

import numpy as np
import pytest

from conftest import assert_clean_error, run_cli


def test_help_lists_every_subcommand():
    out = run_cli("--help").stdout.decode()
    for command in ("quickstart", "corpus", "train", "translate", "embed"):
        assert command in out
    assert "one line per input sentence per target language" in run_cli("translate", "--help").stdout.decode()


def test_translate_into_several_languages_in_the_stated_order(tiny_run):
    result = run_cli("translate", "--model", str(tiny_run), "--to", "fr,de", "--tsv", "Open file", "Close")
    assert result.returncode == 0, result.stderr.decode()
    lines = result.stdout.decode().splitlines()
    assert [line.split("\t")[0] for line in lines] == ["fr", "de", "fr", "de"]


def test_translate_reads_stdin_and_pivots_with_bf16_weights(tiny_run):
    result = run_cli("translate", "--model", str(tiny_run), "--to", "de", "--pivot", "en", "--beam", "2",
                     "--precision", "bf16", input="Ouvrir\nFermer\n".encode())
    assert result.returncode == 0, result.stderr.decode()
    assert len(result.stdout.decode().splitlines()) == 2


def test_embed_writes_normalised_float32_vectors(tiny_run, tmp_path):
    (tmp_path / "in.txt").write_text("Open file\nDatei öffnen\nOuvrir le fichier\n")
    result = run_cli("embed", "--model", str(tiny_run), "--in", str(tmp_path / "in.txt"), "--out", str(tmp_path / "v.npy"))
    assert result.returncode == 0, result.stderr.decode()
    vectors = np.load(tmp_path / "v.npy")
    assert vectors.shape[0] == 3 and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_unknown_target_language_names_the_known_ones(tiny_run):
    assert_clean_error(run_cli("translate", "--model", str(tiny_run), "--to", "xx", "hello"), "'xx'", "fr")


def test_no_target_language(tiny_run):
    assert_clean_error(run_cli("translate", "--model", str(tiny_run), "--to", ",", "hello"), "--to")
    result = run_cli("translate", "--model", str(tiny_run), "hello")
    assert result.returncode != 0 and "--to" in result.stderr.decode()


def test_missing_model_folder(tmp_path):
    assert_clean_error(run_cli("translate", "--model", str(tmp_path / "nope"), "--to", "fr", "hi"), "nope")


def test_truncated_safetensors(tiny_run, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_run, broken)
    weights = json.loads((broken / "best.json").read_text())["weights"]
    data = (broken / weights).read_bytes()
    (broken / weights).write_bytes(data[: len(data) // 2])
    assert_clean_error(run_cli("translate", "--model", str(broken), "--to", "fr", "hi"), "safetensors")


def test_corrupt_pointer(tiny_run, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_run, broken)
    (broken / "best.json").write_text("{not json")
    assert_clean_error(run_cli("translate", "--model", str(broken), "--to", "fr", "hi"), "best.json")


def test_missing_input_file(tiny_run, tmp_path):
    assert_clean_error(run_cli("translate", "--model", str(tiny_run), "--to", "fr", "--in", str(tmp_path / "x.txt")),
                       "x.txt")


def test_invalid_utf8_names_the_line(tiny_run, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine\nalso fine\nbroken \xff here\n")
    assert_clean_error(run_cli("translate", "--model", str(tiny_run), "--to", "fr", "--in", str(bad)), "bad.txt:3")


def test_extremely_long_line_is_truncated_with_a_warning(tiny_run):
    result = run_cli("translate", "--model", str(tiny_run), "--to", "fr", "word " * 5000)
    assert result.returncode == 0
    assert "truncated" in result.stderr.decode() and len(result.stdout.decode().splitlines()) == 1


def test_unwritable_output_path(tiny_run, tmp_path):
    assert_clean_error(run_cli("translate", "--model", str(tiny_run), "--to", "fr", "--out",
                               str(tmp_path / "no" / "such" / "dir" / "out.txt"), "hi"), "out.txt")


def test_malformed_corpus_line(tmp_path):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"en": "a", "fr": "b"}\n{"en": "c", "fr": "d"}\n{broken\n')
    assert_clean_error(run_cli("train", "--data", str(corpus), "--out", str(tmp_path / "r"), "--config", "tiny"),
                       "c.jsonl:3")
    assert not (tmp_path / "r" / "latest.json").exists()


def test_missing_and_empty_corpus(tmp_path):
    assert_clean_error(run_cli("train", "--data", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "r"),
                               "--config", "tiny"), "none.jsonl")
    (tmp_path / "empty.jsonl").write_text("")
    assert_clean_error(run_cli("train", "--data", str(tmp_path / "empty.jsonl"), "--out", str(tmp_path / "r"),
                               "--config", "tiny"), "empty.jsonl")


def test_bad_config_keys_are_named(tmp_path, corpus_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  d_modle: 3\n")
    assert_clean_error(run_cli("train", "--data", str(corpus_path), "--out", str(tmp_path / "r"), "--config", str(bad),
                               "bogus=2"), "d_modle", "bogus", "model.d_model")


def test_existing_run_is_not_overwritten(tiny_run, corpus_path):
    assert_clean_error(run_cli("train", "--data", str(corpus_path), "--out", str(tiny_run), "--config", "tiny"),
                       "--resume", "--overwrite")


def test_debug_shows_the_traceback(tmp_path):
    result = run_cli("--debug", "translate", "--model", str(tmp_path / "nope"), "--to", "fr", "hi")
    assert result.returncode != 0 and "Traceback" in result.stderr.decode()


def test_evaluate_writes_the_documented_json(tiny_run, corpus_path, tmp_path):
    out = tmp_path / "eval.json"
    result = run_cli("evaluate", "--model", str(tiny_run), "--data", str(corpus_path.with_name("corpus.test.jsonl")),
                     "--max-sentences", "8", "--json", str(out), "--quiet")
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    summary = json.loads(out.read_text())["summary"]
    for key in ("supervised_chrf", "zero_shot_chrf", "pivot_chrf", "xsim_error", "langid_probe", "langid_chance",
                "retrieval_by_layer", "placeholder_kept"):
        assert key in summary, key


def test_every_command_calls_its_function_and_every_option_says_what_it_does():
    """In-process: the parser is assembled from cli.COMMANDS, so a command left out of the table, or an option
    without help, shows here before a user meets it."""
    import argparse
    from interlingua import cli
    from interlingua.cli import COMMANDS, build_parser

    def leaves(parser, path=()):
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            yield path, parser
        for action in subs:
            for name, sub in action.choices.items():
                yield from leaves(sub, (*path, name))

    found = dict(leaves(build_parser()))
    expected = {(c.name,) if not c.subcommands else (c.name, s.name): (s if c.subcommands else c).run
                for c in COMMANDS for s in (c.subcommands or [c])}
    assert {path: parser.get_default("func") for path, parser in found.items()} == expected
    assert set(expected.values()) == {f for name, f in vars(cli).items() if name.startswith("cmd_")}
    for path, parser in found.items():
        parser.format_help()  # a stray % in a help text raises here, not at a user's --help
        for action in parser._actions:
            assert action.help or isinstance(action, argparse._SubParsersAction), (path, action.dest)


def test_overrides_count_anywhere_on_the_line_and_other_strays_are_still_an_error(capsys):
    """In-process, at the parser: argparse takes a positional list in one run, so `b=2` after `--out` used to be
    'unrecognized arguments'; it is an override, in its place on the line (a later value of a key wins)."""
    from interlingua.cli import parse_command_line
    args = parse_command_line(["train", "a=1", "--data", "D", "--config", "tiny", "b=2", "--out", "X", "c=3",
                               "--resume", "a=4"])
    assert args.overrides == ["a=1", "b=2", "c=3", "a=4"]
    assert (args.data, args.out, args.config, args.resume) == ("D", "X", "tiny", True)
    assert parse_command_line(["train", "--data", "D", "--out", "X"]).overrides == []
    for line, stray in ((["train", "--data", "D", "a=1", "--out", "X", "stray"], "stray"),
                        (["train", "--data", "D", "--out", "X", "--bogus=1"], "--bogus=1")):
        with pytest.raises(SystemExit) as exit:
            parse_command_line(line)
        assert exit.value.code == 2
        assert capsys.readouterr().err.strip().splitlines() == [
            f"interlingua: error: unrecognized arguments: {stray} (see: interlingua --help)"]
    # translate takes no overrides: a=b is text to translate, as it was before overrides moved
    assert parse_command_line(["translate", "--model", "M", "--to", "fr", "a=b"]).text == ["a=b"]
