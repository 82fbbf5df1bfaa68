// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IParticipantRegistry} from "./IParticipantRegistry.sol";

/// @title ISettlementEngine
/// @notice What the instruction verifier reads from the settlement engine: the registry settlement uses and
///         whether an instruction id is final.
interface ISettlementEngine {
    /// @notice The participant registry whose statuses settlement checks.
    function registry() external view returns (IParticipantRegistry);

    /// @notice Whether instruction `id` is final (settled or cancelled).
    function isFinal(uint64 id) external view returns (bool);
}
