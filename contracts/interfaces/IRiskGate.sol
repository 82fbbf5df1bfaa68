// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title IRiskGate
/// @notice What settlement asks the risk gate: may this account receive deliveries?
interface IRiskGate {
    /// @notice Whether each account must not receive deliveries (true = ineligible). Never-posted = eligible.
    function ineligibleOf(address[] calldata accounts) external view returns (bool[] memory);

    /// @notice Whether `account` must not receive deliveries. Never-posted = eligible.
    function ineligible(address account) external view returns (bool);
}
