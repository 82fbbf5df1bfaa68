// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {LengthMismatch, UnknownParticipant, ZeroAddress} from "./Errors.sol";
import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";

/// @title ParticipantRegistry
/// @notice Who may hold positions and settle: participant id (e.g. `B01234`), account address, kind and status.
/// @dev The settlement engine reads statuses in bulk (one call per batch) through {statusesOf}.
contract ParticipantRegistry is IParticipantRegistry, AccessControl {
    /// @notice Registers new participants.
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");
    /// @notice Suspends, reinstates or marks participants defaulted.
    bytes32 public constant STATUS_ROLE = keccak256("STATUS_ROLE");

    /// @notice One participant's record (`Kind` and `Status` are declared in {IParticipantRegistry}).
    struct Participant {
        bytes8 id;
        Kind kind;
        Status status;
    }

    mapping(address account => Participant) private _participants;
    mapping(bytes8 id => address account) private _accounts;
    /// @notice How many participants are registered.
    uint256 public participantCount;

    /// @notice Participant id `id` is empty.
    error InvalidParticipantId(bytes8 id);
    /// @notice Participant id `id` is already registered.
    error ParticipantIdTaken(bytes8 id);
    /// @notice `account` is already registered (under another id).
    error AccountAlreadyRegistered(address account);
    /// @notice `status` cannot be set (None is not a status one sets).
    error InvalidStatus(uint8 status);

    /// @notice `account` was registered as participant `id` of kind `kind`, active.
    event ParticipantRegistered(bytes8 indexed id, address indexed account, Kind kind);
    /// @notice The status of participant `id` changed from `previous` to `current`.
    event ParticipantStatusChanged(bytes8 indexed id, address indexed account, Status previous, Status current);

    /// @param admin holds DEFAULT_ADMIN_ROLE and grants the other roles.
    constructor(address admin) {
        if (admin == address(0)) revert ZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @notice Register `account` as participant `id` of kind `kind`, active from now. Role: REGISTRAR_ROLE.
    function register(bytes8 id, address account, Kind kind) external onlyRole(REGISTRAR_ROLE) {
        _register(id, account, kind);
    }

    /// @notice Register many participants at once (onboarding a market); all or none. Role: REGISTRAR_ROLE.
    function registerBatch(bytes8[] calldata ids, address[] calldata accounts, Kind[] calldata kinds)
        external
        onlyRole(REGISTRAR_ROLE)
    {
        if (accounts.length != ids.length || kinds.length != ids.length) revert LengthMismatch();
        for (uint256 i = 0; i < ids.length; ++i) {
            _register(ids[i], accounts[i], kinds[i]);
        }
    }

    function _register(bytes8 id, address account, Kind kind) private {
        if (account == address(0)) revert ZeroAddress();
        if (id == bytes8(0)) revert InvalidParticipantId(id);
        if (_accounts[id] != address(0)) revert ParticipantIdTaken(id);
        if (_participants[account].status != Status.None) revert AccountAlreadyRegistered(account);
        _participants[account] = Participant({id: id, kind: kind, status: Status.Active});
        _accounts[id] = account;
        participantCount += 1;
        emit ParticipantRegistered(id, account, kind);
    }

    /// @notice Change a participant's status (suspend, reinstate, mark defaulted). Role: STATUS_ROLE.
    function setStatus(address account, Status status) external onlyRole(STATUS_ROLE) {
        if (status == Status.None) revert InvalidStatus(uint8(status));
        Participant storage p = _participants[account];
        Status previous = p.status;
        if (previous == Status.None) revert UnknownParticipant(account);
        p.status = status;
        emit ParticipantStatusChanged(p.id, account, previous, status);
    }

    /// @notice The participant record of `account` (reverts if unknown).
    function participant(address account) external view returns (Participant memory) {
        Participant memory p = _participants[account];
        if (p.status == Status.None) revert UnknownParticipant(account);
        return p;
    }

    /// @inheritdoc IParticipantRegistry
    function accountOf(bytes8 id) external view returns (address) {
        return _accounts[id];
    }

    /// @inheritdoc IParticipantRegistry
    function statusOf(address account) external view returns (Status) {
        return _participants[account].status;
    }

    /// @inheritdoc IParticipantRegistry
    function statusesOf(address[] calldata accounts) external view returns (Status[] memory statuses) {
        statuses = new Status[](accounts.length);
        for (uint256 i = 0; i < accounts.length; ++i) {
            statuses[i] = _participants[accounts[i]].status;
        }
    }
}
