"""Policy files, presets and case-file overrides (overdue.config.policies)."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from overdue.config import (
    POLICY_KEYS,
    PolicyConfigError,
    PolicySettings,
    build_policy,
    load_policy_file,
    load_policy_source,
    load_preset,
    preset_names,
)
from overdue.domain.policy import COMPONENTS, PenaltyBase, Product

REPO = Path(__file__).resolve().parents[2]
PRESET_DIR = REPO / "src" / "overdue" / "presets"
EXAMPLE_DIR = REPO / "examples" / "policies"
SHIPPED = ("huabei-like", "jiebei-like", "us-card")
CASE = "case.json: policy"


def write(tmp_path: Path, text: str, name: str = "bad.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(path: Path, product: Product = Product.REVOLVING) -> PolicyConfigError:
    with pytest.raises(PolicyConfigError) as info:
        build_policy(product, load_policy_file(path))
    return info.value


# --- presets and examples ------------------------------------------------------------------------


def test_the_three_presets_are_shipped() -> None:
    assert preset_names() == SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_every_preset_loads_and_builds_for_its_product(name: str) -> None:
    settings_ = load_preset(name)
    assert settings_.name == name
    assert settings_.version == "1"
    assert settings_.description
    assert settings_.product is not None
    policy = build_policy(Product(settings_.product), settings_)
    assert (policy.name, policy.version) == (name, "1")
    assert policy.allocation_order == ("fee", "penalty", "interest", "principal")
    assert policy.grace_days == 0
    assert policy.tolerance == Decimal("0.00")
    assert policy.accrue_after_write_off is False


@pytest.mark.parametrize("name", SHIPPED)
def test_preset_refuses_the_other_product(name: str) -> None:
    settings_ = load_preset(name)
    other = next(p for p in Product if p.value != settings_.product)
    with pytest.raises(PolicyConfigError) as info:
        build_policy(other, settings_)
    assert str(info.value).startswith(f"preset {name!r}: product = {settings_.product!r}")


def test_huabei_like_numbers() -> None:
    policy = build_policy(Product.REVOLVING, load_preset("huabei-like"))
    assert policy.penalty_daily_rate == Decimal("0.0005")
    assert policy.penalty_base is PenaltyBase.PRINCIPAL
    assert policy.write_off_dpd == 180
    assert policy.late_fee == Decimal("0.00")


def test_jiebei_like_derives_its_penalty_rate_from_the_contract_rate() -> None:
    policy = build_policy(Product.INSTALLMENT, load_preset("jiebei-like"))
    assert policy.contract_daily_rate == Decimal("0.0004")
    assert policy.penalty_daily_rate == Decimal("0.0006")  # 0.04 %/day × 1.5
    assert policy.penalty_base is PenaltyBase.PRINCIPAL_AND_INTEREST
    assert policy.write_off_dpd == 120


def test_us_card_numbers() -> None:
    policy = build_policy(Product.REVOLVING, load_preset("us-card"))
    apr_per_day = (Decimal("0.2999") / 365).quantize(Decimal("1E-8"), ROUND_HALF_UP)
    assert policy.penalty_daily_rate == apr_per_day
    assert policy.late_fee == Decimal("30.00")
    assert policy.write_off_dpd == 180


@pytest.mark.parametrize("name", SHIPPED)
def test_example_copies_are_identical_to_presets(name: str) -> None:
    shipped = (PRESET_DIR / f"{name}.toml").read_bytes()
    assert (EXAMPLE_DIR / f"{name}.toml").read_bytes() == shipped


def test_bank_grace_3_example() -> None:
    path = EXAMPLE_DIR / "bank-grace-3.toml"
    policy = build_policy(Product.REVOLVING, load_policy_source(str(path)))
    assert policy.grace_days == 3
    assert policy.tolerance == Decimal("1.00")
    assert policy.name == "bank-grace-3"


def test_every_example_file_builds() -> None:
    examples = sorted(EXAMPLE_DIR.glob("*.toml"))
    assert len(examples) >= 4
    for path in examples:
        settings_ = load_policy_file(path)
        assert settings_.product is not None, path
        build_policy(Product(settings_.product), settings_)


# --- choosing the source -------------------------------------------------------------------------


def test_policy_source_none_is_all_defaults() -> None:
    policy = build_policy(Product.REVOLVING, load_policy_source(None))
    assert policy.penalty_daily_rate == Decimal("0.0005")  # the revolving default
    assert policy.write_off_dpd == 180
    assert policy.name == "custom"
    assert build_policy(Product.INSTALLMENT, PolicySettings(), {"contract_daily_rate": "0.001"})


def test_policy_source_path_or_preset(tmp_path: Path) -> None:
    path = write(tmp_path, 'name = "mine"\ngrace_days = 2\n', "mine.toml")
    assert load_policy_source(path).grace_days == 2
    assert load_policy_source(str(path)).name == "mine"
    assert load_policy_source("jiebei-like").name == "jiebei-like"
    no_suffix = write(tmp_path, "grace_days = 4\n", "policy-without-suffix")
    assert load_policy_source(str(no_suffix)).grace_days == 4


def test_missing_toml_file_is_not_taken_for_a_preset(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(PolicyConfigError, match="no such policy file") as info:
        load_policy_source(str(missing))
    assert str(info.value).startswith(str(missing))


def test_unknown_preset_suggests_the_closest() -> None:
    with pytest.raises(PolicyConfigError) as info:
        load_policy_source("huabei")
    message = str(info.value)
    assert "'huabei'" in message and "did you mean 'huabei-like'?" in message
    assert all(name in message for name in SHIPPED)


# --- bad input: one line naming the file, the key and the value ----------------------------------

BAD_FILES = [
    # (TOML text, product, key, value as shown, words of the reason)
    ("grace_day = 3\n", Product.REVOLVING, "grace_day", "3", "did you mean 'grace_days'"),
    ('grace_days = "3"\n', Product.REVOLVING, "grace_days", "'3'", "integer"),
    ("grace_days = 2.5\n", Product.REVOLVING, "grace_days", "2.5", "integer"),
    ('tolerance = "-1.00"\n', Product.REVOLVING, "tolerance", "'-1.00'", "≥ 0"),
    ("tolerance = 0.05\n", Product.REVOLVING, "tolerance", "0.05", "decimal string"),
    ("late_fee = 30.0\n", Product.REVOLVING, "late_fee", "30.0", "not a float"),
    ('late_fee = "0.005"\n', Product.REVOLVING, "late_fee", "'0.005'", "2 decimals"),
    (
        'penalty_daily_rate = "0.05%"\n',
        Product.REVOLVING,
        "penalty_daily_rate",
        "'0.05%'",
        "decimal",
    ),
    ('penalty_daily_rate = "1"\n', Product.REVOLVING, "penalty_daily_rate", "'1'", "< 1"),
    ('contract_daily_rate = "-0.0004"\n', Product.INSTALLMENT, "contract_daily_rate", "", "≥ 0"),
    ('penalty_base = "interest"\n', Product.REVOLVING, "penalty_base", "'interest'", "principal"),
    ("write_off_dpd = 0\n", Product.REVOLVING, "write_off_dpd", "0", "≥ 1"),
    (
        'accrue_after_write_off = "no"\n',
        Product.REVOLVING,
        "accrue_after_write_off",
        "'no'",
        "true",
    ),
    ("version = 1\n", Product.REVOLVING, "version", "1", "string"),
    ('product = "installment"\n', Product.REVOLVING, "product", "'installment'", "revolving"),
    ('product = "card"\n', Product.REVOLVING, "product", "'card'", "installment"),
    ("allocation_order = []\n", Product.REVOLVING, "allocation_order", "[]", "permutation"),
    ('allocation_order = "fee"\n', Product.REVOLVING, "allocation_order", "'fee'", "permutation"),
    ("[policy]\ngrace_days = 1\n", Product.REVOLVING, "policy", "{'grace_days': 1}", "top level"),
    ("", Product.INSTALLMENT, "penalty_daily_rate", "", "contract_daily_rate"),
    ('contract_daily_rate = "0.8"\n', Product.INSTALLMENT, "penalty_daily_rate", "1.2", "< 1"),
]


@pytest.mark.parametrize(("text", "product", "key", "shown", "reason"), BAD_FILES)
def test_bad_file_gives_one_line_naming_file_key_value(
    tmp_path: Path, text: str, product: Product, key: str, shown: str, reason: str
) -> None:
    path = write(tmp_path, text)
    message = str(config_error(path, product))
    assert "\n" not in message
    assert message.startswith(f"{path}: {key}")
    assert shown in message
    assert reason in message


def test_the_documented_permutation_message(tmp_path: Path) -> None:
    path = write(tmp_path, 'allocation_order = ["fee", "fee", "interest", "principal"]\n')
    assert str(config_error(path)) == (
        f"{path}: allocation_order = ['fee', 'fee', 'interest', 'principal']: "
        "must be a permutation of fee, penalty, interest, principal"
    )


def test_unknown_key_message(tmp_path: Path) -> None:
    path = write(tmp_path, "grace_day = 3\n")
    error = config_error(path)
    assert str(error) == (
        f"{path}: grace_day = 3: unknown key 'grace_day'; did you mean 'grace_days'?"
    )
    assert error.keys == ("grace_day",) and error.source == str(path)


def test_several_bad_keys_are_all_named_on_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, 'grace_days = -1\ntolerance = 0.5\npenalty_base = "x"\nfoo = 1\n')
    error = config_error(path)
    assert set(error.keys) == {"grace_days", "tolerance", "penalty_base", "foo"}
    assert "\n" not in str(error)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("grace_days = 1\ntolerance = = 2\n", 2),
        ('name = "x"\nname = "y"\n', 2),
        ("grace_days = 1\nwrite_off_dpd =\n", 2),
    ],
)
def test_toml_syntax_error_names_file_and_line(tmp_path: Path, text: str, line: int) -> None:
    path = write(tmp_path, text)
    with pytest.raises(PolicyConfigError) as info:
        load_policy_file(path)
    message = str(info.value)
    assert message.startswith(f"{path}: line {line}")
    assert "TOML syntax error" in message and "\n" not in message


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('description = "é"\n'.encode("latin-1"))
    with pytest.raises(PolicyConfigError, match="not UTF-8"):
        load_policy_file(path)


# --- decimals are exact --------------------------------------------------------------------------


def test_rate_given_as_float_is_read_by_its_repr(tmp_path: Path) -> None:
    path = write(tmp_path, "penalty_daily_rate = 0.0005\n")
    rate = load_policy_file(path).penalty_daily_rate
    assert rate == Decimal("0.0005")
    assert rate != Decimal(0.0005)  # noqa: RUF032 - what a naive float conversion gives


@settings(max_examples=200)
@given(st.decimals(min_value=0, max_value=Decimal("0.99999999"), places=8))
def test_rates_are_exact_from_string_or_float(rate: Decimal) -> None:
    as_string = PolicySettings.model_validate({"penalty_daily_rate": str(rate)})
    as_float = PolicySettings.model_validate({"penalty_daily_rate": float(rate)})
    assert as_string.penalty_daily_rate == rate
    assert as_float.penalty_daily_rate == rate


@given(st.decimals(min_value=0, max_value=Decimal("99999999.99"), places=2))
def test_money_with_two_decimals_is_exact(amount: Decimal) -> None:
    policy = build_policy(Product.REVOLVING, PolicySettings(), {"late_fee": str(amount)})
    assert policy.late_fee == amount
    assert policy.late_fee.as_tuple().exponent == -2


@given(
    st.decimals(min_value=0, max_value=Decimal("9999.999"), places=3).filter(
        lambda d: d != d.quantize(Decimal("0.01"))
    )
)
def test_money_with_three_decimals_is_refused(amount: Decimal) -> None:
    with pytest.raises(PolicyConfigError, match="at most 2 decimals"):
        build_policy(Product.REVOLVING, PolicySettings(), {"tolerance": str(amount)}, source=CASE)


def test_json_overrides_floats_refused_for_money_unless_parsed_as_decimal() -> None:
    text = '{"tolerance": 0.05, "penalty_daily_rate": 0.0006}'
    with pytest.raises(PolicyConfigError) as info:
        build_policy(Product.REVOLVING, PolicySettings(), json.loads(text), source=CASE)
    assert str(info.value).startswith(f"{CASE}: tolerance = 0.05: must be a decimal string")
    exact = json.loads(text, parse_float=Decimal)
    policy = build_policy(Product.REVOLVING, PolicySettings(), exact, source=CASE)
    assert (policy.tolerance, policy.penalty_daily_rate) == (Decimal("0.05"), Decimal("0.0006"))


# --- allocation order: permutations ------------------------------------------------------------


@given(st.permutations(COMPONENTS))
def test_any_permutation_is_accepted_and_preserved(order: list[str]) -> None:
    policy = build_policy(Product.REVOLVING, PolicySettings(), {"allocation_order": order})
    assert policy.allocation_order == tuple(order)


def test_permutation_from_a_file_is_preserved(tmp_path: Path) -> None:
    path = write(tmp_path, 'allocation_order = ["principal", "interest", "penalty", "fee"]\n')
    policy = build_policy(Product.REVOLVING, load_policy_file(path))
    assert policy.allocation_order == ("principal", "interest", "penalty", "fee")


@given(
    st.lists(st.sampled_from([*COMPONENTS, "fees", "late_fee", ""]), max_size=6).filter(
        lambda order: sorted(order) != sorted(COMPONENTS)
    )
)
def test_any_non_permutation_is_refused(order: list[str]) -> None:
    with pytest.raises(PolicyConfigError) as info:
        build_policy(Product.REVOLVING, PolicySettings(), {"allocation_order": order}, source=CASE)
    assert info.value.keys == ("allocation_order",)
    assert str(info.value) == (
        f"{CASE}: allocation_order = {order!r}: "
        "must be a permutation of fee, penalty, interest, principal"
    )


# --- merging case-file overrides over --policy ---------------------------------------------------

optional_days = st.none() | st.integers(min_value=0, max_value=30)
optional_dpd = st.none() | st.integers(min_value=31, max_value=400)  # above any grace here


@given(optional_days, optional_days, optional_dpd, optional_dpd, st.sampled_from(list(Product)))
def test_override_wins_then_base_then_default(
    base_grace: int | None,
    case_grace: int | None,
    base_dpd: int | None,
    case_dpd: int | None,
    product: Product,
) -> None:
    base_keys = {"grace_days": base_grace, "write_off_dpd": base_dpd}
    case_keys = {"grace_days": case_grace, "write_off_dpd": case_dpd}
    base = PolicySettings.model_validate({k: v for k, v in base_keys.items() if v is not None})
    overrides: dict[str, object] = {k: v for k, v in case_keys.items() if v is not None}
    overrides["contract_daily_rate"] = "0.0004"  # so that installment products resolve
    policy = build_policy(product, base, overrides, source=CASE)
    default_dpd = {Product.REVOLVING: 180, Product.INSTALLMENT: 120}[product]
    expected_grace = case_grace if case_grace is not None else base_grace
    expected_dpd = case_dpd if case_dpd is not None else base_dpd
    assert policy.grace_days == (0 if expected_grace is None else expected_grace)
    assert policy.write_off_dpd == (default_dpd if expected_dpd is None else expected_dpd)


def test_write_off_must_come_after_grace_across_base_and_override(tmp_path: Path) -> None:
    base = load_policy_file(write(tmp_path, "grace_days = 3\n", "base.toml"))
    with pytest.raises(PolicyConfigError) as info:
        build_policy(Product.REVOLVING, base, {"write_off_dpd": 3}, source=CASE)
    assert str(info.value) == f"{CASE}: write_off_dpd = 3: must exceed grace_days"
    assert build_policy(Product.REVOLVING, base, {"write_off_dpd": 4}).write_off_dpd == 4


def test_override_over_a_preset_keeps_the_rest() -> None:
    base = load_preset("jiebei-like")
    policy = build_policy(
        Product.INSTALLMENT,
        base,
        {"grace_days": 3, "contract_daily_rate": "0.0005", "name": "jiebei-case"},
        source=CASE,
    )
    assert policy.grace_days == 3
    assert policy.penalty_daily_rate == Decimal("0.00075")  # the new contract rate × 1.5
    assert policy.penalty_base is PenaltyBase.PRINCIPAL_AND_INTEREST  # from the preset
    assert policy.write_off_dpd == 120
    assert policy.name == "jiebei-case"
    assert base.grace_days == 0  # the base is not changed


def test_explicit_rate_wins_over_contract_rate_wherever_each_comes_from() -> None:
    base = load_preset("jiebei-like")  # contract 0.0004 × 1.5
    explicit = build_policy(Product.INSTALLMENT, base, {"penalty_daily_rate": "0.0007"})
    assert explicit.penalty_daily_rate == Decimal("0.0007")
    base_explicit = PolicySettings.model_validate({"penalty_daily_rate": "0.0005"})
    still = build_policy(Product.INSTALLMENT, base_explicit, {"contract_daily_rate": "0.0004"})
    assert still.penalty_daily_rate == Decimal("0.0005")


def test_multiplier_override() -> None:
    policy = build_policy(
        Product.INSTALLMENT, load_preset("jiebei-like"), {"penalty_multiplier": "1.3"}
    )
    assert policy.penalty_daily_rate == Decimal("0.0004") * Decimal("1.3")


def test_errors_name_the_source_of_the_offending_key(tmp_path: Path) -> None:
    path = write(tmp_path, 'product = "revolving"\ngrace_days = 1\n', "base.toml")
    base = load_policy_file(path)
    with pytest.raises(PolicyConfigError) as from_case:
        build_policy(Product.REVOLVING, base, {"grace_days": -2}, source=CASE)
    assert str(from_case.value).startswith(f"{CASE}: grace_days = -2")
    with pytest.raises(PolicyConfigError) as from_base:
        build_policy(Product.INSTALLMENT, base, {"grace_days": 2}, source=CASE)
    assert str(from_base.value).startswith(f"{path}: product = 'revolving'")
    with pytest.raises(PolicyConfigError) as overridden_product:
        build_policy(Product.INSTALLMENT, base, {"product": "installment"}, source=CASE)
    assert str(overridden_product.value).startswith(f"{path}: penalty_daily_rate is not set")


def test_null_and_non_object_overrides_are_refused() -> None:
    with pytest.raises(PolicyConfigError, match=r"^case.json: policy: grace_days = None: must not"):
        build_policy(Product.REVOLVING, PolicySettings(), {"grace_days": None}, source=CASE)
    with pytest.raises(PolicyConfigError, match="must be a table"):
        build_policy(Product.REVOLVING, PolicySettings(), [1, 2], source=CASE)  # type: ignore[arg-type]


json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-5, max_value=500)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=6)
    | st.decimals(min_value=-1, max_value=2, places=4).map(str)
    | st.sampled_from(["revolving", "installment", "principal", "principal_and_interest"])
)
json_values = (
    json_leaves
    | st.lists(st.sampled_from([*COMPONENTS, "x"]) | json_leaves, max_size=5)
    | st.dictionaries(st.text(max_size=3), json_leaves, max_size=2)
)


@settings(max_examples=300)
@given(
    st.dictionaries(
        st.sampled_from([*POLICY_KEYS, "grace_day", "penalty"]), json_values, max_size=4
    ),
    st.sampled_from(list(Product)),
)
def test_any_json_override_builds_or_fails_with_one_line(
    overrides: dict[str, object], product: Product
) -> None:
    try:
        build_policy(product, load_preset("huabei-like"), overrides, source=CASE)
    except PolicyConfigError as exc:
        message = str(exc)
        assert "\n" not in message
        assert message.startswith(("case.json: policy: ", "preset 'huabei-like': "))
        assert exc.keys


# --- the configuration reference stays true ------------------------------------------------------

DOCS = REPO / "docs" / "configuration.md"


def test_every_key_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for key in POLICY_KEYS:
        assert f"| `{key}` |" in text, key


def test_every_toml_example_in_the_docs_is_valid(tmp_path: Path) -> None:
    text = DOCS.read_text(encoding="utf-8")
    blocks = [block.split("```", 1)[0] for block in text.split("```toml\n")[1:]]
    assert len(blocks) >= 2
    for number, block in enumerate(blocks):
        settings_ = load_policy_file(write(tmp_path, block, f"doc-{number}.toml"))
        product = Product(settings_.product or "revolving")
        build_policy(product, settings_)
