"""``overdue simulate`` (what-if simulation) and ``overdue optimise`` (allocation from the logs)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

SIMULATE_EPILOG = (
    "Example: overdue simulate --accounts 2000 --days 20 --strategy default --vs aggressive "
    "--profile cn --seed 1 --out out/sim"
)
OPTIMISE_EPILOG = (
    "Example: overdue optimise out/sim/logs/strategy --strategy default --out out/optimised.yaml"
)
COMPARE_EPILOG = "Example: overdue compare-runs out/sim/logs/strategy out/sim/logs/vs"


def register(app: typer.Typer) -> None:
    @app.command("simulate", epilog=SIMULATE_EPILOG)
    def simulate_command(
        out: Path = typer.Option(..., "--out", help="Output folder (summary.json, contacts.csv)."),
        accounts: int = typer.Option(2000, "--accounts", help="Accounts in the twin book."),
        days: int = typer.Option(20, "--days", help="Days to simulate."),
        strategy: str = typer.Option(
            "default", "--strategy", help="Strategy spec file or shipped name."
        ),
        vs: str | None = typer.Option(
            None, "--vs", help="A rival strategy run on an identical copy of the book."
        ),
        profile: str = typer.Option("cn", "--profile", help="Compliance profile: cn or us."),
        seed: int = typer.Option(1, "--seed", help="Random seed (book and responses)."),
        optimise: bool = typer.Option(
            False, "--optimise", help="Also write OUT/optimised.yaml from the strategy's logs."
        ),
        keep_snapshots: bool = typer.Option(
            False, "--keep-snapshots", help="Keep every day's account snapshot (large)."
        ),
        book: Path | None = typer.Option(
            None, "--book", help="Reuse the base book of an earlier run (OUT/_work/base_book)."
        ),
    ) -> None:
        """Simulate strategies on a synthetic book: who answers, promises, pays, complains."""
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        from overdue.errors import BadInput
        from overdue.strategy.simulate import SimConfig, simulate

        try:
            config = SimConfig(
                accounts=accounts,
                days=days,
                strategy=strategy,
                vs=vs,
                profile=profile,
                seed=seed,
                out=out,
                keep_snapshots=keep_snapshots,
                book=book,
            )
        except ValueError as exc:
            raise BadInput(f"--{exc}") from None
        console = Console(stderr=True)
        tasks: dict[str, object] = {}
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as bar:

            def progress(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=total)
                bar.update(tasks[stage], completed=done)  # type: ignore[arg-type]

            summary = simulate(config, progress)
        if optimise:
            from overdue.strategy.optimise import optimise_from_logs

            result = optimise_from_logs(out / "logs" / "strategy", strategy, out / "optimised.yaml")
            typer.echo(f"optimised strategy: {out / 'optimised.yaml'} ({result['status']})")
        for label, data in summary["strategies"].items():
            typer.echo(f"{label}: {data['name']}")
            for arm, a in data["arms"].items():
                typer.echo(
                    f"  {arm:<14} customers {a['customers']:>8,}  contacts "
                    f"{a['contacts']['value']:>10,.0f}  recovered "
                    f"{a['recovered_fen']['value'] / 100:>14,.2f}  complaints "
                    f"{a['complaints']['value']:>6,.0f}  blocked {a['blocked_attempts']['value']:>8,.0f}"
                )
        typer.echo(f"summary: {out / 'summary.json'}  contacts: {out / 'contacts.csv'}")
        typer.echo(json.dumps(summary["seconds"]))

    @app.command("optimise", epilog=OPTIMISE_EPILOG)
    def optimise_command(
        logs: Path = typer.Argument(..., help="A simulation's logs folder (OUT/logs/strategy)."),
        out: Path = typer.Option(..., "--out", help="Strategy YAML to write."),
        strategy: str = typer.Option(
            "default", "--strategy", help="The strategy the logs come from (its segments)."
        ),
        experiment_from: str | None = typer.Option(
            None, "--experiment-from",
            help="Take the hold-out share and salt of this spec (e.g. default), to compare on "
            "the same hold-out customers.",
        ),
        evidence: bool = typer.Option(
            True, "--evidence/--no-evidence",
            help="No contact where the effect's interval includes zero and the path costs.",
        ),
        pessimistic: bool = typer.Option(
            False, "--pessimistic",
            help="Value a departure from the champion at the lower 95 percent bound of its gain.",
        ),
        complaints_share: float = typer.Option(
            1.0, "--complaints-share",
            help="Complaint budget: at most this share of the champion's complaints (0..1].",
        ),
    ) -> None:  # fmt: skip
        """Estimate each action's effect per segment from logged outcomes; allocate with HiGHS."""
        from overdue.errors import BadInput
        from overdue.strategy.optimise import optimise_from_logs

        if not (logs / "customers.parquet").is_file():
            raise BadInput(f"{logs}: no customers.parquet (a simulation's logs/<strategy> folder)")
        if not 0 < complaints_share <= 1:
            raise BadInput(f"--complaints-share: {complaints_share} must be in (0, 1]")
        result = optimise_from_logs(
            logs, strategy, out, experiment_from=experiment_from, evidence=evidence,
            pessimistic=pessimistic, complaints_share=complaints_share,
        )  # fmt: skip
        typer.echo(json.dumps(result, indent=2, ensure_ascii=False))

    @app.command("compare-runs", epilog=COMPARE_EPILOG)
    def compare_runs_command(
        logs_a: Path = typer.Argument(..., help="Logs of one strategy (OUT/logs/strategy)."),
        logs_b: Path = typer.Argument(..., help="Logs of the other, same customers (OUT/logs/vs)."),
    ) -> None:
        """Paired differences per customer between two strategies of one --vs simulation."""
        from overdue.errors import BadInput
        from overdue.strategy.optimise import paired_comparison

        for folder in (logs_a, logs_b):
            if not (folder / "customers.parquet").is_file():
                raise BadInput(f"{folder}: no customers.parquet (a simulation's logs folder)")
        typer.echo(json.dumps(paired_comparison(logs_a, logs_b), indent=1))
