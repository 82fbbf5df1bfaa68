// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ZeroAddress} from "./Errors.sol";
import {IRiskGate} from "./interfaces/IRiskGate.sol";

/// @title RiskGate
/// @notice The risk engine's attestation, per participant account, of its margin requirement, the collateral
///         pledged against it and whether it may receive deliveries, with a hash that binds the figures to the
///         published parameter file, the participant's position snapshot and the engine version, so that anyone
///         holding those inputs can recompute them. The settlement engine reads the eligibility flags once per
///         batch through {ineligibleOf}.
/// @dev The attestation hash is `sha256(rpfSha256 ‖ positionsSha256 ‖ bytes(engineVersion))` (see
///      {attestationHash}); amounts are HKD cents; valuation dates are `yyyymmdd` integers.
contract RiskGate is IRiskGate, AccessControl {
    /// @notice The risk engine's key: posts requirements, collateral, eligibility and parameter-file digests.
    bytes32 public constant RISK_ENGINE_ROLE = keccak256("RISK_ENGINE_ROLE");

    /// @notice One participant's figures as posted by the risk engine.
    struct Posting {
        address account;
        uint128 requirement; // HKD cents
        uint128 collateral; // HKD cents
        bool eligible;
        bytes32 attestation; // sha256(rpfSha256 ‖ positionsSha256 ‖ engineVersion)
    }

    /// @notice What the gate holds for one account (all zero = never posted).
    struct Attestation {
        uint128 requirement;
        uint128 collateral;
        bytes32 attestation;
        uint32 valuationDate;
        uint64 postedBlock;
        bool ineligible;
    }

    mapping(address account => Attestation) private _attestations;
    mapping(uint32 valuationDate => bytes32 sha256Digest) private _parameterFiles;

    /// @notice Latest valuation date posted for any account.
    uint32 public latestValuationDate;

    /// @notice A posting batch is empty.
    error EmptyBatch();
    /// @notice `valuationDate` is not a plausible `yyyymmdd` date.
    error InvalidValuationDate(uint32 valuationDate);
    /// @notice A posting for `account` is for `given`, older than the `posted` valuation date it holds.
    error StaleValuation(address account, uint32 posted, uint32 given);
    /// @notice A parameter-file digest for `valuationDate` is zero.
    error InvalidDigest(uint32 valuationDate);

    /// @notice The figures of `account` were posted for `valuationDate`.
    event RiskPosted(
        address indexed account,
        uint32 indexed valuationDate,
        uint256 requirement,
        uint256 collateral,
        bool eligible,
        bytes32 attestation
    );
    /// @notice The eligibility of `account` changed (emitted in addition to {RiskPosted} when it flips).
    event EligibilityChanged(address indexed account, bool eligible);
    /// @notice A batch of `count` postings for `valuationDate` was recorded.
    event BatchPosted(uint32 indexed valuationDate, uint256 count);
    /// @notice The SHA-256 digest of the parameter file (RPF01) of `valuationDate` was published.
    event ParameterFilePublished(uint32 indexed valuationDate, bytes32 sha256Digest, bytes32 previous);

    /// @param admin holds DEFAULT_ADMIN_ROLE and grants RISK_ENGINE_ROLE.
    constructor(address admin) {
        if (admin == address(0)) revert ZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    // ---- posting -----------------------------------------------------------------------------------------

    /// @notice Post one participant's figures for `valuationDate`. Role: RISK_ENGINE_ROLE.
    function post(uint32 valuationDate, Posting calldata posting) external onlyRole(RISK_ENGINE_ROLE) {
        _checkDate(valuationDate);
        _post(valuationDate, posting);
        _advance(valuationDate);
        emit BatchPosted(valuationDate, 1);
    }

    /// @notice Post many participants' figures for `valuationDate` in one transaction; all or none.
    ///         Role: RISK_ENGINE_ROLE.
    /// @dev Bounded by calldata and gas only; the client chunks.
    function postBatch(uint32 valuationDate, Posting[] calldata postings) external onlyRole(RISK_ENGINE_ROLE) {
        if (postings.length == 0) revert EmptyBatch();
        _checkDate(valuationDate);
        for (uint256 i = 0; i < postings.length; ++i) {
            _post(valuationDate, postings[i]);
        }
        _advance(valuationDate);
        emit BatchPosted(valuationDate, postings.length);
    }

    /// @notice Publish the SHA-256 digest of the parameter file used for `valuationDate` (a correction
    ///         re-publishes; the event keeps the previous digest). Role: RISK_ENGINE_ROLE.
    function publishParameterFile(uint32 valuationDate, bytes32 sha256Digest) external onlyRole(RISK_ENGINE_ROLE) {
        _checkDate(valuationDate);
        if (sha256Digest == bytes32(0)) revert InvalidDigest(valuationDate);
        bytes32 previous = _parameterFiles[valuationDate];
        _parameterFiles[valuationDate] = sha256Digest;
        emit ParameterFilePublished(valuationDate, sha256Digest, previous);
    }

    function _post(uint32 valuationDate, Posting calldata p) private {
        if (p.account == address(0)) revert ZeroAddress();
        Attestation storage a = _attestations[p.account];
        if (valuationDate < a.valuationDate) revert StaleValuation(p.account, a.valuationDate, valuationDate);
        bool wasIneligible = a.ineligible;
        bool nowIneligible = !p.eligible;
        a.requirement = p.requirement;
        a.collateral = p.collateral;
        a.attestation = p.attestation;
        a.valuationDate = valuationDate;
        a.postedBlock = uint64(block.number);
        a.ineligible = nowIneligible;
        emit RiskPosted(p.account, valuationDate, p.requirement, p.collateral, p.eligible, p.attestation);
        if (wasIneligible != nowIneligible) emit EligibilityChanged(p.account, p.eligible);
    }

    function _advance(uint32 valuationDate) private {
        if (valuationDate > latestValuationDate) latestValuationDate = valuationDate;
    }

    /// @dev `yyyymmdd` with a plausible month and day (calendar validity is the poster's job).
    function _checkDate(uint32 d) private pure {
        uint32 month = (d / 100) % 100;
        uint32 day = d % 100;
        if (d < 19000101 || d > 99991231 || month == 0 || month > 12 || day == 0 || day > 31) {
            revert InvalidValuationDate(d);
        }
    }

    // ---- reads -------------------------------------------------------------------------------------------

    /// @inheritdoc IRiskGate
    function ineligibleOf(address[] calldata accounts) external view returns (bool[] memory flags) {
        flags = new bool[](accounts.length);
        for (uint256 i = 0; i < accounts.length; ++i) {
            flags[i] = _attestations[accounts[i]].ineligible;
        }
    }

    /// @inheritdoc IRiskGate
    function ineligible(address account) external view returns (bool) {
        return _attestations[account].ineligible;
    }

    /// @notice The figures posted for `account` (all zero if never posted).
    function attestationOf(address account) external view returns (Attestation memory) {
        return _attestations[account];
    }

    /// @notice The figures posted for many accounts in one call.
    function attestationsOf(address[] calldata accounts) external view returns (Attestation[] memory out) {
        out = new Attestation[](accounts.length);
        for (uint256 i = 0; i < accounts.length; ++i) {
            out[i] = _attestations[accounts[i]];
        }
    }

    /// @notice The SHA-256 digest of the parameter file published for `valuationDate` (zero if none).
    function parameterFileOf(uint32 valuationDate) external view returns (bytes32) {
        return _parameterFiles[valuationDate];
    }

    /// @notice The attestation hash of (parameter-file digest, position-snapshot digest, engine version), for
    ///         anyone checking a posting: `sha256(rpfSha256 ‖ positionsSha256 ‖ bytes(engineVersion))`.
    function attestationHash(bytes32 rpfSha256, bytes32 positionsSha256, string calldata engineVersion)
        external
        pure
        returns (bytes32)
    {
        return sha256(abi.encodePacked(rpfSha256, positionsSha256, bytes(engineVersion)));
    }
}
