"""Request and response bodies. Requests forbid unknown fields; participant ids are `A12345`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Generic, Literal, TypeVar

from eth_utils.address import is_checksum_address, to_checksum_address
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from api.service.errors import ErrorDetail

T = TypeVar("T")

ParticipantId = Annotated[str, StringConstraints(pattern=r"^[A-Z][0-9]{5}$")]
Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._@-]{3,64}$")]
Password = Annotated[str, StringConstraints(min_length=12, max_length=256)]
GroupName = Literal["viewer", "inputter", "authoriser", "administrator", "operator-viewer", "operator-admin"]
SecurityCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,8}$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Reference = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9/\-?:().,'+ ]{1,16}$")]
DateStr = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
Hex = Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{130}$")]


def _checksummed(v: str) -> str:
    body = v[2:]
    if body != body.lower() and body != body.upper() and not is_checksum_address(v):
        raise ValueError("mixed-case address with a bad EIP-55 checksum")
    if int(body, 16) == 0:
        raise ValueError("the zero address is not an account")
    return str(to_checksum_address(v))


Address = Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{40}$"), AfterValidator(_checksummed)]
MAX_U256 = 2**256 - 1
MAX_U63 = 2**63 - 1


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PageOf(BaseModel, Generic[T]):
    items: list[T]
    next_offset: int | None = Field(description="offset of the next page; null on the last page")


class Health(BaseModel):
    status: str
    chain_id: int
    block: int


# ---- identity -------------------------------------------------------------------------------------------

class SignIn(Strict):
    username: Username
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    totp: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]


class SessionOut(BaseModel):
    token: str
    expires_at: dt.datetime
    username: str
    participant_id: str | None
    groups: list[str]


class Me(BaseModel):
    kind: str
    name: str
    participant_id: str | None
    groups: list[str]


class UserIn(Strict):
    username: Username
    password: Password
    participant_id: ParticipantId | None = None
    groups: list[GroupName] = Field(min_length=1, max_length=6)


class UserPatch(Strict):
    groups: list[GroupName] | None = Field(default=None, min_length=1, max_length=6)
    active: bool | None = None


class UserOut(BaseModel):
    id: int
    username: str
    participant_id: str | None
    groups: list[str]
    active: bool


class UserCreated(UserOut):
    totp_secret: str = Field(description="base32 TOTP secret, shown once")
    totp_uri: str


class ApiKeyIn(Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    participant_id: ParticipantId | None = None
    groups: list[GroupName] = Field(min_length=1, max_length=6)


class ApiKeyOut(BaseModel):
    key_id: str
    name: str
    participant_id: str | None
    groups: list[str]
    active: bool


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="the API key, shown once")


class GroupOut(BaseModel):
    name: str
    scope: str
    description: str


# ---- reference data ------------------------------------------------------------------------------------

class ParticipantIn(Strict):
    id: ParticipantId
    address: Address
    kind: Literal["broker", "custodian", "ccp", "settlement_bank", "csd_operator"]
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class ParticipantOut(BaseModel):
    id: str
    address: str
    kind: str
    name: str
    status: str


class StatusChangeIn(Strict):
    status: Literal["active", "suspended", "defaulted"]
    reason: Annotated[str, StringConstraints(max_length=200)] = ""


class ApprovalOut(BaseModel):
    id: int
    kind: str
    target: str
    payload: dict[str, Any]
    state: str
    requested_by: str
    decided_by: str | None


class SecurityOut(BaseModel):
    code: str
    token_id: int
    isin: str
    name: str
    board_lot: int
    currency: str


class CashBalance(BaseModel):
    currency: str
    cents: int


class SecurityBalance(BaseModel):
    security_code: str
    quantity: int


class Balances(BaseModel):
    participant_id: str
    address: str
    cash: list[CashBalance]
    securities: PageOf[SecurityBalance]


# ---- instructions --------------------------------------------------------------------------------------

class SignedFields(Strict):
    """The instruction exactly as signed (EIP-712 `SettlementInstruction`)."""

    participant_id: ParticipantId
    counterparty_id: ParticipantId
    direction: Literal["deliver", "receive"]
    security_code: SecurityCode
    quantity: int = Field(gt=0, le=MAX_U63)
    amount_cents: int = Field(ge=0, le=MAX_U63)
    currency: Currency
    settlement_date: DateStr
    sender_reference: Reference
    nonce: int = Field(ge=0, le=MAX_U256)
    expiry: int = Field(gt=0, le=MAX_U63, description="unix seconds after which the signature is void")


class InstructionSubmit(Strict):
    instruction: SignedFields
    signature: Hex


class InstructionOut(BaseModel):
    id: int
    participant_id: str
    counterparty_id: str
    direction: str
    security_code: str
    quantity: int
    amount_cents: int
    currency: str
    settlement_date: str
    sender_reference: str
    status: str = Field(description="unauthorised | unmatched | matched | cancelled, then the ledger state: "
                                    "pending | submitted | held | settled | partial | failed | cancelled")
    reason: str | None
    instruction_id: int | None = Field(description="the ledger instruction once matched")
    input_by: str
    authorised_by: str | None
    cancel_requested: bool
    tx_hash: str | None


class Evidence(BaseModel):
    signed_instruction_id: int
    participant_id: str
    signer: str
    signature: str
    digest: str
    typed_data: dict[str, Any]
    chain_verified: bool | None = Field(
        default=None,
        description="the chain's InstructionVerifier recovers this participant's registered account from "
                    "typed_data and signature (for a matched pair: and the two sides mirror each other); "
                    "null when the deployment has no verifier")


class SigningDomain(BaseModel):
    domain: dict[str, Any]
    types: dict[str, list[dict[str, str]]]
    primary_type: str


# ---- runs and margin -----------------------------------------------------------------------------------

class RunIn(Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=40)] = "run"
    final: bool = False


class RunOut(BaseModel):
    id: int
    name: str
    final: bool
    started_at: dt.datetime
    finished_at: dt.datetime | None
    figures: dict[str, Any]


class Trade(Strict):
    security_code: SecurityCode
    quantity: int = Field(ge=-(10**12), le=10**12, description="signed: + buy (receive), - sell (deliver)")
    price: float = Field(gt=0, le=1e9, description="HKD per share")


WhatIfMode = Literal["current", "hypothetical", "uploaded"]


class WhatIfIn(Strict):
    mode: WhatIfMode = Field(
        default="current",
        description="the starting portfolio: current (the participant's open obligations), hypothetical (nothing: "
                    "the portfolio is only the trades) or uploaded (the positions in `positions_csv`)")
    trades: list[Trade] = Field(default_factory=list, max_length=1000,
                                description="hypothetical trades added to the starting portfolio")
    positions_csv: Annotated[str, StringConstraints(max_length=1_000_000)] | None = Field(
        default=None, description="mode uploaded only: CSV with a header, columns security_code, quantity "
                                  "(signed whole shares) and optional price (HKD per share; blank = the mark)")
    distribution: bool = Field(default=True, description="also return the scenario P&L distributions")


class MarginCover(BaseModel):
    """Requirement against collateral held, by the risk engine's daily-cycle rules (risk.daily_cycle)."""

    collateral: float = Field(description="collateral held (HKD)")
    shortfall: int = Field(description="max(requirement - collateral, 0), rounded up to a whole HKD")
    margin_call: int = Field(description="the shortfall rounded up to the parameter file's rounding; 0 = covered")
    excess: float
    coverage_ratio: float | None = Field(description="collateral / requirement; null when the requirement is 0")
    eligible: bool = Field(description="may receive deliveries")
    reason: str = Field(description="why not eligible; empty when eligible")
    source: str = Field(description="where the collateral figure comes from")


class MarginOut(BaseModel):
    participant_id: str
    total_requirement: float
    components: dict[str, float]
    cover: MarginCover | None = Field(default=None, description="null when no collateral is configured for the "
                                                                  "participant (or in what-if results)")


class ScenarioDistribution(BaseModel):
    """One scenario set's portfolio P&L (HKD, losses negative) and its expected-shortfall tail."""

    scenario_set: Literal["historical", "stressed"]
    confidence: float = Field(description="confidence level of the set, e.g. 0.994")
    weight: float = Field(description="weight of the set's ES in the portfolio margin")
    scenarios: int
    tail_count: int = Field(description="k = ceil((1 - confidence) x scenarios): the worst k P&Ls form the ES tail")
    pnl_sorted: list[float] = Field(description="portfolio P&L per scenario, ascending (worst first); the first "
                                                "tail_count are the tail")
    var: float = Field(description="loss at the tail cut-off: -pnl_sorted[tail_count - 1]")
    expected_shortfall: float = Field(description="mean loss of the tail: -mean(pnl_sorted[:tail_count])")


class PnLDistribution(BaseModel):
    base: list[ScenarioDistribution]
    new: list[ScenarioDistribution]


class UploadedPosition(BaseModel):
    row: int
    security_code: str
    quantity: int
    price: float = Field(description="contract price per share (HKD)")
    mark: float = Field(description="the parameter file's price")


class WhatIfOut(BaseModel):
    participant_id: str
    base: MarginOut
    new: MarginOut
    change: dict[str, float]
    mode: WhatIfMode = "current"
    positions: list[UploadedPosition] = Field(default_factory=list, description="the uploaded positions (mode uploaded)")
    distribution: PnLDistribution | None = Field(
        default=None, description="scenario P&L of the starting portfolio (base) and with the trades (new), per "
                                  "scenario set; computed from the same P&L vectors as the margin")


class RowError(BaseModel):
    row: int = Field(description="line of the file (the header is row 1)")
    field: str | None = Field(description="column, or null for the whole row")
    message: str


class RowErrorDetail(ErrorDetail):
    rows: list[RowError]


class RowErrorBody(BaseModel):
    """A rejected file: every bad row listed; nothing was applied."""

    error: RowErrorDetail


class MarginSummaryRow(BaseModel):
    participant_id: str
    total_requirement: int
    collateral: float | None
    margin_call: int | None
    coverage_ratio: float | None


class Cover2Out(BaseModel):
    fund_size: float = Field(description="the two largest uncollateralised stress losses in the worst scenario (HKD)")
    worst_scenario: str
    cover2_groups: list[str]
    scenarios: int
    scenario_source: str
    collateral_basis: str
    limit: float = Field(description="guarantee-fund limit")
    risk_collateral: float = Field(description="fund need beyond the limit (total over participants)")
    uncollateralised: dict[str, float] = Field(description="each participant's largest uncollateralised stress loss")


class MarginSummaryOut(BaseModel):
    valuation_date: str
    participants: int = Field(description="participants margined")
    not_margined: list[str] = Field(description="participants without CP parameters (the CCP is never margined)")
    total_requirement: int
    total_collateral: float
    total_calls: int
    participants_called: int
    largest_requirements: list[MarginSummaryRow]
    largest_calls: list[MarginSummaryRow]
    cover2: Cover2Out


class CashAmount(BaseModel):
    currency: str
    cents: int


class ParticipantRunOut(BaseModel):
    """One settlement run as one participant saw it: only its own instructions (as deliverer or receiver)."""

    run_id: int
    name: str
    final: bool
    started_at: dt.datetime
    finished_at: dt.datetime | None
    settled: int = Field(description="own instructions settled in full in this run")
    partial: int = Field(description="own instructions part-settled in this run (the remainder recycles)")
    pending: int = Field(description="own instructions this run tried and left pending")
    pending_by_reason: dict[str, int]
    failed: int = Field(description="own instructions failed at this (final) run")
    settled_value: list[CashAmount] = Field(description="money settled in this run for own instructions")


class ReportOut(BaseModel):
    name: str
    bytes: int
