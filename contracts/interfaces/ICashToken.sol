// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title ICashToken
/// @notice What the settlement engine needs of a currency's cash token: balances in bulk and the two ways
///         settlement moves cash (one leg, or a batch's net movements).
interface ICashToken is IERC20 {
    /// @notice Cash balances (in cents) of many accounts in one call.
    function balancesOf(address[] calldata accounts) external view returns (uint256[] memory balances);

    /// @notice Move one cash leg of a single DvP. The engine has already checked statuses and freezes.
    function settlementTransfer(address from, address to, uint256 amount) external;

    /// @notice Apply a settlement batch's net cash movements: each account's balance changes by `deltas[i]`.
    /// @dev Deltas that do not sum to zero revert, so a batch can neither create nor lose cash.
    function settlementApply(address[] calldata accounts, int256[] calldata deltas) external;
}
