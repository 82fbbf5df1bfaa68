// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC6909} from "@openzeppelin/contracts/token/ERC6909/ERC6909.sol";
import {IERC6909} from "@openzeppelin/contracts/interfaces/IERC6909.sol";
import {ERC6909TokenSupply} from "@openzeppelin/contracts/token/ERC6909/extensions/ERC6909TokenSupply.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {
    AccountBlocked,
    InvalidQuantity,
    LengthMismatch,
    TransfersRestricted,
    UnknownParticipant,
    UnknownSecurity,
    ZeroAddress
} from "./Errors.sol";
import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";
import {ISecuritiesLedger} from "./interfaces/ISecuritiesLedger.sol";

/// @title SecuritiesLedger
/// @notice The CSD's register: one token id per security, balances per participant account, total supply per
///         security. Holders cannot move their own tokens; only settlement and the CSD operator move them.
contract SecuritiesLedger is ISecuritiesLedger, ERC6909TokenSupply, AccessControl, Pausable {
    /// @notice Lists securities.
    bytes32 public constant LISTING_ROLE = keccak256("LISTING_ROLE");
    /// @notice Deposits, withdrawals, corporate actions, court-ordered transfers, freezes.
    bytes32 public constant CSD_OPERATOR_ROLE = keccak256("CSD_OPERATOR_ROLE");
    /// @notice Moves positions in settlement (granted to the settlement engine).
    bytes32 public constant SETTLEMENT_ROLE = keccak256("SETTLEMENT_ROLE");
    /// @notice Pauses and unpauses all movements.
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @notice Where holders' statuses are read.
    IParticipantRegistry public immutable registry;

    mapping(uint256 id => bytes12 isin) private _isin;
    mapping(address account => bool) private _frozen;
    /// @notice How many securities are listed.
    uint256 public securityCount;

    /// @notice Security id `id` is zero, above 2^128 - 1, or listed with an empty ISIN.
    error InvalidSecurityId(uint256 id);
    /// @notice Security `id` is already listed.
    error SecurityAlreadyListed(uint256 id);
    /// @notice The deltas of security `id` in a settlement batch do not sum to zero.
    error Unbalanced(uint256 id);

    /// @notice Security `id` was listed with ISIN `isin`.
    event SecurityListed(uint256 indexed id, bytes12 isin);
    /// @notice `account` was frozen (`frozen` true) or unfrozen.
    event AccountFrozen(address indexed account, bool frozen);
    /// @notice `quantity` of security `id` was deposited into `account`.
    event Deposited(address indexed account, uint256 indexed id, uint256 quantity);
    /// @notice `quantity` of security `id` was withdrawn from `account`.
    event Withdrawn(address indexed account, uint256 indexed id, uint256 quantity);
    /// @notice The CSD operator moved `quantity` of security `id` from `from` to `to` outside settlement.
    event OperatorTransfer(address indexed from, address indexed to, uint256 indexed id, uint256 quantity, bytes32 reason);

    /// @param admin holds DEFAULT_ADMIN_ROLE and grants the other roles.
    /// @param registry_ the participant registry whose statuses gate every movement.
    constructor(address admin, IParticipantRegistry registry_) {
        if (admin == address(0) || address(registry_) == address(0)) revert ZeroAddress();
        registry = registry_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    // ---- listing and reference data -------------------------------------------------------------------

    /// @notice List security `id` (the stock code) with its ISIN. Role: LISTING_ROLE.
    function listSecurity(uint256 id, bytes12 isin) external onlyRole(LISTING_ROLE) {
        _list(id, isin);
    }

    /// @notice List many securities at once; all or none. Role: LISTING_ROLE.
    function listSecurities(uint256[] calldata ids, bytes12[] calldata isins) external onlyRole(LISTING_ROLE) {
        if (isins.length != ids.length) revert LengthMismatch();
        for (uint256 i = 0; i < ids.length; ++i) {
            _list(ids[i], isins[i]);
        }
    }

    function _list(uint256 id, bytes12 isin) private {
        if (id == 0 || id > type(uint128).max || isin == bytes12(0)) revert InvalidSecurityId(id);
        if (_isin[id] != bytes12(0)) revert SecurityAlreadyListed(id);
        _isin[id] = isin;
        securityCount += 1;
        emit SecurityListed(id, isin);
    }

    /// @inheritdoc ISecuritiesLedger
    function isListed(uint256 id) public view returns (bool) {
        return _isin[id] != bytes12(0);
    }

    /// @notice The ISIN of security `id` (zero if not listed).
    function isinOf(uint256 id) external view returns (bytes12) {
        return _isin[id];
    }

    // ---- freezes -------------------------------------------------------------------------------------

    /// @notice Freeze or unfreeze an account: a frozen account neither delivers nor receives.
    ///         Role: CSD_OPERATOR_ROLE.
    function setFrozen(address account, bool frozen) external onlyRole(CSD_OPERATOR_ROLE) {
        if (registry.statusOf(account) == IParticipantRegistry.Status.None) revert UnknownParticipant(account);
        _frozen[account] = frozen;
        emit AccountFrozen(account, frozen);
    }

    /// @inheritdoc ISecuritiesLedger
    function isFrozen(address account) external view returns (bool) {
        return _frozen[account];
    }

    /// @inheritdoc ISecuritiesLedger
    function frozenOf(address[] calldata accounts) external view returns (bool[] memory frozen) {
        frozen = new bool[](accounts.length);
        for (uint256 i = 0; i < accounts.length; ++i) {
            frozen[i] = _frozen[accounts[i]];
        }
    }

    /// @notice Balances of many (account, security) pairs in one call: `balances[i]` of `ids[i]` held by
    ///         `accounts[i]`.
    function balanceOfBatch(address[] calldata accounts, uint256[] calldata ids)
        external
        view
        returns (uint256[] memory balances)
    {
        if (accounts.length != ids.length) revert LengthMismatch();
        balances = new uint256[](accounts.length);
        for (uint256 i = 0; i < accounts.length; ++i) {
            balances[i] = balanceOf(accounts[i], ids[i]);
        }
    }

    /// @notice Total supply (the register total) of many securities in one call.
    function totalSupplyBatch(uint256[] calldata ids) external view returns (uint256[] memory supplies) {
        supplies = new uint256[](ids.length);
        for (uint256 i = 0; i < ids.length; ++i) {
            supplies[i] = totalSupply(ids[i]);
        }
    }

    /// @notice Balances of settlement-batch slots `(accountIndex << 128) | securityId`; reverts with
    ///         {UnknownSecurity} if a slot names an unlisted security.
    function slotBalances(address[] calldata accounts, uint256[] calldata slots)
        external
        view
        returns (uint256[] memory balances)
    {
        uint256 n = slots.length;
        balances = new uint256[](n);
        uint256 lastId = type(uint256).max; // no security has this id (ids fit in 128 bits), so 0 is checked too
        for (uint256 i = 0; i < n; ) {
            uint256 slot = slots[i];
            uint256 a = slot >> 128;
            uint256 id = uint128(slot);
            if (a >= accounts.length) revert LengthMismatch();
            // Slots come grouped by security, so the listing check runs once per security.
            if (id != lastId) {
                if (_isin[id] == bytes12(0)) revert UnknownSecurity(id);
                lastId = id;
            }
            balances[i] = balanceOf(accounts[a], id);
            unchecked {
                ++i;
            }
        }
    }

    // ---- CSD operator movements ----------------------------------------------------------------------

    /// @notice Deposit `quantity` of security `id` into `account` (issues to the register).
    ///         Role: CSD_OPERATOR_ROLE.
    function deposit(address account, uint256 id, uint256 quantity) external onlyRole(CSD_OPERATOR_ROLE) whenNotPaused {
        _deposit(account, id, quantity);
    }

    /// @notice Deposit many positions at once (opening holdings); all or none. Role: CSD_OPERATOR_ROLE.
    function depositBatch(address[] calldata accounts, uint256[] calldata ids, uint256[] calldata quantities)
        external
        onlyRole(CSD_OPERATOR_ROLE)
        whenNotPaused
    {
        if (ids.length != accounts.length || quantities.length != accounts.length) revert LengthMismatch();
        for (uint256 i = 0; i < accounts.length; ++i) {
            _deposit(accounts[i], ids[i], quantities[i]);
        }
    }

    function _deposit(address account, uint256 id, uint256 quantity) private {
        _checkMovable(account, id, quantity);
        _mint(account, id, quantity);
        emit Deposited(account, id, quantity);
    }

    /// @notice Withdraw `quantity` of security `id` from `account` (removes from the register).
    ///         Role: CSD_OPERATOR_ROLE.
    function withdraw(address account, uint256 id, uint256 quantity) external onlyRole(CSD_OPERATOR_ROLE) whenNotPaused {
        _checkMovable(account, id, quantity);
        _burn(account, id, quantity);
        emit Withdrawn(account, id, quantity);
    }

    /// @notice Move a position outside settlement (corporate action, court order); `reason` is recorded.
    ///         Role: CSD_OPERATOR_ROLE.
    function operatorTransfer(address from, address to, uint256 id, uint256 quantity, bytes32 reason)
        external
        onlyRole(CSD_OPERATOR_ROLE)
        whenNotPaused
    {
        _checkMovable(from, id, quantity);
        _checkMovable(to, id, quantity);
        _transfer(from, to, id, quantity);
        emit OperatorTransfer(from, to, id, quantity, reason);
    }

    // ---- settlement movements ------------------------------------------------------------------------

    /// @notice Move one securities leg of a single DvP. The engine has already checked statuses and freezes.
    ///         Role: SETTLEMENT_ROLE.
    function settlementTransfer(address from, address to, uint256 id, uint256 quantity)
        external
        onlyRole(SETTLEMENT_ROLE)
        whenNotPaused
    {
        _transfer(from, to, id, quantity);
    }

    /// @notice Apply a settlement batch's net movements. `slots` are `(accountIndex << 128) | securityId`,
    ///         grouped by security; each slot's balance changes by `deltas[i]`. Role: SETTLEMENT_ROLE.
    /// @dev Within each security's group, debits are matched to credits as direct transfers, so a group
    ///      whose deltas do not sum to zero reverts with {Unbalanced}: a batch can neither create nor lose
    ///      securities.
    function settlementApply(address[] calldata accounts, uint256[] calldata slots, int256[] calldata deltas)
        external
        onlyRole(SETTLEMENT_ROLE)
        whenNotPaused
    {
        uint256 n = slots.length;
        if (deltas.length != n) revert LengthMismatch();
        uint256 start = 0;
        while (start < n) {
            uint256 id = uint128(slots[start]);
            uint256 end = start + 1;
            while (end < n && uint128(slots[end]) == id) ++end;
            _settleGroup(accounts, slots, deltas, start, end, id);
            start = end;
        }
    }

    function _settleGroup(
        address[] calldata accounts,
        uint256[] calldata slots,
        int256[] calldata deltas,
        uint256 start,
        uint256 end,
        uint256 id
    ) private {
        // Two pointers: p walks the debits, q the credits; each step moves min(owed, due) directly.
        uint256 p = start;
        uint256 q = start;
        uint256 owe = 0;
        uint256 due = 0;
        unchecked {
            while (true) {
                while (owe == 0 && p < end) {
                    int256 d = deltas[p];
                    if (d < 0) owe = uint256(-d);
                    else ++p;
                }
                while (due == 0 && q < end) {
                    int256 d = deltas[q];
                    if (d > 0) due = uint256(d);
                    else ++q;
                }
                if (owe == 0 || due == 0) break;
                uint256 moved = owe < due ? owe : due;
                _transfer(accounts[slots[p] >> 128], accounts[slots[q] >> 128], id, moved);
                owe -= moved;
                due -= moved;
                if (owe == 0) ++p;
                if (due == 0) ++q;
            }
        }
        if (owe != 0 || due != 0) revert Unbalanced(id);
    }

    // ---- pause ---------------------------------------------------------------------------------------

    /// @notice Stop all deposits, withdrawals and movements. Role: PAUSER_ROLE.
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @notice Resume movements after {pause}. Role: PAUSER_ROLE.
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    // ---- holders cannot move tokens themselves -------------------------------------------------------

    /// @notice Always reverts with {TransfersRestricted}: holders cannot move positions themselves.
    function transfer(address, uint256, uint256) public pure override(ERC6909, IERC6909) returns (bool) {
        revert TransfersRestricted();
    }

    /// @notice Always reverts with {TransfersRestricted}: holders cannot move positions themselves.
    function transferFrom(address, address, uint256, uint256) public pure override(ERC6909, IERC6909) returns (bool) {
        revert TransfersRestricted();
    }

    /// @notice Always reverts with {TransfersRestricted}: there are no allowances.
    function approve(address, uint256, uint256) public pure override(ERC6909, IERC6909) returns (bool) {
        revert TransfersRestricted();
    }

    /// @notice Always reverts with {TransfersRestricted}: there are no operators.
    function setOperator(address, bool) public pure override(ERC6909, IERC6909) returns (bool) {
        revert TransfersRestricted();
    }

    /// @notice ERC-165: ERC-6909 (with token supply) and AccessControl.
    function supportsInterface(bytes4 interfaceId)
        public
        view
        override(ERC6909TokenSupply, AccessControl, IERC165)
        returns (bool)
    {
        return super.supportsInterface(interfaceId);
    }

    function _checkMovable(address account, uint256 id, uint256 quantity) private view {
        if (quantity == 0) revert InvalidQuantity(quantity);
        if (_isin[id] == bytes12(0)) revert UnknownSecurity(id);
        IParticipantRegistry.Status s = registry.statusOf(account);
        if (s == IParticipantRegistry.Status.None) revert UnknownParticipant(account);
        if (s != IParticipantRegistry.Status.Active || _frozen[account]) revert AccountBlocked(account);
    }
}
