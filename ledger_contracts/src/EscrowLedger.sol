// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IMarket} from "./IMarket.sol";
import {ISettlement} from "./ISettlement.sol";
import {PackedWords} from "./libraries/PackedWords.sol";
import {SettlementMath} from "./libraries/SettlementMath.sol";

/// @title EscrowLedger
/// @notice Where the settlement's tokens are: each game's book and each participant's record, the
/// escrow held for every buyer, and the one function through which every token and escrow
/// movement passes ({_update}, like ERC-20's `_update`).
/// @dev Inherited by `Settlement`, which adds the rules (escrow, trades, delivery, close). Every
/// token this contract holds belongs to one game (`GameBook.held`); a buyer's escrow
/// (`escrowOf`) is the part of those tokens locked for it and not yet spent nor released.
abstract contract EscrowLedger is ISettlement, ERC2771Context {
    using SafeERC20 for IERC20;
    using PackedWords for mapping(uint256 => uint256);

    /// @dev The Market's role names (the Market is the one registry of roles).
    bytes32 internal constant _CLOCK_ROLE = keccak256("CLOCK_ROLE");
    bytes32 internal constant _METER_ROLE = keccak256("METER_ROLE");

    IMarket internal immutable _market;
    IERC20 internal immutable _token;
    address internal immutable _operator;

    struct GameData {
        GameBook book;
        mapping(uint256 word => uint256) hopWords;
        mapping(address account => Party) parties;
        mapping(uint256 index => address) buyerAt; // registration order (escrow order)
        mapping(uint256 index => address) sellerAt; // the Market's offer order
        // {fixTrades} of a buyer whose trades span several items: its trades' cost so far and the
        // part of it above the retail price (thousandths of a base unit; one buyer at a time).
        uint256 pendingCostMilli;
        uint256 pendingAboveRetailMilli;
    }

    mapping(uint256 gameId => GameData) private _games;
    mapping(address account => uint256) private _escrows;

    /// @param market_ The market whose games are settled (it must then `setSettlement` to this).
    /// @param token_ The settlement token.
    /// @param operator_ The grid's counterparty.
    /// @param trustedForwarder The `GridForwarder` relaying the clock's and meters' signed requests.
    constructor(IMarket market_, IERC20 token_, address operator_, address trustedForwarder)
        ERC2771Context(trustedForwarder)
    {
        if (address(market_) == address(0) || address(token_) == address(0) || operator_ == address(0)) {
            revert SettlementZeroAddress();
        }
        _market = market_;
        _token = token_;
        _operator = operator_;
    }

    // =============================================================== views

    /// @inheritdoc ISettlement
    function market() external view returns (IMarket) {
        return _market;
    }

    /// @inheritdoc ISettlement
    function token() external view returns (address) {
        return address(_token);
    }

    /// @inheritdoc ISettlement
    function operator() external view returns (address) {
        return _operator;
    }

    /// @inheritdoc ISettlement
    function gameBook(uint256 gameId) external view returns (GameBook memory) {
        return _games[gameId].book;
    }

    /// @inheritdoc ISettlement
    function party(uint256 gameId, address account) external view returns (Party memory) {
        return _games[gameId].parties[account];
    }

    /// @inheritdoc ISettlement
    function escrowOf(address account) external view returns (uint256) {
        return _escrows[account];
    }

    /// @inheritdoc ISettlement
    function escrowFor(uint256 gameId, address buyer, uint256 wh) public view returns (uint256 amount, uint256 maxHop) {
        (, IMarket.GamePrices memory prices,) = _market.game(gameId);
        uint256 zone = _market.prosumer(buyer).zone;
        (uint16 zoneCount, uint16[] memory distances) = _market.hopDistances();
        for (uint256 k = zone * zoneCount; k < (zone + 1) * zoneCount; ++k) {
            if (distances[k] > maxHop) maxHop = distances[k];
        }
        amount = SettlementMath.escrow(wh, prices.retail, prices.transmissionFee, maxHop);
    }

    // =============================================================== internals

    /// @dev A buyer's trades as {fixTrades} prices them and {closeGame} pays them.
    struct Buyer {
        uint256 gameId;
        address account;
        uint256 zone;
        uint256 maxHop;
        uint256 zoneCount;
        uint256 feePerHop;
        uint256 tradedWh;
        uint256 consumedWh;
    }

    function _buyer(uint256 gameId, GameData storage g, address buyer, uint256 zoneCount, uint256 feePerHop)
        internal
        view
        returns (Buyer memory b)
    {
        Party storage p = g.parties[buyer];
        b = Buyer({
            gameId: gameId,
            account: buyer,
            zone: p.zone,
            maxHop: p.maxHop,
            zoneCount: zoneCount,
            feePerHop: feePerHop,
            tradedWh: p.tradedWh,
            consumedWh: p.consumedWh
        });
    }

    /// @dev The one path of every token and escrow movement. First the books: `released` of
    /// `buyer`'s escrow is used up (spent on trades or the grid, or refunded); tokens coming into
    /// this contract (`to`) are held by the game and are `buyer`'s escrow; tokens leaving it
    /// (`from`) leave the game's hold. Then the transfer of `amount` from `from` to `to` (wallet to
    /// wallet, within the allowance to this contract, when neither is this contract).
    /// @param book The book of the game the movement belongs to.
    function _update(GameBook storage book, address buyer, uint256 released, address from, address to, uint256 amount)
        internal
    {
        if (released != 0) _escrows[buyer] -= released;
        if (to == address(this)) {
            book.held += SafeCast.toUint128(amount);
            _escrows[buyer] += amount;
        } else if (from == address(this)) {
            book.held -= SafeCast.toUint128(amount);
        }
        if (amount == 0) return;
        if (from == address(this)) _token.safeTransfer(to, amount);
        else _token.safeTransferFrom(from, to, amount);
    }

    /// @dev Nets what `account` owes the grid (`owed`) against what the grid owes it (`owedTo`)
    /// and pays the difference wallet to wallet.
    function _settleGrid(uint256 gameId, GameBook storage book, address account, uint256 owed, uint256 owedTo)
        internal
    {
        if (owedTo > owed) _pay(gameId, book, _operator, account, owedTo - owed);
        else if (owed > owedTo) _pay(gameId, book, account, _operator, owed - owedTo);
    }

    /// @dev Moves up to `amount` from `payer`'s wallet to `payee`'s, within the payer's balance and
    /// its allowance to this contract; records the rest as debt. Never reverts for want of funds.
    function _pay(uint256 gameId, GameBook storage book, address payer, address payee, uint256 amount) internal {
        uint256 balance = _token.balanceOf(payer);
        uint256 allowance = _token.allowance(payer, address(this));
        uint256 paid = amount;
        if (paid > balance) paid = balance;
        if (paid > allowance) paid = allowance;
        if (paid < amount) emit DebtRecorded(gameId, payer, payee, amount - paid);
        if (paid == 0) return;
        emit GridPaid(gameId, payer, payee, paid);
        _update(book, payer, 0, payer, payee, paid);
    }

    /// @dev Game `gameId`'s storage.
    function _game(uint256 gameId) internal view returns (GameData storage) {
        return _games[gameId];
    }

    /// @dev The hop distance charged between zones `from` and `to`: the snapshotted matrix,
    /// capped at the distance the buyer's escrow covers.
    function _hops(GameData storage g, uint256 zoneCount, uint256 from, uint256 to, uint256 maxHop)
        internal
        view
        returns (uint256 hops)
    {
        hops = g.hopWords.u16At(from * zoneCount + to);
        if (hops > maxHop) hops = maxHop;
    }

    /// @dev Reverts unless the caller holds `role` in the Market.
    function _checkRole(bytes32 role) internal view {
        address caller = _msgSender();
        if (!IAccessControl(address(_market)).hasRole(role, caller)) {
            revert IAccessControl.AccessControlUnauthorizedAccount(caller, role);
        }
    }
}
