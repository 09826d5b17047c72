// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {GridToken} from "../../src/GridToken.sol";
import {IMarket} from "../../src/IMarket.sol";
import {ISettlement} from "../../src/ISettlement.sol";
import {Settlement} from "../../src/Settlement.sol";
import {MarketFixture} from "./MarketFixture.sol";

/// @notice The market fixture with settlement wired in: a GridToken, a Settlement set on the
/// Market, a meter, an operator that approved the settlement for grid exports, and a standard
/// game whose every number is worked out by hand in the comments below.
///
/// Standard game (retail g = 300_000, feed-in f = 50_000, fee t = 20_000 per hop; zones 0-1-2
/// in a line, so hop(0,2) = 2):
///   seller s0, zone 0: 10_000 Wh at 100_000      seller s1, zone 2: 5_000 Wh at 200_000
///   buyer  b0, zone 0: demand 8_000 Wh, max hop 2  -> escrow 8_000 x 340_000 / 1000 = 2_720_000
///   buyer  b1, zone 1: demand 6_000 Wh, max hop 1  -> escrow 6_000 x 320_000 / 1000 = 1_920_000
/// One round (round limit 1): b0 bids [6_000, 1_000], b1 bids [2_000, 3_000]; loads 8_000, 4_000.
///   energy prices: e0 = 100_000 x 18/10 = 180_000; e1 = 200_000 x 9/5 = 360_000 -> capped at 300_000
///   unit prices: b0-s0 180_000 (0 hops), b0-s1 340_000 (2), b1-s0 200_000 (1), b1-s1 320_000 (1)
///   b0: cost 1_080_000 + 340_000 = 1_420_000; locked: its worst bill, 8_000 Wh at g plus the part of
///       its trades above g, 1_000 x (340_000 - 300_000): 2_400_000 + 40_000 = 2_440_000, refund 280_000
///   b1: cost   400_000 + 960_000 = 1_360_000; locked 6_000 x 300 + 3_000 x 20_000 / 1000
///       = 1_800_000 + 60_000 = 1_860_000, refund 60_000
abstract contract SettlementFixture is MarketFixture {
    uint256 internal constant OPERATOR_FLOAT = 100_000_000; // 100 tokens to fund grid exports
    uint256 internal constant CHUNK = 1_000;

    uint256 internal constant B0_ESCROW = 2_720_000;
    uint256 internal constant B1_ESCROW = 1_920_000;
    uint256 internal constant B0_COST = 1_420_000;
    uint256 internal constant B1_COST = 1_360_000;
    uint256 internal constant B0_LOCKED = 2_440_000;
    uint256 internal constant B1_LOCKED = 1_860_000;

    GridToken internal token;
    Settlement internal settler;
    address internal meter;

    address internal s0;
    address internal s1;
    address internal b0;
    address internal b1;

    function setUp() public virtual override {
        super.setUp();
        meter = makeAddr("meter");
        token = new GridToken(operator, address(forwarder));
        settler = new Settlement(market, token, operator, address(forwarder));
        vm.startPrank(operator);
        market.setSettlement(address(settler));
        market.grantRole(market.METER_ROLE(), meter);
        token.mint(operator, OPERATOR_FLOAT);
        token.approve(address(settler), type(uint256).max);
        vm.stopPrank();
    }

    // ---------------------------------------------------------------- funding

    /// @dev Every demand of the shared helpers is funded with exactly its escrow (balance and
    /// allowance), so wallets start at zero and every later balance is what settlement moved.
    function _demand(uint256 gameId, address buyer, uint256 wh) internal virtual override {
        _fund(gameId, buyer, wh);
        super._demand(gameId, buyer, wh);
    }

    function _fund(uint256 gameId, address buyer, uint256 wh) internal returns (uint256 amount) {
        (amount,) = settler.escrowFor(gameId, buyer, wh);
        vm.prank(operator);
        token.mint(buyer, amount);
        vm.prank(buyer);
        token.approve(address(settler), amount);
    }

    // ---------------------------------------------------------------- the standard game

    function _lineHops() internal {
        uint16[] memory hops = new uint16[](9);
        (hops[1], hops[2], hops[3], hops[5], hops[6], hops[7]) = (1, 2, 1, 1, 2, 1);
        vm.prank(operator);
        market.setHopDistances(3, hops);
    }

    /// @dev Registers the standard game (see the contract's comment) and closes registration.
    function _registerStandardGame() internal returns (uint256 gameId) {
        _lineHops();
        s0 = _newProsumer(0);
        s1 = _newProsumer(2);
        b0 = _newProsumer(0);
        b1 = _newProsumer(1);
        IMarket.GameParams memory params = _params();
        params.roundLimit = 1;
        gameId = _openGame(params);
        _offer(gameId, s0, 10_000, 100_000);
        _offer(gameId, s1, 5_000, 200_000);
        _demand(gameId, b0, 8_000);
        _demand(gameId, b1, 6_000);
        _closeRegistration(gameId);
    }

    /// @dev The standard game, bidding ended (round limit).
    function _standardGame() internal returns (uint256 gameId) {
        gameId = _registerStandardGame();
        _bid(gameId, b0, _list(6_000, 1_000));
        _bid(gameId, b1, _list(2_000, 3_000));
    }

    /// @dev The standard game with its trades fixed.
    function _fixedStandardGame() internal returns (uint256 gameId) {
        gameId = _standardGame();
        settler.fixTrades(gameId, CHUNK);
    }

    // ---------------------------------------------------------------- settlement steps

    function _read(uint256 gameId, address account, uint256 producedWh, uint256 consumedWh) internal {
        vm.prank(meter);
        settler.postReading(gameId, account, producedWh, consumedWh);
    }

    /// @dev The standard game's full delivery: sellers produce their whole offers, buyers consume
    /// their whole demands.
    function _readAllInFull(uint256 gameId) internal {
        _readAll(gameId, 10_000, 5_000, 8_000, 6_000);
    }

    /// @dev Readings of the standard game, sellers first (s0, s1, b0, b1): the sellers' production
    /// and the buyers' consumption.
    function _readAll(uint256 gameId, uint256 s0Produced, uint256 s1Produced, uint256 b0Consumed, uint256 b1Consumed)
        internal
    {
        _read(gameId, s0, s0Produced, 0);
        _read(gameId, s1, s1Produced, 0);
        _read(gameId, b0, 0, b0Consumed);
        _read(gameId, b1, 0, b1Consumed);
    }

    function _warpToDeliveryEnd(uint256 gameId) internal {
        (IMarket.GameParams memory params,,) = market.game(gameId);
        if (block.timestamp < params.deliveryEnd) vm.warp(params.deliveryEnd);
    }

    function _close(uint256 gameId) internal {
        _warpToDeliveryEnd(gameId);
        vm.prank(clock);
        settler.closeGame(gameId, CHUNK);
    }

    function _status(uint256 gameId) internal view returns (uint256) {
        return uint256(settler.gameBook(gameId).status);
    }

    function _statusOf(ISettlement.Status status) internal pure returns (uint256) {
        return uint256(status);
    }
}
