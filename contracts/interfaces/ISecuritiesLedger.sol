// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IERC6909} from "@openzeppelin/contracts/interfaces/IERC6909.sol";

/// @title ISecuritiesLedger
/// @notice What the settlement engine needs of the securities register: listing and freeze checks, balances
///         of batch slots in bulk and the two ways settlement moves securities (one leg, or a batch's net
///         movements).
interface ISecuritiesLedger is IERC6909 {
    /// @notice Whether security `id` is listed.
    function isListed(uint256 id) external view returns (bool);

    /// @notice Whether `account` is frozen (neither delivers nor receives).
    function isFrozen(address account) external view returns (bool);

    /// @notice Freeze flags of many accounts in one call.
    function frozenOf(address[] calldata accounts) external view returns (bool[] memory frozen);

    /// @notice Balances of settlement-batch slots `(accountIndex << 128) | securityId`, grouped by security.
    function slotBalances(address[] calldata accounts, uint256[] calldata slots)
        external
        view
        returns (uint256[] memory balances);

    /// @notice Move one securities leg of a single DvP. The engine has already checked statuses and freezes.
    function settlementTransfer(address from, address to, uint256 id, uint256 quantity) external;

    /// @notice Apply a settlement batch's net movements: slot `i`'s balance changes by `deltas[i]`.
    /// @dev Per security, deltas that do not sum to zero revert, so a batch can neither create nor lose
    ///      securities.
    function settlementApply(address[] calldata accounts, uint256[] calldata slots, int256[] calldata deltas)
        external;
}
