// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title IParticipantRegistry
/// @notice What the ledgers, the settlement engine and the instruction verifier read from the participant
///         registry: an account's status, in bulk, and the account registered under a participant id.
interface IParticipantRegistry {
    /// @notice What a participant is in the market.
    enum Kind { Broker, Custodian, CCP, SettlementBank, CSDOperator }
    /// @notice A participant's status; `None` is the zero value so an unregistered address reads as None.
    enum Status { None, Active, Suspended, Defaulted }

    /// @notice Status of `account` (None when not registered).
    function statusOf(address account) external view returns (Status);

    /// @notice Statuses of many accounts in one call.
    function statusesOf(address[] calldata accounts) external view returns (Status[] memory statuses);

    /// @notice The account registered under participant id `id`, or the zero address.
    function accountOf(bytes8 id) external view returns (address);
}
