"""Request and response bodies. Requests forbid unknown fields; participant ids are `A12345`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Generic, Literal, TypeVar

from eth_utils.address import is_checksum_address, to_checksum_address
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

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


class WhatIfIn(Strict):
    trades: list[Trade] = Field(min_length=1, max_length=1000)


class MarginOut(BaseModel):
    participant_id: str
    total_requirement: float
    components: dict[str, float]


class WhatIfOut(BaseModel):
    participant_id: str
    base: MarginOut
    new: MarginOut
    change: dict[str, float]


class ReportOut(BaseModel):
    name: str
    bytes: int
