// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title Errors
/// @notice Custom errors shared by several ledgerclear contracts, declared once. A contract's ABI lists the
///         ones it can revert with; the Python side decodes them by selector (ledger/errors.py), so a name or
///         argument list here is part of the interface.

/// @notice An address argument that must be set is the zero address.
error ZeroAddress();

/// @notice `account` is not registered in the participant registry.
error UnknownParticipant(address account);

/// @notice Parallel array arguments differ in length (or a slot names an account index out of range).
error LengthMismatch();

/// @notice `account` may not move positions: suspended, defaulted or frozen.
error AccountBlocked(address account);

/// @notice A securities quantity must be positive.
error InvalidQuantity(uint256 quantity);

/// @notice Security `id` is not listed in the securities ledger.
error UnknownSecurity(uint256 id);

/// @notice Holders cannot move settlement tokens themselves; only settlement and the CSD operator move them.
error TransfersRestricted();
