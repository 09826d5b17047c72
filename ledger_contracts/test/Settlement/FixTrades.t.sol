// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IMarket} from "../../src/IMarket.sol";
import {ISettlement} from "../../src/ISettlement.sol";
import {SettlementFixture} from "../utils/SettlementFixture.sol";

/// @notice Fixing trades once bidding ends: prices, costs, refunds, chunks and refusals.
contract SettlementFixTradesTest is SettlementFixture {
    function test_fixTrades_fixesEveryTradeAndRefunds() public {
        uint256 gameId = _standardGame();

        vm.expectEmit(address(settler));
        emit ISettlement.SellerPriced(gameId, s0, 8_000, 180_000);
        vm.expectEmit(address(settler));
        emit ISettlement.SellerPriced(gameId, s1, 4_000, 300_000);
        vm.expectEmit(address(settler));
        emit ISettlement.TradeFixed(gameId, b0, s0, 6_000, 180_000, 0, 180_000);
        vm.expectEmit(address(settler));
        emit ISettlement.TradeFixed(gameId, b0, s1, 1_000, 300_000, 2, 340_000);
        vm.expectEmit(address(settler));
        emit ISettlement.BuyerTradesFixed(gameId, b0, 7_000, B0_COST, B0_LOCKED, 280_000);
        vm.expectEmit(address(settler));
        emit ISettlement.TradeFixed(gameId, b1, s0, 2_000, 180_000, 1, 200_000);
        vm.expectEmit(address(settler));
        emit ISettlement.TradeFixed(gameId, b1, s1, 3_000, 300_000, 1, 320_000);
        vm.expectEmit(address(settler));
        emit ISettlement.BuyerTradesFixed(gameId, b1, 5_000, B1_COST, B1_LOCKED, 60_000);
        vm.expectEmit(address(settler));
        emit ISettlement.TradesFixed(gameId, 2, 2);
        assertTrue(settler.fixTrades(gameId, CHUNK));

        assertEq(token.balanceOf(b0), 280_000);
        assertEq(token.balanceOf(b1), 60_000);
        assertEq(settler.escrowOf(b0), B0_LOCKED);
        assertEq(settler.escrowOf(b1), B1_LOCKED);
        assertEq(token.balanceOf(address(settler)), B0_LOCKED + B1_LOCKED);

        ISettlement.GameBook memory book = settler.gameBook(gameId);
        assertEq(uint256(book.status), uint256(ISettlement.Status.TradesFixed));
        assertEq(book.held, B0_LOCKED + B1_LOCKED);
        assertEq(book.retail, RETAIL);
        assertEq(book.feedIn, FEED_IN);
        assertEq(book.transmissionFee, 20_000);
        assertEq(book.zoneCount, 3);
        (IMarket.GameParams memory params,,) = market.game(gameId);
        assertEq(book.deliveryEnd, params.deliveryEnd);
        assertEq(book.fixedAt, block.timestamp);
        assertEq(book.readings, 0);

        ISettlement.Party memory p = settler.party(gameId, b0);
        assertEq(p.locked, B0_LOCKED);
        assertEq(p.tradedWh, 7_000);
        assertEq(p.zone, 0);
        assertTrue(p.tradesFixed);
        p = settler.party(gameId, s1);
        assertEq(p.energyPrice, 300_000);
        assertEq(p.tradedWh, 4_000);
        assertEq(p.zone, 2);
        assertTrue(p.tradesFixed);
    }

    /// @dev Items are the sellers (priced), then the buyers (trades fixed): 2 + 2 in chunks of one.
    function test_fixTrades_inChunksOfBuyers() public {
        uint256 gameId = _standardGame();
        assertFalse(settler.fixTrades(gameId, 1)); // s0 priced
        assertEq(_status(gameId), _statusOf(ISettlement.Status.FixingTrades));
        assertEq(settler.party(gameId, s0).energyPrice, 180_000);
        assertFalse(settler.party(gameId, s1).tradesFixed);
        assertFalse(settler.fixTrades(gameId, 1)); // s1 priced
        assertEq(settler.party(gameId, s1).energyPrice, 300_000);
        assertFalse(settler.party(gameId, b0).tradesFixed);

        assertFalse(settler.fixTrades(gameId, 1)); // b0 fixed
        assertEq(_status(gameId), _statusOf(ISettlement.Status.FixingTrades));
        assertEq(settler.gameBook(gameId).cursor, 3);
        assertTrue(settler.party(gameId, b0).tradesFixed);
        assertFalse(settler.party(gameId, b1).tradesFixed);
        assertEq(token.balanceOf(b0), 280_000);
        assertEq(token.balanceOf(b1), 0);

        assertTrue(settler.fixTrades(gameId, 1));
        assertEq(_status(gameId), _statusOf(ISettlement.Status.TradesFixed));
        assertEq(token.balanceOf(b1), 60_000);
        assertEq(settler.party(gameId, s0).energyPrice, 180_000); // priced once
    }

    /// @dev A chunk that ends among the sellers fixes no buyer; one that straddles prices the rest
    /// of the sellers and fixes buyers with the same prices as a single call.
    function test_fixTrades_chunkStraddlingSellersAndBuyers() public {
        uint256 gameId = _standardGame();
        assertFalse(settler.fixTrades(gameId, 1));
        vm.expectEmit(address(settler));
        emit ISettlement.SellerPriced(gameId, s1, 4_000, 300_000);
        vm.expectEmit(address(settler));
        emit ISettlement.TradeFixed(gameId, b0, s0, 6_000, 180_000, 0, 180_000);
        assertFalse(settler.fixTrades(gameId, 2));
        assertEq(settler.party(gameId, b0).locked, B0_LOCKED);
        assertTrue(settler.fixTrades(gameId, 5));
        assertEq(settler.party(gameId, b1).locked, B1_LOCKED);
        assertEq(settler.gameBook(gameId).cursor, 0);
    }

    function test_fixTrades_byAnyone() public {
        uint256 gameId = _standardGame();
        vm.prank(stranger);
        assertTrue(settler.fixTrades(gameId, CHUNK));
    }

    function test_fixTrades_revertsWhileBidding() public {
        uint256 gameId = _registerStandardGame();
        vm.expectRevert(
            abi.encodeWithSelector(ISettlement.SettlementBiddingNotEnded.selector, gameId, IMarket.Phase.Bidding)
        );
        settler.fixTrades(gameId, CHUNK);
    }

    function test_fixTrades_revertsOnUnknownGame() public {
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementBiddingNotEnded.selector, 7, IMarket.Phase.None));
        settler.fixTrades(7, CHUNK);
    }

    function test_fixTrades_revertsWhenAlreadyFixed() public {
        uint256 gameId = _fixedStandardGame();
        vm.expectRevert(abi.encodeWithSelector(ISettlement.SettlementTradesAlreadyFixed.selector, gameId));
        settler.fixTrades(gameId, CHUNK);
    }

    function test_fixTrades_revertsOnZeroChunk() public {
        uint256 gameId = _standardGame();
        vm.expectRevert(ISettlement.SettlementZeroChunk.selector);
        settler.fixTrades(gameId, 0);
    }

    /// @dev The operator lengthens every hop after the demands: a trade is never charged more hops
    /// than its buyer's escrow covered, and the matrix is snapshotted at the first call.
    function test_fixTrades_capsHopsAtEscrowedDistance() public {
        uint256 gameId = _registerStandardGame();
        uint16[] memory far = new uint16[](9);
        (far[1], far[2], far[3], far[5], far[6], far[7]) = (5, 9, 5, 5, 9, 5);
        vm.prank(operator);
        market.setHopDistances(3, far);
        _bid(gameId, b0, _list(6_000, 1_000));
        _bid(gameId, b1, _list(2_000, 3_000));

        vm.expectEmit(address(settler));
        emit ISettlement.TradeFixed(gameId, b1, s0, 2_000, 180_000, 1, 200_000); // 5 hops capped at 1
        settler.fixTrades(gameId, CHUNK);
        assertEq(settler.party(gameId, b0).locked, B0_LOCKED);
        assertEq(settler.party(gameId, b1).locked, B1_LOCKED);
    }

    /// @dev A game that ended without sellers: each buyer keeps its whole demand at g locked (its
    /// worst bill) and gets the transmission part of its escrow back.
    function test_fixTrades_withoutSellersReservesImports() public {
        _lineHops();
        address buyer = _newProsumer(0);
        uint256 gameId = _openGame();
        _demand(gameId, buyer, 1_000);
        _closeRegistration(gameId);
        (,, IMarket.GameStatus memory status) = market.game(gameId);
        assertEq(uint256(status.endReason), uint256(IMarket.EndReason.NoParticipants));

        vm.expectEmit(address(settler));
        emit ISettlement.BuyerTradesFixed(gameId, buyer, 0, 0, 300_000, 40_000);
        assertTrue(settler.fixTrades(gameId, CHUNK));
        assertEq(token.balanceOf(buyer), 40_000);
    }

    /// @dev The worst bill is rounded once and never above the escrow. g = 300_001: a demand of
    /// 2 Wh escrows ceil(600.002) = 601; buying 1 Wh at the capped price g costs 301 and the worst
    /// bill is 2 Wh at g, ceil(600.002) = 601: all of the escrow stays locked.
    function test_fixTrades_cutsImportReserveToEscrow() public {
        vm.prank(operator);
        market.setGridPrices(300_001, FEED_IN);
        address seller = _newProsumer(0);
        address buyer = _newProsumer(0);
        IMarket.GameParams memory params = _params();
        params.roundLimit = 1;
        uint256 gameId = _openGame(params);
        _offer(gameId, seller, 1, 300_000);
        _demand(gameId, buyer, 2);
        _closeRegistration(gameId);
        _bid(gameId, buyer, _list(1));

        vm.expectEmit(address(settler));
        emit ISettlement.BuyerTradesFixed(gameId, buyer, 1, 301, 601, 0);
        settler.fixTrades(gameId, CHUNK);
    }

    /// @dev Whatever the bids, prices and zones, a buyer's fixed cost never exceeds its escrow
    /// and the game holds exactly what its buyers still have locked.
    function test_fuzz_fixTrades_costWithinEscrow(uint256 seed) public {
        _lineHops();
        IMarket.GameParams memory params = _params();
        params.roundLimit = 1;
        uint256 gameId = _openGame(params);
        uint256 sellerCount = bound(seed, 1, 5);
        uint256 buyerCount = bound(seed >> 8, 1, 4);
        for (uint256 j; j < sellerCount; ++j) {
            address seller = _newProsumer(uint16(_rand(seed, j, 1) % 3));
            _offer(gameId, seller, 1 + _rand(seed, j, 2) % 20_000, 1 + _rand(seed, j, 3) % (RETAIL - 1));
        }
        for (uint256 i; i < buyerCount; ++i) {
            _demand(gameId, _newProsumer(uint16(_rand(seed, i, 4) % 3)), 1 + _rand(seed, i, 5) % 30_000);
        }
        _closeRegistration(gameId);
        while (market.phase(gameId) == IMarket.Phase.Bidding) {
            _bidRandom(gameId, seed);
        }

        settler.fixTrades(gameId, CHUNK);
        IMarket.Demand[] memory demands = market.demands(gameId);
        uint256 locked;
        for (uint256 i; i < demands.length; ++i) {
            ISettlement.Party memory p = settler.party(gameId, demands[i].buyer);
            assertLe(p.locked, p.escrowed, "locked above escrow");
            assertEq(token.balanceOf(demands[i].buyer), p.escrowed - p.locked, "refund");
            locked += p.locked;
        }
        assertEq(settler.gameBook(gameId).held, locked);
        assertEq(token.balanceOf(address(settler)), locked);
    }

    function _bidRandom(uint256 gameId, uint256 seed) internal {
        IMarket.GameState memory state = market.gameState(gameId);
        IMarket.Offer[] memory offers = market.offers(gameId);
        uint256 left = market.demands(gameId)[state.status.turn].wh;
        uint256[] memory amounts = new uint256[](offers.length);
        for (uint256 j; j < offers.length; ++j) {
            uint256 room = offers[j].wh - (state.loads[j] - state.currentBid[j]);
            uint256 x = _rand(seed, state.status.turn * 64 + j, 6) % (room + 1);
            if (x > left) x = left;
            left -= x;
            amounts[j] = x;
        }
        _bid(gameId, state.currentBuyer, amounts);
    }

    function _rand(uint256 seed, uint256 k, uint256 salt) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(seed, k, salt)));
    }
}
