// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC6909} from "@openzeppelin/contracts/token/ERC6909/ERC6909.sol";
import {IERC6909} from "@openzeppelin/contracts/interfaces/IERC6909.sol";
import {ERC6909TokenSupply} from "@openzeppelin/contracts/token/ERC6909/extensions/ERC6909TokenSupply.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ParticipantRegistry} from "./ParticipantRegistry.sol";

/// @title SecuritiesLedger
/// @notice The CSD's register: one token id per security, balances per participant account, total supply per
///         security. Holders cannot move their own tokens; only settlement and the CSD operator move them.
contract SecuritiesLedger is ERC6909TokenSupply, AccessControl, Pausable {
    /// @notice Lists securities.
    bytes32 public constant LISTING_ROLE = keccak256("LISTING_ROLE");
    /// @notice Deposits, withdrawals, corporate actions, court-ordered transfers, freezes.
    bytes32 public constant CSD_OPERATOR_ROLE = keccak256("CSD_OPERATOR_ROLE");
    /// @notice Moves positions in settlement (granted to the settlement engine).
    bytes32 public constant SETTLEMENT_ROLE = keccak256("SETTLEMENT_ROLE");
    /// @notice Pauses and unpauses all movements.
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    ParticipantRegistry public immutable registry;

    mapping(uint256 id => bytes12 isin) private _isin;
    mapping(address account => bool) private _frozen;
    uint256 public securityCount;

    error ZeroAddress();
    error InvalidSecurityId(uint256 id);
    error SecurityAlreadyListed(uint256 id);
    error UnknownSecurity(uint256 id);
    error UnknownParticipant(address account);
    error AccountBlocked(address account);
    error InvalidQuantity(uint256 quantity);
    error TransfersRestricted();
    error LengthMismatch();
    error Unbalanced(uint256 id);

    event SecurityListed(uint256 indexed id, bytes12 isin);
    event AccountFrozen(address indexed account, bool frozen);
    event Deposited(address indexed account, uint256 indexed id, uint256 quantity);
    event Withdrawn(address indexed account, uint256 indexed id, uint256 quantity);
    event OperatorTransfer(address indexed from, address indexed to, uint256 indexed id, uint256 quantity, bytes32 reason);

    constructor(address admin, ParticipantRegistry registry_) {
        if (admin == address(0) || address(registry_) == address(0)) revert ZeroAddress();
        registry = registry_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    // ---- listing and reference data -------------------------------------------------------------------

    /// @notice List security `id` (the stock code) with its ISIN.
    function listSecurity(uint256 id, bytes12 isin) external onlyRole(LISTING_ROLE) {
        _list(id, isin);
    }

    /// @notice List many securities at once; all or none.
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

    function isListed(uint256 id) public view returns (bool) {
        return _isin[id] != bytes12(0);
    }

    function isinOf(uint256 id) external view returns (bytes12) {
        return _isin[id];
    }

    // ---- freezes -------------------------------------------------------------------------------------

    /// @notice Freeze or unfreeze an account: a frozen account neither delivers nor receives.
    function setFrozen(address account, bool frozen) external onlyRole(CSD_OPERATOR_ROLE) {
        if (registry.statusOf(account) == ParticipantRegistry.Status.None) revert UnknownParticipant(account);
        _frozen[account] = frozen;
        emit AccountFrozen(account, frozen);
    }

    function isFrozen(address account) external view returns (bool) {
        return _frozen[account];
    }

    function frozenOf(address[] calldata accounts) external view returns (bool[] memory frozen) {
        frozen = new bool[](accounts.length);
        for (uint256 i = 0; i < accounts.length; ++i) {
            frozen[i] = _frozen[accounts[i]];
        }
    }

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
    function deposit(address account, uint256 id, uint256 quantity) external onlyRole(CSD_OPERATOR_ROLE) whenNotPaused {
        _deposit(account, id, quantity);
    }

    /// @notice Deposit many positions at once (opening holdings); all or none.
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
    function withdraw(address account, uint256 id, uint256 quantity) external onlyRole(CSD_OPERATOR_ROLE) whenNotPaused {
        _checkMovable(account, id, quantity);
        _burn(account, id, quantity);
        emit Withdrawn(account, id, quantity);
    }

    /// @notice Move a position outside settlement (corporate action, court order); `reason` is recorded.
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
    function settlementTransfer(address from, address to, uint256 id, uint256 quantity)
        external
        onlyRole(SETTLEMENT_ROLE)
        whenNotPaused
    {
        _transfer(from, to, id, quantity);
    }

    /// @notice Apply a settlement batch's net movements. `slots` are `(accountIndex << 128) | securityId`,
    ///         grouped by security; each slot's balance changes by `deltas[i]`.
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

    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    // ---- holders cannot move tokens themselves -------------------------------------------------------

    function transfer(address, uint256, uint256) public pure override(ERC6909, IERC6909) returns (bool) {
        revert TransfersRestricted();
    }

    function transferFrom(address, address, uint256, uint256) public pure override(ERC6909, IERC6909) returns (bool) {
        revert TransfersRestricted();
    }

    function approve(address, uint256, uint256) public pure override(ERC6909, IERC6909) returns (bool) {
        revert TransfersRestricted();
    }

    function setOperator(address, bool) public pure override(ERC6909, IERC6909) returns (bool) {
        revert TransfersRestricted();
    }

    function supportsInterface(bytes4 interfaceId)
        public
        view
        override(ERC6909TokenSupply, AccessControl)
        returns (bool)
    {
        return super.supportsInterface(interfaceId);
    }

    function _checkMovable(address account, uint256 id, uint256 quantity) private view {
        if (quantity == 0) revert InvalidQuantity(quantity);
        if (_isin[id] == bytes12(0)) revert UnknownSecurity(id);
        ParticipantRegistry.Status s = registry.statusOf(account);
        if (s == ParticipantRegistry.Status.None) revert UnknownParticipant(account);
        if (s != ParticipantRegistry.Status.Active || _frozen[account]) revert AccountBlocked(account);
    }
}
