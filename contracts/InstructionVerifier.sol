// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IERC5267} from "@openzeppelin/contracts/interfaces/IERC5267.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {ZeroAddress} from "./Errors.sol";
import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";
import {ISettlementEngine} from "./interfaces/ISettlementEngine.sol";

/// @title InstructionVerifier
/// @notice Checks participants' EIP-712 signatures over settlement instructions against the participant
///         registry: who signed, and whether that is the account registered for the instruction's participant.
///         View functions only; it holds no state and authorises nothing.
/// @dev Domain: {name "ledgerclear", version "1", chainId, verifyingContract = the SettlementEngine}. The engine,
///      not this contract, is the verifying contract on purpose: participants have always signed for the engine
///      (the contract the instruction settles at), so every signature already kept as evidence stays verifiable,
///      signing is unchanged, and the verifier can be added to (or redeployed beside) a running deployment
///      without touching the engine. For that reason the domain separator is built here from the engine's
///      address instead of inheriting OpenZeppelin's `EIP712` (which binds `address(this)`); {eip712Domain}
///      (ERC-5267) reports that domain. Cross-deployment replay is still excluded: the engine address and chain
///      id are unique per deployment.
contract InstructionVerifier is IERC5267 {
    /// @notice The typed data a participant signs (field order is part of the type hash).
    struct SettlementInstruction {
        string participantId;
        string counterpartyId;
        string direction; // "deliver" | "receive"
        string securityCode;
        uint256 quantity;
        uint256 amountCents;
        string currency;
        string settlementDate; // yyyy-mm-dd
        string senderReference;
        uint256 nonce;
        uint256 expiry; // unix seconds
    }

    /// @notice The EIP-712 type hash of {SettlementInstruction}.
    bytes32 public constant INSTRUCTION_TYPEHASH = keccak256(
        "SettlementInstruction(string participantId,string counterpartyId,string direction,string securityCode,"
        "uint256 quantity,uint256 amountCents,string currency,string settlementDate,string senderReference,"
        "uint256 nonce,uint256 expiry)"
    );
    /// @dev ERC-5267 field flags: name, version, chainId, verifyingContract.
    bytes1 private constant _DOMAIN_FIELDS = 0x0f;
    string private constant _NAME = "ledgerclear";
    string private constant _VERSION = "1";
    bytes32 private constant _DELIVER = keccak256("deliver");
    bytes32 private constant _RECEIVE = keccak256("receive");

    /// @notice The settlement engine whose signing domain this verifier checks.
    address public immutable engine;
    /// @notice Where registered participant accounts are read (the engine's registry).
    IParticipantRegistry public immutable registry;

    uint256 private immutable _cachedChainId;
    bytes32 private immutable _cachedDomainSeparator;

    /// @notice Signature `side` (1 = first or only, 2 = second of a pair) is not 65 bytes (r, s, v).
    error SignatureLengthInvalid(uint256 side, uint256 length);
    /// @notice Signature `side` has an `s` in the upper half of the curve order (a malleated signature).
    error SignatureSInvalid(uint256 side, bytes32 s);
    /// @notice Signature `side` recovers to no address (e.g. `v` is not 27 or 28).
    error SignatureInvalid(uint256 side);
    /// @notice The two instructions of a pair are not mirror images; `field` is the first that disagrees.
    error NotMirrored(string field);

    /// @param engine_ the settlement engine: the verifying contract of the signing domain and the source of
    ///        the registry.
    constructor(ISettlementEngine engine_) {
        if (address(engine_) == address(0)) revert ZeroAddress();
        engine = address(engine_);
        // Read from the engine so the verifier can never check against another registry than settlement uses.
        registry = engine_.registry();
        _cachedChainId = block.chainid;
        _cachedDomainSeparator = _buildDomainSeparator();
    }

    /// @notice The EIP-712 domain separator (recomputed if the chain id changed, e.g. after a fork).
    function domainSeparator() public view returns (bytes32) {
        return block.chainid == _cachedChainId ? _cachedDomainSeparator : _buildDomainSeparator();
    }

    /// @notice The EIP-712 struct hash of `instruction`.
    function hashInstruction(SettlementInstruction calldata instruction) public pure returns (bytes32) {
        SettlementInstruction calldata i = instruction;
        return keccak256(
            abi.encode(
                INSTRUCTION_TYPEHASH,
                keccak256(bytes(i.participantId)),
                keccak256(bytes(i.counterpartyId)),
                keccak256(bytes(i.direction)),
                keccak256(bytes(i.securityCode)),
                i.quantity,
                i.amountCents,
                keccak256(bytes(i.currency)),
                keccak256(bytes(i.settlementDate)),
                keccak256(bytes(i.senderReference)),
                i.nonce,
                i.expiry
            )
        );
    }

    /// @notice The digest a participant signs for `instruction` (what eth-account's typed-data signing hashes).
    function digestOf(SettlementInstruction calldata instruction) public view returns (bytes32) {
        return MessageHashUtils.toTypedDataHash(domainSeparator(), hashInstruction(instruction));
    }

    /// @notice Who signed `instruction`, and whether that is the account the registry holds for its
    ///         `participantId`. A participant's status is not considered: a signature made while active stays
    ///         valid evidence after a suspension.
    /// @dev Reverts only on a malformed signature; a well-formed signature by any other key returns
    ///      (that signer, false).
    function verify(SettlementInstruction calldata instruction, bytes calldata signature)
        external
        view
        returns (address signer, bool valid)
    {
        return _verify(instruction, signature, 1);
    }

    /// @notice Both sides of a matched instruction: they must be mirror images (each the other's counterparty,
    ///         opposite directions, same security, quantity, amount, currency and settlement date), else
    ///         {NotMirrored}; then each side's signer and whether it is that side's registered account.
    function verifyPair(
        SettlementInstruction calldata a,
        bytes calldata signatureA,
        SettlementInstruction calldata b,
        bytes calldata signatureB
    ) external view returns (address signerA, bool validA, address signerB, bool validB) {
        _requireMirrored(a, b);
        (signerA, validA) = _verify(a, signatureA, 1);
        (signerB, validB) = _verify(b, signatureB, 2);
    }

    /// @inheritdoc IERC5267
    function eip712Domain()
        external
        view
        returns (
            bytes1 fields,
            string memory name,
            string memory version,
            uint256 chainId,
            address verifyingContract,
            bytes32 salt,
            uint256[] memory extensions
        )
    {
        return (_DOMAIN_FIELDS, _NAME, _VERSION, block.chainid, engine, bytes32(0), new uint256[](0));
    }

    function _buildDomainSeparator() private view returns (bytes32) {
        return MessageHashUtils.toDomainSeparator(_DOMAIN_FIELDS, _NAME, _VERSION, block.chainid, engine, bytes32(0));
    }

    function _verify(SettlementInstruction calldata instruction, bytes calldata signature, uint256 side)
        private
        view
        returns (address signer, bool valid)
    {
        ECDSA.RecoverError err;
        bytes32 errArg;
        (signer, err, errArg) = ECDSA.tryRecoverCalldata(digestOf(instruction), signature);
        if (err == ECDSA.RecoverError.InvalidSignatureLength) revert SignatureLengthInvalid(side, uint256(errArg));
        if (err == ECDSA.RecoverError.InvalidSignatureS) revert SignatureSInvalid(side, errArg);
        if (err != ECDSA.RecoverError.NoError) revert SignatureInvalid(side);
        address registered = _registeredAccount(instruction.participantId);
        valid = registered != address(0) && signer == registered;
    }

    /// @dev The registry keys participants by `bytes8` ids: the ASCII id left-aligned, zero-padded (as
    ///      ledger.onchain.participant_id_bytes writes them). An id that cannot be written that way (empty,
    ///      longer than 8 bytes, or holding a zero byte that would alias a shorter id) has no account.
    function _registeredAccount(string calldata participantId) private view returns (address) {
        bytes calldata raw = bytes(participantId);
        if (raw.length == 0 || raw.length > 8) return address(0);
        for (uint256 k = 0; k < raw.length; ++k) {
            if (raw[k] == 0) return address(0);
        }
        return registry.accountOf(bytes8(raw));
    }

    function _requireMirrored(SettlementInstruction calldata a, SettlementInstruction calldata b) private pure {
        if (!_same(a.participantId, b.counterpartyId)) revert NotMirrored("participantId");
        if (!_same(a.counterpartyId, b.participantId)) revert NotMirrored("counterpartyId");
        // A participant cannot be both sides of one settlement.
        if (_same(a.participantId, a.counterpartyId)) revert NotMirrored("counterpartyId");
        bytes32 da = keccak256(bytes(a.direction));
        bytes32 db = keccak256(bytes(b.direction));
        if (!((da == _DELIVER && db == _RECEIVE) || (da == _RECEIVE && db == _DELIVER))) {
            revert NotMirrored("direction");
        }
        if (!_same(a.securityCode, b.securityCode)) revert NotMirrored("securityCode");
        if (a.quantity != b.quantity) revert NotMirrored("quantity");
        if (a.amountCents != b.amountCents) revert NotMirrored("amountCents");
        if (!_same(a.currency, b.currency)) revert NotMirrored("currency");
        if (!_same(a.settlementDate, b.settlementDate)) revert NotMirrored("settlementDate");
    }

    function _same(string calldata x, string calldata y) private pure returns (bool) {
        return keccak256(bytes(x)) == keccak256(bytes(y));
    }
}
