"""`python -m core <command>`: every page's capability, headless, JSON on stdout.

Commands come from this module (``info``, ``generate``) and from any ``core/<package>/cli.py``
exposing ``register(subparsers)``; each command's handler takes ``(args, settings)`` and returns
something JSON-serialisable. Errors become one line on stderr and a non-zero exit:
2 for a problem the user can fix (:class:`core.errors.UserError`), 1 for a bug.
Heavy imports happen inside handlers so ``--help`` stays fast. Options that mirror a config
dataclass are generated from its fields by :func:`add_dataclass_options`, so each help text is
written once, beside the field.

Example:
    $ python -m core generate "Name a colour." --max-new-tokens 8
    {"text": "Blue.", "tokens": 3, "seconds": 0.41, "tokens_per_second": 7.3, ...}
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import pkgutil
import sys
import time
import typing
from collections.abc import Iterable
from pathlib import Path

from core.errors import UserError

QUIET_ENV = {
    "TRANSFORMERS_VERBOSITY": "error",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "TQDM_DISABLE": "1",
}


_monotonic = time.monotonic  # the progress lines' clock (a test replaces it)


def stderr_progress(every: float = 0.0):
    """A progress callback ``(fraction, message)`` that prints ``[ 45%] 3:12 message`` (the
    command's elapsed minutes:seconds) to stderr, so stdout stays one JSON object. A report
    prints when its stage (the message up to its first ", ", so "3,300" does not cut it)
    differs from the last printed one, when ``every`` seconds have passed since the last
    print, or at the end (fraction 1): every stage shows, and a stage that reports every
    step shows once per ``every`` seconds.

    Example: ``train(..., progress=stderr_progress(15))`` prints each epoch's first step and
    then four lines a minute, e.g. ``[ 31%] 4:10 ensemble member 1/2: epoch 2/6, step 100/332,
    loss 0.912, 2:01 elapsed, ETA 4:41`` (that copy's own clock and ETA).
    """
    start, last, stage = _monotonic(), [-float("inf")], [None]

    def report(fraction: float, message: str) -> None:
        now, this_stage = _monotonic(), message.split(", ")[0]
        if this_stage != stage[0] or now - last[0] >= every or fraction >= 1:
            last[0], stage[0] = now, this_stage
            s = round(now - start)
            print(f"[{fraction:4.0%}] {s // 60}:{s % 60:02d} {message}", file=sys.stderr,
                  flush=True)

    return report


def add_dataclass_options(parser, cls, fields: Iterable[str], *,
                          names: dict[str, str] | None = None,
                          overrides: dict[str, dict] | None = None) -> None:
    """Add one ``--option`` per named field of dataclass ``cls``: help, default and type from it.

    The flag is ``--`` + the field name with ``_`` -> ``-`` unless ``names`` gives another;
    ``overrides`` holds extra ``add_argument`` keywords per field (``choices``, or a default
    or type the command keeps for compatibility). A field without a default is required; a
    ``bool`` field defaulting to False becomes a ``store_true`` switch.

    Example: ``add_dataclass_options(p, RetrievalConfig, ["top_k", "search"],
    overrides={"search": {"choices": SEARCH_MODES}})`` adds ``--top-k`` (int, default 3,
    help "Chunks returned.") and ``--search`` (default "hybrid", one of the three modes).
    """
    names, overrides = names or {}, overrides or {}
    declared = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for name in fields:
        f = declared[name]
        help_text = f.metadata.get("help")
        kwargs: dict = {"help": help_text.replace("%", "%%") if help_text else None}
        if f.default is not dataclasses.MISSING:
            kwargs["default"] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            kwargs["default"] = f.default_factory()
        else:  # a field the dataclass cannot do without
            kwargs["required"] = True
        if hints[name] is bool and kwargs.get("default") is False:
            kwargs["action"] = "store_true"
        elif hints[name] in (int, float):  # str needs no conversion
            kwargs["type"] = hints[name]
        kwargs.update(overrides.get(name, {}))
        parser.add_argument(names.get(name, "--" + name.replace("_", "-")), **kwargs)


@dataclasses.dataclass
class JsonLines:
    """A command result printed as one JSON line per item, each as soon as it is ready
    (``ask --questions``); errors raised while iterating end the command like any other."""

    items: Iterable


def _cmd_info(args, settings):
    from core.status import system_status

    return system_status(settings, load=not args.no_load)


def _cmd_generate(args, settings):
    from core.generation import GenerationConfig
    from core.loaders import load_generator

    config = GenerationConfig(max_new_tokens=args.max_new_tokens, temperature=args.temperature)
    return load_generator(settings).generate(args.prompt, config).to_dict()


def _register_builtin(sub) -> None:
    p = sub.add_parser("info", help="device, versions, configured models (loads each)")
    p.add_argument("--no-load", action="store_true", help="report sources without loading")
    p.set_defaults(func=_cmd_info)
    from core.generation import GenerationConfig

    p = sub.add_parser("generate", help="generate text with the configured generator")
    p.add_argument("prompt")
    add_dataclass_options(p, GenerationConfig, ["max_new_tokens", "temperature"])
    p.set_defaults(func=_cmd_generate)


def feature_cli_modules() -> list[str]:
    """``core.<pkg>.cli`` for every sub-package that has one, in name order."""
    root = Path(__file__).parent
    names = [m.name for m in pkgutil.iter_modules([str(root)]) if m.ispkg]
    return [f"core.{n}.cli" for n in sorted(names) if (root / n / "cli.py").exists()]


#: Noun-then-verb commands over the flat ones the feature packages register. The flat names
#: stay as aliases (so no script breaks); those in HIDDEN_FLAT no longer show in ``--help``.
NOUNS: dict[str, tuple[str, dict[str, str]]] = {
    "kb": ("knowledge bases: list, show, index, delete, delete-doc",
           {"list": "kbs", "show": "kb-show", "index": "index", "delete": "kb-delete",
            "delete-doc": "kb-delete-doc"}),
    "adapter": ("LoRA adapters: list, show, delete, train",
                {"list": "adapters", "show": "adapter-show", "delete": "adapter-delete",
                 "train": "finetune"}),
    "eval": ("evaluation: run, runs", {"run": "evaluate", "runs": "eval-runs"}),
}
HIDDEN_FLAT = {"kbs", "kb-show", "index", "kb-delete", "kb-delete-doc", "adapters",
               "adapter-show", "adapter-delete", "eval-runs"}


def _add_nouns(sub) -> None:
    """``kb list`` etc.: each verb parser inherits the flat command's arguments and handler.

    Example: ``python -m core kb show default`` runs exactly what ``kb-show default`` runs.
    """
    flat = sub.choices
    for noun, (help_text, verbs) in NOUNS.items():
        group = sub.add_parser(noun, help=help_text).add_subparsers(
            dest="verb", required=True, metavar="VERB")
        for verb, command in verbs.items():
            source = flat[command]
            group.add_parser(verb, parents=[source], conflict_handler="resolve",
                             help=_help_of(sub, command), description=source.description)
    sub._choices_actions[:] = [a for a in sub._choices_actions if a.dest not in HIDDEN_FLAT]


def _help_of(sub, command: str) -> str | None:
    return next((a.help for a in sub._choices_actions if a.dest == command), None)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _register_builtin(sub)
    for module in feature_cli_modules():
        importlib.import_module(module).register(sub)
    _add_nouns(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        from core.access import act_as_operator
        from core.settings import load_settings

        act_as_operator()  # the command line is the operator's tool: admin (core/access.py)
        result = args.func(args, load_settings())
        if isinstance(result, JsonLines):
            for item in result.items:
                print(json.dumps(item, ensure_ascii=False, default=str), flush=True)
            return 0
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the edge: one line, not a traceback, unless debugging
        if os.environ.get("NLPLAB_DEBUG"):
            raise
        detail = str(exc).splitlines()[0][:300] if str(exc) else ""
        print(f"internal error: {type(exc).__name__}: {detail}", file=sys.stderr)
        return 1
    json.dump(result, sys.stdout, ensure_ascii=False, default=str)
    sys.stdout.write("\n")
    return 0
