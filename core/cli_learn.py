"""`glassbox learn boundary|...`: the foundations lab's runs on the command line.

Each subcommand is one `add_*` function that adds its parser and one `run_*` function; adding
another is two lines in `add_parser` (the `_SUBCOMMANDS` tuple) plus those two functions.
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from core.cli_shape import command, print_json


def add_parser(sub: Any) -> None:
    learn = sub.add_parser("learn", help="the foundations lab: watch small networks learn")
    labs = learn.add_subparsers(dest="lab", required=True)
    for add in _SUBCOMMANDS:
        add(labs)


# -- boundary ------------------------------------------------------------------------------------
def add_boundary(labs: Any) -> None:
    from core.foundations.boundary import ACTIVATIONS, DEFAULT_STEPS, OPTIMIZERS, NetworkSettings
    from core.foundations.datasets2d import DATASETS, DEFAULT_NOISE, DEFAULT_POINTS

    net = NetworkSettings()
    p = labs.add_parser("boundary", help="train a small network on 2D points; loss and "
                        "accuracy per step")
    p.add_argument("--dataset", choices=DATASETS, default="moons")
    p.add_argument("--points", type=int, default=DEFAULT_POINTS, help="points in all "
                   f"(default {DEFAULT_POINTS}; 30%% kept for testing)")
    p.add_argument("--noise", type=float, default=DEFAULT_NOISE)
    p.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    p.add_argument("--layers", type=int, default=net.hidden_layers, help="hidden layers")
    p.add_argument("--width", type=int, default=net.width, help="neurons per hidden layer")
    p.add_argument("--activation", choices=ACTIVATIONS, default=net.activation)
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=net.optimizer)
    p.add_argument("--lr", type=float, default=net.learning_rate, help="learning rate")
    p.add_argument("--batch-size", type=int, default=net.batch_size)
    p.add_argument("--seed", type=int, default=net.seed)
    p.add_argument("--json", action="store_true", help="print one JSON object at the end")
    p.set_defaults(func=run_boundary)


@command
def run_boundary(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`glassbox learn boundary`."""
    from core.foundations.boundary import NetworkSettings, TrainingStopped, train
    from core.foundations.datasets2d import make_dataset

    data = make_dataset(args.dataset, args.points, args.noise, args.seed)
    settings = NetworkSettings(args.layers, args.width, args.activation, args.optimizer,
                               args.lr, args.batch_size, args.seed)
    steps: list[dict[str, Any]] = []
    stopped: str | None = None
    every = max(1, args.steps // 10)
    for event in train(data, settings, args.steps):
        if isinstance(event, TrainingStopped):
            stopped = event.message
            steps.append({"step": event.step, "loss": _number(event.loss)})
            break
        steps.append({"step": event.step, "loss": round(event.loss, 6),
                      "test_loss": round(event.test_loss, 6),
                      "train_accuracy": round(event.train_accuracy, 4),
                      "test_accuracy": round(event.test_accuracy, 4)})
        if not args.json and (event.step % every == 0 or event.step == 1):
            out.write(f"step {event.step:>5}  loss {event.loss:.4f}  train "
                      f"{event.train_accuracy:6.1%}  test {event.test_accuracy:6.1%}\n")
    final = next((s for s in reversed(steps) if "test_accuracy" in s), None)
    if args.json:
        print_json(out, {
            "dataset": args.dataset, "points": args.points, "noise": args.noise,
            "network": {"hidden_layers": settings.hidden_layers, "width": settings.width,
                        "activation": settings.activation, "optimizer": settings.optimizer,
                        "learning_rate": settings.learning_rate,
                        "batch_size": settings.batch_size, "seed": settings.seed,
                        "parameters": settings.parameter_count()},
            "steps": steps,
            "final_test_accuracy": final["test_accuracy"] if final else None,
            "stopped": stopped})
    elif final is not None:
        out.write(f"final test accuracy {final['test_accuracy']:.1%} after "
                  f"{final['step']} steps\n")
    if stopped:
        err.write(f"{stopped}\n")
        return 1
    return 0


def _number(value: float) -> float | str:
    """JSON has no NaN or infinity: write them as strings."""
    return value if abs(value) < float("inf") else str(value)


def add_tiny_gpt(labs: Any) -> None:
    from core import cli_learn_tiny

    cli_learn_tiny.add_parser(labs)


_SUBCOMMANDS = (add_boundary, add_tiny_gpt)
