// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {BitMaps} from "@openzeppelin/contracts/utils/structs/BitMaps.sol";
import {AccountBlocked, InvalidQuantity, UnknownParticipant, UnknownSecurity, ZeroAddress} from "./Errors.sol";
import {ICashToken} from "./interfaces/ICashToken.sol";
import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";
import {IRiskGate} from "./interfaces/IRiskGate.sol";
import {ISecuritiesLedger} from "./interfaces/ISecuritiesLedger.sol";
import {ISettlementEngine} from "./interfaces/ISettlementEngine.sol";

/// @title SettlementEngine
/// @notice Delivery versus payment: a securities leg and a cash leg move together or not at all.
///         Single instructions settle one per transaction (real-time DvP); netted obligations settle in
///         batches where each obligation is atomic on its own and a failing one is reported, not reverted.
///         Every instruction id settles at most once: a settled or cancelled id is final.
contract SettlementEngine is ISettlementEngine, AccessControl, Pausable {
    using BitMaps for BitMaps.BitMap;

    /// @notice Submits instructions and batches, cancels instructions (the clearing house's settlement system).
    bytes32 public constant SETTLER_ROLE = keccak256("SETTLER_ROLE");
    /// @notice Configures cash tokens per currency.
    bytes32 public constant CONFIG_ROLE = keccak256("CONFIG_ROLE");
    /// @notice Pauses and unpauses settlement.
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @dev Why an obligation did not settle. `Final` marks an id already settled or cancelled; `RISK`
    ///      means the risk gate holds the securities receiver ineligible.
    enum Reason { None, LACK, MONY, BLOC, Final, RISK }

    /// @inheritdoc ISettlementEngine
    IParticipantRegistry public immutable registry;
    /// @notice The securities register whose positions settle.
    ISecuritiesLedger public immutable ledger;

    /// @notice The risk engine's gate; address(0) means no gate.
    IRiskGate public riskGate;

    /// @notice Cash token per currency index (0 HKD, 1 CNY, 2 USD, ...), set by {setCashToken}.
    ICashToken[] public cashTokens;

    /// @dev One bit per instruction id: set once the id is final (settled or cancelled). The batch loop in
    ///      {_settleAll} reads and writes the same buckets directly (see there).
    BitMaps.BitMap private _final;
    /// @notice How many batches have been settled (the id of the latest).
    uint256 public batchCount;

    /// @notice Currency index `currency` has no cash token (or, in {setCashToken}, is not the next index).
    error UnknownCurrency(uint256 currency);
    /// @notice Deliverer and receiver are the same account.
    error SameAccount(address account);
    /// @notice `account` holds `available` of `securityId`, fewer than the `needed` (LACK).
    error InsufficientSecurities(address account, uint256 securityId, uint256 available, uint256 needed);
    /// @notice `account` holds `available` cents of `currency`, fewer than the `needed` (MONY).
    error InsufficientCash(address account, uint256 currency, uint256 available, uint256 needed);
    /// @notice Instruction `id` has already settled or been cancelled.
    error InstructionFinal(uint64 id);
    /// @notice A batch argument is malformed at `index` (odd obligation words, or a slot out of range).
    error BadSlot(uint256 index);
    /// @notice Obligation `id` is malformed: its slots do not match its parties or security.
    error BadObligation(uint64 id);
    /// @notice An all-or-nothing batch failed at obligation `id` for `reason`.
    error BatchFailed(uint64 id, Reason reason);
    /// @notice The risk gate holds `account` ineligible to receive deliveries.
    error ReceiverIneligible(address account);
    /// @notice An all-or-nothing batch would leave account `accountIndex` short of asset `assetId`.
    error NetShortfall(uint256 accountIndex, uint256 assetId, bool cash);

    /// @notice Currency index `currency` now settles in cash token `token`.
    event CashTokenSet(uint256 indexed currency, address token);
    /// @notice The risk gate is now `gate` (address(0): none).
    event RiskGateSet(address gate);
    /// @notice Instruction `id` settled in real time: both legs moved.
    event InstructionSettled(
        uint64 indexed id,
        address indexed deliverer,
        address indexed receiver,
        uint256 securityId,
        uint256 quantity,
        uint256 currency,
        uint256 amount
    );
    /// @notice Instruction `id` was cancelled and can never settle.
    event InstructionCancelled(uint64 indexed id);
    /// @notice Batch `batchId` of `obligations` obligations started.
    event BatchStarted(uint256 indexed batchId, uint256 obligations);
    /// @notice Obligation `id` of batch `batchId` settled in full.
    event ObligationSettled(uint256 indexed batchId, uint64 indexed id, uint256 quantity, uint256 amount);
    /// @notice Obligation `id` of batch `batchId` settled in part; `remaining` securities are still due.
    event ObligationPartiallySettled(
        uint256 indexed batchId, uint64 indexed id, uint256 quantity, uint256 amount, uint256 remaining
    );
    /// @notice Obligation `id` of batch `batchId` did not settle, for `reason`.
    event ObligationPending(uint256 indexed batchId, uint64 indexed id, Reason reason);
    /// @notice Batch `batchId` completed: `settled` obligations settled (in full or in part), `pending` not.
    event BatchCompleted(uint256 indexed batchId, uint256 settled, uint256 pending);

    /// @param admin holds DEFAULT_ADMIN_ROLE and grants the other roles.
    /// @param registry_ the participant registry whose statuses settlement checks.
    /// @param ledger_ the securities register whose positions settle.
    constructor(address admin, IParticipantRegistry registry_, ISecuritiesLedger ledger_) {
        if (admin == address(0) || address(registry_) == address(0) || address(ledger_) == address(0)) {
            revert ZeroAddress();
        }
        registry = registry_;
        ledger = ledger_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @notice Set the cash token of currency index `currency` (indices are dense, appended in order).
    ///         Role: CONFIG_ROLE.
    function setCashToken(uint256 currency, ICashToken token) external onlyRole(CONFIG_ROLE) {
        if (address(token) == address(0)) revert ZeroAddress();
        if (currency < cashTokens.length) {
            cashTokens[currency] = token;
        } else if (currency == cashTokens.length) {
            cashTokens.push(token);
        } else {
            revert UnknownCurrency(currency);
        }
        emit CashTokenSet(currency, address(token));
    }

    /// @notice Set (or with address(0) remove) the risk gate consulted before every delivery.
    ///         Role: CONFIG_ROLE.
    function setRiskGate(IRiskGate gate) external onlyRole(CONFIG_ROLE) {
        riskGate = gate;
        emit RiskGateSet(address(gate));
    }

    /// @notice How many currencies have a cash token.
    function currencyCount() external view returns (uint256) {
        return cashTokens.length;
    }

    /// @inheritdoc ISettlementEngine
    function isFinal(uint64 id) public view returns (bool) {
        return _final.get(id);
    }

    /// @notice Final flags for many ids in one call (for reconciliation after a crash).
    function finalOf(uint64[] calldata ids) external view returns (bool[] memory flags) {
        flags = new bool[](ids.length);
        for (uint256 i = 0; i < ids.length; ++i) {
            flags[i] = isFinal(ids[i]);
        }
    }

    /// @notice Cancel instruction `id` so it can never settle. Role: SETTLER_ROLE.
    function cancel(uint64 id) external onlyRole(SETTLER_ROLE) {
        if (isFinal(id)) revert InstructionFinal(id);
        _markFinal(id);
        emit InstructionCancelled(id);
    }

    // ---- real-time DvP of one instruction --------------------------------------------------------------

    /// @notice Settle one instruction: `deliverer` gives `quantity` of `securityId` to `receiver`, who pays
    ///         `amount` cents of currency `currency` (0 amount = free of payment). All or nothing.
    ///         Role: SETTLER_ROLE.
    function settleDvP(
        uint64 id,
        address deliverer,
        address receiver,
        uint256 securityId,
        uint256 quantity,
        uint256 currency,
        uint256 amount
    ) external onlyRole(SETTLER_ROLE) whenNotPaused {
        // Checks
        if (isFinal(id)) revert InstructionFinal(id);
        if (quantity == 0) revert InvalidQuantity(quantity);
        if (deliverer == receiver) revert SameAccount(deliverer);
        if (currency >= cashTokens.length) revert UnknownCurrency(currency);
        if (!ledger.isListed(securityId)) revert UnknownSecurity(securityId);
        _checkActive(deliverer);
        _checkActive(receiver);
        IRiskGate gate = riskGate;
        if (address(gate) != address(0) && gate.ineligible(receiver)) revert ReceiverIneligible(receiver);
        uint256 held = ledger.balanceOf(deliverer, securityId);
        if (held < quantity) revert InsufficientSecurities(deliverer, securityId, held, quantity);
        ICashToken cash = cashTokens[currency];
        if (amount > 0) {
            uint256 funds = cash.balanceOf(receiver);
            if (funds < amount) revert InsufficientCash(receiver, currency, funds, amount);
        }
        // Effects
        _markFinal(id);
        emit InstructionSettled(id, deliverer, receiver, securityId, quantity, currency, amount);
        // Interactions (trusted ledger contracts; a revert in either undoes both legs)
        ledger.settlementTransfer(deliverer, receiver, securityId, quantity);
        if (amount > 0) cash.settlementTransfer(receiver, deliverer, amount);
    }

    // ---- batch settlement ------------------------------------------------------------------------------

    /// @notice Settle many obligations in one transaction; each is atomic on its own. Role: SETTLER_ROLE.
    /// @param accounts   participant accounts referenced by the slots.
    /// @param secSlots   securities positions used, `(accountIndex << 128) | securityId`, grouped by security.
    /// @param cashSlots  cash positions used, `(accountIndex << 128) | currency`, grouped by currency.
    /// @param obligations two words per obligation, in priority order:
    ///        word 0 = `id(64) | deliverSlot(32) << 64 | receiveSlot(32) << 96 | quantity(128) << 128`;
    ///        word 1 = `amount(128) | payerSlot(32) << 128 | payeeSlot(32) << 160 | minPartial(63) << 192 |
    ///        partialAllowed(1) << 255`. The payer is normally the securities receiver and the payee the
    ///        deliverer; the reverse pairing is allowed for net positions whose cash runs with the securities.
    /// @param allOrNothing when true, the obligations settle together or not at all: a blocked, ineligible or
    ///        final one reverts the batch, and balances are checked on the net positions after all of them
    ///        ({NetShortfall} if any would be negative), so obligations may fund each other — the
    ///        liquidity-saving step uses this to settle a gridlocked set in one transaction.
    /// @return settled obligations settled in full or in part; pending the rest.
    function settleBatch(
        address[] calldata accounts,
        uint256[] calldata secSlots,
        uint256[] calldata cashSlots,
        uint256[] calldata obligations,
        bool allOrNothing
    ) external onlyRole(SETTLER_ROLE) whenNotPaused returns (uint256 settled, uint256 pending) {
        if (obligations.length % 2 != 0) revert BadSlot(obligations.length);
        // Checks: load every balance and status the batch touches once, then work in memory.
        uint256[] memory flags = _accountFlags(accounts);
        uint256[] memory secBal = ledger.slotBalances(accounts, secSlots);
        uint256[] memory cashBal = _loadCash(accounts, cashSlots);
        // Net movement per slot, accumulated while settling and written back once at the end.
        int256[] memory secDelta = new int256[](secSlots.length);
        int256[] memory cashDelta = new int256[](cashSlots.length);

        uint256 batchId = ++batchCount;
        emit BatchStarted(batchId, obligations.length / 2);
        uint256 failId;
        uint256 failCode;
        (settled, pending, failId, failCode) =
            _settleAll(batchId, obligations, secSlots, cashSlots, flags, secBal, cashBal, secDelta, cashDelta, allOrNothing);
        if (failCode == FAIL_MALFORMED) revert BadObligation(uint64(failId));
        if (failCode != 0) revert BatchFailed(uint64(failId), Reason(failCode));
        if (allOrNothing) _requireNonNegative(secSlots, secBal, cashSlots, cashBal);
        emit BatchCompleted(batchId, settled, pending);
        // Interactions: write the net movements back, once per touched position.
        if (settled > 0) {
            ledger.settlementApply(accounts, secSlots, secDelta);
            _applyCash(accounts, cashSlots, cashDelta);
        }
    }

    uint256 private constant FAIL_MALFORMED = 255;

    /// @dev The per-obligation loop, in assembly: it is the hot path of every settlement run, and on an
    ///      interpreted EVM each opcode saved is throughput gained. Memory arrays are only indexed after
    ///      the explicit bounds checks below. Returns a failure (id, code) instead of reverting so the
    ///      caller can raise the matching custom error.
    function _settleAll(
        uint256 batchId,
        uint256[] calldata obligations,
        uint256[] calldata secSlots,
        uint256[] calldata cashSlots,
        uint256[] memory flags,
        uint256[] memory secBal,
        uint256[] memory cashBal,
        int256[] memory secDelta,
        int256[] memory cashDelta,
        bool allOrNothing
    ) private returns (uint256 settled, uint256 pending, uint256 failId, uint256 failCode) {
        bytes32 tSettled = ObligationSettled.selector;
        bytes32 tPartial = ObligationPartiallySettled.selector;
        bytes32 tPending = ObligationPending.selector;
        // The final flags are OpenZeppelin's BitMaps layout (bucket id >> 8 at keccak256(bucket . slot), bit
        // id & 0xff; `_data` is the struct's only member, so the struct's slot is the mapping's). Yul cannot
        // call BitMaps.get/set, so the loop reads the buckets itself: it keeps the current bucket in a local
        // and writes it back once per bucket. Doing per obligation what get/set do (hash, SLOAD, SSTORE)
        // measured +185 gas per obligation (+92 per leg, 13,938 -> 14,030; docs/performance.md).
        uint256 finalSlot;
        assembly {
            finalSlot := _final.slot
        }
        assembly ("memory-safe") {
            let n := shr(1, obligations.length)
            let secLen := mload(secBal)
            let cashLen := mload(cashBal)
            let acctLen := mload(flags)
            let buf := mload(0x40) // temporary space past the free memory pointer for event data
            let curWord := not(0)
            let curBits := 0
            let dirty := 0
            for { let k := 0 } lt(k, n) { k := add(k, 1) } {
                let w0 := calldataload(add(obligations.offset, shl(6, k)))
                let w1 := calldataload(add(obligations.offset, add(shl(6, k), 32)))
                let id := and(w0, 0xffffffffffffffff)
                // final-flag word for this id, cached across consecutive ids
                let word := shr(8, id)
                if iszero(eq(word, curWord)) {
                    if dirty {
                        mstore(0, curWord)
                        mstore(32, finalSlot)
                        sstore(keccak256(0, 64), curBits)
                    }
                    mstore(0, word)
                    mstore(32, finalSlot)
                    curBits := sload(keccak256(0, 64))
                    curWord := word
                    dirty := 0
                }
                let bit := shl(and(id, 0xff), 1)
                let reason := 0
                let dSlot := and(shr(64, w0), 0xffffffff)
                let rSlot := and(shr(96, w0), 0xffffffff)
                let quantity := shr(128, w0)
                let amount := and(w1, 0xffffffffffffffffffffffffffffffff)
                let pSlot := and(shr(128, w1), 0xffffffff)
                let eSlot := and(shr(160, w1), 0xffffffff)
                // shape checks: slots in range, same security, parties paired, something to move
                // (quantity 0 with an amount is a pure money obligation of a netted position)
                if or(or(iszero(lt(dSlot, secLen)), iszero(lt(rSlot, secLen))),
                      or(iszero(lt(pSlot, cashLen)), iszero(lt(eSlot, cashLen)))) {
                    failId := id
                    failCode := 255
                    break
                }
                let dWord := calldataload(add(secSlots.offset, shl(5, dSlot)))
                let rWord := calldataload(add(secSlots.offset, shl(5, rSlot)))
                let pWord := calldataload(add(cashSlots.offset, shl(5, pSlot)))
                let eWord := calldataload(add(cashSlots.offset, shl(5, eSlot)))
                let deliverer := shr(128, dWord)
                let receiver := shr(128, rWord)
                let payer := shr(128, pWord)
                let payee := shr(128, eWord)
                let pairOk := or(and(eq(payer, receiver), eq(payee, deliverer)),
                                 and(eq(payer, deliverer), eq(payee, receiver)))
                if or(or(eq(deliverer, receiver), iszero(pairOk)),
                      or(or(iszero(or(quantity, amount)), iszero(lt(deliverer, acctLen))),
                         or(iszero(lt(receiver, acctLen)),
                            or(iszero(eq(shl(128, dWord), shl(128, rWord))),
                               iszero(eq(shl(128, pWord), shl(128, eWord))))))) {
                    failId := id
                    failCode := 255
                    break
                }
                if and(curBits, bit) { reason := 4 }
                if iszero(reason) {
                    let fr := mload(add(flags, shl(5, add(receiver, 1))))
                    switch and(or(mload(add(flags, shl(5, add(deliverer, 1)))), fr), 1)
                    case 1 { reason := 3 }
                    default { if and(fr, 2) { reason := 5 } }
                }
                let qty := quantity
                let dPtr := add(secBal, shl(5, add(dSlot, 1)))
                // All-or-nothing batches are checked on net positions at the end instead (so
                // obligations can fund each other, as gridlock resolution needs): balances may wrap
                // below zero in memory here and are checked after the loop.
                if and(iszero(reason), iszero(allOrNothing)) {
                    let held := mload(dPtr)
                    if lt(held, qty) {
                        // partial delivery: what the account holds, in whole multiples of the minimum
                        let minPartial := and(shr(192, w1), 0x7fffffffffffffff)
                        switch or(or(iszero(shr(255, w1)), iszero(minPartial)), lt(held, minPartial))
                        case 1 { reason := 1 }
                        default {
                            qty := mul(div(held, minPartial), minPartial)
                            amount := div(mul(amount, qty), quantity)
                        }
                    }
                }
                let pPtr := add(cashBal, shl(5, add(pSlot, 1)))
                if and(iszero(reason), iszero(allOrNothing)) {
                    if lt(mload(pPtr), amount) { reason := 2 }
                }
                switch reason
                case 0 {
                    curBits := or(curBits, bit)
                    dirty := 1
                    // balances and deltas share offsets: slot i lives at base + 32 * (i + 1)
                    mstore(dPtr, sub(mload(dPtr), qty))
                    let off := shl(5, add(dSlot, 1))
                    mstore(add(secDelta, off), sub(mload(add(secDelta, off)), qty))
                    off := shl(5, add(rSlot, 1))
                    mstore(add(secBal, off), add(mload(add(secBal, off)), qty))
                    mstore(add(secDelta, off), add(mload(add(secDelta, off)), qty))
                    mstore(pPtr, sub(mload(pPtr), amount))
                    off := shl(5, add(pSlot, 1))
                    mstore(add(cashDelta, off), sub(mload(add(cashDelta, off)), amount))
                    off := shl(5, add(eSlot, 1))
                    mstore(add(cashBal, off), add(mload(add(cashBal, off)), amount))
                    mstore(add(cashDelta, off), add(mload(add(cashDelta, off)), amount))
                    mstore(buf, qty)
                    mstore(add(buf, 32), amount)
                    switch eq(qty, quantity)
                    case 1 { log3(buf, 64, tSettled, batchId, id) }
                    default {
                        mstore(add(buf, 64), sub(quantity, qty))
                        log3(buf, 96, tPartial, batchId, id)
                    }
                    settled := add(settled, 1)
                }
                default {
                    if allOrNothing {
                        failId := id
                        failCode := reason
                        break
                    }
                    mstore(buf, reason)
                    log3(buf, 32, tPending, batchId, id)
                    pending := add(pending, 1)
                }
            }
            if and(dirty, iszero(failCode)) {
                mstore(0, curWord)
                mstore(32, finalSlot)
                sstore(keccak256(0, 64), curBits)
            }
        }
    }

    /// @dev After an all-or-nothing batch, every position must be non-negative. Balances are below 2^128,
    ///      so a balance that went below zero in the unchecked loop shows as a value of 2^255 or more.
    function _requireNonNegative(
        uint256[] calldata secSlots,
        uint256[] memory secBal,
        uint256[] calldata cashSlots,
        uint256[] memory cashBal
    ) private pure {
        for (uint256 i = 0; i < secBal.length; ++i) {
            if (secBal[i] >> 255 != 0) revert NetShortfall(secSlots[i] >> 128, uint128(secSlots[i]), false);
        }
        for (uint256 i = 0; i < cashBal.length; ++i) {
            if (cashBal[i] >> 255 != 0) revert NetShortfall(cashSlots[i] >> 128, uint128(cashSlots[i]), true);
        }
    }

    /// @dev Per account: bit 0 = blocked (not active, or frozen), bit 1 = ineligible to receive (risk gate).
    function _accountFlags(address[] calldata accounts) private view returns (uint256[] memory flags) {
        IParticipantRegistry.Status[] memory statuses = registry.statusesOf(accounts);
        bool[] memory frozen = ledger.frozenOf(accounts);
        IRiskGate gate = riskGate;
        bool[] memory ineligible = address(gate) == address(0) ? new bool[](0) : gate.ineligibleOf(accounts);
        flags = new uint256[](accounts.length);
        for (uint256 i = 0; i < accounts.length; ++i) {
            if (statuses[i] == IParticipantRegistry.Status.None) revert UnknownParticipant(accounts[i]);
            uint256 f = statuses[i] != IParticipantRegistry.Status.Active || frozen[i] ? 1 : 0;
            if (ineligible.length != 0 && ineligible[i]) f |= 2;
            flags[i] = f;
        }
    }

    /// @dev Cash balances per slot, one balancesOf call per currency (slots are grouped by currency).
    function _loadCash(address[] calldata accounts, uint256[] calldata cashSlots)
        private
        view
        returns (uint256[] memory balances)
    {
        uint256 n = cashSlots.length;
        balances = new uint256[](n);
        uint256 start = 0;
        while (start < n) {
            uint256 c = uint128(cashSlots[start]);
            if (c >= cashTokens.length) revert UnknownCurrency(c);
            uint256 end = start + 1;
            while (end < n && uint128(cashSlots[end]) == c) ++end;
            address[] memory who = new address[](end - start);
            for (uint256 i = start; i < end; ++i) {
                uint256 a = cashSlots[i] >> 128;
                if (a >= accounts.length) revert BadSlot(i);
                who[i - start] = accounts[a];
            }
            uint256[] memory b = cashTokens[c].balancesOf(who);
            for (uint256 i = start; i < end; ++i) {
                balances[i] = b[i - start];
            }
            start = end;
        }
    }

    /// @dev One settlementApply call per currency that moved, with that currency's changed slots only.
    function _applyCash(address[] calldata accounts, uint256[] calldata cashSlots, int256[] memory deltas) private {
        uint256 n = cashSlots.length;
        uint256 start = 0;
        while (start < n) {
            uint256 c = uint128(cashSlots[start]);
            uint256 end = start;
            uint256 m = 0;
            while (end < n && uint128(cashSlots[end]) == c) {
                if (deltas[end] != 0) ++m;
                ++end;
            }
            if (m > 0) {
                address[] memory who = new address[](m);
                int256[] memory moves = new int256[](m);
                uint256 j = 0;
                for (uint256 i = start; i < end; ++i) {
                    if (deltas[i] != 0) {
                        who[j] = accounts[cashSlots[i] >> 128];
                        moves[j] = deltas[i];
                        ++j;
                    }
                }
                cashTokens[c].settlementApply(who, moves);
            }
            start = end;
        }
    }

    function _checkActive(address account) private view {
        IParticipantRegistry.Status s = registry.statusOf(account);
        if (s == IParticipantRegistry.Status.None) revert UnknownParticipant(account);
        if (s != IParticipantRegistry.Status.Active || ledger.isFrozen(account)) revert AccountBlocked(account);
    }

    function _markFinal(uint64 id) private {
        _final.set(id);
    }

    // ---- pause ---------------------------------------------------------------------------------------

    /// @notice Stop all settlement (single and batch); cancelling stays possible. Role: PAUSER_ROLE.
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @notice Resume settlement after {pause}. Role: PAUSER_ROLE.
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }
}
