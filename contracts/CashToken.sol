// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {LengthMismatch, TransfersRestricted, UnknownParticipant, ZeroAddress} from "./Errors.sol";
import {ICashToken} from "./interfaces/ICashToken.sol";
import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";

/// @title CashToken
/// @notice Settlement cash in one currency (2 decimals), issued by the settlement bank against deposits in
///         the real-time gross settlement system and redeemed on withdrawal. Holders cannot transfer it
///         themselves: cash moves only in settlement.
contract CashToken is ICashToken, ERC20, AccessControl, Pausable {
    /// @notice Issues and redeems cash (the settlement bank).
    bytes32 public constant ISSUER_ROLE = keccak256("ISSUER_ROLE");
    /// @notice Moves cash in settlement (granted to the settlement engine).
    bytes32 public constant SETTLEMENT_ROLE = keccak256("SETTLEMENT_ROLE");
    /// @notice Pauses and unpauses all movements.
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @notice Where holders' statuses are read.
    IParticipantRegistry public immutable registry;
    /// @notice The ISO 4217 code of this token's currency (e.g. `HKD`); also the ERC-20 symbol.
    bytes3 public immutable currency;

    /// @notice `account` is registered but not active (suspended or defaulted).
    error AccountSuspended(address account);
    /// @notice A cash amount must be positive.
    error InvalidAmount(uint256 amount);
    /// @notice A batch's cash deltas do not sum to zero.
    error Unbalanced();

    /// @notice `amount` cents were issued to `account` against the RTGS deposit `rtgsRef`.
    event Issued(address indexed account, uint256 amount, bytes32 rtgsRef);
    /// @notice `amount` cents were redeemed from `account` for the RTGS withdrawal `rtgsRef`.
    event Redeemed(address indexed account, uint256 amount, bytes32 rtgsRef);

    /// @param admin holds DEFAULT_ADMIN_ROLE and grants the other roles.
    /// @param registry_ the participant registry whose statuses gate issuing and redeeming.
    /// @param currency_ the ISO 4217 code, also the symbol; `name_` is the ERC-20 name.
    constructor(address admin, IParticipantRegistry registry_, bytes3 currency_, string memory name_)
        ERC20(name_, string(abi.encodePacked(currency_)))
    {
        if (admin == address(0) || address(registry_) == address(0)) revert ZeroAddress();
        registry = registry_;
        currency = currency_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @notice Cash has 2 decimals: balances and amounts are in cents.
    function decimals() public pure override returns (uint8) {
        return 2;
    }

    /// @notice Issue `amount` (in cents) to `account` against an RTGS deposit identified by `rtgsRef`.
    ///         Role: ISSUER_ROLE.
    function issue(address account, uint256 amount, bytes32 rtgsRef) external onlyRole(ISSUER_ROLE) whenNotPaused {
        _issue(account, amount, rtgsRef);
    }

    /// @notice Issue to many accounts at once (opening balances, top-ups); all or none. Role: ISSUER_ROLE.
    function issueBatch(address[] calldata accounts, uint256[] calldata amounts, bytes32 rtgsRef)
        external
        onlyRole(ISSUER_ROLE)
        whenNotPaused
    {
        if (amounts.length != accounts.length) revert LengthMismatch();
        for (uint256 i = 0; i < accounts.length; ++i) {
            _issue(accounts[i], amounts[i], rtgsRef);
        }
    }

    function _issue(address account, uint256 amount, bytes32 rtgsRef) private {
        _checkHolder(account, amount);
        _mint(account, amount);
        emit Issued(account, amount, rtgsRef);
    }

    /// @notice Redeem `amount` (in cents) from `account` for an RTGS withdrawal identified by `rtgsRef`.
    ///         Role: ISSUER_ROLE.
    function redeem(address account, uint256 amount, bytes32 rtgsRef) external onlyRole(ISSUER_ROLE) whenNotPaused {
        _checkHolder(account, amount);
        _burn(account, amount);
        emit Redeemed(account, amount, rtgsRef);
    }

    /// @inheritdoc ICashToken
    function balancesOf(address[] calldata accounts) external view returns (uint256[] memory balances) {
        balances = new uint256[](accounts.length);
        for (uint256 i = 0; i < accounts.length; ++i) {
            balances[i] = balanceOf(accounts[i]);
        }
    }

    /// @notice Move one cash leg of a single DvP. The engine has already checked statuses and freezes.
    ///         Role: SETTLEMENT_ROLE.
    function settlementTransfer(address from, address to, uint256 amount) external onlyRole(SETTLEMENT_ROLE) whenNotPaused {
        _transfer(from, to, amount);
    }

    /// @notice Apply a settlement batch's net cash movements: each account's balance changes by `deltas[i]`.
    ///         Role: SETTLEMENT_ROLE.
    /// @dev Debits are matched to credits as direct transfers; deltas that do not sum to zero revert with
    ///      {Unbalanced}, so a batch can neither create nor lose cash.
    function settlementApply(address[] calldata accounts, int256[] calldata deltas)
        external
        onlyRole(SETTLEMENT_ROLE)
        whenNotPaused
    {
        uint256 n = accounts.length;
        if (deltas.length != n) revert LengthMismatch();
        uint256 p = 0; // next debit
        uint256 q = 0; // next credit
        uint256 owe = 0;
        uint256 due = 0;
        while (true) {
            while (owe == 0 && p < n) {
                if (deltas[p] < 0) owe = uint256(-deltas[p]);
                else ++p;
            }
            while (due == 0 && q < n) {
                if (deltas[q] > 0) due = uint256(deltas[q]);
                else ++q;
            }
            if (owe == 0 || due == 0) break;
            uint256 moved = owe < due ? owe : due;
            _transfer(accounts[p], accounts[q], moved);
            owe -= moved;
            due -= moved;
            if (owe == 0) ++p;
            if (due == 0) ++q;
        }
        if (owe != 0 || due != 0) revert Unbalanced();
    }

    /// @notice Stop all issuing, redeeming and settlement movements. Role: PAUSER_ROLE.
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @notice Resume movements after {pause}. Role: PAUSER_ROLE.
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    /// @notice Always reverts with {TransfersRestricted}: holders cannot move cash themselves.
    function transfer(address, uint256) public pure override(ERC20, IERC20) returns (bool) {
        revert TransfersRestricted();
    }

    /// @notice Always reverts with {TransfersRestricted}: holders cannot move cash themselves.
    function transferFrom(address, address, uint256) public pure override(ERC20, IERC20) returns (bool) {
        revert TransfersRestricted();
    }

    /// @notice Always reverts with {TransfersRestricted}: there are no allowances.
    function approve(address, uint256) public pure override(ERC20, IERC20) returns (bool) {
        revert TransfersRestricted();
    }

    function _checkHolder(address account, uint256 amount) private view {
        if (amount == 0) revert InvalidAmount(amount);
        IParticipantRegistry.Status s = registry.statusOf(account);
        if (s == IParticipantRegistry.Status.None) revert UnknownParticipant(account);
        if (s != IParticipantRegistry.Status.Active) revert AccountSuspended(account);
    }
}
