"""``overdue models``: train, evaluate, score, watch drift and report on credit models.

Heavy imports (LightGBM, optbinning, scikit-learn) happen inside the commands so that
``overdue --help`` stays fast.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

UCI = "../shared/data/uci_taiwan_default_of_credit_card_clients.csv"
TRAIN_EPILOG = (
    f"Example: overdue models train {UCI} --target default.payment.next.month --id ID "
    "--out models/uci --seed 42"
)
EVALUATE_EPILOG = "Example: overdue models evaluate models/uci --data test.csv --json"
SCORE_EPILOG = (
    "Example: overdue models score models/uci --data accounts.parquet --out scores.parquet"
)
DRIFT_EPILOG = "Example: overdue models drift models/uci --data this_month.csv --json"
REPORT_EPILOG = "Example: overdue models report models/uci --data test.csv --out uci_report.html"

models_app = typer.Typer(
    name="models",
    help="Credit models for any table: a WoE scorecard and LightGBM, chosen by cross-validation; "
    "evaluation (AUC, KS, Gini, gains, calibration), scoring with reason codes (zh-CN, en), "
    "PSI/CSI drift, HTML report.",
    no_args_is_help=True,
    epilog=TRAIN_EPILOG,
)

ModelDir = Annotated[Path, typer.Argument(help="Model folder (a registry: the latest version).")]
DataOpt = Annotated[Path, typer.Option("--data", help="A .csv or .parquet table.")]
VersionOpt = Annotated[
    int | None, typer.Option("--version", help="Model version (default: the latest).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """BadInput → one ``error:`` line on stderr and exit code 2 (also under CliRunner)."""
    from overdue.cli import fail
    from overdue.errors import BadInput

    try:
        yield
    except BadInput as exc:
        raise fail(str(exc)) from None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@models_app.command(epilog=TRAIN_EPILOG)
def train(
    data: Annotated[Path, typer.Argument(help="Training table: .csv or .parquet.")],
    target: Annotated[str, typer.Option("--target", help="Column to predict (the bad flag).")],
    out: Annotated[Path, typer.Option("--out", help="Model folder; a new version is added.")],
    id_column: Annotated[
        str | None, typer.Option("--id", help="Id column: kept out of the features.")
    ] = None,
    positive: Annotated[
        list[str] | None,
        typer.Option("--positive", help="Target value meaning bad (repeatable). Default: 1/true."),
    ] = None,
    special: Annotated[
        list[str] | None,
        typer.Option("--special", help="Sentinel codes COL=V1,V2, each its own bin (repeatable)."),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option("--exclude", help="Column to leave out, e.g. known after the outcome."),
    ] = None,
    monotone: Annotated[
        list[str] | None,
        typer.Option("--monotone", help="COL=increasing|decreasing: risk rises/falls with COL."),
    ] = None,
    kind: Annotated[str, typer.Option("--kind", help="auto | scorecard | gbm")] = "auto",
    seed: Annotated[int, typer.Option("--seed", help="Seed: same seed, same model.")] = 42,
    effort: Annotated[
        str, typer.Option("--effort", help="quick | standard | thorough (CV folds and trials).")
    ] = "standard",
    threads: Annotated[int, typer.Option("--threads", help="LightGBM threads (fixed).")] = 1,
    as_json: JsonOpt = False,
) -> None:
    """Train a scorecard and/or LightGBM on any credit table and save a new model version."""
    with _one_line_errors():
        from overdue.errors import BadInput
        from overdue.scoring.train import TrainOptions, load_training_table, train_frame

        if threads < 1 or threads > 64:
            raise BadInput(f"--threads {threads}: use 1 to 64")
        options = TrainOptions(
            target=target, id_column=id_column, positive=tuple(positive or ()),
            specials=tuple(special or ()), exclude=tuple(exclude or ()),
            monotone=tuple(monotone or ()), kind=kind, seed=seed, effort=effort, threads=threads,
        )  # fmt: skip
        frame, fp = load_training_table(data)
        log = (lambda _m: None) if as_json else (lambda m: typer.echo(f"  {m}", err=True))
        folder, card = train_frame(frame, fp, out, options, _now(), log)
        summary = {
            "model": str(folder), "version": card["version"], "kind": card["kind"],
            "cv_auc": card["metrics"]["cv_auc"], "cv": card["metrics"]["cv"],
            "decisions": card["decisions"], "notes": card["notes"],
        }  # fmt: skip
        if as_json:
            typer.echo(json.dumps(summary, default=float))
            return
        typer.echo(f"model {folder} (version {card['version']}): {card['kind']}, "
                   f"CV AUC {card['metrics']['cv_auc']:.4f}")  # fmt: skip
        for line in card["decisions"] + card["notes"]:
            typer.echo(f"- {line}")


def _load(model_dir: Path, version: int | None) -> Any:
    from overdue.scoring.registry import load_model

    return load_model(model_dir, version)


def _labelled(model: Any, data: Path) -> tuple[Any, Any]:
    from overdue.errors import BadInput
    from overdue.scoring import target as target_mod
    from overdue.scoring.table_io import read_table

    frame = read_table(data)
    if model.target.column not in frame.columns:
        raise BadInput(f"{data}: target column {model.target.column!r} not found")
    model.check_columns(frame, str(data))
    y, labelled = target_mod.encode(frame, model.target, str(data))
    frame = frame.loc[labelled].reset_index(drop=True)
    y = y[labelled]
    if y.sum() == 0 or y.sum() == len(y):
        raise BadInput(f"{data}: the target has only one class here: AUC and KS need both")
    return frame, y


@models_app.command(epilog=EVALUATE_EPILOG)
def evaluate(
    model_dir: ModelDir,
    data: DataOpt,
    as_json: JsonOpt = False,
    version: VersionOpt = None,
    kind: Annotated[
        str | None, typer.Option("--kind", help="gbm or scorecard (default: the champion).")
    ] = None,
) -> None:
    """AUC, KS, Gini, rows and bad rate of the model on a labelled table (and gains by decile)."""
    with _one_line_errors():
        from overdue.errors import BadInput
        from overdue.scoring import evaluation

        model = _load(model_dir, version)
        if kind is not None and kind not in ("gbm", "scorecard"):
            raise BadInput(f"--kind {kind!r}: use gbm or scorecard")
        if (kind == "gbm" and model.booster is None) or (
            kind == "scorecard" and model.scorecard is None
        ):
            raise BadInput(f"{model_dir}: this model has no {kind} part")
        frame, y = _labelled(model, data)
        probability = model.probability(frame, kind)
        result = evaluation.summary(y, probability)
        if as_json:
            typer.echo(json.dumps(result.to_dict()))
            return
        typer.echo(f"{kind or model.kind}: AUC {result.auc:.4f}  KS {result.ks:.4f}  "
                   f"Gini {result.gini:.4f}  n {result.n}  bad rate {result.base_rate:.4f}")  # fmt: skip
        typer.echo(evaluation.gains_table(y, probability).to_string(index=False))


@models_app.command(epilog=SCORE_EPILOG)
def score(
    model_dir: ModelDir, data: DataOpt,
    out: Annotated[Path, typer.Option("--out", help="Output .csv or .parquet.")],
    reasons: Annotated[
        int, typer.Option("--reasons", help="Reason codes per account (0-10).")
    ] = 3,
    version: VersionOpt = None,
) -> None:  # fmt: skip
    """Probability of bad, score in points and the top adverse factors (zh-CN, en) per row."""
    with _one_line_errors():
        from overdue.errors import BadInput
        from overdue.scoring.table_io import read_table, write_table

        if not 0 <= reasons <= 10:
            raise BadInput(f"--reasons {reasons}: use 0 to 10")
        model = _load(model_dir, version)
        frame = read_table(data)
        model.check_columns(frame, str(data))
        scored = model.score(frame, reasons)
        write_table(scored, out)
        typer.echo(f"scored {len(scored)} rows with {model.kind} → {out}")


@models_app.command(epilog=DRIFT_EPILOG)
def drift(
    model_dir: ModelDir, data: DataOpt, as_json: JsonOpt = False, version: VersionOpt = None,
    reference: Annotated[
        Path | None,
        typer.Option("--reference", help="Reference table (default: the training population)."),
    ] = None,
) -> None:  # fmt: skip
    """PSI of the score and CSI of every input, current against reference
    (< 0.1 stable, 0.1-0.25 watch, > 0.25 shifted)."""
    with _one_line_errors():
        from overdue.scoring import drift as drift_mod
        from overdue.scoring.scorecard import score_from_logit
        from overdue.scoring.table_io import read_table

        model = _load(model_dir, version)

        def scored(path: Path) -> tuple[Any, Any]:
            frame = read_table(path)
            model.check_columns(frame, str(path))
            return frame, score_from_logit(model.logit(frame), model.scaling)

        frame, scores = scored(data)
        if reference is None:
            ref = model.card["drift_reference"]
        else:
            ref_frame, ref_scores = scored(reference)
            ref = drift_mod.reference(ref_frame, model.schema, ref_scores)
        result = drift_mod.drift(ref, frame, model.schema, scores)
        if as_json:
            typer.echo(json.dumps(result))
            return
        typer.echo(f"score PSI {result['psi']:.4f}: {result['status']} "
                   f"({result['n_current']} rows against {result['n_reference']})")  # fmt: skip
        for row in result["csi"]:
            typer.echo(f"  CSI {row['csi']:.4f}  {row['status']:<8} {row['feature']}")


@models_app.command(epilog=REPORT_EPILOG)
def report(
    model_dir: ModelDir,
    data: Annotated[
        Path | None, typer.Option("--data", help="Labelled test table (default: CV predictions).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="HTML file (default: report.html in the model).")
    ] = None,
    version: VersionOpt = None,
) -> None:
    """A self-contained HTML report: metrics, gains, calibration, scorecard table, decisions."""
    with _one_line_errors():
        from overdue.scoring import report as report_mod
        from overdue.scoring.registry import load_oof, version_dir

        folder = version_dir(model_dir, version)
        model = _load(model_dir, version)
        if data is not None:
            frame, y = _labelled(model, data)
            predictions = {"champion": model.probability(frame)}
            source = f"test table {data.name} ({len(y)} rows)"
        else:
            oof = load_oof(folder)
            y = oof["y"].to_numpy()
            predictions = {"champion": oof[model.kind].to_numpy()}
            source = f"out-of-fold cross-validation predictions ({len(y)} training rows)"
        target = out or folder / "report.html"
        report_mod.write_report(model, folder, y, predictions["champion"], source, target)
        typer.echo(f"report → {target}")


BOOK_TRAIN_EPILOG = (
    "Example: overdue models book-train book/ --snapshots snapshots/ --target early_warning "
    "--out models/early_warning --seed 42"
)
BOOK_SCORE_EPILOG = (
    "Example: overdue models book-score book/ --snapshots snapshots/ --as-of 2024-12-31 "
    "--models models/"
)


@models_app.command("book-train", epilog=BOOK_TRAIN_EPILOG)
def book_train(
    data_dir: Annotated[Path, typer.Argument(help="The book (see docs/data-contract.md).")],
    snapshots: Annotated[
        Path, typer.Option("--snapshots", help="Snapshot folder written by overdue eod.")
    ],
    target: Annotated[
        str, typer.Option("--target", help="early_warning | early_warning_30 | collection")
    ],
    out: Annotated[Path, typer.Option("--out", help="Model folder; a new version is added.")],
    horizon_days: Annotated[
        int, typer.Option("--horizon-days", help="Early warning: next due within N days.")
    ] = 31,
    cure_days: Annotated[
        int, typer.Option("--cure-days", help="Collection: cured within N days.")
    ] = 30,
    step_days: Annotated[
        int, typer.Option("--step-days", help="Observation dates at least N days apart.")
    ] = 28,
    valid_dates: Annotated[
        int, typer.Option("--valid-dates", help="Latest observation dates kept for validation.")
    ] = 1,
    kind: Annotated[str, typer.Option("--kind", help="auto | scorecard | gbm")] = "auto",
    seed: Annotated[int, typer.Option("--seed", help="Seed: same seed, same model.")] = 42,
    effort: Annotated[
        str, typer.Option("--effort", help="quick | standard | thorough")
    ] = "standard",
    threads: Annotated[int, typer.Option("--threads", help="LightGBM threads (fixed).")] = 1,
    as_json: JsonOpt = False,
) -> None:
    """Train an early-warning or collection model on the book's snapshot history: features at
    earlier observation dates, validated on the later ones."""
    with _one_line_errors():
        from overdue.errors import BadInput
        from overdue.scoring.book import BookTrainOptions, train_book_model
        from overdue.scoring.targets import TargetConfig

        if not 1 <= step_days <= 366 or not 1 <= valid_dates <= 12 or not 1 <= threads <= 64:
            raise BadInput("--step-days 1..366, --valid-dates 1..12, --threads 1..64")
        if not 1 <= horizon_days <= 366 or not 1 <= cure_days <= 366:
            raise BadInput("--horizon-days and --cure-days must be 1..366")
        config = TargetConfig(target, horizon_days=horizon_days, cure_days=cure_days)
        options = BookTrainOptions(
            target=config, step_days=step_days, valid_dates=valid_dates, seed=seed, kind=kind,
            effort=effort, threads=threads,
        )  # fmt: skip
        log = (lambda _m: None) if as_json else (lambda m: typer.echo(f"  {m}", err=True))
        folder, info = train_book_model(data_dir, snapshots, out, options, _now(), log=log)
        champion = info["validation"]["champion"]
        summary = {"model_dir": str(folder),
                   **{k: v for k, v in info.items() if k != "validation"},
                   "validation": {k: {m: v[m] for m in ("auc", "ks", "gini", "n", "base_rate",
                                                         "capture_10", "capture_20")}
                                  for k, v in info["validation"].items()}}  # fmt: skip
        if as_json:
            typer.echo(json.dumps(summary, default=float))
            return
        typer.echo(
            f"model {folder} ({info['model']}, {info['kind']}): validation on "
            f"{', '.join(info['valid_dates'])} ({info['valid_rows']} rows, bad rate "
            f"{info['valid_bad_rate']:.3f}): AUC {champion['auc']:.4f}, KS {champion['ks']:.4f}, "
            f"riskiest 10 % finds {champion['capture_10']:.1%} of bads, 20 % finds "
            f"{champion['capture_20']:.1%}"
        )


@models_app.command("book-score", epilog=BOOK_SCORE_EPILOG)
def book_score(
    data_dir: Annotated[Path, typer.Argument(help="The book the batch ran on.")],
    snapshots: Annotated[Path, typer.Option("--snapshots", help="Snapshot folder.")],
    as_of: Annotated[str, typer.Option("--as-of", help="Snapshot date YYYY-MM-DD.")],
    models: Annotated[
        Path, typer.Option("--models", help="Folder with early_warning/ and/or collection/.")
    ],
    engine: Annotated[str, typer.Option("--engine", help="duckdb or spark.")] = "duckdb",
    full: Annotated[
        bool, typer.Option("--full", help="Score every account (no carry-forward).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Score one snapshot into SNAPSHOT_DIR/as_of=D/scores/ (what eod --models does)."""
    with _one_line_errors():
        from overdue.commands.account_state import parse_as_of
        from overdue.errors import BadInput
        from overdue.scoring.score_eod import score_snapshot

        if engine not in ("duckdb", "spark"):
            raise BadInput(f"--engine: {engine!r} must be duckdb or spark")
        result = score_snapshot(
            snapshots, parse_as_of(as_of), models, engine, book_dir=data_dir, full=full
        )
        if as_json:
            typer.echo(json.dumps(result.__dict__))
            return
        typer.echo(f"scores → {result.path}: fresh {result.fresh}, carried {result.carried}, "
                   f"{result.seconds}")  # fmt: skip
